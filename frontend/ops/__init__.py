"""The hybrid operators (conv, shift, adder) as torch layers, their fake-quant primitives, and the op registry."""
