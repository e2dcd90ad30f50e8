"""Puzzle kinds, looked up by name. Each kind is one module; see base.py for what it provides."""

from __future__ import annotations

import importlib
from types import ModuleType

KIND_NAMES = ("sudoku", "maze")


def get_kind(name: str) -> ModuleType:
    if name not in KIND_NAMES:
        raise ValueError(f"unknown puzzle kind {name!r}; expected one of {', '.join(KIND_NAMES)}")
    return importlib.import_module(f"recursive_tools.kinds.{name}")


def detect_kind(text: str) -> str:
    """Pick the kind for --kind auto: a maze if it looks like one, else Sudoku (whose parser explains failures)."""
    return "maze" if get_kind("maze").looks_like(text) else "sudoku"
