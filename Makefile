# NASH-HLS. `make demo` and `make test` set themselves up on a fresh machine.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MODEL ?= examples/tiny_hybrid.json
OUT ?= build
PYTEST_ARGS ?=

.PHONY: install system-deps demo test test-all lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# CPU torch: the pinned version installs the local CPU build (a loose spec pulls GBs of CUDA wheels).
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	# ap_int.h for the RTL blackboxes' C models (--pe-impl rtl): the hls4ml wheel's ap_types, without its deps.
	$(BIN)/pip install -q --no-deps hls4ml==1.3.0
	@touch $(STAMP)

install: $(STAMP)

# System packages (g++, make, iverilog, yosys, tcl, python3-venv): installed when root / passwordless sudo and apt-get
# allow it, else make stops with the one apt-get command that does it. .ci/run uses the same script.
system-deps:
	@bash mk/system-deps.sh

demo: $(STAMP) board-venv
	$(BIN)/python -m nash.demo --out $(OUT)/demo

# Fast suite (slow / Xilinx / board tests are marked and skipped with a reason). NASH_REQUIRE_RTL=1: an RTL test
# whose simulator (Icarus) is missing fails with the install command instead of skipping.
# NASH_REQUIRE_BOARD_VENV=1: the pynq tests (tests/board, run in .venv-board by make board-venv) fail instead of skipping.
test: $(STAMP) system-deps board-venv
	NASH_REQUIRE_RTL=1 NASH_REQUIRE_BOARD_VENV=1 $(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-all: $(STAMP) system-deps board-venv
	NASH_REQUIRE_RTL=1 NASH_REQUIRE_BOARD_VENV=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff, then the import-linter contracts of pyproject.toml (the layer rule) on the installed package layout.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python tools/lint_imports.py

bench: $(STAMP)
	$(BIN)/python benchmarks/adder_layer.py

clean:
	rm -rf build .pytest_cache

# Stage fragments: mk/sim.mk (cocotb RTL simulations: `make sim`), mk/hls.mk (`make csim`, `make hls`),
# mk/bitstream.mk (`make bitstream MODEL=...`), mk/board.mk (`make board-venv`, `make deploy`, `make run-emulated`).
-include mk/*.mk
