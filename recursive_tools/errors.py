"""Errors a caller (often an LLM) can act on: each says what was wrong, where, and what was expected."""

from __future__ import annotations


class RecursiveToolsError(Exception):
    """Base class for every error this package raises on purpose."""


class ParseError(RecursiveToolsError, ValueError):
    """The puzzle or solution text could not be understood.

    `row` and `column` are 1-based when known, so the message can say "row 4 has 8 cells, expected 9".
    """

    def __init__(self, message: str, *, row: int | None = None, column: int | None = None,
                 expected: str | None = None, found: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.row = row
        self.column = column
        self.expected = expected
        self.found = found


class LimitExceeded(RecursiveToolsError, ValueError):
    """A request is larger than the bounds we accept (grid size, request bytes, trajectories, time)."""


class ToolInputError(RecursiveToolsError, ValueError):
    """Tool arguments did not match the tool's input schema; the message names the field and what was expected."""
