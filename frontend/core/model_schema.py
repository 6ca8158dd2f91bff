"""Typed sections of the model file (pydantic v2): the structure of every field, and its JSON Schema.

One class per section; :class:`ModelDocument` is the whole file. These types check structure only (types, ranges,
choices, required fields). Checks that need the lowered network or another package stay with their owners: the
architecture's lowering in :func:`nash.frontend.core.graph.lower`, the accelerator section's coverage of the layers
and its schedule in :mod:`nash.frontend.accel.section`. ``docs/model-file.md`` describes the file;
``docs/model-file.schema.json`` is generated from :class:`ModelDocument`.
"""

from __future__ import annotations

from pathlib import PurePosixPath, PureWindowsPath
from typing import Annotated, Any, Literal

from nash.frontend.core.graph import KERNELS, STRIDES
from nash.frontend.core.op_registry import ENGINES, OP_NAMES, SHIFT_EXP_MAX_LIMIT, SHIFT_MODES
from pydantic import BaseModel, ConfigDict, Field, field_validator

FORMAT = "nash-hls-model"
VERSION = 2
# 2: engines without dsp_packing; 3: without tc (row bands span the whole width). Implemented nowhere: removed.
# 4: the engines' acc_dw_mem (the depthwise lanes' accumulators in their own memory; earlier: acc_mem for both).
ACCEL_SECTION_VERSION = 4
# Engines of the accelerator: one PE engine per op type plus the misc unit (add, pooling, classifier).
ENGINE_NAMES = ENGINES

PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
NonEmptyStr = Annotated[str, Field(min_length=1)]
JsonObject = dict[str, Any]


class Section(BaseModel):
    """Base of every section: strict types (no "16" for 16, no true for 1) and no unknown fields."""

    model_config = ConfigDict(strict=True, extra="forbid")


# ---- architecture (owner: search) ------------------------------------------------------------------------------------
OpName = Literal[OP_NAMES]


class Stem(Section):
    op: OpName
    width: PositiveInt
    kernel: Literal[KERNELS]
    stride: Literal[STRIDES]


class Block(Section):
    """An MBConv block: optional 1x1 expand, kxk depthwise, 1x1 project, all of one op type."""

    op: OpName
    kernel: Literal[KERNELS]
    expand: PositiveInt


class Stage(Section):
    width: PositiveInt
    stride: Literal[STRIDES] = Field(description="stride of the stage's first block; the others use 1")
    blocks: list[Block] = Field(min_length=1)


class Head(Section):
    width: PositiveInt
    op: OpName = "conv"


class Architecture(Section):
    """What the search decides; :func:`nash.frontend.core.graph.lower` turns it into the layer graph."""

    input_channels: PositiveInt
    input_size: PositiveInt
    num_classes: PositiveInt
    stem: Stem
    stages: list[Stage] = Field(min_length=1)
    head: Head


# ---- quantization (owner: search, which writes the defaults) ---------------------------------------------------------
class Quantization(Section):
    activation_bits: Literal[8] = Field(description="int8 activations (the only supported width)")
    shift_exp_max: Annotated[int, Field(ge=0, le=SHIFT_EXP_MAX_LIMIT)] = Field(
        description="E: shift weights are sign * 2^-e with e in [0, E]")
    shift_mode: Literal[SHIFT_MODES] = Field(description="DeepShift parametrisation: ps (P, S) or q (quantized weight)")
    adder_eta: Annotated[float, Field(gt=0)] | None = Field(description="adaptive learning-rate factor of AdderNet")


# ---- weights (owner: train) ------------------------------------------------------------------------------------------
class Weights(Section):
    path: NonEmptyStr = Field(description="sidecar .npz, relative to the model file's folder")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the sidecar file (lowercase hex)")

    @field_validator("path")
    @classmethod
    def _relative(cls, v: str) -> str:
        if PurePosixPath(v).is_absolute() or PureWindowsPath(v).is_absolute():
            raise ValueError(f"expected a relative path, got {v!r}")
        return v


