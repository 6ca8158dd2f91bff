"""Which PE-array implementation the engines call for their standard / pointwise datapath.

* ``"hls"`` (default, ``"auto"``): the PE-array C model rendered by :func:`nash.codegen.rtl.pe_arrays.render_pe_array`
  (``hls_templates/pe_arrays/``), the same function the Verilog PE arrays are proven bit-identical to.
* ``"rtl"``: the engines call the **weight-stationary** RTL blackbox of each PE array through its adapter
  (``*_ws_rtl.h``): the weight tile lives in the array's register files (two banks of KK window positions per PE,
  KK the largest k * k of the engine's standard layers), loaded one 16-byte word per cycle inside the MAC loops
  exactly where the HLS path fills its ``wt`` buffer, so the loop nests and cycle counts are those of ``"hls"``.
  The Tcl adds the blackbox JSON with ``add_files -blackbox`` so synthesis instantiates the Verilog, and g++ csim
  compiles the blackbox C model (``*_bb.cpp``, static state like the Verilog's registers; needs ``ap_int.h``:
  ``pe_arrays.find_ap_types``). Not the default until the flow has run on real Vitis HLS (docs/pe-arrays.md).
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
    fn_by_engine: dict[str, str]  # engine -> PE-array function name (rtl: the blackbox adapter)
    files: list[Path] = field(default_factory=list)
    csim_sources: list[str] = field(default_factory=list)  # extra C++ files (relative to the project) g++ compiles
    blackbox_jsons: list[str] = field(default_factory=list)  # relative to the project: `add_files -blackbox` (rtl)
    blackbox_by_engine: dict[str, str] = field(default_factory=dict)  # engine -> blackbox C function (rtl)

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

    @property
    def stationary(self) -> bool:
        """True when the weight tile lives in the PE array (rtl): the engines then keep no ``wt`` buffer."""
        return self.impl == "rtl"

    def includes(self, engine: str) -> str:
        return self.header_by_engine[engine]

    def call(self, engine: str, tm: int, tn: int) -> str:
        """The per-cycle PE-array call of the MAC loop. hls / local: ``x``, the weight tile ``wv`` -> ``ps``; rtl:
        compute ``xv`` at window position ``k`` of bank ``cur``, load ``wword`` (when ``wload``) at (``wj``, ``wk``)
        of bank ``1 - cur``."""
        if self.impl == "rtl":
            return f"{self.fn_by_engine[engine]}(xv, k, cur, wword, wj, wk, wload, 1 - cur, ps);"
        if self.impl == "hls":
            return f"{self.fn_by_engine[engine]}(xv, wv, ps);"
        return f"nash::{engine_spec(engine).c_pe_array}<TM, TN, acc_t>(xv, wv, ps);"

    def load_call(self, engine: str) -> str:
        """rtl: the per-cycle call of a layer's first weight load (bank 0; the compute side's result is unused)."""
        return f"{self.fn_by_engine[engine]}(xz, 0, 1, ws.read(), j, k, true, 0, ps);"

    def lane_fn(self, engine: str) -> str:
        return f"nash::{engine_spec(engine).c_pe_lane}"


def pe_source(impl: str, pe: dict[str, tuple[int, int]], acc_bits: dict[str, int], exp_max: int,
              src_dir: Path, kk: dict[str, int] | None = None) -> PeSource:
    """Render (for "hls" / "rtl") the PE arrays of the engines into ``src_dir/pe``; describe how to call them.

    ``kk``: engine -> window positions of its weight-stationary register files (the largest k * k of its standard
    layers; 1 when absent)."""
    if impl not in PE_IMPLS:
        raise ValueError(f"pe implementation {impl!r}: expected one of {list(PE_IMPLS)}")
    impl = "hls" if impl == "auto" else impl
    if impl == "local":
        return PeSource("local", {e: "pe_local.h" for e in pe}, {e: f"nash::{engine_spec(e).c_pe_array}" for e in pe})
    headers, fns, files, csim_sources, jsons, boxes = {}, {}, [], [], [], {}
    for eng, (tm, tn) in pe.items():
        depth = max(1, (kk or {}).get(eng, 1))
        paths = pe_arrays.render_pe_array(eng, tm, tn, src_dir / "pe", acc_bits=acc_bits[eng], exp_max=exp_max,
                                          kk=depth)
        files.extend(Path(p) for p in paths.values())
        if impl == "hls":  # only the plain C++ C model is compiled (the Verilog / blackbox files are for rtl)
            headers[eng] = f"pe/{Path(paths['c_model']).name}"
            fns[eng] = f"{Path(paths['c_model']).stem}_hls"
        else:
            box = Path(paths["ws_verilog"]).stem
            headers[eng] = f"pe/{Path(paths['rtl_call']).name}"
            fns[eng] = f"{box}_rtl"
            boxes[eng] = box
            csim_sources.append(f"{src_dir.name}/pe/{Path(paths['bb_cpp']).name}")
            jsons.append(f"{src_dir.name}/pe/{Path(paths['blackbox_json']).name}")
    return PeSource(impl, headers, fns, files, csim_sources, jsons, boxes)
