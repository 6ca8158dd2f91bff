"""Supernet training: the sandwich rule with in-place distillation, the progressive hybrid schedule, fake-quant after
an observe warm-up, a checkpoint per epoch and exact resume.

Each step draws the largest, the smallest and ``n_random`` random sub-networks (:func:`.space.sandwich`); the
largest learns from the labels (cross-entropy with label smoothing), the others from the largest's soft targets
(KL divergence at temperature T, the teacher detached: in-place distillation, as in BigNAS / AttentiveNAS / NASA-F's
AlphaNet lineage, method.md "Search mechanics"). Their gradients add up before one SGD step. The first
``float_fraction`` of the epochs run in ``observe`` mode (float, activation ranges recorded), the rest in ``qat``
mode, so that every inherited sub-network converts to the integer model (``models.convert.integer_model``).

Data order, sub-network draws and the optimizer state live in the checkpoint ``DIR/supernet.pt`` (written atomically
after every epoch), so a resumed run equals an uninterrupted one. With a process group (``torch.distributed``), each
rank takes its share of every global batch and DistributedDataParallel averages the gradients (:mod:`.distributed`).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from nash.frontend.core.atomic_io import atomic_write
from nash.frontend.core.errors import UserInputError
from nash.frontend.data import Splits
from nash.frontend.train import distributed
from nash.frontend.train.supernet.net import SuperNet
from nash.frontend.train.supernet.space import SuperSpace, hybrid_share, sandwich, span_of
from nash.frontend.train.trainer import accuracy, calibration_batches, make_optimizer, pick_device, recalibrate_bn
from tqdm import tqdm

CHECKPOINT = "supernet.pt"


@dataclass
class SupernetConfig:
    epochs: int = 20
    batch_size: int = 64  # global batch (split across the ranks of a distributed run)
    lr: float = 0.05
    weight_decay: float = 5e-4
    seed: int = 0
    n_random: int = 2  # random sub-networks per step besides the largest and the smallest
    sample: str = "span"  # where the random ones come from: 'span' (uniform over it) or 'candidates' (the top-K)
    float_fraction: float = 0.3  # share of epochs in observe mode before fake-quant training
    hybrid_start: float = 0.2  # share of the uniform shift / adder probability in the first epoch
    hybrid_ramp: float = 0.5  # share of the epochs after which shift / adder get the uniform probability
    label_smoothing: float = 0.1
    kd_temperature: float = 1.0
    bn_batches: int = 8  # batches of BN recalibration per evaluated sub-network
    shift_mode: str = "ps"
    shift_exp_max: int = 7
    adder_eta: float | None = 0.2
    device: str = "auto"
    progress: bool = True

    def run_settings(self) -> dict:
        """The settings a resumed run must share with the checkpoint (all but device and progress; the epochs too,
        since the learning-rate and hybrid schedules depend on them)."""
        return {k: v for k, v in asdict(self).items() if k not in ("device", "progress")}


SAMPLE_MODES = ("span", "candidates")


def mode_at(epoch: int, cfg: SupernetConfig) -> str:
    """``observe`` during the warm-up, ``qat`` afterwards."""
    return "qat" if epoch >= int(round(cfg.epochs * cfg.float_fraction)) else "observe"


def global_batches(n: int, batch_size: int, rng: np.random.Generator):
    """Index arrays of one epoch's full global batches (the incomplete last batch is dropped, so that every step
    has the same size and splits evenly across ranks)."""
    idx = rng.permutation(n)
    for i in range(0, n - batch_size + 1, batch_size):
        yield idx[i:i + batch_size]


def distill_step(model, archs: list[dict], xb: torch.Tensor, yb: torch.Tensor, mode: str,
                 cfg: SupernetConfig) -> dict[str, float]:
    """Forward and backward of one sandwich (gradients accumulate; the caller steps the optimizer)."""
    t = cfg.kd_temperature
    teacher = model(xb, archs[0], mode)
    loss = F.cross_entropy(teacher, yb, label_smoothing=cfg.label_smoothing)
    loss.backward()
    soft = F.softmax(teacher.detach() / t, dim=1)
    losses = {"largest": float(loss.detach())}
    for i, a in enumerate(archs[1:]):
        out = model(xb, a, mode)
        kd = F.kl_div(F.log_softmax(out / t, dim=1), soft, reduction="batchmean") * (t * t)
        kd.backward()
        losses["smallest" if i == 0 else f"random{i}"] = float(kd.detach())
    return losses


def _save(path: Path, state: dict) -> None:
    atomic_write(path, lambda f: torch.save(state, f), "wb")


def load_checkpoint(path: str | Path) -> dict:
    """A supernet checkpoint (one line naming the file when it is missing or not a checkpoint)."""
    p = Path(path)
    if p.is_dir():
        p = p / CHECKPOINT
    if not p.is_file():
        raise UserInputError(f"{p}: supernet checkpoint not found (written by 'nash supernet --out DIR')")
    try:
        ck = torch.load(p, map_location="cpu", weights_only=False)
    except Exception as e:  # a truncated or foreign file
        raise UserInputError(f"{p}: not a supernet checkpoint ({type(e).__name__})") from None
    if not isinstance(ck, dict) or "space" not in ck or "model" not in ck:
        raise UserInputError(f"{p}: not a supernet checkpoint (no 'space' / 'model' entries)")
    return ck


def supernet_from_checkpoint(ck: dict) -> SuperNet:
    """The trained supernet of a checkpoint (CPU, eval mode)."""
    settings = ck["config"]
    net = SuperNet(SuperSpace.from_dict(ck["space"]), settings["shift_mode"], settings["shift_exp_max"],
                   settings["adder_eta"])
    net.load_state_dict(ck["model"])
    return net.eval()


def check_config(cfg: SupernetConfig, n_train: int, world: int) -> None:
    """One-line errors for a batch that no step can fill or that does not split evenly over the processes."""
    if cfg.batch_size > n_train:
        raise UserInputError(f"option '--batch-size': {cfg.batch_size} is larger than the {n_train} training images")
    if cfg.batch_size % world:
        raise UserInputError(f"option '--batch-size': {cfg.batch_size} does not split over {world} processes")
    if cfg.sample not in SAMPLE_MODES:
        raise UserInputError(f"option '--sample': expected one of {', '.join(SAMPLE_MODES)}, got {cfg.sample!r}")


def step_archs(space: SuperSpace, candidates: list[dict], rng: random.Random, share: float,
               cfg: SupernetConfig) -> list[dict]:
    """The sandwich of one step: the span's largest and smallest, then ``n_random`` sub-networks drawn uniformly
    over the span (``sample='span'``) or among the candidates themselves (``'candidates'``, their op types as
    they are)."""
    if cfg.sample == "span":
        return sandwich(space, rng, share, cfg.n_random)
    return [*sandwich(space, rng, share, 0), *[rng.choice(candidates) for _ in range(cfg.n_random)]]


def train_supernet(candidates: list[dict], splits: Splits, cfg: SupernetConfig, out: str | Path,
                   resume: bool = False, stop_after: int | None = None, space: SuperSpace | None = None) -> dict:
    """Train a supernet over the span of ``candidates`` (architecture dicts) and checkpoint into ``out``.

    ``resume`` continues from ``out/supernet.pt`` (refused when its settings differ). ``stop_after`` ends the call
    after that many epochs (to simulate an interruption, or to checkpoint the caller's own accounting per epoch).
    ``space`` trains over that span instead (e.g. a whole search space, for the full-space baseline of
    ``benchmarks/supernet_rank.py``). Returns ``{"net", "history", "epoch", "space"}``; the network is on CPU in
    eval mode.
    """
    out = Path(out)
    ck_path = out / CHECKPOINT
    dist = distributed.context()
    space = span_of(candidates) if space is None else space
    torch.manual_seed(cfg.seed)
    net = SuperNet(space, cfg.shift_mode, cfg.shift_exp_max, cfg.adder_eta)
    dev = distributed.device(dist, pick_device(cfg.device))
    net.to(dev)
    check_config(cfg, len(splits.x_train), dist.world)
    steps = cfg.epochs * (len(splits.x_train) // cfg.batch_size)
    opt, sched = make_optimizer(net, cfg.lr, cfg.weight_decay, steps)
    rng = random.Random(cfg.seed)  # sub-network draws
    data_rng = np.random.default_rng(cfg.seed)  # batch order
    start, history = 0, []
    if resume and ck_path.exists():
        ck = load_checkpoint(ck_path)
        if (ck["config"] != cfg.run_settings() or ck["space"] != space.to_dict()
                or ck.get("candidates", candidates) != candidates):
            raise UserInputError(f"{ck_path}: checkpoint was written with other settings or candidates; use a new "
                                 "--out or the same settings")
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        r = ck["rng"]
        rng.setstate((r[0], tuple(r[1]), r[2]))
        data_rng.bit_generator.state = ck["data_rng"]
        torch.set_rng_state(ck["torch_rng"])
        start, history = ck["epoch"], list(ck["history"])
    model = distributed.wrap(net, dist)
    x_all, y_all = torch.from_numpy(splits.x_train), torch.from_numpy(splits.y_train)
    per_rank = cfg.batch_size // dist.world
    bar = tqdm(range(start, cfg.epochs), desc="supernet", unit="epoch", disable=not (cfg.progress and dist.main))
    done = 0
    for epoch in bar:
        if stop_after is not None and done >= stop_after:
            break
        net.train()
        mode = mode_at(epoch, cfg)
        share = hybrid_share(epoch, cfg.epochs, cfg.hybrid_start, cfg.hybrid_ramp)
        totals: dict[str, float] = {}
        n_steps = 0
        for idx in global_batches(len(x_all), cfg.batch_size, data_rng):
            mine = idx[dist.rank * per_rank:(dist.rank + 1) * per_rank]
            xb, yb = x_all[mine].to(dev), y_all[mine].to(dev)
            archs = step_archs(space, candidates, rng, share, cfg)
            opt.zero_grad(set_to_none=True)
            for k, v in distill_step(model, archs, xb, yb, mode, cfg).items():
                totals[k] = totals.get(k, 0.0) + v
            opt.step()
            sched.step()
            n_steps += 1
        rec = {"epoch": epoch + 1, "mode": mode, "hybrid_share": share,
               **{f"loss_{k}": v / max(1, n_steps) for k, v in totals.items()}}
        history.append(rec)
        bar.set_postfix(loss=f"{rec.get('loss_largest', 0.0):.3f}", mode=mode)
        if dist.main:
            _save(ck_path, {"model": net.state_dict(), "optimizer": opt.state_dict(),
                            "scheduler": sched.state_dict(), "rng": rng.getstate(),
                            "data_rng": data_rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                            "epoch": epoch + 1, "epochs": cfg.epochs, "history": history,
                            "config": cfg.run_settings(), "space": space.to_dict(),
                            "candidates": candidates})
        distributed.barrier(dist)
        done += 1
    net.to("cpu").eval()
    return {"net": net, "history": history, "epoch": start + done, "space": space}


def inherited_accuracy(net: SuperNet, arch: dict, splits: Splits, mode: str = "qat", bn_batches: int = 8,
                       batch_size: int = 128) -> float:
    """Validation accuracy (%) of sub-network ``arch`` with inherited weights, after BN recalibration on training
    images; ``mode`` 'qat' evaluates the integer rules exactly, 'float' the float network."""
    sub = net.subnet(arch)
    recalibrate_bn(sub, calibration_batches(splits.x_train, bn_batches, batch_size), bn_batches, mode)
    return accuracy(sub, splits.x_val, splits.y_val, mode)


def config_from(d: dict) -> SupernetConfig:
    """A config from a dict (unknown keys ignored)."""
    names = {f.name for f in fields(SupernetConfig)}
    return SupernetConfig(**{k: v for k, v in d.items() if k in names})
