"""The whole flow through the CLI (search -> train -> accel -> codegen -> csim): each command changes only the
sections of the model file it owns, and csim takes its images from the validation split train held out."""

import json
from pathlib import Path

import jsonschema
import numpy as np
from click.testing import CliRunner
from helpers import REPO
from nash.codegen.csim.run import load_images
from nash.frontend.core.model_file import load_model
from nash.frontend.core.quant_params import quantize_activation
from nash.frontend.data import load_dataset
from nash.frontend.integer.weights_io import load_integer_model

from nash.cli import main as cli

SEARCH_SEED, TRAIN_SEED = 0, 3  # different, so that csim's split seed shows which stage it came from


def _run(*args: str) -> str:
    r = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.output


SCHEMA = json.loads((REPO / "docs" / "model-file.schema.json").read_text())


def _parts(path: Path) -> dict:
    """The model file split into the parts a stage can own: top-level sections and one record per stage (after
    checking the whole file against the committed JSON Schema with an independent validator)."""
    d = json.loads(path.read_text())
    jsonschema.validate(d, SCHEMA)
    prov = d.pop("provenance")
    return d | {f"provenance.{k}": v for k, v in prov.items()}


def _changed(before: dict, after: dict) -> set[str]:
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


def test_each_command_changes_only_its_own_sections(tmp_path):
    _run("search", "--dataset", "digits", "--population", "4", "--generations", "1", "--mutations", "2",
         "--crossovers", "2", "--seed", str(SEARCH_SEED), "--hw-cost", "macs", "--workers", "1", "--metric", "nash",
         "--ops", "conv,shift", "--max-macs", "600000",  # small networks: one training epoch takes seconds
         "--out", str(tmp_path / "search"))
    searched = _parts(tmp_path / "search" / "best.json")
    assert searched["weights"] is None and searched["accelerator"] is None
    assert set(searched) == {"format", "version", "name", "architecture", "quantization", "weights", "accelerator",
                             "provenance.search"}
    assert searched["provenance.search"]["seed"] == SEARCH_SEED

    _run("train", str(tmp_path / "search" / "best.json"), "--dataset", "digits", "--epochs", "1", "--seed",
         str(TRAIN_SEED), "--out", str(tmp_path / "train"))
    trained = _parts(tmp_path / "train" / "model.json")
    assert _changed(searched, trained) == {"weights", "provenance.train"}
    assert trained["provenance.train"]["split_seed"] == TRAIN_SEED
    assert trained["provenance.search"]["seed"] == SEARCH_SEED  # no longer overwritten by train

    _run("accel", str(tmp_path / "train" / "model.json"), "--board", "kv260", "--out", str(tmp_path / "accel"))
    model = tmp_path / "accel" / "model.json"
    accelerated = _parts(model)
    assert _changed(trained, accelerated) == {"accelerator", "provenance.accel"}
    assert accelerated["provenance.accel"]["board"] == "kv260"

    text = model.read_text()
    weights = (tmp_path / "accel" / "model.weights.npz").read_bytes()
    _run("codegen", str(model), "--out", str(tmp_path / "codegen"))
    out = _run("csim", str(model), "--images", "16", "--out", str(tmp_path / "csim"))
    assert model.read_text() == text and (tmp_path / "accel" / "model.weights.npz").read_bytes() == weights
    assert not list((tmp_path / "codegen").glob("*.json")) or all(
        "nash-hls-model" not in p.read_text() for p in (tmp_path / "codegen").glob("*.json"))
    rep = json.loads((tmp_path / "csim" / "csim_report.json").read_text())
    assert rep["mismatches"] == 0 and rep["images"] == 16 and "digits" in rep["image_source"], out

    # csim's images are the validation split of the train stage's seed (not the search's)
    mf = load_model(model)
    im = load_integer_model(mf)
    x, y, _ = load_images(mf, im, 16, None, seed=0)
    size = mf.architecture["input_size"]
    split = load_dataset("digits", size=size, seed=TRAIN_SEED)
    np.testing.assert_array_equal(x, quantize_activation(split.x_val[:16], im.input_scale))
    np.testing.assert_array_equal(y, split.y_val[:16])
    other = load_dataset("digits", size=size, seed=SEARCH_SEED)
    assert not np.array_equal(other.y_val[:16], split.y_val[:16])
