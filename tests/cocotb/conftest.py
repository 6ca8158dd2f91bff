"""cocotb testbenches, imported by the simulator (see nash.codegen.rtl.sim_runner), never by pytest."""

collect_ignore_glob = ["*.py"]
