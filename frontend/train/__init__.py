"""QAT training of one architecture."""
