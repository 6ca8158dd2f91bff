"""``nash deploy`` (a model file -> a deploy bundle; ``--verify`` checks one) and ``nash run`` (a bundle or model
file on the KV260, the emulated board or csim). The runtime itself is ``nash.board`` (numpy + pynq only)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import click

from nash.board.backends import BACKENDS

BOARD_PYTHON_ENV = "NASH_BOARD_PYTHON"


def board_python() -> str | None:
    """An interpreter with pynq for the emulated backend: ``$NASH_BOARD_PYTHON``, else the checkout's
    ``.venv-board`` (``make board-venv``)."""
    env = os.environ.get(BOARD_PYTHON_ENV)
    if env:
        return env
    import nash

    cand = Path(nash.__file__).resolve().parents[1] / ".venv-board" / "bin" / "python"
    return str(cand) if cand.exists() else None


def _has_pynq() -> bool:
    try:
        import pynq  # noqa: F401
    except ImportError:
        return False
    return True


@click.command()
@click.argument("target", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="The bundle (.zip) to write; required unless --verify.")
@click.option("--verify", is_flag=True, help="Check the bundle TARGET (sha256s, ABI version, register map).")
@click.option("--bitstream", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The `nash bitstream --out` folder holding <name>.bit and <name>.hwh.")
@click.option("--dataset", default=None, help="Images packed into the bundle (default: the model's dataset).")
@click.option("--images", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--data-root", default=None)
def deploy(target: Path, out: Path | None, verify: bool, bitstream: Path | None, dataset: str | None, images: int,
           data_root: str | None) -> None:
    """Pack MODEL.json (and its bitstream) into one bundle for the board, or --verify a bundle."""
    from nash.board.bundle import open_bundle
    from nash.board.errors import BoardError
    from nash.codegen.deploy import deploy as do_deploy
    from nash.codegen.deploy import describe
    from nash.frontend.core.errors import UserInputError

    if verify:
        try:
            b = open_bundle(target)
        except BoardError as e:
            raise UserInputError(str(e)) from None
        click.echo(f"ok: {describe(b.manifest)}")
        return
    if out is None:
        raise click.BadParameter("required (the bundle to write)", param_hint="--out")
    with tempfile.TemporaryDirectory(prefix="nash-deploy-") as work:
        d = do_deploy(target, out, work, bitstream, dataset, images, data_root)
    click.echo(f"bundle: {d.path} (good for {d.good_for})")
    if d.missing:
        click.echo(f"  missing: {', '.join(d.missing)}")


@click.command(name="run")
@click.argument("target", type=click.Path(exists=True, path_type=Path))
@click.option("--backend", type=click.Choice(BACKENDS), default="emulated", show_default=True,
              help="pynq: the KV260 (on the board); emulated: the same driver on an emulated pynq device running "
                   "the C model; csim: the C model called directly.")
@click.option("--dataset", default=None, help="Dataset name (default: the images packed into the bundle).")
@click.option("--images", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--warmup", type=click.IntRange(min=0), default=1, show_default=True)
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True,
              help="Seconds to wait for ap_done.")
@click.option("--data-root", default=None)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
def run_cmd(target: Path, backend: str, dataset: str | None, images: int, batch_size: int, warmup: int,
            timeout: float, data_root: str | None, out: Path) -> None:
    """Run a deploy bundle (or a model file: it is deployed first) and report accuracy and FPS."""
    import numpy as np

    from nash.board.bundle import open_bundle
    from nash.board.errors import BoardError
    from nash.board.run import run_images, table, write_report
    from nash.frontend.core.errors import CheckFailedError, ToolMissingError, UserInputError

    out.mkdir(parents=True, exist_ok=True)
    if target.suffix == ".json":
        from nash.codegen.deploy import deploy as do_deploy

        with tempfile.TemporaryDirectory(prefix="nash-deploy-") as work:
            target = do_deploy(target, out / "bundle.zip", work, None, dataset, images, data_root).path
    try:
        b = open_bundle(target)
        if dataset is not None:
            x, y, ref = _dataset_from_bundle(b, dataset, images, data_root)
        else:
            z = np.load(__import__("io").BytesIO(next(v for k, v in sorted(b.files.items())
                                                      if k.startswith("data/") and k.endswith(".npz"))))
            x, y, ref = z["x"][:images], (z["y"][:images] if "y" in z else None), z["ref_logits"][:images]
        if backend == "emulated" and not _has_pynq():
            rep = _run_in_board_python(target, x, y, ref, batch_size, warmup, timeout, out)
        else:
            rep, logits = run_images(b, backend, x, y, ref, batch_size, warmup, timeout)
            write_report(rep, out)
            np.save(out / "logits.npy", logits)
    except BoardError as e:
        raise (UserInputError if e.exit_code == 2 else CheckFailedError)(str(e)) from None
    except ToolMissingError:
        raise
    click.echo(table(rep))
    click.echo(f"report: {out / 'run_report.json'}")
    if rep["mismatches"]:
        raise CheckFailedError(f"{rep['mismatches']} of {rep['images']} images differ from the integer reference "
                               f"({backend} backend)")


def _dataset_from_bundle(b, dataset: str, n: int, data_root: str | None):
    """Images of ``dataset`` for the bundle's model (its model file and weights are in the bundle)."""
    import numpy as np

    from nash.codegen.csim.run import load_float_images
    from nash.frontend.core.model_file import load_model
    from nash.frontend.core.quant_params import quantize_activation
    from nash.frontend.integer.reference import run_network
    from nash.frontend.integer.weights_io import load_integer_model

    with tempfile.TemporaryDirectory(prefix="nash-run-") as tmp:
        b.extract(tmp)
        model = next(Path(tmp, "model").glob("*.json"))
        mf = load_model(model)
        im = load_integer_model(mf)
        x, y, _ = load_float_images(mf, im, n, dataset, 0, data_root)
    ref = np.asarray(run_network(im.nodes, im.params, quantize_activation(x, im.input_scale)))
    return x, y, ref


