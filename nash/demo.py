"""``make demo``: the whole flow on the embedded default dataset (scikit-learn digits), no downloads.

Runs every stage that exists, in order, each reading the previous stage's model file:
search (zero-shot NAS) -> train (QAT + integer model) -> accel (accelerator search) -> csim (bit-exact C simulation).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

from nash.cli import main as cli


def _run(args: list[str]) -> None:
    print(f"\n$ nash {' '.join(args)}", flush=True)
    t = time.time()
    cli.main(args=args, standalone_mode=False)
    print(f"  ({time.time() - t:.1f} s)", flush=True)


def _has(command: str) -> bool:
    return command in cli.commands


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="build/demo")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=12)
    a = ap.parse_args(argv)
    out = Path(a.out)
    root = Path(__file__).resolve().parent.parent
    model = root / "examples" / "tiny_hybrid.json"
    if _has("search"):
        _run(["search", "--dataset", "digits", "--population", "24", "--generations", "3", "--seed", str(a.seed),
              "--out", str(out / "search")])
        model = out / "search" / "best.json"
    else:
        print("search stage not available yet: using examples/tiny_hybrid.json's architecture")
    _run(["train", str(model), "--dataset", "digits", "--epochs", str(a.epochs), "--seed", str(a.seed),
          "--out", str(out / "train")])
    model = out / "train" / "model.json"
    if _has("accel"):
        _run(["accel", str(model), "--board", "kv260", "--out", str(out / "accel")])
        model = out / "accel" / "model.json"
    if _has("csim") and importlib.util.find_spec("nash.codegen.csim") is not None:
        _run(["csim", str(model), "--images", "100", "--out", str(out / "csim")])
    _run(["validate", str(model)])
    print(f"\ndemo finished: final model {model}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
