"""The solve pipeline: parse -> neural solver (if one is registered) -> verify -> exact solver -> Answer.

Neural solvers plug in through `register_neural`; the shipped checkpoints are registered by
`recursive_tools.neural.register_shipped_checkpoints` on first use, which reads only JSON, so listing solvers and the
exact path never import torch. A registered model is loaded once per process and shared by every caller.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from recursive_tools.answer import Answer, Attempt, Check, SolverInfo
from recursive_tools.errors import LimitExceeded, ParseError
from recursive_tools.kinds import get_kind
from recursive_tools.limits import DEFAULT_TRAJECTORIES, MAX_SEARCH_NODES, MAX_TRAJECTORIES
from recursive_tools.solvers.budget import Budget

SolverChoice = Literal["auto", "neural", "exact"]


@dataclass
class NeuralAttempt:
    solution: Any | None  # kind-native solution decoded from the chosen step / trajectory
    passed_verification: bool  # the engine's vectorised verdict; the pipeline re-verifies with kind.verify
    steps: int
    confidence: float | None
    trajectories: int


class NeuralSolver(Protocol):
    info: SolverInfo
    kind: str
    size_label: str
    card: dict

    def solve(self, puzzle: Any, *, trajectories: int, budget: Budget) -> NeuralAttempt: ...


@dataclass
class _Registration:
    name: str
    kind: str
    size_label: str
    card: dict
    loader: Callable[[], NeuralSolver]
    solver: NeuralSolver | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def load(self) -> NeuralSolver:
        with self.lock:
            if self.solver is None:
                self.solver = self.loader()
            return self.solver


_registry: dict[tuple[str, str], _Registration] = {}
_discovery_lock = threading.Lock()
_discovered = False


def register_neural(loader: Callable[[], NeuralSolver], kind: str, size_label: str, name: str,
                    card: dict | None = None) -> None:
    """Make a neural solver the first choice for (kind, size_label). The loader runs once, on first use."""
    _registry[(kind, size_label)] = _Registration(name, kind, size_label, card or {}, loader)


def _discover() -> None:
    global _discovered
    with _discovery_lock:
        if not _discovered:
            from recursive_tools.neural import register_shipped_checkpoints

            register_shipped_checkpoints()
            _discovered = True


def neural_registrations(kind: str | None = None) -> list[_Registration]:
    _discover()
    return [r for r in _registry.values() if kind is None or r.kind == kind]


ANY_SIZE = "any"  # the size label of a size-agnostic model (e.g. a convolutional maze net)


def get_neural(kind: str, size_label: str) -> NeuralSolver | None:
    """The solver for exactly this size, else a size-agnostic one for the kind, else None."""
    _discover()
    registration = _registry.get((kind, size_label)) or _registry.get((kind, ANY_SIZE))
    return None if registration is None else registration.load()


def exact_solver_info(kind: str) -> SolverInfo:
    return SolverInfo(name=f"exact-{kind}", family="exact")


def _elapsed_ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)


def solve(kind_name: str, source: Any, *, hints: dict | None = None, solver: SolverChoice = "auto",
          trajectories: int = DEFAULT_TRAJECTORIES, budget: Budget | None = None, explain: bool = True) -> Answer:
    """Solve one puzzle and return a structured Answer; never raises for bad puzzle input."""
    started = time.perf_counter()
    budget = budget or Budget.of(max_nodes=MAX_SEARCH_NODES)
    kind = get_kind(kind_name)
    timings: dict[str, float] = {}
    parse_started = time.perf_counter()
    try:
        puzzle = kind.parse(source, **(hints or {}))
    except (ParseError, LimitExceeded) as error:
        return Answer(kind=kind_name, status="invalid_input", verified=False, error=str(error),
                      timings_ms={"parse": _elapsed_ms(parse_started), "total": _elapsed_ms(started)})
    timings["parse"] = _elapsed_ms(parse_started)
    if not 1 <= trajectories <= MAX_TRAJECTORIES:
        return Answer(kind=kind_name, status="invalid_input", verified=False, timings_ms=timings,
                      error=f"trajectories must be between 1 and {MAX_TRAJECTORIES}, got {trajectories}")

    attempts: list[Attempt] = []
    solution: Any | None = None
    checks: list[Check] = []
    chosen: SolverInfo | None = None
    neural_result: NeuralAttempt | None = None

    if solver in ("auto", "neural"):
        neural = get_neural(kind.NAME, puzzle.size_label)
        if neural is None and solver == "neural":
            available = ", ".join(f"{r.kind} {r.size_label}" for r in neural_registrations()) or "none"
            return Answer(kind=kind_name, status="invalid_input", verified=False, timings_ms=timings,
                          error=f"no neural solver for {kind.NAME} {puzzle.size_label} (neural solvers: {available}); "
                                "use solver='auto' or 'exact'")
        if neural is not None:
            neural_started = time.perf_counter()
            for k in ([1, trajectories] if trajectories > 1 else [1]):
                if budget.exhausted():
                    break
                try:
                    result = neural.solve(puzzle, trajectories=k, budget=budget)
                except (ValueError, RuntimeError) as error:  # a model that cannot take this puzzle: fall back
                    attempts.append(Attempt(solver=neural.info, outcome="error", detail=str(error),
                                            elapsed_ms=_elapsed_ms(neural_started)))
                    break
                result_checks = kind.verify(puzzle, result.solution) if result.solution is not None else []
                passed = bool(result_checks) and all(c.passed for c in result_checks)
                failed = [c for c in result_checks if not c.passed]
                attempts.append(Attempt(
                    solver=neural.info, outcome="verified" if passed else "failed_verification",
                    detail="" if passed else (failed[0].detail if failed else "no grid decoded"),
                    recursion_steps=result.steps, trajectories=result.trajectories,
                    elapsed_ms=_elapsed_ms(neural_started)))
                neural_result = result
                if passed:
                    solution, checks, chosen = result.solution, result_checks, neural.info
                    break
            timings["neural"] = _elapsed_ms(neural_started)

    if solution is None and solver == "neural":
        return _finish(kind, puzzle, Answer(
            kind=kind_name, status="gave_up", verified=False, attempts=attempts, timings_ms=timings,
            explanation=["The neural solver's answer did not pass verification; try solver='auto' or 'exact'."],
            **_neural_fields(neural_result)), None, explain, started)

    # The exact solver either solves the puzzle or certifies the neural answer (unique, or several solutions).
    exact_started = time.perf_counter()
    outcome = kind.solve_exact(puzzle, budget)
    timings["exact"] = _elapsed_ms(exact_started)
    exact_info = exact_solver_info(kind.NAME)
    attempts.append(Attempt(solver=exact_info, outcome=outcome.status, detail=outcome.detail,
                            elapsed_ms=timings["exact"]))
    if solution is None and outcome.status == "solved":
        verify_started = time.perf_counter()
        solution, chosen = outcome.solution, exact_info
        checks = kind.verify(puzzle, solution)
        timings["verify"] = _elapsed_ms(verify_started)

    fields = _neural_fields(neural_result) if chosen is not None and chosen.family != "exact" else {}
    if outcome.status == "multiple_solutions":
        answer = Answer(kind=kind_name, status="multiple_solutions", verified=False, attempts=attempts,
                        unique=False, timings_ms=timings,
                        explanation=[_difference(kind, puzzle, outcome.solution, outcome.other_solution)])
        return _finish(kind, puzzle, answer, None, False, started)
    if solution is None:
        status = "no_solution" if outcome.status == "no_solution" else "gave_up"
        answer = Answer(kind=kind_name, status=status, verified=False, attempts=attempts, timings_ms=timings,
                        explanation=[outcome.detail] if outcome.detail else [])
        return _finish(kind, puzzle, answer, None, False, started)
    answer = Answer(kind=kind_name, status="solved", verified=bool(checks) and all(c.passed for c in checks),
                    checks=checks, solver=chosen, attempts=attempts, unique=outcome.unique, timings_ms=timings,
                    **fields)
    return _finish(kind, puzzle, answer, solution, explain, started)


def _neural_fields(result: NeuralAttempt | None) -> dict:
    if result is None:
        return {}
    return {"recursion_steps": result.steps, "halting_confidence": result.confidence,
            "trajectories": result.trajectories}


def _difference(kind: Any, puzzle: Any, first: Any, second: Any) -> str:
    """Say where two solutions of an ambiguous puzzle differ, so the LLM can tell the user."""
    a = kind.answer_fields(puzzle, first)["solution"]
    b = kind.answer_fields(puzzle, second)["solution"]
    cells = [f"r{r + 1}c{c + 1} ({x} or {y})" for r, (row_a, row_b) in enumerate(zip(a, b))
             for c, (x, y) in enumerate(zip(row_a, row_b)) if x != y]
    return (f"The puzzle has more than one solution; two solutions differ in {len(cells)} cells, e.g. "
            f"{', '.join(cells[:6])}. Add givens to make it unique.")


def _finish(kind: Any, puzzle: Any, answer: Answer, solution: Any | None, explain: bool, started: float) -> Answer:
    """Fill the solution fields, explanation and total time, and keep the parsed puzzle for pictures."""
    if solution is not None:
        fields = kind.answer_fields(puzzle, solution)
        answer.solution, answer.path, answer.rendering = fields["solution"], fields.get("path"), fields["rendering"]
        if explain:
            answer.explanation = kind.explain(puzzle, solution)
    answer.attach(puzzle, solution)
    answer.timings_ms["total"] = _elapsed_ms(started)
    return answer
