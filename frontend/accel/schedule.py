"""The static cross-image schedule of the chunk accelerator: its one task type, its builders, its checker, its timing.

A schedule is one *period* of a software pipeline: a list of steps, each step a list of :class:`Task`
``(engine, layer, offset)`` (``{"engine", "layer", "image"}`` in the model file). In period ``t`` a task with image
offset ``d`` processes image ``t - d`` (skipped outside ``[0, N)``: periods run ``t = 0 .. N - 1 + max_d``). Within a
period the steps run one after the other; the tasks of one step run concurrently (one DATAFLOW region), each engine at
most once. A task runs after its producers for the same image: in an earlier period, or in the same period in an
earlier step. The accelerator model's schedules also give the tasks of a step different images (distinct offsets), so
no task waits inside a step; codegen's fallback schedules need only exclusivity and dependencies. An image's
activations live in slot ``image mod n_slots`` (``n_slots >= max_d + 1``).

Builders: :func:`build_schedule` (the accelerator model's, from layer durations), :func:`pipelined_schedule` (greedy,
without durations: codegen's fallback) and :func:`sequential_schedule` (image by image). :func:`check_schedule` proves
the rules above for a concrete schedule.

Timing: a step lasts as long as its longest task plus a fixed step overhead; the period is the sum of the steps. One
image enters and one leaves per period in steady state, so throughput = clock / period. An image's latency is the
time from the start of its offset-0 period to the end of its last task.

The period is minimised by aligning the engines' task lists sorted by duration (the i-th longest task of every engine
in step i; for a sum of maxima this alignment is optimal). The steps are then ordered by the mean position of their
layers in the network so that image offsets (and per-image latency) stay small.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from nash.frontend.core.errors import UserInputError
from nash.frontend.core.graph import Node
from nash.frontend.core.op_registry import ENGINES


class ScheduleError(UserInputError):
    """A schedule that breaks a rule; the message names the step and layer."""


@dataclass(frozen=True)
class Task:
    """One task of a step: ``layer`` on ``engine`` for the image ``offset`` periods behind the newest."""

    engine: str
    layer: str
    offset: int  # image offset d: in period t this task processes image t - d

    def to_json(self) -> dict:
        """The model file's form of a task (``accelerator.schedule.steps[s][i]``)."""
        return {"engine": self.engine, "layer": self.layer, "image": self.offset}

    @classmethod
    def from_json(cls, task: dict) -> Task:
        """A task from its model-file form; field values are not checked here (:func:`check_schedule` does)."""
        return cls(task.get("engine"), task.get("layer"), task.get("image"))


Steps = list[list[Task]]


def steps_to_json(steps: Steps) -> list[list[dict]]:
    """The model file's form of a schedule's steps."""
    return [[t.to_json() for t in step] for step in steps]


def steps_from_json(steps: list[list[dict]]) -> Steps:
    """Steps from their model-file form (a list of lists of task objects; values checked by :func:`check_schedule`)."""
    return [[Task.from_json(t) for t in step] for step in steps]


@dataclass
class Schedule:
    steps: Steps
    step_cycles: list[float]  # duration of each step, overhead included
    period_cycles: float
    latency_cycles: float  # one image, first task start to last task end
    max_offset: int

    def to_json(self) -> dict:
        return {"steps": steps_to_json(self.steps), "step_cycles": [int(round(c)) for c in self.step_cycles],
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


def earliest_offset(producers: Iterable[tuple[int, int]], step: int) -> int:
    """Smallest image offset of a task in ``step`` that runs after each producer ``(offset, step)`` for the same
    image: a producer in an earlier step may share its offset, one in the same or a later step needs a period more."""
    return max((d + (0 if s < step else 1) for d, s in producers), default=0)


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
        d = earliest_offset(((offset[i], step_of[i]) for i in n.inputs if i != "input"), s)
        while d in used[s]:  # tasks of one step belong to different images
            d += 1
        offset[n.name] = d
        used[s].add(d)
    steps = [[Task(e, layer, offset[layer]) for e, layer in step] for step in raw]
    step_cycles = [max(cycles[t.layer] for t in step) + step_overhead for step in steps]
    period = float(sum(step_cycles))
    start = np.concatenate([[0.0], np.cumsum(step_cycles)])
    latency = max(t.offset * period + start[s] + cycles[t.layer] for s, step in enumerate(steps) for t in step)
    return Schedule(steps, step_cycles, period, float(latency), max(offset.values()))


def sequential_schedule(nodes: list[Node], engine_of: dict[str, str]) -> Steps:
    """Image by image: every layer its own step, offset 0 (the reference execution order)."""
    return [[Task(engine_of[n.name], n.name, 0)] for n in nodes]


def pipelined_schedule(nodes: list[Node], engine_of: dict[str, str]) -> Steps:
    """Greedy cross-image schedule without layer durations: ``S = max layers on one engine`` steps; each layer (in
    order) takes the free step of its engine that gives the smallest image offset that still respects its producers,
    then the earliest step. Tasks of one step may serve the same image (when independent)."""
    count: dict[str, int] = {}
    for n in nodes:
        count[engine_of[n.name]] = count.get(engine_of[n.name], 0) + 1
    n_steps = max(count.values())
    busy: set[tuple[str, int]] = set()
    place: dict[str, tuple[int, int]] = {}  # layer -> (offset, step)
    for n in nodes:
        eng = engine_of[n.name]
        prods = [place[i] for i in n.inputs if i != "input"]
        place[n.name] = min((earliest_offset(prods, s), s) for s in range(n_steps) if (eng, s) not in busy)
        busy.add((eng, place[n.name][1]))
    steps: Steps = [[] for _ in range(n_steps)]
    for n in nodes:
        d, s = place[n.name]
        steps[s].append(Task(engine_of[n.name], n.name, d))
    return steps


def check_schedule(nodes: list[Node], steps: Steps, engine_of: dict[str, str] | None = None,
                   distinct_images: bool = True) -> None:
    """Raise :class:`ScheduleError` unless ``steps`` obeys the rules in the module docstring: known layers and
    engines (``engine_of``, when given, fixes each layer's engine), each engine at most once per step, offsets
    integers >= 0, every layer exactly once, producers earlier for the same image.

    ``distinct_images=False`` drops the rule that a step's tasks serve different images (codegen's fallback
    schedules, which need only exclusivity and dependencies, are checked that way)."""
    names = {n.name for n in nodes}
    place: dict[str, tuple[int, int]] = {}
    for s, step in enumerate(steps):
        engines, images = set(), set()
        for t in step:
            layer, eng, d = t.layer, t.engine, t.offset
            if not isinstance(layer, str) or layer not in names:
                raise ScheduleError(f"step {s}: unknown layer {layer!r}")
            if not isinstance(eng, str) or eng not in ENGINES:
                raise ScheduleError(f"step {s}: layer {layer!r}: unknown engine {eng!r}; expected one of "
                                    f"{list(ENGINES)}")
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
