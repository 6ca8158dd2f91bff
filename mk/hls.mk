# HLS codegen targets (issue #5), included by the top-level Makefile.
#   make csim [MODEL=...] [CSIM_IMAGES=100]  -> $(OUT)/csim/csim_report.json (bit-exact vs the integer reference)
#   make hls  [MODEL=...] [HLS_STEPS=...]    -> Vitis HLS csim/csynth/cosim/export IP in $(OUT)/hls
#                                               (fails at once, naming vitis_hls / vitis-run, when neither is on PATH)
CSIM_IMAGES ?= 100
HLS_STEPS ?= csim,csynth,cosim,export

.PHONY: csim hls codegen

codegen: $(STAMP)
	$(BIN)/nash codegen $(MODEL) --out $(OUT)/hls

csim: $(STAMP)
	$(BIN)/nash csim $(MODEL) --images $(CSIM_IMAGES) --out $(OUT)/csim

hls: $(STAMP)
	$(BIN)/nash hls $(MODEL) --out $(OUT)/hls --steps $(HLS_STEPS)
