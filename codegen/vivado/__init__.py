"""Xilinx tool drivers (vitis_hls / vitis-run; Vivado with the bitstream flow)."""
