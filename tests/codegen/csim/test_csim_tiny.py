"""C simulation of examples/tiny_hybrid.json (every op type, depthwise, stride 2, residual, k = 5) against the numpy
integer reference; the CLI, the C entry points, the testbench executable, error paths and `make hls`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import ALL_OPS_ARCH, REPO, randomized_net
from nash.codegen.csim.build import build
from nash.codegen.csim.run import CsimError, CsimLibrary, compare
from nash.codegen.hls import weights_blob
from nash.codegen.hls.project import generate
from nash.frontend.integer.reference import run_network
from nash.frontend.models.convert import integer_model

from nash.cli import main as cli

ROOT = REPO
TINY = ROOT / "examples" / "tiny_hybrid.json"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    g = generate(TINY, out)
    b = build(g.project)
    return g, b, CsimLibrary(b.lib, g.project.manifest)


def _images(g, n: int, seed: int = 1) -> np.ndarray:
    first = g.integer_model.nodes[0]
    rng = np.random.default_rng(seed)
    return rng.integers(-128, 128, size=(n, first.in_ch, first.in_size, first.in_size), dtype=np.int8)


def test_cli_csim_is_bitexact_on_digits(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative --out (as make and the demo pass it)
    monkeypatch.delenv("NASH_BUILD_CACHE")  # the default cache under the project folder
    r = CliRunner().invoke(cli, ["csim", str(TINY), "--images", "60", "--out", "rel/csim"])
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "rel" / "csim" / "csim_report.json").read_text())
    assert Path(rep["shared_library"]).is_relative_to(tmp_path / "rel" / "csim" / "build")
    assert rep["images"] == 60 and rep["mismatches"] == 0 and rep["first_mismatch"] is None
    assert rep["layers_compared"] == 14
    assert rep["accuracy"] == rep["reference_accuracy"] and rep["accuracy"] > 80
    assert "csim accuracy" in r.output and "integer reference" in r.output


def test_build_has_no_warnings(tiny):
    _, b, _ = tiny
    assert b.warnings.strip() == "", b.warnings


def test_every_layer_matches_reference_on_random_images(tiny):
    g, _, lib = tiny
    x = _images(g, 24)
    blob = g.project.blob_path.read_bytes()
    golden = run_network(g.integer_model.nodes, g.integer_model.params, x, keep=True)
    outs, logits = lib.predict_debug(x, blob)
    assert compare(golden, outs, logits, g.integer_model.nodes) == (0, None)
    np.testing.assert_array_equal(lib.predict(x, blob), golden["fc"])


def test_pipelined_schedule_equals_image_by_image(tiny, tmp_path):
    g, _, lib = tiny
    assert g.project.plan.max_offset > 0  # the fallback schedule really overlaps images
    x = _images(g, 9, seed=3)
    blob = g.project.blob_path.read_bytes()
    piped = lib.predict(x, blob)  # slots reused: image i and i + MIN_SLOTS share a slot
    one_by_one = np.concatenate([lib.predict(x[i:i + 1], blob) for i in range(len(x))])
    np.testing.assert_array_equal(piped, one_by_one)
    seq = generate(TINY, tmp_path / "seq", schedule="sequential").project
    assert seq.plan.max_offset == 0 and len(seq.plan.steps) == 14
    seq_lib = CsimLibrary(build(seq).lib, seq.manifest)
    np.testing.assert_array_equal(seq_lib.predict(x, seq.blob_path.read_bytes()), piped)


def test_local_pe_functions_give_the_same_results(tiny, tmp_path):
    g, _, lib = tiny
    assert g.project.pe.impl == "hls"  # the PE-array C model of hls_templates/pe_arrays is what csim runs
    loc = generate(TINY, tmp_path / "loc", pe_impl="local").project
    x = _images(g, 8, seed=5)
    got = CsimLibrary(build(loc).lib, loc.manifest).predict(x, loc.blob_path.read_bytes())
    np.testing.assert_array_equal(got, lib.predict(x, g.project.blob_path.read_bytes()))


def test_rtl_blackbox_path_is_bitexact_and_in_the_tcl(tiny, tmp_path):
    """--pe-impl rtl: engines call the weight-stationary RTL blackboxes (the weight tile lives in the array, loaded
    one word per cycle inside the MAC loops); csim runs the blackbox C models, whose state is the array's."""
    from nash.codegen.rtl.pe_arrays import find_ap_types

    g, _, _ = tiny
    rtl = generate(TINY, tmp_path / "rtl", pe_impl="rtl").project
    jsons = rtl.pe.blackbox_jsons
    assert rtl.pe.impl == "rtl" and len(jsons) == 3
    engine = (rtl.out / "src" / "engine_conv.cpp").read_text()
    assert "static w_t wt[" not in engine and "load_w_pe(L, ws);" in engine  # no HLS weight buffer left
    assert "#pragma HLS ALLOCATION function instances=nash_conv_pe_tm8_tn8_a32_k9_ws limit=1" in engine
    tcl = (rtl.out / "run_hls.tcl").read_text()
    for j in jsons:
        assert (rtl.out / j).exists() and f"add_files -blackbox [file join $root {j}]" in tcl
        bb = json.loads((rtl.out / j).read_text())
        assert (rtl.out / j).with_name(bb["rtl_files"][0]).exists()
        assert (rtl.out / j).with_name(bb["c_files"][0]["c_file"]).exists()
        # the blackbox C model is named by the JSON, so it must not also be added as an ordinary source
        assert f"add_files {Path(j).with_name(bb['c_files'][0]['c_file']).as_posix()}" not in tcl
    if find_ap_types() is None:
        pytest.skip("ap_int.h not found: pip install --no-deps hls4ml==1.3.0 (make install does) or set NASH_AP_TYPES")
    im = g.integer_model
    x = _images(g, 16, seed=9)
    got = CsimLibrary(build(rtl).lib, rtl.manifest).predict(x, rtl.blob_path.read_bytes())
    np.testing.assert_array_equal(got, run_network(im.nodes, im.params, x))


