"""The hybrid operators (conv, shift, adder) as torch layers and their fake-quant primitives (each found from its
spec in :mod:`nash.frontend.core.op_registry`)."""
