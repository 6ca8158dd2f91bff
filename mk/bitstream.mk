# Bitstream flow (issue 14), included by the top-level Makefile.
#   make bitstream MODEL=best.json [BITSTREAM_ARGS="--jobs 8 --strategy impl=Performance_Explore"]
#       -> $(OUT)/bitstream/<model>.bit + .hwh + reports.json (needs vitis_hls or vitis-run, vivado, KV260 board files;
#          fails at once naming the missing one)
#   make bitstream-dry-run MODEL=...  -> the generated scripts checked in tclsh, no Xilinx tools (docs/bitstream.md)
BITSTREAM_ARGS ?=

.PHONY: bitstream bitstream-dry-run

bitstream: $(STAMP)
	$(BIN)/nash bitstream $(MODEL) --out $(OUT)/bitstream $(BITSTREAM_ARGS)

bitstream-dry-run: $(STAMP)
	$(BIN)/nash bitstream $(MODEL) --out $(OUT)/bitstream --dry-run $(BITSTREAM_ARGS)
