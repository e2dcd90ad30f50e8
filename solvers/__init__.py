"""Compute layer: recursive neural models, the inference engine, training, exact solvers, checkpoints.

Imported as `recursive_tools.solvers`. Nothing here imports the bridge core or the adapters: puzzle rules reach the
solvers as data (units, wall grids) or as callables (a batch verifier), passed in by the core.
"""