# ---- accelerator (owner: accel) --------------------------------------------------------------------------------------
EngineName = Literal[ENGINE_NAMES]
ArrayDim = Annotated[int, Field(ge=1, le=4096)]


class Buffer(Section):
    banks: NonNegativeInt
    depth: NonNegativeInt
    width_bits: PositiveInt
    memory: Literal["bram", "uram"] | None = None


class PeEngine(Section):
    """One PE engine's configuration (docs/accelerator-model.md)."""

    tm: ArrayDim
    tn: ArrayDim
    dw_lanes: Annotated[int, Field(ge=0, le=4096)] = Field(description="0: the engine runs no depthwise layer")
    tr: ArrayDim
    requant_lanes: ArrayDim
    acc_mem: Literal["bram", "uram"] = Field(description="memory of the PE array's accumulators (acc)")
    acc_dw_mem: Literal["bram", "uram"] = Field(description="memory of the depthwise lanes' accumulators (acc_dw)")
    pe_latency: ArrayDim
    pe_ii: ArrayDim
    buffers: dict[str, Buffer]
    resources: dict[str, float]


class MiscEngine(Section):
    lanes: PositiveInt
    resources: dict[str, float]


class Engines(Section):
    conv: PeEngine | None
    shift: PeEngine | None
    adder: PeEngine | None
    misc: MiscEngine


class LayerPlacement(Section):
    engine: EngineName
    tr: PositiveInt
    images: PositiveInt = Field(1, description="images of a batch one pass of the layer handles (one weight tile "
                                "serves them all)")
    reuse: bool | None = Field(None, description="input reuse: the band of the walk group's input tiles is read "
                               "once per band and kept for every output tile (true) or re-read per output tile "
                               "(false); chosen by the accelerator stage (sections without it: the buffers' rule)")
    cycles: NonNegativeInt


class Task(Section):
    engine: EngineName
    layer: NonEmptyStr
    image: NonNegativeInt = Field(description="image offset of the task within the pipeline period")


class Schedule(Section):
    steps: list[list[Task]]
    step_cycles: list[NonNegativeInt]
    period_cycles: NonNegativeInt
    latency_cycles: NonNegativeInt
    max_image_offset: NonNegativeInt
    activation_slots: PositiveInt


class Performance(Section):
    fps: float
    latency_ms: float
    gops: float
    peak_gops: float
    board_peak_gops: float
    period_cycles: NonNegativeInt


class BoardResources(Section):
    total: dict[str, float]
    usable: dict[str, float]


class CostModel(Section):
    cost_table: str
    pe_timing: str


class AcceleratorSearch(Section):
    mode: str
    evaluations: NonNegativeInt
    engine_evaluations: NonNegativeInt
    design_evaluations: NonNegativeInt
    seconds: Annotated[float, Field(ge=0)]
    space_size: NonNegativeInt


class Accelerator(Section):
    """The searched accelerator. Structure only: :func:`nash.frontend.accel.section.validate_section` checks it
    against the network (every layer placed on its op's engine, tiles within the buffers, a valid schedule)."""

    version: Literal[ACCEL_SECTION_VERSION]
    board: NonEmptyStr
    part: NonEmptyStr
    clock_mhz: Annotated[float, Field(gt=0, le=1000)]
    batch: PositiveInt = Field(1, description="images per task: the pipeline advances this many images per period "
                               "(sections written before it run one)")
    usable_fraction: dict[str, float]
    axi_bytes_per_cycle: Annotated[float, Field(gt=0)]
    engines: Engines
    layers: dict[str, LayerPlacement]
    schedule: Schedule
    performance: Performance
    resources: dict[str, float]
    board_resources: BoardResources
    model: CostModel
    search: AcceleratorSearch


