"""PYNQ runtime for the KV260 overlay and its off-board backends."""
