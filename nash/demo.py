"""``make demo``: the whole flow on the embedded default dataset (scikit-learn digits), no downloads.

Runs the stages in order, each reading the previous stage's model file:
search (zero-shot NAS with the accelerator model as hardware cost) -> train (QAT + integer model) -> accel (the
accelerator search's report) -> csim (bit-exact C simulation, csim accuracy and the predicted FPS) -> validate.
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
    ap.add_argument("--epochs", type=int, default=12)
    a = ap.parse_args(argv)
    out = Path(a.out)
    _run(["search", "--dataset", "digits", "--population", "24", "--generations", "3", "--seed", str(a.seed),
          "--out", str(out / "search")])
    model = out / "search" / "best.json"
    _run(["train", str(model), "--dataset", "digits", "--epochs", str(a.epochs), "--seed", str(a.seed),
          "--out", str(out / "train")])
    model = out / "train" / "model.json"
    _run(["accel", str(model), "--board", "kv260", "--out", str(out / "accel")])
    model = out / "accel" / "model.json"
    _run(["csim", str(model), "--images", "100", "--out", str(out / "csim")])
    _run(["validate", str(model)])
    print(f"\ndemo finished: final model {model}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
