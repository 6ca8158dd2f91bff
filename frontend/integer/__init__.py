"""The integer model (what the hardware runs): numpy reference, accumulator bounds, weights file. Torch-free."""
