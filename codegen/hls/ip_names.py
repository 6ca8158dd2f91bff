"""The names the Vitis HLS project and its exported IP go by, defined once.

``run_hls.tcl`` (``vivado_tcl/run_hls.tcl.j2``) is rendered from them, and the bitstream flow
(:mod:`nash.codegen.vivado.bitstream`) finds the exported IP folder and instantiates the IP by them, so a change here
changes both. Read them as ``ip_names.X`` at call time (not ``from ... import X``), so that a test that changes one
sees every user follow.
"""

from __future__ import annotations

from nash.codegen.hls.register_map import TOP

HLS_PROJECT = "nash_hls_prj"  # open_project
HLS_SOLUTION = "solution1"  # open_solution
IP_VENDOR, IP_LIBRARY, IP_VERSION = "nash", "hls", "1.0"  # export_design -vendor / -library / -version


def ip_vlnv() -> str:
    """The exported IP's VLNV: vendor:library:name:version, the name being the top function (export_design's
    default IP name)."""
    return f"{IP_VENDOR}:{IP_LIBRARY}:{TOP}:{IP_VERSION}"


def template_context() -> dict[str, str]:
    """The names as ``run_hls.tcl.j2`` takes them."""
    return {"project": HLS_PROJECT, "solution": HLS_SOLUTION, "top": TOP, "ip_vendor": IP_VENDOR,
            "ip_library": IP_LIBRARY, "ip_version": IP_VERSION}