def migrate_accelerator(acc: Any) -> Any:
    """An accelerator section of an earlier version in the current structure (anything else unchanged).

    Version 1 -> 2: the engines' ``dsp_packing`` is dropped (no code implements DSP packing, so the model and the
    search no longer offer it). Version 2 -> 3: the engines' and layers' ``tc`` (column tile) is dropped (the
    engines' row bands span the whole width; ``tr`` stays). Version 3 -> 4: each engine's ``acc_dw_mem`` (the
    depthwise lanes' accumulators) is its ``acc_mem``, which placed both accumulators before. The section's cycles and
    FPS stay those of the model that wrote it; ``nash accel`` recomputes them.
    """
    if not isinstance(acc, dict) or acc.get("version") not in (1, 2, 3):
        return acc
    acc = dict(acc)
    drop = {1: {"dsp_packing", "tc"}, 2: {"tc"}, 3: set()}[acc["version"]]

    def without(entries: Any, keys: set[str]) -> Any:
        if not isinstance(entries, dict):
            return entries
        return {n: ({k: v for k, v in c.items() if k not in keys} if isinstance(c, dict) else c)
                for n, c in entries.items()}

    acc["engines"] = without(acc.get("engines"), drop)
    if isinstance(acc["engines"], dict):
        acc["engines"] = {n: ({**c, "acc_dw_mem": c["acc_mem"]} if isinstance(c, dict) and "acc_mem" in c
                              and "acc_dw_mem" not in c else c) for n, c in acc["engines"].items()}
    if "layers" in acc:
        acc["layers"] = without(acc["layers"], {"tc"})
    acc["version"] = ACCEL_SECTION_VERSION
    return acc


# ---- provenance (one record per stage, each written by its stage) ---------------------------------------------------
class SearchProvenance(Section):
    """What ``nash search`` found and how (all optional: a hand-made architecture may record only its dataset)."""

    tool: str | None = None
    dataset: str | None = None
    board: str | None = None
    seed: int | None = None
    metric: str | None = None
    metric_value: Any = Field(None, description="the zero-shot metric of the best candidate (a number, or 'nan')")
    metric_group: str | None = None
    scores: JsonObject | None = None
    hardware: JsonObject | None = None
    search: JsonObject | None = Field(None, description="search configuration and counts")
    stats: JsonObject | None = None


class Accuracy(Section):
    float: Annotated[float, Field(ge=0, le=100)]
    fake_quant: Annotated[float, Field(ge=0, le=100)] | None = None
    integer: Annotated[float, Field(ge=0, le=100)] | None = None


class TrainProvenance(Section):
    """What ``nash train`` did. ``split_seed`` drew the train/validation split; ``nash csim`` uses it to take its
    images from the same validation split."""

    dataset: NonEmptyStr
    split_seed: int
    accuracy: Accuracy = Field(description="validation accuracy in %")
    config: JsonObject = Field(description="the training configuration (epochs, lr, seed, ...)")


class AccelProvenance(Section):
    """How ``nash accel`` searched (the result itself is the accelerator section)."""

    board: NonEmptyStr
    mode: NonEmptyStr
    cost_table: str | None = None
    calibration: str | None = None


class Provenance(Section):
    note: str | None = Field(None, description="free text (hand-made models)")
    search: SearchProvenance | None = None
    train: TrainProvenance | None = None
    accel: AccelProvenance | None = None


# ---- the file --------------------------------------------------------------------------------------------------------
class ModelDocument(Section):
    """A model file (``best.json`` / ``model.json``)."""

    model_config = ConfigDict(strict=True, extra="forbid", title="NASH-HLS model file")
    format: Literal[FORMAT]
    version: Literal[VERSION]
    name: NonEmptyStr
    architecture: Architecture
    quantization: Quantization
    weights: Weights | None = None
    accelerator: Accelerator | None = None
    provenance: Provenance = Field(default_factory=Provenance)


# Which stage writes which part of the file (``provenance.<stage>`` is that stage's record).
SECTION_OWNERS: dict[str, tuple[str, ...]] = {
    "search": ("architecture", "quantization"),
    "train": ("weights",),
    "accel": ("accelerator",),
}
