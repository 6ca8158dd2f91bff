"""The modules here are cocotb testbenches, imported by the simulator (see nash.codegen.sim_runner), never by pytest."""

collect_ignore_glob = ["*.py"]
