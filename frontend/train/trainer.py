"""Training: float warm-up with range calibration, then quantization-aware training, then integer evaluation.

Schedule: SGD (momentum 0.9, Nesterov) with cosine learning rate, label smoothing; the first ``float_fraction`` of the
epochs train the float network while the activation quantizers observe ranges, the rest train with fake-quantized
weights and activations. Checkpoints after every epoch make an interrupted run resumable. Reported accuracies:
float (no quantization), fake-quant (the QAT model in eval mode, which evaluates the integer rules exactly) and
integer (the numpy integer reference on the converted model).

Under ``torchrun`` (a process group, :mod:`.distributed`) every rank takes its contiguous share of each batch,
DistributedDataParallel averages the gradients and BN / range statistics are those of the whole batch, so N
processes train what one process trains with the same ``batch_size``; each rank then runs the same evaluations,
and only the caller's rank 0 should write files (the checkpoint is written by rank 0 only).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from nash.frontend.core.quant_params import quantize_activation
from nash.frontend.data import Splits
from nash.frontend.integer.model import IntegerModel
from nash.frontend.integer.reference import run_network
from nash.frontend.models.convert import integer_model
from nash.frontend.models.hybrid_net import HybridNet
from nash.frontend.ops.fake_quant import ActQuant
from nash.frontend.train import distributed
from tqdm import tqdm


@dataclass
class TrainConfig:
    epochs: int = 15
    batch_size: int = 64
    lr: float = 0.05
    weight_decay: float = 5e-4
    seed: int = 0
    qat: bool = True
    float_fraction: float = 0.4  # share of epochs before QAT starts (ranges are calibrated meanwhile)
    label_smoothing: float = 0.1
    device: str = "auto"  # "auto" picks CUDA when present
    checkpoint: str | None = None  # file path; resumes from it when it exists
    progress: bool = True
    # Opt-in, float training only (the proxy benchmark's noise study): the batch order's seed when it should differ
    # from ``seed`` (the caller seeds the initialisation), and an exponential moving average of the weights over the
    # optimizer steps with this decay, whose float accuracy is reported as ``ema_acc`` (it does not change training;
    # it is not checkpointed, so a resumed run averages from the resumed weights on).
    order_seed: int | None = None
    ema_decay: float | None = None


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _batches(x: np.ndarray, y: np.ndarray, bs: int, rng: np.random.Generator | None):
    idx = rng.permutation(len(x)) if rng is not None else np.arange(len(x))
    for i in range(0, len(x), bs):
        j = idx[i:i + bs]
        yield torch.from_numpy(x[j]), torch.from_numpy(y[j])


@torch.no_grad()
def accuracy(net: HybridNet, x: np.ndarray, y: np.ndarray, mode: str, batch_size: int = 256) -> float:
    """Top-1 accuracy (%) in eval mode; mode 'float' or 'qat' (exact integer rules)."""
    net.eval()
    correct = 0
    dev = next(net.parameters()).device
    for xb, yb in _batches(x, y, batch_size, None):
        out = net(xb.to(dev), mode)
        correct += int((out.argmax(1).cpu() == yb).sum())
    return 100.0 * correct / max(1, len(x))


def integer_accuracy(im: IntegerModel, x: np.ndarray, y: np.ndarray, batch_size: int = 128) -> float:
    """Top-1 accuracy (%) of the numpy integer reference (input quantized with quant_params.quantize_activation)."""
    correct = 0
    for i in range(0, len(x), batch_size):
        q = quantize_activation(x[i:i + batch_size], im.input_scale)
        logits = run_network(im.nodes, im.params, q)
        correct += int((np.argmax(logits, axis=1) == y[i:i + batch_size]).sum())
    return 100.0 * correct / max(1, len(x))


def calibration_batches(x: np.ndarray, batches: int = 8, batch_size: int = 128, seed: int = 0):
    """A fixed random subset of ``batches`` mini-batches of images (the loader of :func:`recalibrate_bn`)."""
    idx = np.random.default_rng(seed).permutation(len(x))[: batches * batch_size]
    for i in range(0, len(idx), batch_size):
        yield torch.from_numpy(x[idx[i:i + batch_size]])


@torch.no_grad()
def recalibrate_bn(net: torch.nn.Module, loader, batches: int = 8, mode: str = "float") -> None:
    """Reset every BatchNorm's running statistics and re-estimate them with the current weights (cumulative average
    over the first ``batches`` items of ``loader``: image tensors or (images, labels) pairs); ``net(x, mode)`` runs
    in train mode meanwhile, and ends in eval mode.

    Adder layers have large, fast-moving output offsets, so EMA statistics lag the weights during training, and a
    sub-network of a supernet inherits statistics mixed over many sub-networks; activation ranges are left untouched.
    """
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    acts = [m for m in net.modules() if isinstance(m, ActQuant)]
    saved = [(m, m.momentum) for m in bns + acts]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    for m in acts:
        m.momentum = 0.0
    net.train()
    dev = next(net.parameters()).device
    try:
        for i, xb in enumerate(loader):
            if i >= batches:
                break
            xb = xb[0] if isinstance(xb, tuple | list) else xb
            net(xb.to(dev), mode)
    finally:
        for m, mom in saved:
            m.momentum = mom
    net.eval()


def make_optimizer(net: torch.nn.Module, lr: float, weight_decay: float, steps: int):
    """SGD (momentum 0.9, Nesterov; no weight decay on BN and other 1-d parameters) with a cosine schedule over
    ``steps`` optimizer steps."""
    decay, no_decay = [], []
    for name, p in net.named_parameters():
        (no_decay if p.ndim <= 1 or ".bn." in name else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0}]
    opt = torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True)
    return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, steps))


def _save_checkpoint(path: str, state: dict) -> None:
    tmp = f"{path}.tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def check_batch(batch_size: int, n_train: int, world: int) -> None:
    """One-line error when a process would get no image of some batch (the last one holds ``n_train % batch_size``)."""
    from nash.frontend.core.errors import UserInputError

    smallest = min(batch_size, n_train % batch_size or batch_size)
    if smallest < world:
        raise UserInputError(f"option '--batch-size': {batch_size} over {n_train} training images leaves a batch of "
                             f"{smallest}, fewer than the {world} processes")


def train_model(net: HybridNet, splits: Splits, cfg: TrainConfig) -> dict:
    """Train ``net`` in place; returns accuracies (%), the integer model and the config used.

    ``float_acc`` is measured at the end of the float phase (a QAT-trained network evaluated without quantization is not
    a meaningful float baseline); ``qat_acc`` and ``int_acc`` on the final network.
    """
    if cfg.ema_decay is not None and (cfg.qat or not 0.0 < cfg.ema_decay < 1.0):
        raise ValueError(f"ema_decay {cfg.ema_decay}: expected a decay in (0, 1) and float training (qat=False)")
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed if cfg.order_seed is None else cfg.order_seed)
    dist = distributed.context()
    check_batch(cfg.batch_size, len(splits.x_train), dist.world)
    dev = distributed.device(dist, pick_device(cfg.device))
    net.to(dev)
    steps_per_epoch = (len(splits.x_train) + cfg.batch_size - 1) // cfg.batch_size
    opt, sched = make_optimizer(net, cfg.lr, cfg.weight_decay, cfg.epochs * steps_per_epoch)
    qat_start = int(round(cfg.epochs * cfg.float_fraction)) if cfg.qat else cfg.epochs
    start, ck = 0, {}
    if cfg.checkpoint and Path(cfg.checkpoint).exists():
        ck = torch.load(cfg.checkpoint, map_location=dev, weights_only=False)
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        rng.bit_generator.state = ck["rng"]
        torch.set_rng_state(ck["torch_rng"])
        start = ck["epoch"]
    history = []
    ema = [p.detach().clone() for p in net.parameters()] if cfg.ema_decay is not None else None
    model = distributed.wrap(net, dist)
    bar = tqdm(range(start, cfg.epochs), desc="train", disable=not (cfg.progress and dist.main), unit="epoch")
    float_acc = None
    for epoch in bar:
        if epoch == qat_start and float_acc is None:
            with distributed.local_stats(net, dist):
                recalibrate_bn(net, calibration_batches(splits.x_train), mode="float")
                float_acc = accuracy(net, splits.x_val, splits.y_val, "float")
        net.train()
        mode = "qat" if epoch >= qat_start else "observe"
        total, seen = 0.0, 0
        for xb, yb in _batches(splits.x_train, splits.y_train, cfg.batch_size, rng):
            # The rank's loss is its share of the global batch's mean loss, times the world size because
            # DistributedDataParallel averages the ranks' gradients.
            n = len(xb)
            xb, yb = xb.tensor_split(dist.world)[dist.rank].to(dev), yb.tensor_split(dist.world)[dist.rank].to(dev)
            loss = F.cross_entropy(model(xb, mode), yb, label_smoothing=cfg.label_smoothing, reduction="sum") * (
                dist.world / n)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if ema is not None:
                with torch.no_grad():
                    for e, p in zip(ema, net.parameters(), strict=True):
                        e.mul_(cfg.ema_decay).add_(p.detach(), alpha=1.0 - cfg.ema_decay)
            total += distributed.sum_over_ranks(float(loss.detach()), dist) * n / dist.world
            seen += n
        history.append({"epoch": epoch + 1, "mode": mode, "loss": total / max(1, seen)})
        bar.set_postfix(loss=f"{total / max(1, seen):.3f}", mode=mode)
        if cfg.checkpoint and dist.main:
            _save_checkpoint(cfg.checkpoint, {"model": net.state_dict(), "optimizer": opt.state_dict(),
                                              "scheduler": sched.state_dict(), "rng": rng.bit_generator.state,
                                              "torch_rng": torch.get_rng_state(), "epoch": epoch + 1,
                                              "float_acc": float_acc})
        distributed.barrier(dist)
    if dist.world > 1:
        distributed.globalize(net, undo=True)  # the evaluations below run on the same images on every rank
    net.to("cpu")
    if float_acc is None:  # no QAT phase ran in this call (float-only training, or resumed after the switch)
        if start > qat_start:
            float_acc = ck.get("float_acc")
        else:
            recalibrate_bn(net, calibration_batches(splits.x_train), mode="float")
            float_acc = accuracy(net, splits.x_val, splits.y_val, "float")
    result = {"float_acc": float_acc, "history": history, "config": asdict(cfg)}
    if ema is not None:
        result["ema_acc"] = _averaged_accuracy(net, [t.cpu() for t in ema], splits)
    if cfg.qat:
        recalibrate_bn(net, calibration_batches(splits.x_train), mode="qat")
        im = integer_model(net)
        result["qat_acc"] = accuracy(net, splits.x_val, splits.y_val, "qat")
        result["int_acc"] = integer_accuracy(im, splits.x_val, splits.y_val)
        result["integer_model"] = im
    return result


def _averaged_accuracy(net: HybridNet, weights: list[torch.Tensor], splits: Splits) -> float:
    """Float validation accuracy with ``weights`` in place of the parameters (BN statistics re-estimated for them);
    ``net`` is left as it was."""
    saved = {k: v.clone() for k, v in net.state_dict().items()}
    with torch.no_grad():
        for p, w in zip(net.parameters(), weights, strict=True):
            p.copy_(w)
    recalibrate_bn(net, calibration_batches(splits.x_train), mode="float")
    acc = accuracy(net, splits.x_val, splits.y_val, "float")
    net.load_state_dict(saved)
    return acc


def train_provenance(dataset: str, split_seed: int, result: dict) -> dict:
    """The model file's ``provenance.train`` record of a :func:`train_model` result.

    ``split_seed`` is the seed that drew the dataset's train/validation split: ``nash csim`` reads it to take its
    images from the same validation split.
    """
    acc = {"float": result["float_acc"]}
    if result["config"]["qat"]:
        acc.update(fake_quant=result["qat_acc"], integer=result["int_acc"])
    config = {k: v for k, v in result["config"].items()
              if k not in ("checkpoint", "progress") and not (k in ("order_seed", "ema_decay") and v is None)}
    return {"dataset": dataset, "split_seed": int(split_seed), "accuracy": acc, "config": config}
