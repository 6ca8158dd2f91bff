"""``make demo``: the whole NASH flow on the embedded default dataset (scikit-learn digits), no downloads.

Runs the stages in order, each reading the previous stage's output:
zero-shot search (the accelerator model as hardware cost) -> top-K -> supernet over the top-K -> accuracy-aware
search in the supernet (inherited-weight accuracy with the accelerator search per candidate) -> fine-tune the best
sub-network from its exported weights (QAT + integer model) -> accel (the accelerator search's report) -> csim
(bit-exact C simulation, csim accuracy and the predicted FPS) -> validate -> nash run --backend emulated (the
board driver on the emulated KV260, bit-exact with the integer reference; docs/board.md).

The sizes (top-K, supernet epochs, accuracy-search population / generations, fine-tune epochs) are small, so that
the demo takes a few minutes on 2 cores; they show the flow, not the accuracy the method reaches.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import click

from nash.cli import main as cli


def _run(args: list[str]) -> None:
    print(f"\n$ nash {' '.join(args)}", flush=True)
    t = time.time()
    try:
        cli.main(args=args, standalone_mode=False)
    except click.ClickException as e:  # the CLI's one-line error and exit code (nash.cli.NashGroup)
        e.show()
        sys.exit(e.exit_code)
    print(f"  ({time.time() - t:.1f} s)", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="build/demo")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--top-k", type=int, default=3, help="Candidates of the zero-shot search in the supernet.")
    ap.add_argument("--supernet-epochs", type=int, default=6)
    ap.add_argument("--population", type=int, default=6, help="Population of the accuracy search.")
    ap.add_argument("--generations", type=int, default=2, help="Generations of the accuracy search.")
    ap.add_argument("--epochs", type=int, default=4, help="Fine-tuning epochs of the best sub-network.")
    a = ap.parse_args(argv)
    out, seed = Path(a.out), str(a.seed)
    t0 = time.time()
    _run(["search", "--dataset", "digits", "--population", "24", "--generations", "3", "--top-k", str(a.top_k),
          "--seed", seed, "--out", str(out / "search")])
    _run(["supernet", str(out / "search" / "top_k.json"), "--dataset", "digits", "--epochs", str(a.supernet_epochs),
          "--n-random", "1", "--seed", seed, "--out", str(out / "supernet")])
    n = str(max(1, a.population // 2))
    _run(["search", "--stage", "accuracy", "--supernet", str(out / "supernet"), "--dataset", "digits",
          "--population", str(a.population), "--generations", str(a.generations), "--mutations", n,
          "--crossovers", n, "--seed", seed, "--out", str(out / "accuracy")])
    _run(["train", str(out / "accuracy" / "best.json"), "--finetune", "--dataset", "digits", "--epochs",
          str(a.epochs), "--lr", "0.01", "--float-fraction", "0.25", "--seed", seed, "--out", str(out / "train")])
    model = out / "train" / "model.json"
    _run(["accel", str(model), "--board", "kv260", "--out", str(out / "accel")])
    model = out / "accel" / "model.json"
    _run(["csim", str(model), "--images", "100", "--out", str(out / "csim")])
    _run(["validate", str(model)])
    # The board driver on the emulated KV260 (pynq 3.0.1 in .venv-board, `make board-venv`): deploy bundle, run.
    _run(["run", str(model), "--backend", "emulated", "--images", "100", "--out", str(out / "run")])
    print(f"\ndemo finished in {time.time() - t0:.0f} s: final model {model}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
