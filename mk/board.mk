# Board targets (issues 14 item 6, 15), included by the top-level Makefile.
#   make board-venv                          -> .venv-board: pynq 3.0.1 + numpy 1.26.4 (the Kria-PYNQ image's versions;
#                                               pynq pins numpy < 2, so it lives apart from .venv)
#   make deploy MODEL=... [BITSTREAM=DIR]    -> $(OUT)/deploy/bundle.zip (docs/board.md)
#   make run-emulated MODEL=...              -> nash run --backend emulated on the model (the driver on the emulated board)
BOARD_VENV := .venv-board
BOARD_STAMP := $(BOARD_VENV)/.installed
RUN_IMAGES ?= 100

.PHONY: board-venv deploy run-emulated

$(BOARD_STAMP):
	@test -x $(BOARD_VENV)/bin/python || $(PY) -m venv $(BOARD_VENV)
	$(BOARD_VENV)/bin/pip install -q "pynq==3.0.1" "numpy==1.26.4" "pytest>=7.4"
	@touch $(BOARD_STAMP)

board-venv: $(BOARD_STAMP)

deploy: $(STAMP)
	$(BIN)/nash deploy $(MODEL) --out $(OUT)/deploy/bundle.zip $(if $(BITSTREAM),--bitstream $(BITSTREAM))

run-emulated: $(STAMP) $(BOARD_STAMP)
	$(BIN)/nash run $(MODEL) --backend emulated --images $(RUN_IMAGES) --out $(OUT)/run
