"""Loading a weights file enforces the ranges of docs/integer-semantics.md: the example model with one value
corrupted is refused with one error naming the weights file, the node and the field."""

import shutil

import numpy as np
import pytest
from helpers import REPO
from nash.frontend.core.model_file import ModelFileError, load_model, load_weights, save_model, update_sections
from nash.frontend.integer.weights_io import load_integer_model

INT64_MAX = (1 << 63) - 1
EXAMPLE = REPO / "examples" / "tiny_hybrid.json"


def _set(key: str, value, index=None, dtype=None):
    def fn(arrays):
        a = np.array(arrays[key], dtype=dtype or arrays[key].dtype)
        if index is None:
            a = np.array(value, dtype=a.dtype).reshape(a.shape)
        else:
            a[index] = value
        arrays[key] = a
    return fn


# (case, corruption, field, text in the message); values at the edge of (or far outside) each documented range.
CASES = [
    ("conv weight -128", _set("int/stem/weight", -128, (0, 0, 0, 0)), "int/stem/weight", "[-127, 127]"),
    ("conv weight 128", _set("int/s1b1_expand/weight", 128, (1, 2, 0, 0), np.int16), "int/s1b1_expand/weight",
     "found 128"),
    ("depthwise conv weight -128", _set("int/s1b1_dw/weight", -128, (3, 0, 1, 1)), "int/s1b1_dw/weight",
     "[-127, 127]"),
    ("classifier weight -128", _set("int/fc/weight", -128, (2, 5)), "int/fc/weight", "[-127, 127]"),
    ("adder weight 128", _set("int/s1b0_dw/weight", 128, (0, 0, 0, 0), np.int16), "int/s1b0_dw/weight",
     "[-128, 127]"),
    ("adder weight -129", _set("int/s1b0_expand/weight", -129, (0, 0, 0, 0), np.int16), "int/s1b0_expand/weight",
     "[-128, 127]"),
    ("shift sign 2", _set("int/s0b0_dw/sign", 2, (0, 0, 1, 1)), "int/s0b0_dw/sign", "[-1, 1]"),
    ("shift exponent -1", _set("int/s0b0_project/exp", -1, (0, 0, 0, 0)), "int/s0b0_project/exp", "[0, 7]"),
    ("shift exponent above E", _set("int/s0b0_project/exp", 8, (0, 0, 0, 0)), "int/s0b0_project/exp", "[0, 7]"),
    ("per-layer exp_max differs from the model's", _set("int/s0b0_dw/exp_max", 9), "int/s0b0_dw/exp_max", "7"),
    ("requant M = 2^15", _set("int/stem/mult", 1 << 15, (0,)), "int/stem/mult", "[-32767, 32767]"),
    ("requant M = -2^15", _set("int/s1b0_project/mult", -(1 << 15), (1,)), "int/s1b0_project/mult", "found -32768"),
    ("requant M = 100000", _set("int/head/mult", 100000, (4,)), "int/head/mult", "found 100000"),
    ("requant S = 0", _set("int/s1b0_dw/shift", 0, (0,)), "int/s1b0_dw/shift", "[1, 40]"),
    ("requant S = 41", _set("int/s0b0_dw/shift", 41, (2,)), "int/s0b0_dw/shift", "[1, 40]"),
    ("residual Ma = 2^15", _set("int/s0b0_add/mult_a", 1 << 15), "int/s0b0_add/mult_a", "[0, 32767]"),
    ("residual Mb negative", _set("int/s1b1_add/mult_b", -5), "int/s1b1_add/mult_b", "[0, 32767]"),
    ("residual S = 0", _set("int/s1b1_add/shift", 0), "int/s1b1_add/shift", "[1, 40]"),
    ("pooling M = 2^15", _set("int/gap/mult", 1 << 15), "int/gap/mult", "[0, 32767]"),
    ("requant bias overflowing int64", _set("int/stem/bias", INT64_MAX - 1000, (0,)), "int/stem/bias", "int64"),
    ("classifier bias overflowing int64", _set("int/fc/bias", -INT64_MAX, (0,)), "int/fc/bias", "int64"),
    ("uint64 array", _set("int/gap/shift", 16, None, np.uint64), "int/gap/shift", "signed integer"),
    ("input scale 0", _set("meta/input_scale", 0.0), "meta/input_scale", "positive"),
    ("logit scale NaN", _set("meta/logit_scale", np.nan), "meta/logit_scale", "finite"),
]


@pytest.fixture(scope="module")
def example_arrays():
    return load_weights(load_model(EXAMPLE))


@pytest.mark.parametrize("case, corrupt, key, text", CASES, ids=[c[0] for c in CASES])
def test_out_of_range_value_is_refused(tmp_path, example_arrays, case, corrupt, key, text):
    shutil.copy(EXAMPLE, tmp_path / "m.json")
    shutil.copy(EXAMPLE.with_name("tiny_hybrid.weights.npz"), tmp_path / "tiny_hybrid.weights.npz")
    mf = load_model(tmp_path / "m.json")
    arrays = {k: np.array(v) for k, v in example_arrays.items()}
    corrupt(arrays)
    update_sections(mf, "train", weights=arrays)
    save_model(mf, tmp_path / "bad.json")
    with pytest.raises(ModelFileError) as e:
        load_integer_model(load_model(tmp_path / "bad.json"))
    msg = str(e.value)
    assert e.value.field == f"weights[{key}]", msg
    assert "bad.weights.npz" in msg and text in msg and "\n" not in msg
    assert key.split("/")[1] in msg  # the node


def test_uncorrupted_example_and_range_edges_load(tmp_path, example_arrays):
    """Control: the example loads, and values exactly at the documented edges are accepted."""
    arrays = {k: np.array(v) for k, v in example_arrays.items()}
    for fn in (_set("int/stem/weight", -127, (0, 0, 0, 0)), _set("int/stem/mult", (1 << 15) - 1, (0,)),
               _set("int/s1b0_dw/weight", -128, (0, 0, 0, 0)), _set("int/s0b0_project/exp", 7, (0, 0, 0, 0)),
               _set("int/s1b0_dw/shift", 40, (0,)), _set("int/s0b0_add/mult_a", (1 << 15) - 1),
               _set("int/stem/bias", 1 << 62, (1,))):  # 2^62 + |acc * M| still fits int64
        fn(arrays)
    shutil.copy(EXAMPLE, tmp_path / "m.json")
    shutil.copy(EXAMPLE.with_name("tiny_hybrid.weights.npz"), tmp_path / "tiny_hybrid.weights.npz")
    mf = update_sections(load_model(tmp_path / "m.json"), "train", weights=arrays)
    save_model(mf, tmp_path / "edge.json")
    im = load_integer_model(load_model(tmp_path / "edge.json"))
    assert int(im.params["stem"]["weight"][0, 0, 0, 0]) == -127 and int(im.params["stem"]["mult"][0]) == 32767
