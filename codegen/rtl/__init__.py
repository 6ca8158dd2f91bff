"""Verilog PE arrays, their blackbox JSON and C models, and the cocotb simulation runner."""
