"""``nash supernet TOPK.json --dataset digits --out DIR`` end to end (tiny run), its resume and its bad inputs."""

from __future__ import annotations

import json
import random

import pytest
import torch
from click.testing import CliRunner
from nash.frontend.nas.search_space import get_space, sample
from nash.frontend.train.supernet.training import load_checkpoint, supernet_from_checkpoint

from nash.cli import main


def _topk(path, n=3, seed=0, edit=None):
    rng = random.Random(seed)
    sp = get_space("digits")
    top = [{"rank": i + 1, "metric": 0.5, "architecture": sample(sp, rng)} for i in range(n)]
    if edit:
        edit(top)
    path.write_text(json.dumps(top))
    return path


def _run(args):
    return CliRunner().invoke(main, [str(a) for a in args], prog_name="nash")


def _one_line_error(r, *needles):
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])


ARGS = ["--dataset", "digits", "--epochs", "2", "--batch-size", "256", "--n-random", "0", "--float-fraction", "0.5"]


def test_supernet_cli_trains_and_reports_inherited_accuracy(tmp_path):
    topk = _topk(tmp_path / "top_k.json")
    r = _run(["supernet", topk, *ARGS, "--out", tmp_path / "sn"])
    assert r.exit_code == 0, r.output
    summary = json.loads((tmp_path / "sn" / "supernet.json").read_text())
    assert [h["mode"] for h in summary["history"]] == ["observe", "qat"]
    assert len(summary["candidates"]) == 3
    assert all(0 <= c["inherited_acc"] <= 100 for c in summary["candidates"])
    net = supernet_from_checkpoint(load_checkpoint(tmp_path / "sn"))
    assert net.space.to_dict() == summary["space"]
    # --resume on a finished run trains nothing more and keeps the weights
    before = {k: v.clone() for k, v in net.state_dict().items()}
    r = _run(["supernet", topk, *ARGS, "--resume", "--no-eval", "--out", tmp_path / "sn"])
    assert r.exit_code == 0, r.output
    after = supernet_from_checkpoint(load_checkpoint(tmp_path / "sn")).state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("content, needles", [
    ("{not json", ["not valid JSON"]),
    ('{"a": 1}', ["expected a non-empty list"]),
    ("[]", ["expected a non-empty list"]),
    ('[{"rank": 1}]', ["entry [0]", "'architecture'"]),
])
def test_bad_topk_file_is_one_line(tmp_path, content, needles):
    p = tmp_path / "top_k.json"
    p.write_text(content)
    _one_line_error(_run(["supernet", p, "--out", tmp_path / "o"]), str(p), *needles)
    assert not (tmp_path / "o").exists()


def test_missing_topk_file(tmp_path):
    _one_line_error(_run(["supernet", tmp_path / "nope.json", "--out", tmp_path / "o"]), "nope.json", "not found")


def test_candidates_of_different_skeletons(tmp_path):
    def edit(top):
        top[1]["architecture"]["stages"][1]["stride"] = 1

    p = _topk(tmp_path / "top_k.json", edit=edit)
    _one_line_error(_run(["supernet", p, "--out", tmp_path / "o"]), "[1].architecture.stages[1].stride")
    assert not (tmp_path / "o").exists()


def test_candidates_not_fitting_the_dataset(tmp_path):
    def edit(top):
        for t in top:
            t["architecture"]["num_classes"] = 7

    p = _topk(tmp_path / "top_k.json", edit=edit)
    _one_line_error(_run(["supernet", p, "--out", tmp_path / "o"]), "num_classes", "digits has 10")


def test_bad_option_values(tmp_path):
    p = _topk(tmp_path / "top_k.json")
    _one_line_error(_run(["supernet", p, "--epochs", "0", "--out", tmp_path / "o"]), "--epochs")
    _one_line_error(_run(["supernet", p, "--device", "tpu", "--out", tmp_path / "o"]), "--device")
    _one_line_error(_run(["supernet", p, "--batch-size", "100000", "--out", tmp_path / "o"]), "--batch-size")
    assert not (tmp_path / "o").exists()


def test_schedule_temperature_and_sampling_options_reach_the_training(tmp_path):
    p = _topk(tmp_path / "top_k.json")
    r = _run(["supernet", p, *ARGS, "--kd-temperature", "2.5", "--hybrid-start", "0.5", "--hybrid-ramp", "1",
              "--sample", "candidates", "--no-eval", "--out", tmp_path / "o"])
    assert r.exit_code == 0, r.output
    summary = json.loads((tmp_path / "o" / "supernet.json").read_text())
    cfg = summary["config"]
    assert (cfg["kd_temperature"], cfg["hybrid_start"], cfg["hybrid_ramp"], cfg["sample"]) == (2.5, 0.5, 1.0,
                                                                                               "candidates")
    # hand-worked schedule: a ramp of round(1 * 2) = 2 epochs from 0.5, so 0.5 + 0.5 * epoch / 2
    assert [h["hybrid_share"] for h in summary["history"]] == [0.5, 0.75]
    assert load_checkpoint(tmp_path / "o")["config"]["kd_temperature"] == 2.5


@pytest.mark.parametrize("option, value", [("--kd-temperature", "0"), ("--kd-temperature", "nan"),
                                           ("--kd-temperature", "inf"), ("--hybrid-start", "1.5"),
                                           ("--hybrid-ramp", "-0.1"), ("--sample", "all"), ("--lr", "nan")])
def test_bad_schedule_options(tmp_path, option, value):
    p = _topk(tmp_path / "top_k.json")
    _one_line_error(_run(["supernet", p, option, value, "--out", tmp_path / "o"]), option)
    assert not (tmp_path / "o").exists()
