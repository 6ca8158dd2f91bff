"""Proxy benchmark: statistics on hand-made data, scoring equal on every executor, cached (resumable) trainings,
report format."""

from __future__ import annotations

import json
import pickle
import socket

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import local_dask_cluster
from nash.frontend.core.executor import make_executor
from nash.frontend.nas import proxy_bench
from nash.frontend.nas.proxy_bench import (
    bootstrap_ci,
    kendall,
    mean_of_k_tau,
    noise_ceiling,
    run_proxy_bench,
    seeds_for,
    spearman,
    split_half_ceiling,
    top_hit_rate,
    top_k_tau,
)
from nash.frontend.nas.search_space import get_space


def test_statistics_hand_made():
    acc = [1.0, 2.0, 3.0, 4.0]
    assert kendall([10, 20, 30, 40], acc) == pytest.approx(1.0)
    assert kendall([40, 30, 20, 10], acc) == pytest.approx(-1.0)
    # one discordant pair of 6: tau = (5 - 1) / 6
    assert kendall([1, 3, 2, 4], acc) == pytest.approx(4 / 6)
    assert spearman([1, 3, 2, 4], acc) == pytest.approx(1 - 6 * 2 / (4 * 15))
    # -inf and NaN rank worst
    assert kendall([-np.inf, 2, 3, 4], acc) == pytest.approx(1.0)
    assert kendall([np.nan, 2, 3, 4], acc) == pytest.approx(1.0)
    lo, hi = bootstrap_ci(np.arange(30.0), np.arange(30.0) + np.random.default_rng(0).normal(0, 3, 30), kendall, 200)
    assert lo <= hi and hi <= 1.0 and lo > 0.3
    # top-k: only the 3 most accurate matter
    assert top_k_tau([0, 0, 0, 1, 2, 3], [1, 2, 3, 4, 5, 6], frac=0.5) == pytest.approx(1.0)


def test_hit_rate_and_noise_ceiling_hand_made():
    acc = list(range(1, 21))  # 20 architectures: the top 10 % are the two most accurate (indices 18, 19)
    assert top_hit_rate(acc, acc) == 1.0
    proxy = list(acc)
    proxy[19], proxy[0] = proxy[0], proxy[19]  # the best one drops to the bottom, the worst one rises to the top
    assert top_hit_rate(proxy, acc) == 0.5  # only index 18 is in both top-2 sets
    assert top_hit_rate([-np.inf] * 18 + [1.0, 2.0], acc) == 1.0  # -inf ranks worst
    # two seeds of 4 architectures; seed 2 swaps the middle two: tau = (5 - 1) / 6
    c = noise_ceiling([[1.0, 1.0], [2.0, 3.0], [3.0, 2.0], [4.0, 4.0]], n_boot=50)
    assert c["seeds"] == 2 and c["kendall_tau"] == pytest.approx(4 / 6)
    assert c["tau_ci"][0] <= c["tau_ci"][1] <= 1.0
    assert c["max_abs_seed_difference"] == pytest.approx(1.0)
    # three seeds: the mean of the three pairwise taus (1, 4/6, 4/6)
    c3 = noise_ceiling([[1.0, 1.0, 1.0], [2.0, 2.0, 3.0], [3.0, 3.0, 2.0], [4.0, 4.0, 4.0]], n_boot=50)
    assert c3["kendall_tau"] == pytest.approx((1 + 4 / 6 + 4 / 6) / 3)
    assert noise_ceiling([[1.0], [2.0]])["kendall_tau"] is None


def test_split_half_ceiling_hand_made():
    """4 seeds of 4 architectures; the middle two trade places from seed to seed. The 3 ways to split the seeds in
    two halves of 2: {0,1}|{2,3} ties both middle means (2.5 / 2.5), so only the 5 untied pairs count and tau-b is 1;
    {0,2}|{1,3} swaps them (tau (5 - 1) / 6); {0,3}|{1,2} ties them again (1). Mean (1 + 4/6 + 1) / 3."""
    acc = [[1.0, 1.0, 1.0, 1.0], [2.0, 3.0, 2.0, 3.0], [3.0, 2.0, 3.0, 2.0], [4.0, 4.0, 4.0, 4.0]]
    h = split_half_ceiling(acc, n_boot=50)
    assert h["k"] == 2 and h["splits"] == 3 and h["kendall_tau"] == pytest.approx((1 + 4 / 6 + 1) / 3)
    assert h["tau_ci"][0] <= h["tau_ci"][1] <= 1.0
    assert noise_ceiling(acc, n_boot=50)["split_half"]["kendall_tau"] == pytest.approx(h["kendall_tau"])
    assert split_half_ceiling([[1.0, 2.0, 3.0]] * 3) is None  # fewer than 4 seeds: nothing to split


