"""Deploy bundles: nash deploy / --verify, and each broken bundle (truncated, sha256 mismatch, wrong ABI version,
unlisted or missing file) gives its one-line error and exit code 2; nash run --backend csim on a bundle is bit-exact."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner
from nash.board.bundle import MANIFEST, REGISTER_MAP, WEIGHTS, open_bundle
from nash.board.errors import BundleError

from nash.cli import main as cli


def _rewrite(src, dst, change):
    """Copy the archive with ``change(files)`` applied (the manifest left as it was unless changed too)."""
    with zipfile.ZipFile(src) as z:
        files = {n: z.read(n) for n in z.namelist()}
    change(files)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n, b in files.items():
            z.writestr(n, b)
    dst.write_bytes(buf.getvalue())
    return dst


def _verify_error(path) -> str:
    r = CliRunner().invoke(cli, ["deploy", "--verify", str(path)])
    assert r.exit_code == 2, r.output
    line = r.output.strip()
    assert line.startswith("error: ") and "\n" not in line
    return line


def test_bundle_contents(tiny_bundle):
    b = open_bundle(tiny_bundle)
    m = b.manifest
    assert m["abi_version"] == 2 and m["clock_mhz"] == 200.0 and m["register_map"]["instance"] == "nash_top_0"
    assert {REGISTER_MAP, WEIGHTS, "run.py", "runtime/nash/board/driver.py", "csim/libnash_csim.so"} <= set(b.files)
    assert any(p.startswith("model/") and p.endswith(".json") for p in b.files)
    assert m["missing"] == ["overlay/<name>.bit", "overlay/<name>.hwh"] and b.overlay() is None
    assert "emulated board and csim" in m["good_for"]
    r = CliRunner().invoke(cli, ["deploy", "--verify", str(tiny_bundle)])
    assert r.exit_code == 0 and r.output.startswith("ok: bundle of tiny_hybrid"), r.output


def test_truncated_bundle(tiny_bundle, tmp_path):
    cut = tmp_path / "cut.zip"
    cut.write_bytes(tiny_bundle.read_bytes()[:5000])
    assert "not a complete zip archive" in _verify_error(cut)


def test_sha256_mismatch_names_the_file(tiny_bundle, tmp_path):
    def flip(files):
        b = bytearray(files[WEIGHTS])
        b[100] ^= 1
        files[WEIGHTS] = bytes(b)

    line = _verify_error(_rewrite(tiny_bundle, tmp_path / "bad.zip", flip))
    assert f"{WEIGHTS}: sha256 mismatch" in line


def test_wrong_abi_version(tiny_bundle, tmp_path):
    def abi(files):
        m = json.loads(files[MANIFEST])
        m["abi_version"] = 3
        files[MANIFEST] = json.dumps(m).encode()

    line = _verify_error(_rewrite(tiny_bundle, tmp_path / "abi.zip", abi))
    assert "kernel ABI version 3, this runtime drives ABI 2" in line


def test_unlisted_and_missing_files(tiny_bundle, tmp_path):
    line = _verify_error(_rewrite(tiny_bundle, tmp_path / "extra.zip", lambda f: f.update({"evil.py": b"x"})))
    assert "evil.py: in the bundle but not in the manifest" in line
    line = _verify_error(_rewrite(tiny_bundle, tmp_path / "gone.zip", lambda f: f.pop("run.py")))
    assert "run.py: listed in the manifest but missing" in line
    with pytest.raises(BundleError, match="no manifest.json"):
        open_bundle(_rewrite(tiny_bundle, tmp_path / "nomf.zip", lambda f: f.pop(MANIFEST)))


def test_pynq_backend_refuses_a_csim_only_bundle(tiny_bundle, tmp_path):
    r = CliRunner().invoke(cli, ["run", str(tiny_bundle), "--backend", "pynq", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "no overlay/*.bit + overlay/*.hwh" in r.output


def test_run_csim_on_the_bundle_is_bitexact(tiny_bundle, tmp_path):
    out = tmp_path / "run"
    r = CliRunner().invoke(cli, ["run", str(tiny_bundle), "--backend", "csim", "--images", "24", "--batch-size", "10",
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    rep = json.loads((out / "run_report.json").read_text())
    for k in ("backend", "images", "accuracy", "mismatches", "fps", "fps_kind", "steps_s", "code_fps", "model_fps"):
        assert k in rep
    assert rep["backend"] == "csim" and rep["images"] == 24 and rep["mismatches"] == 0
    assert rep["fps_kind"] == "modelled" and rep["fps"] == rep["code_fps"] and rep["timed_batches"] == 3
    z = np.load(io.BytesIO(open_bundle(tiny_bundle).files["data/digits.npz"]))
    assert np.array_equal(np.load(out / "logits.npy"), z["ref_logits"])
    assert (out / "run_fps.svg").read_text().startswith("<svg") and "FPS (modelled)" in r.output


def test_loose_files_instead_of_a_bundle(tiny_bundle, tmp_path):
    """--blob + --register-map (+ --lib) of a codegen project: the runtime's other input form."""
    from helpers import REPO
    from nash.board.__main__ import main as board_main
    from nash.codegen.csim.build import build
    from nash.codegen.hls.project import generate

    g = generate(REPO / "examples" / "tiny_hybrid.json", tmp_path / "proj")
    lib = build(g.project).lib
    data = tmp_path / "d.npz"
    data.write_bytes(open_bundle(tiny_bundle).files["data/digits.npz"])
    args = ["--blob", str(g.project.blob_path), "--register-map", str(tmp_path / "proj" / "register_map.json"),
            "--lib", str(lib), "--data", str(data), "--backend", "csim", "--out", str(tmp_path / "o")]
    assert board_main(args) == 0
    rep = json.loads((tmp_path / "o" / "run_report.json").read_text())
    assert rep["mismatches"] == 0 and rep["images"] == 24
    assert board_main(["--blob", str(g.project.blob_path), "--register-map", str(tmp_path / "nope.json")]) == 2
    assert board_main(["--blob", str(g.project.blob_path), "--register-map", str(tmp_path / "proj" /
                       "register_map.json"), "--bit", str(tmp_path / "x.bit")]) == 2  # a .bit without its .hwh


def test_run_bundle_on_a_named_dataset(tiny_bundle, tmp_path):
    """--dataset: the images come from the dataset reader with the bundle's own model file and weights."""
    out = tmp_path / "run"
    r = CliRunner().invoke(cli, ["run", str(tiny_bundle), "--backend", "csim", "--dataset", "digits", "--images", "12",
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    rep = json.loads((out / "run_report.json").read_text())
    assert rep["images"] == 12 and rep["mismatches"] == 0 and rep["accuracy"] is not None
