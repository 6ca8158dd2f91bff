"""Evolutionary search: reproducibility, resume, constraints with a pluggable (fake) cost, op restriction, CLI."""

from __future__ import annotations

import csv
import json
import re
import socket

import pytest
from click.testing import CliRunner
from helpers import local_dask_cluster
from nash.frontend.accel.section import section_for
from nash.frontend.core.model_file import load_model
from nash.frontend.nas.evolution import Constraints, HardwareCost, SearchConfig, macs_cost, make_cost, run_search
from nash.frontend.nas.search_space import arch_stats, check, get_space

SMALL = {"population": 6, "mutations": 3, "crossovers": 3, "generations": 3, "workers": 1, "metric": "nash"}


def fake_fps(arch: dict) -> dict:
    """A stand-in accelerator model: adders on LUTs are 'cheaper' than conv DSP MACs."""
    s = arch_stats(arch)["per_op"]
    cycles = s["conv"]["ops"] / 64 + s["shift"]["ops"] / 96 + s["adder"]["ops"] / 128 + 1000
    return {"fps": 2.0e8 / cycles, "latency_ms": cycles / 2.0e5, "gops": 1.0, "resources": {"dsp": 64, "lut": 9000},
            "feasible": True}


FAKE = HardwareCost("fake", fake_fps, "fps", maximize=True)


def _summary(out):
    best = json.loads((out / "best.json").read_text())
    return best["architecture"], (out / "pareto.csv").read_text(), json.loads((out / "top_k.json").read_text())


def test_resume_equals_uninterrupted(tmp_path):
    sp = get_space("digits")
    cfg = SearchConfig(**SMALL, seed=5)
    full = run_search(sp, cfg, make_cost("macs"), tmp_path / "full", progress=False)
    part = tmp_path / "part"
    run_search(sp, cfg, make_cost("macs"), part, progress=False, stop_after=1)
    assert not (part / "best.json").exists()
    assert json.loads((part / "checkpoint.json").read_text())["generation"] == 1
    resumed = run_search(sp, cfg, make_cost("macs"), part, progress=False, resume=True)
    assert [r["key"] for r in resumed.archive] == [r["key"] for r in full.archive]
    assert resumed.population == full.population
    assert _summary(part) == _summary(tmp_path / "full")
    # every evaluated candidate is a valid member of the space; children were new
    assert all(check(r["arch"], sp) == [] for r in full.archive)
    assert len({r["key"] for r in full.archive}) == len(full.archive) == 6 + 3 * 6


def test_parallel_evaluation_equals_serial(tmp_path):
    """Hardware cost, constraint check and scoring in 2 local worker processes and on a 2-worker Dask cluster give
    the serial run's archive exactly (rejections included: the MAC limit sits inside the space's range, so some
    candidates are re-drawn), and the same outputs."""
    sp = get_space("digits")
    runs = {}
    with local_dask_cluster(2) as scheduler:
        for name, how in (("serial", {"workers": 1}), ("local", {"workers": 2}),
                          ("dask", {"workers": 1, "scheduler": scheduler})):
            cfg = SearchConfig(**{**SMALL, **how, "generations": 2}, seed=7, constraints=Constraints(max_macs=1.0e6))
            runs[name] = run_search(sp, cfg, make_cost("macs"), tmp_path / name, progress=False)
    serial = runs["serial"]
    assert serial.rejected and all(r["hw"]["macs"] <= 1.0e6 for r in serial.archive)
    for name in ("local", "dask"):
        other = runs[name]
        assert other.rejected == serial.rejected, name
        assert [(r["key"], r["scores"], r["hw"]) for r in other.archive] == \
            [(r["key"], r["scores"], r["hw"]) for r in serial.archive], name
        assert _summary(tmp_path / name) == _summary(tmp_path / "serial"), name
    # where the work ran is not part of the result: the model file's search settings name no workers or scheduler
    prov = json.loads((tmp_path / "dask" / "best.json").read_text())["provenance"]["search"]
    assert "scheduler" not in prov and "workers" not in prov


def test_cli_unreachable_scheduler_fails_before_out_is_touched(tmp_path):
    from nash.cli import main

    with socket.socket() as s:  # a free loopback port: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["search", "--hw-cost", "macs", "--population", "4", "--generations", "1",
                                  "--scheduler", f"tcp://127.0.0.1:{port}", "--out", str(out)])
    assert r.exit_code == 2, r.output  # the CLI prints the UserInputError's one line
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.output
    assert re.search(rf"--scheduler tcp://127\.0\.0\.1:{port}: no Dask scheduler answers", lines[0]), r.output
    assert not out.exists()


