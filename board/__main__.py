"""``python -m nash.board BUNDLE`` (and a bundle's ``run.py``): run a deploy bundle on the board or off it.

Instead of a bundle: ``--blob weights.bin --register-map register_map.json [--bit X.bit --hwh X.hwh] [--model M.json]
[--lib libnash_csim.so]`` (the files of a codegen project and a bitstream).

Images: ``--data FILE.npz`` (``x`` float [N, C, H, W], optional ``y`` labels and ``ref_logits``, the integer
reference's logits); default: the bundle's ``data/*.npz``.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from nash.board.backends import BACKENDS
from nash.board.bundle import bundle_from_parts, open_bundle
from nash.board.errors import BoardError
from nash.board.run import run_images, table, write_report


def load_data(bundle, data: str | None, n: int | None):
    if data:
        try:
            z = np.load(data)
        except (OSError, ValueError) as e:
            raise BoardError(f"--data {data}: not a readable .npz ({e})") from None
    else:
        name = next((p for p in sorted(bundle.files) if p.startswith("data/") and p.endswith(".npz")), None)
        if name is None:
            raise BoardError(f"{bundle.path}: no data/*.npz in the bundle: pass --data FILE.npz")
        z = np.load(io.BytesIO(bundle.files[name]))
    if "x" not in z:
        raise BoardError(f"{data or 'bundle data'}: no array 'x' (float images [N, C, H, W])")
    x = z["x"][:n] if n else z["x"]
    return x, (z["y"] if "y" in z else None), (z["ref_logits"] if "ref_logits" in z else None)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="nash.board", description=__doc__)
    ap.add_argument("bundle", nargs="?", default=None)
    ap.add_argument("--blob", default=None, help="Weights blob (without a bundle).")
    ap.add_argument("--register-map", default=None, help="register_map.json (without a bundle).")
    ap.add_argument("--bit", default=None)
    ap.add_argument("--hwh", default=None)
    ap.add_argument("--model", default=None)
    ap.add_argument("--backend", choices=BACKENDS, default="pynq")
    ap.add_argument("--data", default=None)
    ap.add_argument("--images", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=10.0, help="Seconds to wait for ap_done.")
    ap.add_argument("--lib", default=None, help="C model shared library (default: the bundle's).")
    ap.add_argument("--out", default="run_out")
    a = ap.parse_args(argv)
    try:
        if a.images is not None and a.images < 1:
            raise BoardError(f"--images: expected >= 1, got {a.images}")
        if a.batch_size < 1:
            raise BoardError(f"--batch-size: expected >= 1, got {a.batch_size}")
        if a.bundle is not None:
            b = open_bundle(a.bundle)
        elif a.blob and a.register_map:
            b = bundle_from_parts(a.blob, a.register_map, a.bit, a.hwh, a.model, a.lib)
        else:
            raise BoardError("give a BUNDLE, or --blob and --register-map (with --bit/--hwh for the board)")
        x, y, ref = load_data(b, a.data, a.images)
        rep, logits = run_images(b, a.backend, x, y, ref, a.batch_size, a.warmup, a.timeout,
                                 Path(a.lib) if a.lib else None)
        out = Path(a.out)
        write_report(rep, out)
        np.save(out / "logits.npy", logits)
    except BoardError as e:
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return e.exit_code
    print(table(rep))
    print(f"report: {out / 'run_report.json'}")
    return 1 if rep["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())
