"""The one adapter between the model file's ``accelerator`` section and the code generator.

Everything codegen needs from the accelerator design (PE-array shape per engine, which engine runs which layer, the
static cross-image schedule, board part and clock, the predicted FPS) is read here and nowhere else, so a change of
the section's format touches only this module. When the section is absent (``"accelerator": null``), a documented
fallback is used (see ``docs/hls-codegen.md``): every engine gets an 8 x 8 PE array, conv-kind layers run on the
engine of their op type, add / gap / fc on the misc unit, part and clock come from the kv260 board description, and a
greedy pipelined schedule is built.

Schedule semantics (one period of a software pipeline):

* ``steps`` is a list of steps; each step is a list of tasks ``Task(engine, layer, offset)``.
* In period ``t`` a task with image offset ``d`` processes image ``t - d`` (skipped outside ``[0, N)``); periods run
  ``t = 0 .. N - 1 + max_d``; within a period the steps run in order; the tasks of one step run concurrently (a
  DATAFLOW region), so they must use different engines and must not depend on each other.
* An image's activations live in slot ``image mod n_slots`` (``n_slots >= max_d + 1``).

:func:`validate_schedule` proves these rules for a concrete schedule: every layer appears exactly once, each engine at
most once per step, each producer of a layer runs strictly earlier for the same image (earlier period, or the same
period and an earlier step).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nash.frontend.accel.model import ENGINES  # index order = the engine ids in the generated code
from nash.frontend.accel.model import engine_of as default_engine
from nash.frontend.core.errors import UserInputError
from nash.frontend.core.graph import Node

DEFAULT_TM_TN = {"conv": (8, 8), "shift": (8, 8), "adder": (8, 8)}
DEFAULT_BOARD = "kv260"
SCHEDULES = ("model", "pipelined", "sequential")
DEFAULT_AXI_BYTES = 16.0  # 128-bit HP ports of the Zynq UltraScale+ PS


class PlanError(UserInputError):
    """An accelerator section (or a schedule) codegen cannot implement; the message names the field."""


@dataclass(frozen=True)
class Task:
    engine: str
    layer: str
    offset: int  # image offset d: in period t this task processes image t - d


@dataclass
class Plan:
    """What codegen needs from the accelerator design."""

    pe: dict[str, tuple[int, int]]  # engine -> (tm, tn)
    engine_of: dict[str, str]  # layer name -> engine
    steps: list[list[Task]]
    part: str
    clock_mhz: float
    predicted_fps: float | None = None
    source: str = "default"  # "accelerator" (from the model file) or "default" (fallback)
    schedule_kind: str = "pipelined"
    notes: list[str] = field(default_factory=list)
    dw_lanes: dict[str, int] = field(default_factory=dict)  # engine -> depthwise lanes (default: tn)
    requant_lanes: dict[str, int] = field(default_factory=dict)  # engine -> requant outputs per cycle (default 1)
    axi_bytes_per_cycle: float = DEFAULT_AXI_BYTES

    def lanes(self, engine: str) -> int:
        """Depthwise lanes of an engine (the section's ``dw_lanes``; 0 there means no depthwise layer)."""
        return max(1, self.dw_lanes.get(engine, self.pe[engine][1]))

    def requant(self, engine: str) -> int:
        return max(1, self.requant_lanes.get(engine, 1))

    @property
    def max_offset(self) -> int:
        return max((t.offset for s in self.steps for t in s), default=0)

    @property
    def min_slots(self) -> int:
        return self.max_offset + 1


def sequential_schedule(nodes: list[Node], engine_of: dict[str, str]) -> list[list[Task]]:
    """Image by image: every layer its own step, offset 0 (the reference execution order)."""
    return [[Task(engine_of[n.name], n.name, 0)] for n in nodes]


def pipelined_schedule(nodes: list[Node], engine_of: dict[str, str]) -> list[list[Task]]:
    """Greedy cross-image schedule: ``S = max layers on one engine`` steps; each layer (in order) takes the free step
    of its engine that gives the smallest image offset that still respects its producers, then the earliest step."""
    count: dict[str, int] = {}
    for n in nodes:
        count[engine_of[n.name]] = count.get(engine_of[n.name], 0) + 1
    n_steps = max(count.values())
    busy: dict[tuple[str, int], str] = {}
    place: dict[str, tuple[int, int]] = {}  # layer -> (offset, step)
    for n in nodes:
        eng = engine_of[n.name]
        prods = [place[i] for i in n.inputs if i != "input"]
        best = None
        for s in range(n_steps):
            if (eng, s) in busy:
                continue
            d = max((pd + (0 if ps < s else 1) for pd, ps in prods), default=0)
            if best is None or (d, s) < best:
                best = (d, s)
        assert best is not None  # engine has at most n_steps layers
        place[n.name] = best
        busy[(eng, best[1])] = n.name
    steps: list[list[Task]] = [[] for _ in range(n_steps)]
    for n in nodes:
        d, s = place[n.name]
        steps[s].append(Task(engine_of[n.name], n.name, d))
    return steps


def validate_schedule(nodes: list[Node], steps: list[list[Task]], where: str = "schedule",
                      engine_of: dict[str, str] | None = None) -> None:
    """Raise :class:`PlanError` unless ``steps`` is a valid one-period schedule of ``nodes`` (rules above; the
    checker is the accelerator model's, without its different-images-per-step rule)."""
    from nash.frontend.accel.schedule import ScheduleError, check_schedule

    for s, step in enumerate(steps):
        for t in step:
            if t.engine not in ENGINES:
                raise PlanError(f"{where}[{s}]: unknown engine {t.engine!r}; expected one of {list(ENGINES)}")
    try:
        check_schedule(nodes, [[{"engine": t.engine, "layer": t.layer, "image": t.offset} for t in step]
                               for step in steps], engine_of, distinct_images=False)
    except ScheduleError as e:
        raise PlanError(f"{where}: {e}") from None


def _from_section(acc: dict, nodes: list[Node]) -> Plan:
    """Read the accelerator section (docs/accelerator-model.md); it is validated first, so every field used below
    exists and is consistent with the network (engines by op type, a complete schedule that respects dependencies)."""
    from nash.frontend.accel.section import validate_section
    from nash.frontend.core.model_file import ModelFileError

    try:
        validate_section(acc, nodes)
    except ModelFileError as e:
        raise PlanError(str(e)) from None
    pe, dw_lanes, requant_lanes = dict(DEFAULT_TM_TN), {}, {}
    for name, cfg in acc["engines"].items():
        if name in DEFAULT_TM_TN and cfg is not None:  # an engine without layers (null) keeps the unused default
            pe[name] = (cfg["tm"], cfg["tn"])
            dw_lanes[name] = cfg["dw_lanes"]
            requant_lanes[name] = cfg["requant_lanes"]
    engine_of = {n.name: acc["layers"][n.name]["engine"] for n in nodes}
    steps = [[Task(t["engine"], t["layer"], t["image"]) for t in step] for step in acc["schedule"]["steps"]]
    return Plan(pe, engine_of, steps, acc["part"], float(acc["clock_mhz"]), float(acc["performance"]["fps"]),
                "accelerator", "model", dw_lanes=dw_lanes, requant_lanes=requant_lanes,
                axi_bytes_per_cycle=float(acc["axi_bytes_per_cycle"]))


def make_plan(model_data: dict, nodes: list[Node], schedule: str = "model") -> Plan:
    """The plan for a model document. ``schedule``: "model" (the section's schedule, else the pipelined fallback),
    "pipelined" (always the greedy fallback schedule) or "sequential" (image by image)."""
    if schedule not in SCHEDULES:
        raise PlanError(f"schedule {schedule!r}: expected one of {list(SCHEDULES)}")
    acc = model_data.get("accelerator")
    if acc:
        plan = _from_section(acc, nodes)
    else:
        from nash.frontend.accel.board import load_board

        engine_of = {n.name: default_engine(n) for n in nodes}
        board = load_board(DEFAULT_BOARD)
        plan = Plan(dict(DEFAULT_TM_TN), engine_of, pipelined_schedule(nodes, engine_of), board.part,
                    float(board.clock_mhz),
                    notes=["no accelerator section: default 8x8 PE arrays and the greedy pipelined schedule "
                           f"on the {DEFAULT_BOARD} board description"])
    if schedule == "pipelined":
        plan.steps, plan.schedule_kind = pipelined_schedule(nodes, plan.engine_of), "pipelined"
    elif schedule == "sequential":
        plan.steps, plan.schedule_kind = sequential_schedule(nodes, plan.engine_of), "sequential"
    elif plan.source == "default":
        plan.schedule_kind = "pipelined"
    validate_schedule(nodes, plan.steps, "accelerator.schedule" if plan.schedule_kind == "model" else "schedule",
                      plan.engine_of)
    return plan