def _run_in_board_python(bundle: Path, x, y, ref, batch_size: int, warmup: int, timeout: float, out: Path) -> dict:
    """The emulated backend where this interpreter has no pynq: the bundle's own runtime in the board venv."""
    import numpy as np

    from nash.frontend.core.errors import CheckFailedError, ToolMissingError

    py = board_python()
    if py is None:
        raise ToolMissingError("the emulated backend needs pynq, which is not installed in this environment: run "
                               f"`make board-venv` (pynq 3.0.1 + numpy 1.26.4 in .venv-board) or set "
                               f"{BOARD_PYTHON_ENV}")
    data = out / "run_data.npz"
    arrays = {"x": x, "ref_logits": ref} | ({"y": y} if y is not None else {})
    np.savez(data, **arrays)
    from nash.board.bundle import open_bundle

    with tempfile.TemporaryDirectory(prefix="nash-runtime-") as rt:
        open_bundle(bundle).extract(rt)
        env = dict(os.environ, PYTHONPATH=str(Path(rt) / "runtime"))
        # absolute paths: the runtime runs with the extracted bundle as its working folder
        cmd = [py, "-m", "nash.board", str(Path(bundle).resolve()), "--backend", "emulated", "--data",
               str(data.resolve()), "--batch-size", str(batch_size), "--warmup", str(warmup), "--timeout",
               str(timeout), "--out", str(out.resolve())]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=rt)
    rep_path = out / "run_report.json"
    if proc.returncode not in (0, 1) or not rep_path.exists():
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise CheckFailedError(f"emulated run in {py} failed (exit {proc.returncode}): {last}")
    sys.stderr.write(proc.stderr)
    return json.loads(rep_path.read_text())