def test_mean_of_k_estimate_by_hand():
    # tau 0.5 -> r = sin(pi / 4) = 0.70711; 2 seeds: 2r / (1 + r) = 0.82843; tau = 2 / pi * asin(0.82843) = 0.62160
    assert mean_of_k_tau(0.5, 2) == pytest.approx(0.62160, abs=1e-4)
    assert mean_of_k_tau(0.5, 1) == pytest.approx(0.5)
    assert mean_of_k_tau(-0.1, 4) is None and seeds_for(0.0) is None
    # tau 0.8 needs r_k = sin(0.4 pi) = 0.95106 = k r / (1 + (k - 1) r), i.e. k = 0.95106 (1 - r) / (r 0.04894)
    assert seeds_for(0.5) == pytest.approx(0.95106 * (1 - 0.70711) / (0.70711 * 0.04894), rel=1e-3)


def test_scores_are_cached_per_data_batch(tmp_path):
    """The data-dependent proxies see the batch: the same architecture on other images is scored again."""
    arch = proxy_bench.sample_archs(proxy_bench.bench_space("digits"), 1, 0)
    g = np.random.default_rng(0)
    batches = [{"x": g.random((16, 1, 16, 16), dtype=np.float32), "y": g.integers(0, 10, 16)} for _ in range(2)]
    a = proxy_bench.score_all(arch, ["trainability"], 0, tmp_path, batches[0], progress=False)
    b = proxy_bench.score_all(arch, ["trainability"], 0, tmp_path, batches[1], progress=False)
    assert len(list(tmp_path.glob("*.json"))) == 2 and a[0]["trainability"] != b[0]["trainability"]
    assert proxy_bench.score_all(arch, ["trainability"], 0, tmp_path, batches[0], progress=False) == a


def test_order_seed_trainings_are_cached_apart_and_record_the_weight_average(tmp_path):
    arch = proxy_bench.sample_archs(proxy_bench.bench_space("digits"), 1, 0)
    plain = proxy_bench.train_all(arch, "digits", 1, [3], tmp_path, progress=False, train_images=128)
    mixed = proxy_bench.train_all(arch, "digits", 1, [3], tmp_path, progress=False, train_images=128,
                                  order_seeds=[4])
    names = sorted(p.name for p in tmp_path.glob("*.json"))
    assert len(names) == 2 and any("_s3_o4_" in n for n in names)
    assert mixed[0][0]["order_seed"] == 4 and "order_seed" not in plain[0][0]
    assert plain[0][0]["final_loss"] != mixed[0][0]["final_loss"]  # another batch order, another trajectory
    assert 0 <= plain[0][0]["val_acc_ema"] <= 100 and plain[0][0]["ema_decay"] == proxy_bench.BENCH_EMA_DECAY


def _cifar_folder(root, per_file: int = 16):
    """A small CIFAR-10 folder in the python-pickle format (random images: only shapes matter here)."""
    d = root / "cifar-10-batches-py"
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(d / name, "wb") as f:
            pickle.dump({b"data": rng.integers(0, 256, (per_file, 3072), dtype=np.uint8),
                         b"labels": [int(v) for v in rng.integers(0, 10, per_file)]}, f)
    return d


def test_cli_digits_space_on_rgb_data_is_adapted(tmp_path):
    """The reported crash (digits space on a 3-channel CIFAR-format folder): the space takes the dataset's channels,
    keeps its 16x16 input (the images are resized), trains every architecture with two seeds and prints each
    accuracy as it arrives; the report holds the noise ceiling and the top-10 % hit rate."""
    from nash.cli import main

    root = _cifar_folder(tmp_path / "data")
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["proxy-bench", "--dataset", "cifar10", "--data-root", str(root), "--space",
                                  "digits", "--archs", "3", "--epochs", "1", "--train-seeds", "2", "--workers", "1",
                                  "--proxies",
                                  "nash,ours,params", "--bootstrap", "20", "--out", str(out)])
    assert r.exit_code == 0, r.output
    rep = json.loads((out / "proxy_bench.json").read_text())
    assert rep["input"] == [3, 16, 16] and rep["space"] == "digits" and len(rep["train_seeds"]) == 2
    assert rep["train"]["train_images"] == 80 and rep["train"]["val_images"] == 16
    assert r.output.count(" seed 1000: ") == 3 and r.output.count(" seed 0: ") == 3  # one line per training
    assert "noise ceiling" in r.output
    for res in rep["results"]:
        assert len(res["val_acc_by_seed"]) == 2
        assert res["val_acc"] == pytest.approx(sum(res["val_acc_by_seed"]) / 2)
    assert rep["noise_ceiling"]["seeds"] == 2
    assert set(rep["proxies"]["ours"]) >= {"top10_hit_rate", "tau_over_ceiling", "tau_ci"}
    assert len(list((out / "cache" / "train").glob("*.json"))) == 6


def test_cli_space_that_cannot_fit_is_refused_before_training(tmp_path):
    from nash.cli import main

    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["proxy-bench", "--dataset", "digits", "--input-size", "4", "--out", str(out)])
    assert r.exit_code == 2 and "--input-size" in r.output
    r = CliRunner().invoke(main, ["proxy-bench", "--device", "tpu", "--out", str(out)])
    assert r.exit_code == 2 and "--device" in r.output
    assert not out.exists()


