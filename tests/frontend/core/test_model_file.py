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
from nash.frontend.core.errors import UserInputError
from nash.frontend.core.model_file import (
    SECTION_OWNERS,
    VERSION,
    ModelFileError,
    SectionOwnershipError,
    load_model,
    load_weights,
    new_model,
    save_model,
    schema_text,
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


# ---- typed sections: one-line errors naming the file and the field path ---------------------------------------------
@pytest.mark.parametrize("edit, field, text", [
    (lambda d: d["quantization"].__setitem__("shift_mode", "x"), "quantization.shift_mode",
     "expected one of ['ps', 'q'], got 'x'"),
    (lambda d: d["quantization"].__setitem__("shift_exp_max", 16), "quantization.shift_exp_max", "<= 15, got 16"),
    (lambda d: d["quantization"].__setitem__("activation_bits", 4), "quantization.activation_bits",
     "expected one of [8], got 4"),
    (lambda d: d["quantization"].__setitem__("adder_eta", True), "quantization.adder_eta", "expected a number"),
    (lambda d: d["weights"].__setitem__("path", "/abs/w.npz"), "weights.path", "expected a relative path"),
    (lambda d: d["weights"].__setitem__("sha256", "ABC"), "weights.sha256", "expected a string matching"),
    (lambda d: d["architecture"]["stages"][0].__setitem__("stride", 3), "architecture.stages[0].stride",
     "expected one of [1, 2], got 3"),
    (lambda d: d["architecture"]["stem"].__setitem__("kernal", 3), "architecture.stem.kernal", "unknown field"),
    (lambda d: d["provenance"]["train"].__setitem__("split_seed", "0"), "provenance.train.split_seed",
     "expected int"),
    (lambda d: d["provenance"].__setitem__("codegen", {}), "provenance.codegen", "unknown field"),
    (lambda d: d.__setitem__("accelerator", {"version": 1}), "accelerator.board", "missing"),
    (lambda d: d.__setitem__("format", "onnx"), "format", "expected one of ['nash-hls-model']"),
])
def test_section_field_errors(example, edit, field, text):
    e = _err(_edit(example, edit))
    assert e.field == field and text in str(e) and str(example) in str(e) and "\n" not in str(e), str(e)
    assert isinstance(e, UserInputError) and e.exit_code == 2


def test_core_does_not_import_accel():
    code = ("import sys; import nash.frontend.core.model_file as m; m.load_model(sys.argv[1]); "
            "print([k for k in sys.modules if k.startswith('nash.frontend.accel')])")
    r = subprocess.run([sys.executable, "-c", code, str(EXAMPLE)], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]"


def test_committed_schema_is_the_generated_one():
    """docs/model-file.schema.json is regenerated with `python -m nash.frontend.core.model_file --schema --out ...`."""
    committed = (REPO / "docs" / "model-file.schema.json").read_text()
    assert committed == schema_text()
    r = subprocess.run([sys.executable, "-m", "nash.frontend.core.model_file", "--schema"], capture_output=True,
                       text=True, check=True)
    assert r.stdout == committed
    schema = json.loads(committed)
    assert schema["properties"]["version"]["const"] == VERSION
    assert {"Architecture", "Quantization", "Weights", "Accelerator", "Provenance"} <= set(schema["$defs"])


def test_committed_schema_accepts_the_example_and_refuses_a_bad_field():
    """An independent validator (jsonschema) reads the committed schema the way other tools would."""
    import jsonschema

    schema = json.loads((REPO / "docs" / "model-file.schema.json").read_text())
    doc = json.loads(EXAMPLE.read_text())
    jsonschema.validate(doc, schema)
    doc["quantization"]["shift_mode"] = "x"
    with pytest.raises(jsonschema.ValidationError, match="'x'"):
        jsonschema.validate(doc, schema)


# ---- versions -----------------------------------------------------------------------------------------------------
def test_version_1_file_loads_with_provenance_per_stage(tmp_path):
    """The version-1 example as committed before per-stage provenance: its flat record becomes provenance.train."""
    v1 = REPO / "tests" / "data" / "tiny_hybrid_v1.json"
    old = json.loads(v1.read_text())
    assert old["version"] == 1 and "seed" in old["provenance"]
    shutil.copy(v1, tmp_path / "m.json")
    shutil.copy(EXAMPLE.with_name("tiny_hybrid.weights.npz"), tmp_path / "tiny_hybrid.weights.npz")
    mf = load_model(tmp_path / "m.json")
    assert mf.data["version"] == VERSION
    train = mf.provenance("train")
    assert train["dataset"] == old["provenance"]["dataset"] and train["split_seed"] == old["provenance"]["seed"]
    assert train["accuracy"] == old["provenance"]["accuracy"] and train["config"] == old["provenance"]["training"]
    assert mf.data["provenance"]["note"] == old["provenance"]["note"] and mf.provenance("search") == {}
    load_integer_model(mf)
    assert {k: v for k, v in json.loads(EXAMPLE.read_text()).items() if k != "weights"} == {
        k: v for k, v in mf.data.items() if k != "weights"}


def test_version_1_search_output_migrates_to_provenance_search(tmp_path):
    d = json.loads((REPO / "tests" / "data" / "tiny_hybrid_v1.json").read_text())
    d["weights"] = None
    d["provenance"] = {"dataset": "digits", "seed": 5, "metric": "ours", "scores": {"ours": 1.0}, "tool": "nash search"}
    (tmp_path / "best.json").write_text(json.dumps(d))
    mf = load_model(tmp_path / "best.json")
    assert mf.provenance("search") == d["provenance"] and mf.provenance("train") == {}


# ---- one API through which a stage writes its own sections --------------------------------------------------------
@pytest.mark.parametrize("stage, section", [("search", "weights"), ("search", "accelerator"), ("train", "accelerator"),
                                            ("train", "architecture"), ("accel", "weights"),
                                            ("accel", "quantization"), ("codegen", "accelerator"),
                                            ("csim", "weights")])
def test_a_stage_cannot_write_a_section_it_does_not_own(example, stage, section):
    mf = load_model(example)
    before = json.dumps(mf.data)
    with pytest.raises(SectionOwnershipError, match=stage):
        update_sections(mf, stage, **{section: mf.data.get(section)})
    assert json.dumps(mf.data) == before
    assert section not in SECTION_OWNERS.get(stage, ())


def test_codegen_and_csim_write_no_provenance(example):
    mf = load_model(example)
    for stage in ("codegen", "csim"):
        with pytest.raises(SectionOwnershipError, match="writes no section"):
            update_sections(mf, stage, provenance={"x": 1})


def test_update_sections_writes_own_record_and_keeps_the_others(example, tmp_path):
    mf = load_model(example)
    train = mf.provenance("train")
    update_sections(mf, "search", quantization={**mf.quantization, "adder_eta": 0.5},
                    provenance={"dataset": "digits", "seed": 9})
    assert mf.quantization["adder_eta"] == 0.5 and mf.provenance("search")["seed"] == 9
    assert mf.provenance("train") == train
    save_model(mf, tmp_path / "o.json")
    assert load_model(tmp_path / "o.json").provenance("search") == {"dataset": "digits", "seed": 9}


def test_update_sections_validates_before_changing(example):
    mf = load_model(example)
    before = json.dumps(mf.data)
    with pytest.raises(ModelFileError, match=r"quantization\.shift_mode"):
        update_sections(mf, "search", quantization={**mf.quantization, "shift_mode": "x"})
    with pytest.raises(ModelFileError, match=r"provenance\.train\.accuracy"):
        update_sections(mf, "train", provenance={"dataset": "digits", "split_seed": 0, "config": {}})
    assert json.dumps(mf.data) == before


def _with_accelerator(tmp_path) -> dict:
    from helpers import ALL_OPS_ARCH, accel_section

    mf = new_model("acc", ALL_OPS_ARCH, search_provenance={"dataset": "random"})
    update_sections(mf, "accel", accelerator=accel_section(ALL_OPS_ARCH))
    return json.loads(save_model(mf, tmp_path / "acc.json").read_text())


def _before_v4(old: dict) -> dict:
    """Drop the engines' acc_dw_mem from a model file (sections before version 4 had none) and return the
    accelerator section it must load as: acc_dw_mem equal to the engine's acc_mem, which placed both before."""
    want = json.loads(json.dumps(old["accelerator"]))
    for name, cfg in old["accelerator"]["engines"].items():
        if cfg is not None and "tm" in cfg:
            del cfg["acc_dw_mem"]
            want["engines"][name]["acc_dw_mem"] = cfg["acc_mem"]
    return want


def test_accelerator_v1_with_dsp_packing_migrates(tmp_path):
    """A version-1 accelerator section (engines with dsp_packing and tc, which no code implements) loads: the fields
    are dropped and the section becomes the current version; the rest is unchanged."""
    data = _with_accelerator(tmp_path)
    old = json.loads(json.dumps(data))
    old["accelerator"]["version"] = 1
    want = _before_v4(old)
    for cfg in old["accelerator"]["engines"].values():
        if cfg is not None and "tm" in cfg:
            cfg["dsp_packing"] = True
            cfg["tc"] = cfg["tr"]
    p = tmp_path / "v1.json"
    p.write_text(json.dumps(old))
    acc = load_model(p).data["accelerator"]
    assert acc == want | {"version": 4}
    assert all("dsp_packing" not in (c or {}) for c in acc["engines"].values())


def test_accelerator_v2_with_tc_migrates(tmp_path):
    """A version-2 accelerator section (engines and layers with a column tile tc, which no code implements: the row
    bands span the whole width) loads with tc dropped and the current version; tr and everything else unchanged."""
    data = _with_accelerator(tmp_path)
    old = json.loads(json.dumps(data))
    old["accelerator"]["version"] = 2
    want = _before_v4(old)
    for cfg in old["accelerator"]["engines"].values():
        if cfg is not None and "tm" in cfg:
            cfg["tc"] = cfg["tr"]
    for ent in old["accelerator"]["layers"].values():
        ent["tc"] = ent["tr"]
    p = tmp_path / "v2.json"
    p.write_text(json.dumps(old))
    acc = load_model(p).data["accelerator"]
    assert acc == want | {"version": 4}
    assert all("tc" not in e for e in acc["layers"].values())


def test_accelerator_v3_loads_with_both_accumulators_in_acc_mem(tmp_path):
    """A version-3 section (one acc_mem for both accumulators of an engine) loads as version 4 with each engine's
    acc_dw_mem equal to its acc_mem; a URAM engine stays URAM on both sides."""
    data = _with_accelerator(tmp_path)
    old = json.loads(json.dumps(data))
    old["accelerator"]["version"] = 3
    old["accelerator"]["engines"]["conv"]["acc_mem"] = "uram"
    want = _before_v4(old)
    p = tmp_path / "v3.json"
    p.write_text(json.dumps(old))
    acc = load_model(p).data["accelerator"]
    assert acc == want | {"version": 4}
    assert acc["engines"]["conv"]["acc_mem"] == acc["engines"]["conv"]["acc_dw_mem"] == "uram"


@pytest.mark.parametrize("field", ["acc_mem", "acc_dw_mem"])
def test_bad_accumulator_memory_is_one_line_naming_the_field(tmp_path, field):
    data = _with_accelerator(tmp_path)
    data["accelerator"]["engines"]["conv"][field] = "dram"
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match=rf"accelerator\.engines\.conv\.{field}") as e:
        load_model(p)
    assert "\n" not in str(e.value) and "bram" in str(e.value) and "uram" in str(e.value)
    assert e.value.exit_code == 2


def test_current_accelerator_with_tc_is_refused(tmp_path):
    data = _with_accelerator(tmp_path)
    first = next(iter(data["accelerator"]["layers"]))
    data["accelerator"]["layers"][first]["tc"] = 8
    p = tmp_path / "v3.json"
    p.write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match=rf"accelerator\.layers\.{first}\.tc"):
        load_model(p)


def test_current_accelerator_with_dsp_packing_is_refused(tmp_path):
    data = _with_accelerator(tmp_path)
    eng = next(e for e, c in data["accelerator"]["engines"].items() if c is not None and "tm" in c)
    data["accelerator"]["engines"][eng]["dsp_packing"] = False
    p = tmp_path / "v2.json"
    p.write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match=rf"accelerator\.engines\.{eng}\.dsp_packing"):
        load_model(p)
