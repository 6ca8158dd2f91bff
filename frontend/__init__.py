"""Python frontend: hybrid operators, integer semantics, model file, datasets, search and training."""
