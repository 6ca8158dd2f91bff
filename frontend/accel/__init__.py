"""The accelerator: boards, cost table, analytical model, static schedule, coarse-to-fine search, section, report."""
