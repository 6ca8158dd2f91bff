"""cocotb testbenches of the PE arrays: imported by the simulator's Python (see ``nash.codegen.rtl.sim_runner``)."""
