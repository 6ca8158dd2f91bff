"""Torch models of an architecture (HybridNet) and their conversion to the integer model."""
