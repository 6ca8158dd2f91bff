"""Vitis HLS C++ project rendering: the plan read from the accelerator section, templates, weights blob, rules."""
