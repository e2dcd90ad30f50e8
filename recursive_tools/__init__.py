"""recursive-tools: hand grid puzzles from an LLM to local recursive solvers and return verified answers."""

__version__ = "0.1.0"
