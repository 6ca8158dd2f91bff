"""NASH-HLS: zero-shot NAS for hybrid conv/shift/adder networks co-designed with a KV260 accelerator."""

__version__ = "0.1.0"
