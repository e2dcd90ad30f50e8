"""Recursive neural solvers: TRM and HRM (trm.py, hrm.py) on shared layers (layers.py, base.py), checkpoint IO
(checkpoint.py; catalog.py lists checkpoints from JSON alone) and one inference engine (engine.py).

This package's __init__ imports nothing heavy: `catalog` must stay importable without torch.
"""
