# cocotb RTL simulation of the generated PE arrays (issue 6). Included from the main Makefile (BIN, STAMP, PYTEST_ARGS).
# `make sim` runs every PE-array test (fast and slow: Icarus; Verilator only when >= 5.036 is on PATH), then measures
# latency / II on Icarus and rewrites the calibration JSON that the accelerator model reads. Any failure -> non-zero.
# Override the calibration path with NASH_CALIBRATION=path (default $XDG_CACHE_HOME/nash-hls/calibration/pe_arrays.json,
# ~/.cache without XDG_CACHE_HOME; docs/pe-arrays.md).
SIM_TESTS ?= tests/codegen/rtl/test_pe_arrays_render.py tests/codegen/rtl/test_pe_arrays_sim.py

.PHONY: sim sim-calibrate

sim: $(STAMP)
	$(BIN)/python -m pytest $(SIM_TESTS) $(PYTEST_ARGS)
	$(BIN)/python -m nash.codegen.rtl.sim_runner calibrate

sim-calibrate: $(STAMP)
	$(BIN)/python -m nash.codegen.rtl.sim_runner calibrate
