"""The structured answer every tool returns, and its pieces (pydantic models at the boundary)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, PrivateAttr

Status = Literal["solved", "no_solution", "multiple_solutions", "invalid_input", "gave_up"]


class Check(BaseModel):
    """One rule the verifier tested, e.g. name="row 3 is a permutation of 1..9"."""

    name: str
    passed: bool
    detail: str = ""


class SolverInfo(BaseModel):
    """Which solver produced the answer."""

    name: str = Field(description="solver name, e.g. 'exact-sudoku' or a checkpoint name like 'trm-sudoku-9x9'")
    family: str = Field(description="'exact', 'trm', 'hrm', 'conv-recurrent', ...")
    checkpoint: str | None = Field(default=None, description="checkpoint folder name for neural solvers")


class Attempt(BaseModel):
    """One solver the pipeline tried, in order, and how it went."""

    solver: SolverInfo
    outcome: str = Field(description="'verified', 'failed_verification', 'no_solution', 'gave_up', 'skipped', ...")
    detail: str = ""
    recursion_steps: int | None = None
    trajectories: int | None = None
    elapsed_ms: float = 0.0


class Answer(BaseModel):
    """What `solve_*` returns: the solution (if any), every check, provenance and an explanation."""

    kind: str
    status: Status
    verified: bool = Field(description="true only when every check passed")
    checks: list[Check] = Field(default_factory=list)
    solution: list[list[int]] | list[str] | None = Field(
        default=None, description="Sudoku: rows of ints; maze: row strings with 'o' on the path")
    path: list[list[int]] | None = Field(default=None, description="maze: [row, col] cells from start to goal")
    solver: SolverInfo | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    recursion_steps: int | None = Field(default=None, description="deep-supervision steps the neural solver ran")
    halting_confidence: float | None = Field(default=None, description="sigmoid(q_halt) at the chosen step")
    trajectories: int | None = Field(default=None, description=(
        "parallel trajectories tried (symmetric views of the puzzle, then PTRM noise)"))
    unique: bool | None = Field(default=None, description="whether the solution is certified unique")
    timings_ms: dict[str, float] = Field(default_factory=dict)
    explanation: list[str] = Field(default_factory=list)
    rendering: str | None = Field(default=None, description="plain-text picture of the solved grid")
    error: str | None = Field(default=None, description="for invalid input: what to fix")

    # The parsed puzzle and native solution, kept (not serialised) so adapters can draw a picture on demand.
    _puzzle: Any = PrivateAttr(default=None)
    _native_solution: Any = PrivateAttr(default=None)

    def attach(self, puzzle: Any, solution: Any) -> None:
        self._puzzle, self._native_solution = puzzle, solution

    @property
    def parsed_puzzle(self) -> Any:
        return self._puzzle

    @property
    def native_solution(self) -> Any:
        return self._native_solution
