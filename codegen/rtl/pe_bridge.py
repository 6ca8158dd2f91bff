"""Which PE-array implementation the engines call for their standard / pointwise datapath.

* ``"hls"`` (default, ``"auto"``): the PE-array C model rendered by :func:`nash.codegen.rtl.pe_arrays.render_pe_array`
  (``hls_templates/pe_arrays/``), the same function the Verilog PE arrays are proven bit-identical to.
* ``"rtl"``: the engines call the RTL blackbox of each PE array through its packing adapter (``*_rtl.h``); the Tcl
  adds the blackbox JSON with ``add_files -blackbox`` so synthesis instantiates the Verilog PE array, and g++ csim
  compiles the blackbox C model (``*_bb.cpp``, which needs ``ap_int.h``: ``pe_arrays.find_ap_types``).
  Not the default until the flow has run on real Vitis HLS (docs/pe-arrays.md).
* ``"local"``: the codegen's own template ``hls_templates/src/pe_local.h.j2`` (same semantics; kept as a
  cross-check).

Depthwise layers always use the lane functions of ``pe_local.h`` (channel-parallel, not a Tm x Tn array).
Shift weights use one code everywhere: ``(sign & 3) << exp_bits | e``
(:func:`nash.frontend.core.op_registry.shift_exp_bits`). Function names come from the op registry's specs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nash.codegen.rtl import pe_arrays
from nash.frontend.core.op_registry import engine_spec

PE_IMPLS = ("auto", "hls", "local", "rtl")


@dataclass
class PeSource:
    """The rendered PE-array sources and how the engines call them."""

    impl: str  # "hls", "rtl" or "local"
    header_by_engine: dict[str, str]  # engine -> header the engine includes
    fn_by_engine: dict[str, str]  # engine -> PE-array function name
    files: list[Path] = field(default_factory=list)
    csim_sources: list[str] = field(default_factory=list)  # extra C++ files (relative to the project) g++ compiles
    blackbox_jsons: list[str] = field(default_factory=list)  # relative to the project: `add_files -blackbox` (rtl)

    local = True  # pe_local.h is always rendered (depthwise lanes)

    @property
    def header(self) -> str:
        return "pe_local.h"

    @property
    def description(self) -> str:
        if self.impl == "hls":
            return "PE-array C model from hls_templates/pe_arrays (" + ", ".join(self.fn_by_engine.values()) + ")"
        if self.impl == "rtl":
            return "Verilog PE arrays as RTL blackboxes (" + ", ".join(self.blackbox_jsons) + ")"
        return "codegen's own PE-array functions (hls_templates/src/pe_local.h.j2)"

    def includes(self, engine: str) -> str:
        return self.header_by_engine[engine]

    def call(self, engine: str, tm: int, tn: int) -> str:
        if self.impl in ("hls", "rtl"):
            return f"{self.fn_by_engine[engine]}(xv, wv, ps);"
        return f"nash::{engine_spec(engine).c_pe_array}<TM, TN, acc_t>(xv, wv, ps);"

    def lane_fn(self, engine: str) -> str:
        return f"nash::{engine_spec(engine).c_pe_lane}"


def pe_source(impl: str, pe: dict[str, tuple[int, int]], acc_bits: dict[str, int], exp_max: int,
              src_dir: Path) -> PeSource:
    """Render (for "hls" / "rtl") the PE arrays of the engines into ``src_dir/pe``; describe how to call them."""
    if impl not in PE_IMPLS:
        raise ValueError(f"pe implementation {impl!r}: expected one of {list(PE_IMPLS)}")
    impl = "hls" if impl == "auto" else impl
    if impl == "local":
        return PeSource("local", {e: "pe_local.h" for e in pe}, {e: f"nash::{engine_spec(e).c_pe_array}" for e in pe})
    headers, fns, files, csim_sources, jsons = {}, {}, [], [], []
    for eng, (tm, tn) in pe.items():
        paths = pe_arrays.render_pe_array(eng, tm, tn, src_dir / "pe", acc_bits=acc_bits[eng], exp_max=exp_max)
        files.extend(Path(p) for p in paths.values())
        stem = Path(paths["c_model"]).stem
        if impl == "hls":  # only the plain C++ C model is compiled (the Verilog / blackbox files are for rtl)
            headers[eng] = f"pe/{Path(paths['c_model']).name}"
            fns[eng] = f"{stem}_hls"
        else:
            headers[eng] = f"pe/{Path(paths['rtl_call']).name}"
            fns[eng] = f"{stem}_rtl"
            csim_sources.append(f"{src_dir.name}/pe/{Path(paths['bb_cpp']).name}")
            jsons.append(f"{src_dir.name}/pe/{Path(paths['blackbox_json']).name}")
    return PeSource(impl, headers, fns, files, csim_sources, jsons)
