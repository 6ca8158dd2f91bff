"""Code generation: Vitis HLS C++, Verilog PE arrays and Tcl rendered from a model file."""