def test_rtl_bank_mixup_is_caught(tiny, tmp_path):
    """Negative control of the rtl csim: a blackbox C model whose compute side reads the bank being loaded (the
    next tile) instead of the current one must give wrong logits."""
    from nash.codegen.rtl.pe_arrays import find_ap_types

    if find_ap_types() is None:
        pytest.skip("ap_int.h not found: pip install --no-deps hls4ml==1.3.0 (make install does) or set NASH_AP_TYPES")
    g, _, _ = tiny
    rtl = generate(TINY, tmp_path / "rtl", pe_impl="rtl").project
    model = next((rtl.out / "src" / "pe").glob("nash_conv_*_ws.h"))
    text = model.read_text()
    assert "_rf[cbank & 1]" in text
    model.write_text(text.replace("_rf[cbank & 1]", "_rf[(cbank & 1) ^ 1]"))
    rtl.sources_hash += "-bank-mixup"
    im = g.integer_model
    x = _images(g, 4, seed=9)
    got = CsimLibrary(build(rtl).lib, rtl.manifest).predict(x, rtl.blob_path.read_bytes())
    assert not np.array_equal(got, run_network(im.nodes, im.params, x))


def test_injected_bug_is_reported_at_the_first_wrong_layer(tiny, tmp_path):
    g, _, _ = tiny
    proj = generate(TINY, tmp_path / "bug").project
    common = proj.out / "src" / "nash_common.h"
    text = common.read_text()
    assert "relu ? 0 : -128" in text
    common.write_text(text.replace("relu ? 0 : -128", "relu ? 1 : -128"))  # ReLU clamp off by one
    proj.sources_hash += "-bug"
    lib = CsimLibrary(build(proj).lib, proj.manifest)
    x = _images(g, 4)
    golden = run_network(g.integer_model.nodes, g.integer_model.params, x, keep=True)
    outs, logits = lib.predict_debug(x, proj.blob_path.read_bytes())
    bad, first = compare(golden, outs, logits, g.integer_model.nodes)
    assert bad == 4 and first["image"] == 0 and first["layer"] == "stem"
    assert first["got"] == 1 and first["expected"] == 0


