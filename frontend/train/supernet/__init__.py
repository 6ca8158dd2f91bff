"""The NASH training stage: a weight-sharing supernet over the zero-shot pre-identified candidates.

See docs/supernet.md.
"""
