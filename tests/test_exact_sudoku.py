"""The exact Sudoku solver and the kind's solve_exact: every size, unique / ambiguous / impossible, budgets, traces."""

from __future__ import annotations

import csv
import random
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recursive_tools.kinds import sudoku
from recursive_tools.solvers.budget import Budget
from recursive_tools.solvers.exact import sudoku as exact

DATA = Path(__file__).parent / "data"


def read_csv(name: str) -> list[dict[str, str]]:
    with open(DATA / name, newline="") as handle:
        return list(csv.DictReader(handle))


def pattern_solution(size: int, box_rows: int, box_cols: int) -> np.ndarray:
    """A valid solved grid for any box shape (the classic shifted pattern)."""
    return np.array([[(box_cols * (r % box_rows) + r // box_rows + c) % size + 1 for c in range(size)]
                     for r in range(size)])


def puzzle_from_pattern(size: int, box_rows: int, box_cols: int, blank_fraction: float, seed: int = 0):
    solution = pattern_solution(size, box_rows, box_cols)
    rng = random.Random(seed)
    grid = solution.copy()
    for r in range(size):
        for c in range(size):
            if rng.random() < blank_fraction:
                grid[r, c] = 0
    return sudoku.make_puzzle(grid, (box_rows, box_cols)), solution


def assert_valid(puzzle, solution) -> None:
    checks = sudoku.verify(puzzle, solution)
    assert all(check.passed for check in checks), [c for c in checks if not c.passed]


@pytest.mark.parametrize("name", ["sudoku4x4_sample.csv", "sudoku6x6_sample.csv", "sudoku9x9_magictour_sample.csv",
                                  "sudoku16x16_sample.csv"])
def test_data_sets_solved_unique(name: str) -> None:
    for row in read_csv(name):
        puzzle = sudoku.parse(row["question"])
        outcome = sudoku.solve_exact(puzzle, Budget.of(20))
        assert outcome.status == "solved" and outcome.unique is True
        expected = sudoku.parse_solution(puzzle, row["answer"])
        assert np.array_equal(outcome.solution, expected)
        assert_valid(puzzle, outcome.solution)


@pytest.mark.parametrize("size,box_rows,box_cols", [(4, 2, 2), (6, 2, 3), (6, 3, 2), (8, 2, 4), (9, 3, 3),
                                                    (12, 3, 4), (16, 4, 4), (25, 5, 5)])
def test_every_size_and_box_shape(size: int, box_rows: int, box_cols: int) -> None:
    # Half blank (a little less on 25x25, where such open grids with many solutions make the search slow).
    puzzle, _ = puzzle_from_pattern(size, box_rows, box_cols, blank_fraction=0.45 if size > 16 else 0.5, seed=size)
    outcome = sudoku.solve_exact(puzzle, Budget.of(20))
    assert outcome.status in ("solved", "multiple_solutions")
    assert_valid(puzzle, outcome.solution)
    if outcome.status == "multiple_solutions":
        assert_valid(puzzle, outcome.other_solution)
        assert not np.array_equal(outcome.solution, outcome.other_solution)


def test_tdoku_solution_counts() -> None:
    for line in (DATA / "sudoku_tdoku_sample.txt").read_text().splitlines():
        text, count, *rest = line.split(":")
        puzzle = sudoku.parse(text)
        outcome = sudoku.solve_exact(puzzle, Budget.of(20))
        expected = {0: "no_solution", 1: "solved"}.get(int(count), "multiple_solutions")
        assert outcome.status == expected, line
        if rest:
            assert "".join(map(str, outcome.solution.reshape(-1))) == rest[0]
        if expected == "no_solution":
            assert outcome.detail.startswith(("no solution", "the givens break"))
        # count_solutions agrees, up to a larger limit
        flat = puzzle.grid.reshape(-1).tolist()
        assert exact.count_solutions(flat, puzzle.geometry.units, 9, limit=3) == min(int(count), 3)


def test_serg_set_is_ambiguous() -> None:
    for text in (DATA / "sudoku_serg_multisolution_sample.txt").read_text().split():
        outcome = sudoku.solve_exact(sudoku.parse(text))
        assert outcome.status == "multiple_solutions" and outcome.unique is False
        assert "differ in" in outcome.detail


def test_conflicting_givens_are_located() -> None:
    text = "55" + "." * 79
    outcome = sudoku.solve_exact(sudoku.parse(text))
    assert outcome.status == "no_solution"
    assert "row 1 has 5 twice (columns 1 and 2)" in outcome.detail


def test_tiny_node_budget_gives_up() -> None:
    row = read_csv("sudoku9x9_magictour_sample.csv")[0]
    outcome = sudoku.solve_exact(sudoku.parse(row["question"]), Budget.of(max_nodes=3))
    assert outcome.status == "gave_up" and outcome.unique is None
    assert "node limit" in outcome.detail


def test_cancel_and_deadline_give_up() -> None:
    row = read_csv("sudoku9x9_magictour_sample.csv")[0]
    flat = sudoku.parse(row["question"]).grid.reshape(-1).tolist()
    units = sudoku.geometry(9, 3, 3).units
    cancelled = threading.Event()
    cancelled.set()
    assert exact.solve(flat, units, 9, budget=Budget(cancel=cancelled)).reason == "cancelled"
    result = exact.solve(flat, units, 9, budget=Budget(deadline=0.0))
    assert result.status == "gave_up" and result.reason == "time"
    assert exact.count_solutions(flat, units, 9, budget=Budget(max_nodes=1)) is None


def test_progress_is_reported() -> None:
    puzzle = sudoku.parse((DATA / "sudoku_serg_multisolution_sample.txt").read_text().split()[0])
    reports: list[tuple] = []
    budget = Budget.of(10, progress=lambda p, total, message: reports.append((p, total, message)))
    exact.solve(puzzle.grid.reshape(-1).tolist(), puzzle.geometry.units, 9, limit=100_000, budget=budget)
    assert reports and "search nodes" in reports[0][2]


@pytest.mark.parametrize("name,reasons", [("sudoku9x9_magictour_sample.csv", {"naked_single", "guess"}),
                                          ("sudoku16x16_sample.csv", {"hidden_single", "forced"})])
def test_trace_leads_to_the_solution(name: str, reasons: set[str]) -> None:
    row = read_csv(name)[0]
    puzzle = sudoku.parse(row["question"])
    result = exact.solve(puzzle.grid.reshape(-1).tolist(), puzzle.geometry.units, puzzle.size, limit=1, trace=True)
    solution = result.solutions[0]
    assert result.trace and {step.reason for step in result.trace} >= reasons
    for step in result.trace:
        assert solution[step.cell] == step.value
    filled = {step.cell for step in result.trace}
    blanks = {i for i, v in enumerate(puzzle.grid.reshape(-1)) if v == 0}
    assert filled == blanks


def test_solver_rejects_malformed_input() -> None:
    units = sudoku.geometry(4, 2, 2).units
    with pytest.raises(ValueError):
        exact.solve([0] * 15, units, 4)
    with pytest.raises(ValueError):
        exact.solve([5] + [0] * 15, units, 4)
    with pytest.raises(ValueError):
        exact.geometry(((0, 1, 2),), 4)


def test_explain_steps() -> None:
    puzzle = sudoku.parse(read_csv("sudoku9x9_magictour_sample.csv")[0]["question"])
    steps = sudoku.explain(puzzle, None)
    assert steps[0].startswith(f"{int((puzzle.grid == 0).sum())} cells filled")
    assert any(s.endswith(": naked single") for s in steps)
    assert any(s.startswith("guess r") for s in steps)
    assert any(": only place for " in s for s in steps)
    assert steps[-1].startswith("... ") and steps[-1].endswith("more steps omitted")
    impossible = sudoku.parse("55" + "." * 79)
    assert sudoku.explain(impossible, None)[0].startswith("no solution")


def all_4x4_solutions() -> list[tuple[int, ...]]:
    """Every solved 4x4 grid (there are 288), by brute force over row permutations."""
    from itertools import permutations

    units = sudoku.geometry(4, 2, 2).units
    rows = list(permutations(range(1, 5)))
    grids = []
    for a in rows:
        for b in rows:
            for c in rows:
                for d in rows:
                    flat = a + b + c + d
                    if all(len({flat[i] for i in unit}) == 4 for unit in units):
                        grids.append(flat)
    return grids


SOLVED_4X4 = all_4x4_solutions()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=16, max_size=16).map(
    lambda values: [v if i % 3 == 0 or v == 0 else 0 for i, v in enumerate(values)]))
def test_counts_match_brute_force_on_4x4(givens: list[int]) -> None:
    expected = sum(all(g == 0 or g == s for g, s in zip(givens, solution)) for solution in SOLVED_4X4)
    units = sudoku.geometry(4, 2, 2).units
    assert len(SOLVED_4X4) == 288
    assert exact.count_solutions(givens, units, 4, limit=1000) == expected
    result = exact.solve(givens, units, 4, limit=2)
    assert result.status == {0: "no_solution", 1: "solved"}.get(expected, "multiple_solutions")