def test_scoring_equal_serial_local_and_distributed(tmp_path):
    """Base proxies of 3 architectures (the data-dependent SGD step of trainability and the random draws of zen,
    synflow, meco; naswot is left out only for time), scored serially, in 2 local processes and on a 2-worker Dask
    cluster: the same floats (NaN included), in the order of the architectures."""
    from nash.frontend.data import load_dataset

    archs = proxy_bench.sample_archs(get_space("digits"), 3, seed=4)
    batch = proxy_bench._proxy_batch(load_dataset("digits", size=16, seed=0), seed=0)
    names = ["trainability", "zen", "synflow", "meco", "nn_degree"]
    got = {}
    with local_dask_cluster(2) as scheduler:
        for name, how in (("serial", {"workers": 1}), ("local", {"workers": 2}), ("dask", {"scheduler": scheduler})):
            with make_executor(**how) as ex:
                got[name] = proxy_bench.score_all(archs, names, 0, tmp_path / name, batch, ex, progress=False)
            assert len(list((tmp_path / name).glob("*.json"))) == 3, name  # cached here, by the caller
    assert [sorted(s) for s in got["serial"]] == [sorted(names)] * 3
    np.testing.assert_equal(got["local"], got["serial"])  # exact; NaN equals NaN here
    np.testing.assert_equal(got["dask"], got["serial"])


def test_cli_unreachable_scheduler_fails_before_out_is_touched(tmp_path):
    from nash.cli import main

    with socket.socket() as s:  # a free loopback port: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["proxy-bench", "--archs", "3", "--scheduler", f"tcp://127.0.0.1:{port}",
                                  "--out", str(out)])
    assert r.exit_code == 2, r.output  # the CLI prints the UserInputError's one line
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.output
    assert f"--scheduler tcp://127.0.0.1:{port}: no Dask scheduler answers" in lines[0]
    assert not out.exists()


@pytest.mark.slow  # trains 7 small networks (~40 s on 2 shared cores)
def test_bench_runs_and_resumes_from_cache(tmp_path, monkeypatch):
    kw = dict(dataset="digits", archs=3, epochs=1, seed=0, out=tmp_path, workers=1, proxies=["nash", "ours", "params"],
              n_boot=50, progress=False, train_seeds=2)
    rep = run_proxy_bench(**kw)
    assert rep["archs"] == 3 and set(rep["proxies"]) == {"nash", "ours", "params"}
    for t in rep["proxies"].values():
        assert set(t) >= {"kendall_tau", "spearman_rho", "tau_ci", "top_k_tau"}
        assert -1 <= t["kendall_tau"] <= 1 and t["tau_ci"][0] <= t["tau_ci"][1]
    on_disk = json.loads((tmp_path / "proxy_bench.json").read_text())
    assert on_disk["proxies"]["nash"]["kendall_tau"] == pytest.approx(rep["proxies"]["nash"]["kendall_tau"])
    assert (tmp_path / "proxy_bench.png").read_bytes()[:4] == b"\x89PNG"
    assert len(list((tmp_path / "cache" / "train").glob("*.json"))) == 6  # 3 architectures x 2 seeds

    # an interrupted run: drop one cached training; the rerun trains only that one
    victim = sorted((tmp_path / "cache" / "train").glob("*.json"))[0]
    victim.unlink()
    calls = []
    real = proxy_bench._train_one

    def counting(job):
        calls.append(job)
        return real(job)

    monkeypatch.setattr(proxy_bench, "_train_one", counting)
    rep2 = run_proxy_bench(**kw)
    assert len(calls) == 1
    # seeded training: the retrained architecture gets the same accuracy, so the report is unchanged
    assert [r["val_acc"] for r in rep2["results"]] == [r["val_acc"] for r in rep["results"]]
    assert rep2["proxies"] == rep["proxies"]

    # the ground truth is the weight average's accuracy by default; the final weights' on request
    recs = [json.loads(p.read_text()) for p in sorted((tmp_path / "cache" / "train").glob("*.json"))]
    by_hash = {proxy_bench.arch_hash(r["arch"]): r for r in recs if r["train_seed"] == 0}
    for res in rep["results"]:
        assert res["val_acc_by_seed"][0] == by_hash[res["hash"]]["val_acc_ema"]
        assert res["final_weights_acc_by_seed"][0] == by_hash[res["hash"]]["val_acc"]
    assert rep["weights"] == "averaged"
    # a record from before the weight average was recorded: reused for the final weights, retrained for the average
    old = sorted((tmp_path / "cache" / "train").glob("*.json"))[0]
    rec = json.loads(old.read_text())
    del rec["val_acc_ema"]
    old.write_text(json.dumps(rec))
    calls.clear()
    final = run_proxy_bench(**kw, weights="final")
    assert not calls and [r["val_acc_by_seed"] for r in final["results"]] == [
        r["final_weights_acc_by_seed"] for r in rep["results"]]
    assert run_proxy_bench(**kw)["proxies"] == rep["proxies"] and len(calls) == 1