def test_c_entry_point_rejects_corrupted_blobs(tiny, tmp_path):
    g, _, lib = tiny
    x = _images(g, 1)
    blob = g.project.blob_path.read_bytes()
    lib.check_blob(blob)
    cases = {
        "bad magic": b"XASHBLOB" + blob[8:],
        "does not match its header": blob[:-64],
        "CRC32": blob[:200] + bytes([blob[200] ^ 1]) + blob[201:],
    }
    for msg, bad in cases.items():
        with pytest.raises(CsimError, match=msg):
            lib.predict(x, bad)
        with pytest.raises(weights_blob.BlobError):
            weights_blob.check(bad)
    # A valid blob of another architecture: the layout id differs.
    other = integer_model(randomized_net(ALL_OPS_ARCH, 0))
    other_blob, _ = weights_blob.pack(other.nodes, other.params)
    with pytest.raises(CsimError, match="another architecture"):
        lib.predict(x, other_blob)
    _, _, lid = weights_blob.layout(g.integer_model.nodes)
    with pytest.raises(weights_blob.BlobError, match="layout id"):
        weights_blob.check(other_blob, layout_id=lid)


def test_testbench_executable(tiny, tmp_path):
    g, b, _ = tiny
    r = subprocess.run([str(b.exe)], capture_output=True, text=True)  # tb_data rendered at codegen time
    assert r.returncode == 0, r.stderr
    assert "0 mismatching" in r.stdout
    tb = g.project.out / "tb_data"
    exp = np.fromfile(tb / "expected_logits.bin", dtype="<i8")
    exp[3] += 1
    exp.tofile(tmp_path / "wrong.bin")
    out = tmp_path / "logits.bin"
    r = subprocess.run([str(b.exe), str(tb / "weights.bin"), str(tb / "inputs.bin"), "4", str(out),
                        str(tmp_path / "wrong.bin")], capture_output=True, text=True)
    assert r.returncode == 1 and "MISMATCH image 0 class 3" in r.stderr
    np.testing.assert_array_equal(np.fromfile(out, dtype="<i8"), exp - (np.arange(exp.size) == 3))


def test_corrupted_model_files_give_clear_errors(tmp_path):
    runner = CliRunner()
    data = json.loads(TINY.read_text())
    bad = dict(data, architecture={**data["architecture"], "stem": {**data["architecture"]["stem"], "kernel": 4}})
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(bad))
    r = runner.invoke(cli, ["codegen", str(p), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "architecture.stem.kernel" in r.output
    shutil.copy(ROOT / "examples" / "tiny_hybrid.weights.npz", tmp_path / "tiny_hybrid.weights.npz")
    wrong = dict(data, weights={**data["weights"], "sha256": "0" * 64})
    p.write_text(json.dumps(wrong))
    r = runner.invoke(cli, ["csim", str(p), "--images", "2", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "weights.sha256" in r.output
    r = runner.invoke(cli, ["csim", str(tmp_path / "missing.json"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "file not found" in r.output
    p.write_text("{not json")
    r = runner.invoke(cli, ["codegen", str(p), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "not valid JSON" in r.output


def _path_without_vitis() -> str:
    return os.pathsep.join(d for d in os.environ.get("PATH", "").split(os.pathsep)
                           if not (Path(d) / "vitis_hls").exists() and not (Path(d) / "vitis-run").exists())


def test_make_hls_without_xilinx_tools_fails_clearly(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make not installed")
    env = dict(os.environ, PATH=_path_without_vitis())
    # -o: treat the install stamp as up to date (never reinstall the venv from a test).
    r = subprocess.run(["make", "-o", ".venv/.installed", "hls", f"MODEL={TINY}", f"OUT={tmp_path}"], cwd=ROOT,
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "vitis_hls" in r.stderr and "vitis-run" in r.stderr
    assert not (tmp_path / "hls" / "src").exists()  # failed before rendering anything


@pytest.mark.xilinx
def test_vitis_hls_csim_and_csynth(tmp_path):
    from nash.codegen.vivado.hls_tool import detect
    from nash.frontend.core.errors import ToolMissingError

    try:
        detect()
    except ToolMissingError as e:
        pytest.skip(str(e))
    r = CliRunner().invoke(cli, ["hls", str(TINY), "--out", str(tmp_path), "--steps", "csim,csynth"])
    assert r.exit_code == 0, r.output
