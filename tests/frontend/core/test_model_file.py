"""Model file: round trip, and each kind of bad file gives a clear error naming the field."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import REPO
from nash.frontend.core.model_file import (
    ModelFileError,
    load_model,
    load_weights,
    new_model,
    save_model,
    update_sections,
)
from nash.frontend.integer.weights_io import load_integer_model

from nash.cli import main as cli

EXAMPLE = REPO / "examples" / "tiny_hybrid.json"


@pytest.fixture
def example(tmp_path):
    shutil.copy(EXAMPLE, tmp_path / "m.json")
    shutil.copy(EXAMPLE.with_name("tiny_hybrid.weights.npz"), tmp_path / "tiny_hybrid.weights.npz")
    return tmp_path / "m.json"


def _edit(path: Path, fn) -> Path:
    d = json.loads(path.read_text())
    fn(d)
    path.write_text(json.dumps(d))
    return path


def _err(path) -> ModelFileError:
    with pytest.raises(ModelFileError) as e:
        mf = load_model(path)
        load_integer_model(mf)
    return e.value


def test_round_trip_and_weights(example, tmp_path):
    mf = load_model(example)
    im = load_integer_model(mf)
    assert [n.name for n in im.nodes] == [n.name for n in mf.nodes]
    out = tmp_path / "sub" / "copy.json"
    save_model(mf, out)  # moving to another folder copies the weights along
    im2 = load_integer_model(load_model(out))
    for n in im.nodes:
        for k, v in im.params[n.name].items():
            np.testing.assert_array_equal(v, im2.params[n.name][k])
    assert not list(out.parent.glob(".*.tmp"))


def test_missing_field(example):
    e = _err(_edit(example, lambda d: d.pop("quantization")))
    assert e.field == "quantization" and "missing" in str(e) and str(example) in str(e)


def test_missing_nested_architecture_field(example):
    e = _err(_edit(example, lambda d: d["architecture"]["stages"][1]["blocks"][0].pop("kernel")))
    assert "architecture.stages[1].blocks[0].kernel" in str(e)


def test_wrong_type(example):
    e = _err(_edit(example, lambda d: d["architecture"]["stem"].__setitem__("width", "16")))
    assert "architecture.stem.width" in str(e) and "expected int" in str(e)


def test_bad_op_name(example):
    e = _err(_edit(example, lambda d: d["architecture"]["stages"][0]["blocks"][0].__setitem__("op", "mul")))
    assert "blocks[0].op" in str(e) and "conv" in str(e)


def test_wrong_sha256(example):
    e = _err(_edit(example, lambda d: d["weights"].__setitem__("sha256", "0" * 64)))
    assert e.field == "weights.sha256" and "corrupted" in str(e)


def test_corrupted_weights_file(example):
    wp = example.with_name("tiny_hybrid.weights.npz")
    data = bytearray(wp.read_bytes())
    data[len(data) // 2] ^= 0xFF
    wp.write_bytes(bytes(data))
    assert _err(example).field == "weights.sha256"


def test_truncated_json(example):
    example.write_text(example.read_text()[:100])
    e = _err(example)
    assert "not valid JSON" in str(e) and "line" in str(e)


def test_unknown_newer_version(tmp_path):
    p = tmp_path / "v.json"
    p.write_text('{"version": 999}')
    e = _err(p)
    assert e.field == "version" and "999" in str(e) and "newer" in str(e)


def test_weights_shape_mismatch(example, tmp_path):
    mf = load_model(example)
    arrays = load_weights(mf)
    arrays["int/stem/weight"] = arrays["int/stem/weight"][:, :, :2]
    update_sections(mf, "train", weights=arrays)
    save_model(mf, tmp_path / "bad.json")
    e = _err(tmp_path / "bad.json")
    assert "int/stem/weight" in e.field and "shape" in str(e)


def test_weights_out_of_range(example, tmp_path):
    mf = load_model(example)
    arrays = load_weights(mf)
    arrays["int/s0b0_dw/exp"] = arrays["int/s0b0_dw/exp"] + 9
    update_sections(mf, "train", weights=arrays)
    save_model(mf, tmp_path / "bad.json")
    assert "int/s0b0_dw/exp" in _err(tmp_path / "bad.json").field


def test_new_model_validates():
    with pytest.raises(ModelFileError, match="stages"):
        new_model("x", {"input_channels": 1, "input_size": 8, "num_classes": 2,
                        "stem": {"op": "conv", "width": 4, "kernel": 3, "stride": 1}, "stages": [],
                        "head": {"width": 8}})


def test_cli_one_line_error_and_exit_code(tmp_path):
    p = tmp_path / "v.json"
    p.write_text('{"version": 999}')
    r = CliRunner().invoke(cli, ["validate", str(p)])
    assert r.exit_code == 2
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "version" in lines[0] and lines[0].startswith("error:")


def test_cli_entry_point_installed(tmp_path):
    p = tmp_path / "t.json"
    p.write_text("{")
    r = subprocess.run([sys.executable, "-m", "nash", "validate", str(p)], capture_output=True, text=True)
    assert r.returncode == 2 and "not valid JSON" in r.stderr and "Traceback" not in r.stderr
