"""Torch-free foundation: the architecture graph, the integer constants and rounding rule, the model file."""
