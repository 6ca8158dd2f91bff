"""The one adapter between the model file's ``accelerator`` section and the code generator.

Everything codegen needs from the accelerator design (PE-array shape per engine, which engine runs which layer, the
static cross-image schedule, board part and clock, the predicted FPS) is read here and nowhere else, so a change of
the section's format touches only this module. When the section is absent (``"accelerator": null``), a documented
fallback is used (see ``docs/hls-codegen.md``): every engine gets an 8 x 8 PE array, conv-kind layers run on the
engine of their op type, add / gap / fc on the misc unit, part and clock come from the kv260 board description, and a
greedy pipelined schedule is built.

The schedule (its semantics, task type, builders and checker) is the accelerator model's:
:mod:`nash.frontend.accel.schedule`. :func:`validate_schedule` applies its checker to a plan's schedule, without the
rule that a step's tasks serve different images (the fallback schedules do not keep it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nash.codegen.hls.weights_blob import WORD
from nash.frontend.accel.model import engine_of as default_engine
from nash.frontend.accel.schedule import (
    ScheduleError,
    Steps,
    check_schedule,
    pipelined_schedule,
    sequential_schedule,
    steps_from_json,
)
from nash.frontend.core.errors import UserInputError
from nash.frontend.core.graph import Node
from nash.frontend.core.op_registry import PE_ENGINES  # index order = the engine ids in the generated code

DEFAULT_TM_TN = {e: (8, 8) for e in PE_ENGINES}
DEFAULT_TILE = 8  # fallback output tile side: bands of 8 rows (docs/hls-codegen.md, "Spatial tiles")
DEFAULT_BOARD = "kv260"
SCHEDULES = ("model", "pipelined", "sequential")


class PlanError(UserInputError):
    """An accelerator section (or a schedule) codegen cannot implement; the message names the field."""


@dataclass
class Plan:
    """What codegen needs from the accelerator design."""

    pe: dict[str, tuple[int, int]]  # engine -> (tm, tn)
    engine_of: dict[str, str]  # layer name -> engine
    steps: Steps
    part: str
    clock_mhz: float
    predicted_fps: float | None = None
    source: str = "default"  # "accelerator" (from the model file) or "default" (fallback)
    schedule_kind: str = "pipelined"
    notes: list[str] = field(default_factory=list)
    dw_lanes: dict[str, int] = field(default_factory=dict)  # engine -> depthwise lanes (default: tn)
    requant_lanes: dict[str, int] = field(default_factory=dict)  # engine -> requant outputs per cycle (default 1)
    axi_bytes_per_cycle: float = float(WORD)
    tiles: dict[str, int] = field(default_factory=dict)  # conv-kind layer -> output tile side tr (default 8)
    acc_mem: dict[str, str] = field(default_factory=dict)  # engine -> the array's accumulators "bram" | "uram"
    acc_dw_mem: dict[str, str] = field(default_factory=dict)  # engine -> the depthwise lanes' accumulators
    batch: int = 1  # images per task (the section's batch; the fallback runs one)
    # conv-kind layer -> its walk as the section records it (layers.<name>.reuse / images; absent: the buffers' rule)
    reuse: dict[str, bool] = field(default_factory=dict)
    images: dict[str, int] = field(default_factory=dict)

    def lanes(self, engine: str) -> int:
        """Depthwise lanes of an engine (the section's ``dw_lanes``; 0 there means no depthwise layer)."""
        return max(1, self.dw_lanes.get(engine, self.pe[engine][1]))

    def requant(self, engine: str) -> int:
        return max(1, self.requant_lanes.get(engine, 1))

    def tile(self, layer: str) -> int:
        """Output tile side ``tr`` of a conv-kind layer (the section's ``layers.<name>.tr``; the engines round it to
        whole-word row bands, :func:`nash.frontend.accel.buffers.band_rows`)."""
        return self.tiles.get(layer, DEFAULT_TILE)

    def memory(self, engine: str, buffer: str = "acc") -> str:
        """Where an engine's accumulators ``buffer`` ("acc": the array's, "acc_dw": the depthwise lanes') live (the
        section's ``engines.<e>.acc_mem`` / ``acc_dw_mem``; default BRAM)."""
        return {"acc": self.acc_mem, "acc_dw": self.acc_dw_mem}[buffer].get(engine, "bram")

    @property
    def max_offset(self) -> int:
        return max((t.offset for s in self.steps for t in s), default=0)

    @property
    def min_slots(self) -> int:
        """Activation slots (one image each) the schedule needs: every image of the batches in flight."""
        return self.batch * (self.max_offset + 1)


def validate_schedule(nodes: list[Node], steps: Steps, where: str = "schedule",
                      engine_of: dict[str, str] | None = None) -> None:
    """Raise :class:`PlanError` (naming ``where``) unless ``steps`` is a valid one-period schedule of ``nodes``
    (:func:`~nash.frontend.accel.schedule.check_schedule`, without its different-images-per-step rule)."""
    try:
        check_schedule(nodes, steps, engine_of, distinct_images=False)
    except ScheduleError as e:
        raise PlanError(f"{where}: {e}") from None


def _from_section(acc: dict, nodes: list[Node]) -> Plan:
    """Read the accelerator section (docs/accelerator-model.md); it is validated first, so every field used below
    exists and is consistent with the network (engines by op type, a complete schedule that respects dependencies)."""
    from nash.frontend.accel.section import recorded_walks, validate_section
    from nash.frontend.core.model_file import ModelFileError

    try:
        validate_section(acc, nodes)
    except ModelFileError as e:
        raise PlanError(str(e)) from None
    pe, dw_lanes, requant_lanes, acc_mem, acc_dw_mem = dict(DEFAULT_TM_TN), {}, {}, {}, {}
    for name, cfg in acc["engines"].items():
        if name in DEFAULT_TM_TN and cfg is not None:  # an engine without layers (null) keeps the unused default
            pe[name] = (cfg["tm"], cfg["tn"])
            dw_lanes[name] = cfg["dw_lanes"]
            requant_lanes[name] = cfg["requant_lanes"]
            acc_mem[name] = cfg["acc_mem"]
            acc_dw_mem[name] = cfg["acc_dw_mem"]
    tiles = {n.name: int(acc["layers"][n.name]["tr"]) for n in nodes if n.kind == "conv"}
    reuse, images = recorded_walks(acc, [n for n in nodes if n.kind == "conv"])
    # The model's effective bytes per cycle per port; less than a word is DDR throttling the ports, more is a
    # bandwidth the 128-bit ports of the generated engines cannot reach.
    if acc["axi_bytes_per_cycle"] > WORD:
        raise PlanError(f"accelerator.axi_bytes_per_cycle: at most {WORD} (the generated engines move {WORD}-byte "
                        f"words on 128-bit m_axi ports), got {acc['axi_bytes_per_cycle']!r}")
    # The requant stage transposes one group of lanes x 16 pixels into words through 16 byte banks (engine.cpp.j2).
    for name, rq in requant_lanes.items():
        if rq > WORD:
            raise PlanError(f"accelerator.engines.{name}.requant_lanes: at most {WORD} (the requant stage writes "
                            f"one pixel of each lane into its own one of {WORD} byte banks), got {rq!r}")
    engine_of = {n.name: acc["layers"][n.name]["engine"] for n in nodes}
    steps = steps_from_json(acc["schedule"]["steps"])
    return Plan(pe, engine_of, steps, acc["part"], float(acc["clock_mhz"]), float(acc["performance"]["fps"]),
                "accelerator", "model", dw_lanes=dw_lanes, requant_lanes=requant_lanes,
                axi_bytes_per_cycle=float(acc["axi_bytes_per_cycle"]), tiles=tiles, acc_mem=acc_mem,
                acc_dw_mem=acc_dw_mem, batch=int(acc.get("batch", 1)), reuse=reuse, images=images)


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
