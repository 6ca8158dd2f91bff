"""Every bad input ends in one line on stderr, ``error: ...`` naming the path or option, exit code 2, no traceback and
no output written; the CLI's one exit-code map (bad input 2, tool missing 3, check failed 1)."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys

import click
import numpy as np
import pytest
from click.testing import CliRunner
from helpers import REPO
from nash.frontend.core.errors import CheckFailedError, NashError, ToolMissingError, UserInputError

from nash.cli import NashGroup, main

EXAMPLE = REPO / "examples" / "tiny_hybrid.json"


def _fails_with_one_line(args: list[str], *needles: str, code: int = 2) -> str:
    """Run ``nash ARGS``; assert the exit code, one stderr line ``error: ...`` holding every needle, no traceback."""
    r = CliRunner().invoke(main, [str(a) for a in args], prog_name="nash")
    assert isinstance(r.exception, SystemExit), f"unhandled {r.exception!r}\n{r.output}"
    assert r.exit_code == code, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.output
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


# ---- dataset folders and files ---------------------------------------------------------------------------------------
def _batch(path, data, labels, key=b"labels"):
    with open(path, "wb") as f:
        pickle.dump({b"batch_label": b"x", key: labels, b"data": data}, f)


def _cifar10(root):
    """A complete (tiny) CIFAR-10 folder in the real python-pickle format."""
    d = root / "cifar-10-batches-py"
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        _batch(d / name, rng.integers(0, 256, (4, 3072), dtype=np.uint8), [0, 1, 2, 9])
    return d


def _train(tmp_path, dataset, root=None):
    args = ["train", EXAMPLE, "--dataset", dataset, "--epochs", "1", "--out", tmp_path / "out"]
    return args + (["--data-root", root] if root is not None else [])


def test_train_cifar_missing_folder(tmp_path):
    _fails_with_one_line(_train(tmp_path, "cifar10", tmp_path / "nonexistent"), str(tmp_path / "nonexistent"),
                         "does not exist", "cifar-10-batches-py")
    assert not (tmp_path / "out").exists()


def test_train_cifar_no_data_root(tmp_path):
    _fails_with_one_line(_train(tmp_path, "cifar10"), "--data-root", "cifar-10-batches-py")
    assert not (tmp_path / "out").exists()


def test_train_cifar_data_root_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    _fails_with_one_line(_train(tmp_path, "cifar10", tmp_path / "f"), "option '--data-root'", str(tmp_path / "f"),
                         "is a file")


def test_train_cifar_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    _fails_with_one_line(_train(tmp_path, "cifar10", tmp_path / "empty"), str(tmp_path / "empty"),
                         "no CIFAR batch files", "data_batch_1")


def test_train_cifar_missing_batch_file(tmp_path):
    d = _cifar10(tmp_path / "data")
    (d / "data_batch_3").unlink()
    _fails_with_one_line(_train(tmp_path, "cifar10", d), str(d / "data_batch_3"), "missing CIFAR batch file")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("cut", [0, 1, 100, -7])
def test_train_cifar_truncated_pickle(tmp_path, cut):
    d = _cifar10(tmp_path / "data")
    raw = (d / "data_batch_2").read_bytes()
    (d / "data_batch_2").write_bytes(raw[:cut] if cut >= 0 else raw[:cut] + b"\x00garbage")
    _fails_with_one_line(_train(tmp_path, "cifar10", d), str(d / "data_batch_2"), "not a CIFAR python-pickle batch")
    assert not (tmp_path / "out").exists()


def test_train_cifar_not_a_pickle(tmp_path):
    d = _cifar10(tmp_path / "data")
    (d / "test_batch").write_bytes(bytes(range(256)) * 8)
    _fails_with_one_line(_train(tmp_path, "cifar10", d), str(d / "test_batch"), "not a CIFAR python-pickle batch")


@pytest.mark.parametrize("data,labels,needles", [
    (np.zeros((4, 1024), np.uint8), [0, 1, 2, 3], ("b'data'", "[N, 3072]", "[4, 1024]")),
    (np.zeros((4, 3, 32, 32), np.uint8), [0, 1, 2, 3], ("b'data'", "[N, 3072]")),
    (np.zeros((4, 3072), np.float32), [0, 1, 2, 3], ("b'data'", "uint8", "float32")),
    (np.zeros((4, 3072), np.uint8), [0, 1, 2], ("b'labels'", "expected 4 integer labels")),
    (np.zeros((4, 3072), np.uint8), [0, 1, 2, 10], ("b'labels'", "[0, 9]", "0..10")),
])
def test_train_cifar_wrong_shapes(tmp_path, data, labels, needles):
    d = _cifar10(tmp_path / "data")
    _batch(d / "data_batch_4", data, labels)
    _fails_with_one_line(_train(tmp_path, "cifar10", d), str(d / "data_batch_4"), *needles)
    assert not (tmp_path / "out").exists()


def test_train_cifar100_wrong_label_key(tmp_path):
    d = tmp_path / "cifar-100-python"
    d.mkdir()
    for name in ("train", "test"):
        _batch(d / name, np.zeros((2, 3072), np.uint8), [0, 1], key=b"labels")  # CIFAR-10's key
    _fails_with_one_line(_train(tmp_path, "cifar100", d), str(d / "train"), "b'fine_labels'")


def test_train_valid_cifar_wrong_model_shape(tmp_path):
    """A readable dataset the model does not fit (1x16x16 digits model, 3-channel CIFAR): the model field is named."""
    _fails_with_one_line(_train(tmp_path, "cifar10", _cifar10(tmp_path / "data")), "architecture.input_channels")
    assert not (tmp_path / "out").exists()


def _tiny(root, wnids=("n01443537", "n01629819")):
    from PIL import Image

    r = root / "tiny-imagenet-200"
    (r / "val" / "images").mkdir(parents=True)
    (r / "wnids.txt").write_text("\n".join(wnids) + "\n")
    for w in wnids:
        (r / "train" / w / "images").mkdir(parents=True)
        Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(r / "train" / w / "images" / f"{w}_0.png")
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(r / "val" / "images" / "val_0.png")
    (r / "val" / "val_annotations.txt").write_text(f"val_0.png\t{wnids[0]}\t0\t0\t63\t63\n")
    return r


def _bench(tmp_path, root, dataset="tiny-imagenet"):
    return ["proxy-bench", "--dataset", dataset, "--data-root", root, "--archs", "3", "--epochs", "1",
            "--workers", "2", "--out", tmp_path / "out"]


def test_proxy_bench_tiny_missing_folder(tmp_path):
    _fails_with_one_line(_bench(tmp_path, tmp_path / "nonexistent"), str(tmp_path / "nonexistent"),
                         "does not exist", "tiny-imagenet-200")
    assert not (tmp_path / "out").exists()


def test_proxy_bench_tiny_missing_wnids(tmp_path):
    r = _tiny(tmp_path)
    (r / "wnids.txt").unlink()
    _fails_with_one_line(_bench(tmp_path, r), str(r / "wnids.txt"), "missing class list")
    assert not (tmp_path / "out").exists()


def test_proxy_bench_tiny_missing_class_folder(tmp_path):
    r = _tiny(tmp_path)
    shutil.rmtree(r / "train" / "n01629819")
    _fails_with_one_line(_bench(tmp_path, r), str(r / "train" / "n01629819" / "images"), "missing training folder")
    assert not (tmp_path / "out").exists()


def test_proxy_bench_tiny_bad_annotations(tmp_path):
    r = _tiny(tmp_path)
    ann = r / "val" / "val_annotations.txt"
    ann.write_text("val_0.png\tn99999999\t0\t0\t1\t1\n")
    _fails_with_one_line(_bench(tmp_path, r), f"{ann}:1", "n99999999")
    ann.write_text("missing.png\tn01443537\t0\t0\t1\t1\n")
    _fails_with_one_line(_bench(tmp_path, r), str(r / "val" / "images" / "missing.png"))
    ann.unlink()
    _fails_with_one_line(_bench(tmp_path, r), str(ann), "missing validation labels")
    assert not (tmp_path / "out").exists()


def test_search_bad_data_root_is_an_error_not_a_fallback(tmp_path):
    args = ["search", "--dataset", "cifar10", "--data-root", tmp_path / "nope", "--hw-cost", "macs",
            "--population", "2", "--generations", "0", "--out", tmp_path / "out"]
    _fails_with_one_line(args, str(tmp_path / "nope"))
    assert not (tmp_path / "out").exists()


def test_csim_bad_data_root_renders_nothing(tmp_path):
    args = ["csim", EXAMPLE, "--dataset", "cifar10", "--data-root", tmp_path / "nope", "--images", "2",
            "--out", tmp_path / "out"]
    _fails_with_one_line(args, str(tmp_path / "nope"))
    _fails_with_one_line(["csim", EXAMPLE, "--dataset", "no-such-set", "--out", tmp_path / "out"],
                         "unknown dataset 'no-such-set'")
    assert not (tmp_path / "out").exists()


def test_real_process_proxy_bench_with_workers(tmp_path):
    """The reported traceback, in a real process with two workers: one line, exit 2, OUT never created."""
    out = tmp_path / "y"
    r = subprocess.run([sys.executable, "-c", "from nash.cli import main; main()", "proxy-bench", "--dataset",
                        "tiny-imagenet", "--data-root", str(tmp_path / "nonexistent"), "--workers", "2",
                        "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("error: tiny-imagenet: data folder") and r.stderr.count("\n") == 1, r.stderr
    assert r.stdout == "" and not out.exists()


# ---- model, weights, board, cost table, calibration files -------------------------------------------------------
@pytest.fixture
def model(tmp_path):
    shutil.copy(EXAMPLE, tmp_path / "m.json")
    shutil.copy(EXAMPLE.with_suffix(".weights.npz"), tmp_path / "m.weights.npz")
    d = json.loads((tmp_path / "m.json").read_text())
    d["weights"]["path"] = "m.weights.npz"
    (tmp_path / "m.json").write_text(json.dumps(d))
    return tmp_path / "m.json"


def test_model_and_weights_files(model, tmp_path):
    _fails_with_one_line(["validate", tmp_path / "none.json"], str(tmp_path / "none.json"))
    (tmp_path / "bad.json").write_text("{")
    _fails_with_one_line(["codegen", tmp_path / "bad.json", "--out", tmp_path / "out"], "bad.json", "JSON")
    w = tmp_path / "m.weights.npz"
    w.write_bytes(w.read_bytes()[:300])  # truncated weights
    _fails_with_one_line(["validate", model], "m.json", "weights")
    _fails_with_one_line(["codegen", model, "--out", tmp_path / "out"], "weights")
    w.unlink()
    _fails_with_one_line(["train", model, "--finetune", "--epochs", "1", "--out", tmp_path / "out"],
                         "m.weights.npz")
    assert not (tmp_path / "out").exists()


BINARY = bytes([0, 0xFF, 0xFE, 0x80]) * 4


@pytest.mark.parametrize("option", ["--board", "--cost-table", "--calibration"])
@pytest.mark.parametrize("content,needle", [
    (None, "not found"), (b"{", "not valid JSON"), (BINARY, "not UTF-8"), (b'{"name": "x"}', "field")])
def test_accel_input_files(model, tmp_path, option, content, needle):
    f = tmp_path / "input.json"
    if content is not None:
        f.write_bytes(content)
    _fails_with_one_line(["accel", model, option, f, "--out", tmp_path / "out"], str(f), needle)
    assert not (tmp_path / "out").exists()


def test_search_bad_board_before_anything_is_written(tmp_path):
    _fails_with_one_line(["search", "--board", "kv999", "--population", "2", "--generations", "0",
                          "--out", tmp_path / "out"], "unknown board 'kv999'", "kv260")
    assert not (tmp_path / "out").exists()


# ---- option values ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args,needles", [
    (["train", EXAMPLE, "--epochs", "0", "--out", "o"], ("option '--epochs'", "x>=1", "nash train --help")),
    (["train", EXAMPLE, "--dataset", "mnist", "--out", "o"], ("option '--dataset'", "'mnist'", "digits")),
    (["train", EXAMPLE], ("Missing option '--out'",)),
    (["train"], ("Missing argument 'MODEL'",)),
    (["train", EXAMPLE, "--bogus", "--out", "o"], ("No such option", "--bogus")),
    (["accel", EXAMPLE, "--usable", "abc", "--out", "o"], ("option '--usable'", "'abc' is not a valid float")),
    (["accel", EXAMPLE, "--exhaustive", "--coarse-only", "--out", "o"], ("option '--coarse-only'", "exclude")),
    (["hls", EXAMPLE, "--steps", "csim,bogus", "--out", "o"], ("option '--steps'", "'bogus'", "csynth")),
    (["search", "--ops", "conv,mul", "--out", "o"], ("option '--ops'", "subset of conv,shift,adder")),
    (["search", "--metric", "nope", "--out", "o"], ("option '--metric'", "unknown metric 'nope'")),
    (["nosuchcommand"], ("No such command 'nosuchcommand'", "nash --help")),
    (["--bogus"], ("No such option", "--bogus")),
])
def test_option_values(tmp_path, monkeypatch, args, needles):
    monkeypatch.chdir(tmp_path)
    _fails_with_one_line(args, *needles)
    assert not (tmp_path / "o").exists()


def test_help_is_unchanged():
    r = CliRunner().invoke(main, ["train", "--help"], prog_name="nash")
    assert r.exit_code == 0 and r.output.startswith("Usage: nash train [OPTIONS] MODEL") and "--data-root" in r.output
    r = CliRunner().invoke(main, [], prog_name="nash")  # no command: click's usage and command list, as before
    assert r.exit_code == 2 and r.output.startswith("Usage: nash [OPTIONS] COMMAND") and "proxy-bench" in r.output


# ---- the exit-code map ---------------------------------------------------------------------------------------------
def _invoke_raising(exc: Exception):
    """A one-command NashGroup whose command raises ``exc``, invoked."""

    @click.group(cls=NashGroup)
    def g():
        pass

    @g.command()
    def run():
        raise exc

    return CliRunner().invoke(g, ["run"])


@pytest.mark.parametrize("exc,code", [
    (UserInputError("f.json: field 'x': expected an int"), 2), (ToolMissingError("no vitis_hls on PATH"), 3),
    (CheckFailedError("csim differs"), 1), (NashError("the flow broke"), 1)])
def test_exit_code_map(exc, code):
    r = _invoke_raising(exc)
    assert r.exit_code == code and r.stderr == f"error: {exc}\n"


def test_multi_line_message_becomes_one_line():
    r = _invoke_raising(CheckFailedError("first\n  second"))
    assert r.exit_code == 1 and r.stderr == "error: first second\n"


def test_other_exceptions_are_bugs_with_a_traceback():
    r = _invoke_raising(KeyError("bug"))
    assert isinstance(r.exception, KeyError)  # not turned into a user-facing one-liner


def test_compile_failure_is_one_line_with_the_log(model, tmp_path, monkeypatch):
    """A failing compiler is no bad input (exit 1): one line with its first error; the whole output in a log."""
    cxx = tmp_path / "fake-gxx"
    cxx.write_text("#!/bin/sh\necho 'x.cpp:1:1: warning: w' >&2\necho 'x.cpp:2:3: error: boom' >&2\n"
                   "echo 'more context' >&2\nexit 4\n")
    cxx.chmod(0o755)
    monkeypatch.setenv("CXX", str(cxx))
    line = _fails_with_one_line(["csim", model, "--images", "1", "--out", tmp_path / "out"], "exited with code 4",
                                "x.cpp:2:3: error: boom", code=1)
    log = line.rsplit(" ", 1)[-1]
    assert log.endswith("build_error.log") and "more context" in open(log).read()
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    _fails_with_one_line(["csim", model, "--images", "1", "--out", tmp_path / "out2"], "no-such-compiler", code=3)


def test_hls_without_vitis_is_tool_missing(model, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # neither vitis_hls nor vitis-run
    _fails_with_one_line(["hls", model, "--out", tmp_path / "out"], "vitis_hls", "vitis-run", code=3)
    assert not (tmp_path / "out").exists()
