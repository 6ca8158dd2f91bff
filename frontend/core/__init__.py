"""Torch-free foundation: the architecture graph, the op registry, the integer constants and rounding rule, the model
file."""
