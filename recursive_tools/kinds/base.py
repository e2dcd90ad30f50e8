"""What every puzzle-kind module provides. One module per kind (sudoku.py, maze.py) owns that kind's rules.

A kind module defines, at module level:

    NAME: str                                   "sudoku" | "maze"
    Puzzle                                      frozen dataclass; has `.size_label` ("9x9", "31x41") used as the
                                                solver-registry key, and `.shape` (rows, cols)
    parse(source, **hints) -> Puzzle            source: str | nested list | dict; raises errors.ParseError
    looks_like(text: str) -> bool               cheap sniff used by --kind auto
    parse_solution(puzzle, source) -> Solution  a proposed solution (for verify_solution); raises ParseError
    verify(puzzle, solution) -> list[Check]     every check made; verified == all(c.passed)
    solve_exact(puzzle, budget) -> ExactOutcome certifies: unique / several / none / gave_up
    explain(puzzle, solution) -> list[str]      human-style steps for the LLM
    answer_fields(puzzle, solution) -> dict     {"solution": json-able, "path": ... | None, "rendering": str}
    render_text(puzzle, solution=None) -> str
    render_png(puzzle, solution=None) -> bytes  Pillow, imported lazily
    encode(puzzle) -> np.ndarray[int64]         reference TRM/HRM token layout (see shared/REFERENCE.md)
    encode_solution(puzzle, solution) -> np.ndarray[int64]   the label tokens
    decode(puzzle, tokens) -> Solution
    verify_batch(inputs, predictions) -> np.ndarray[bool]    vectorised check of [B, L] token arrays

Optional:

    views(shape, **options) -> engine Views     symmetries the rules do not see (a maze's rotations and mirrors, a
                                                Sudoku's relabellings and shuffles): the neural solver spreads its
                                                trajectories over them

Solution is the kind's native form: a Sudoku solution is a [N, N] int array; a maze solution is a list of (row, col).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

ExactStatus = Literal["solved", "no_solution", "multiple_solutions", "gave_up"]


@dataclass
class ExactOutcome:
    status: ExactStatus
    solution: Any | None = None  # the first solution found (native form)
    other_solution: Any | None = None  # a second, different solution when status == "multiple_solutions"
    unique: bool | None = None  # certified unique (None when the search gave up)
    nodes: int = 0  # search nodes visited
    detail: str = ""  # why it gave up, or which contradiction proved no solution