def test_seed_changes_result_and_resume_refuses_other_settings(tmp_path):
    sp = get_space("digits")
    a = run_search(sp, SearchConfig(**SMALL, seed=1), make_cost("macs"), tmp_path / "a", progress=False)
    b = run_search(sp, SearchConfig(**SMALL, seed=2), make_cost("macs"), tmp_path / "b", progress=False)
    assert [r["key"] for r in a.archive] != [r["key"] for r in b.archive]
    with pytest.raises(ValueError, match="config.seed"):
        run_search(sp, SearchConfig(**SMALL, seed=3), make_cost("macs"), tmp_path / "a", progress=False, resume=True)


def test_constraints_and_fake_cost_in_outputs(tmp_path):
    sp = get_space("digits")
    # a threshold near the space's median FPS: some candidates are rejected
    min_fps = 16000.0
    cfg = SearchConfig(**SMALL, seed=0, constraints=Constraints(min_fps=min_fps, max_params=40000))
    s = run_search(sp, cfg, FAKE, tmp_path, progress=False, provenance={"dataset": "digits"})
    assert s.rejected, "the constraint should have rejected some candidates"
    assert all(r["hw"]["fps"] >= min_fps for r in s.archive)
    rows = list(csv.DictReader((tmp_path / "pareto.csv").open()))
    assert rows and all(float(r["fps"]) >= min_fps for r in rows)
    assert json.loads(rows[0]["resources"]) == {"dsp": 64, "lut": 9000}
    # the front is non-dominated on (metric up, fps up)
    pts = [(float(r["metric"]), float(r["fps"])) for r in rows]
    for m, f in pts:
        assert not any(m2 >= m and f2 >= f and (m2 > m or f2 > f) for m2, f2 in pts)
    mf = load_model(tmp_path / "best.json")
    hw = mf.provenance("search")["hardware"]
    assert hw["cost"] == "fake" and hw["fps"] >= min_fps and "latency_ms" in hw
    assert mf.provenance("search")["dataset"] == "digits"
    assert (tmp_path / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_conv_only_baseline_space(tmp_path):
    sp = get_space("digits", ("conv",))
    s = run_search(sp, SearchConfig(**{**SMALL, "generations": 1}), make_cost("macs"), tmp_path, progress=False)
    for r in s.archive:
        assert {b["op"] for st in r["arch"]["stages"] for b in st["blocks"]} == {"conv"}
        assert r["hw"]["adder_ops"] == r["hw"]["shift_ops"] == 0
    assert macs_cost(s.archive[0]["arch"])["macs"] == s.archive[0]["hw"]["macs"]


def test_cli_search(tmp_path):
    from nash.cli import main

    out = tmp_path / "run"
    args = ["search", "--dataset", "digits", "--population", "4", "--generations", "1", "--mutations", "2",
            "--crossovers", "2", "--seed", "0", "--hw-cost", "macs", "--ops", "conv,adder", "--workers", "1",
            "--metric", "nash", "--out", str(out)]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    for f in ("best.json", "pareto.csv", "pareto.png", "top_k.json", "checkpoint.json"):
        assert (out / f).exists(), f
    mf = load_model(out / "best.json")
    assert {b["op"] for st in mf.architecture["stages"] for b in st["blocks"]} <= {"conv", "adder"}
    assert mf.provenance("search")["hardware"]["cost"] == "macs"
    bad = CliRunner().invoke(main, args[:-2] + ["--min-fps", "10", "--out", str(out)])
    assert bad.exit_code != 0 and "--hw-cost accel" in bad.output
    bad = CliRunner().invoke(main, ["search", "--ops", "conv,mult", "--out", str(out)])
    assert bad.exit_code != 0 and "subset of conv,shift,adder" in bad.output


def test_accel_cost_search_ranks_by_the_accelerator_nash_accel_finds(tmp_path):
    """With the accelerator model as hardware cost, best.json records the FPS the search ranked it by; the search
    writes no accelerator section (that is `nash accel`'s), and the section `nash accel` builds for the architecture
    has that FPS."""
    sp = get_space("digits")
    cfg = SearchConfig(**{**SMALL, "population": 3, "mutations": 1, "crossovers": 1, "generations": 1})
    run_search(sp, cfg, make_cost("accel"), tmp_path, progress=False)
    mf = load_model(tmp_path / "best.json")
    hw = mf.provenance("search")["hardware"]
    assert mf.data["accelerator"] is None and hw["cost"] == "accel"
    acc = section_for(mf.nodes, "kv260")
    assert acc["board"] == "kv260"
    assert acc["performance"]["fps"] == pytest.approx(hw["fps"])
