"""``make demo`` (nash.demo) at the smallest sizes: every stage runs and hands its model file to the next."""

import json

import pytest
from nash.frontend.core.model_file import load_model

from nash import demo


@pytest.mark.slow  # about 45 s: the zero-shot search of the demo is fixed at population 24, 3 generations
def test_demo_runs_the_whole_flow(tmp_path):
    assert demo.main(["--out", str(tmp_path), "--top-k", "2", "--supernet-epochs", "1", "--population", "2",
                      "--generations", "1", "--epochs", "1"]) == 0
    assert len(json.loads((tmp_path / "search" / "top_k.json").read_text())) == 2
    assert (tmp_path / "supernet" / "supernet.pt").is_file()
    best = load_model(tmp_path / "accuracy" / "best.json")
    assert best.provenance("search")["search"]["stage"] == "accuracy"
    final = load_model(tmp_path / "accel" / "model.json")
    assert final.architecture == best.architecture  # the fine-tuned model is the accuracy search's pick
    assert {"search", "train", "accel"} <= set(final.data["provenance"])
    report = json.loads((tmp_path / "csim" / "csim_report.json").read_text())
    assert report["mismatches"] == 0 and report["accuracy"] == report["reference_accuracy"]
    run = json.loads((tmp_path / "run" / "run_report.json").read_text())  # ends with nash run --backend emulated
    assert run["backend"] == "emulated" and run["fps_kind"] == "emulated" and run["mismatches"] == 0
