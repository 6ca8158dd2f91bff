"""The static cross-image schedule of the chunk accelerator and its timing.

A schedule is one *period* of a software pipeline: a list of steps, each step a list of tasks
``{"engine", "layer", "image"}``. In period ``t`` a task with image offset ``d`` processes image ``t - d``. Within a
period the steps run one after the other; the tasks of one step run concurrently (one DATAFLOW region), each engine at
most once, and the tasks of a step belong to different images (distinct offsets), so no task waits inside a step.
A task runs after its producers for the same image: in an earlier period, or in the same period in an earlier step.

Timing: a step lasts as long as its longest task plus a fixed step overhead; the period is the sum of the steps. One
image enters and one leaves per period in steady state, so throughput = clock / period. An image's latency is the
time from the start of its offset-0 period to the end of its last task.

The period is minimised by aligning the engines' task lists sorted by duration (the i-th longest task of every engine
in step i; for a sum of maxima this alignment is optimal). The steps are then ordered by the mean position of their
layers in the network so that image offsets (and per-image latency) stay small.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from nash.frontend.core.errors import UserInputError
from nash.frontend.core.graph import Node


class ScheduleError(UserInputError):
    """A schedule that breaks a rule; the message names the step and layer."""


@dataclass
class Schedule:
    steps: list[list[dict]]  # [{"engine", "layer", "image"}]
    step_cycles: list[float]  # duration of each step, overhead included
    period_cycles: float
    latency_cycles: float  # one image, first task start to last task end
    max_offset: int

    def to_json(self) -> dict:
        return {"steps": self.steps, "step_cycles": [int(round(c)) for c in self.step_cycles],
                "period_cycles": int(round(self.period_cycles)), "latency_cycles": int(round(self.latency_cycles)),
                "max_image_offset": self.max_offset, "activation_slots": self.max_offset + 1}


def period_from_sorted(vectors: list[np.ndarray], step_overhead: float) -> np.ndarray:
    """Period of the sorted alignment for arrays of per-engine sorted (descending) duration vectors.

    ``vectors``: one array per engine of shape [..., S_e]; broadcast over leading dims. Returns [...]."""
    s = max(v.shape[-1] for v in vectors)
    padded = [np.concatenate([v, np.zeros((*v.shape[:-1], s - v.shape[-1]))], axis=-1) if v.shape[-1] < s else v
              for v in vectors]
    m = padded[0]
    for v in padded[1:]:
        m = np.maximum(m, v)
    return m.sum(axis=-1) + s * step_overhead


def build_schedule(nodes: list[Node], engine_of: dict[str, str], cycles: dict[str, float],
                   step_overhead: float) -> Schedule:
    """The sorted-alignment schedule of ``nodes`` (``cycles``: layer -> duration) with offsets and timing."""
    pos = {n.name: i for i, n in enumerate(nodes)}
    per_engine: dict[str, list[str]] = {}
    for n in nodes:
        per_engine.setdefault(engine_of[n.name], []).append(n.name)
    for names in per_engine.values():  # longest first; ties keep network order (smaller offsets)
        names.sort(key=lambda x: (-cycles[x], pos[x]))
    n_steps = max(len(v) for v in per_engine.values())
    raw = [[(e, names[s]) for e, names in per_engine.items() if s < len(names)] for s in range(n_steps)]
    raw.sort(key=lambda step: sum(pos[layer] for _, layer in step) / len(step))
    step_of = {layer: s for s, step in enumerate(raw) for _, layer in step}
    offset: dict[str, int] = {}
    used: dict[int, set[int]] = {s: set() for s in range(n_steps)}
    for n in nodes:  # network order: producers get their offsets first
        s = step_of[n.name]
        d = max((offset[i] + (1 if step_of[i] >= s else 0) for i in n.inputs if i != "input"), default=0)
        while d in used[s]:  # tasks of one step belong to different images
            d += 1
        offset[n.name] = d
        used[s].add(d)
    steps = [[{"engine": e, "layer": layer, "image": offset[layer]} for e, layer in step] for step in raw]
    step_cycles = [max(cycles[t["layer"]] for t in step) + step_overhead for step in steps]
    period = float(sum(step_cycles))
    start = np.concatenate([[0.0], np.cumsum(step_cycles)])
    latency = max(offset[t["layer"]] * period + start[s] + cycles[t["layer"]]
                  for s, step in enumerate(steps) for t in step)
    return Schedule(steps, step_cycles, period, float(latency), max(offset.values()))


def check_schedule(nodes: list[Node], steps: list[list[dict]], engine_of: dict[str, str] | None = None,
                   distinct_images: bool = True) -> None:
    """Raise :class:`ScheduleError` unless ``steps`` obeys the rules in the module docstring.

    ``distinct_images=False`` drops the rule that a step's tasks serve different images (codegen's fallback
    schedules, which need only exclusivity and dependencies, are checked that way)."""
    names = {n.name for n in nodes}
    place: dict[str, tuple[int, int]] = {}
    for s, step in enumerate(steps):
        engines, images = set(), set()
        for t in step:
            layer, eng, d = t.get("layer"), t.get("engine"), t.get("image")
            if layer not in names:
                raise ScheduleError(f"step {s}: unknown layer {layer!r}")
            if engine_of is not None and engine_of[layer] != eng:
                raise ScheduleError(f"step {s}: layer {layer!r} on engine {eng!r}, expected {engine_of[layer]!r}")
            if eng in engines:
                raise ScheduleError(f"step {s}: engine {eng!r} has two tasks")
            if not isinstance(d, int) or isinstance(d, bool) or d < 0:
                raise ScheduleError(f"step {s}: layer {layer!r}: image offset {d!r}, expected an integer >= 0")
            if distinct_images and d in images:
                raise ScheduleError(f"step {s}: two tasks of image offset {d} (tasks of a step need different images)")
            if layer in place:
                raise ScheduleError(f"step {s}: layer {layer!r} scheduled twice")
            engines.add(eng)
            images.add(d)
            place[layer] = (d, s)
    for n in nodes:
        if n.name not in place:
            raise ScheduleError(f"layer {n.name!r} is never scheduled")
        d, s = place[n.name]
        for i in n.inputs:
            if i == "input":
                continue
            pd, ps = place[i]
            if not (pd < d or (pd == d and ps < s)):
                raise ScheduleError(f"layer {n.name!r} (step {s}, image offset {d}) does not run after its input "
                                    f"{i!r} (step {ps}, image offset {pd}) for the same image")
