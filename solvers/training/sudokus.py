"""Sudoku generation for training and evaluation, any box shape, every puzzle with a unique solution.

The rules arrive as data (`units`: rows, columns and boxes as cell-index tuples), and the exact solver in
solvers/exact/sudoku.py does all the reasoning:

1. a random full grid: a few random consistent clues, then the solver's first solution;
2. a puzzle: keep a random `givens` cells; while the solver finds a second solution, add back the true value of a
   random cell where that other solution differs (which rules it out); then, if clues were added, remove random
   clues again while the solution stays unique, down to the target count when possible.

Puzzles are not minimal (training data need not be). Difficulty is set by the clue count and can be filtered by the
solver's search effort (`effort`: the range of guesses the exact solver needed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..exact.sudoku import geometry, solve

BLANK_TOKEN = 1
DIGIT_OFFSET = 1  # token = digit + 1


@dataclass(frozen=True)
class SudokuSpec:
    units: tuple[tuple[int, ...], ...]
    n_symbols: int
    givens: tuple[int, int]  # clue count range (inclusive)
    effort: tuple[int, int] | None = None  # exact-solver guesses range (inclusive), None: any

    def __post_init__(self) -> None:
        cells = geometry(self.units, self.n_symbols).n_cells
        low, high = self.givens
        if not 0 <= low <= high <= cells:
            raise ValueError(f"givens range {self.givens} must lie within 0..{cells}")


def random_solution(rng: np.random.Generator, units: tuple[tuple[int, ...], ...], n_symbols: int) -> list[int]:
    """A random complete grid: seed ~n random clues that do not clash, then take the solver's first solution."""
    geo = geometry(units, n_symbols)
    while True:
        givens = [0] * geo.n_cells
        for cell in rng.permutation(geo.n_cells)[:n_symbols + 2]:
            used = {givens[p] for p in geo.peers[cell]}
            free = [v for v in range(1, n_symbols + 1) if v not in used]
            if free:
                givens[cell] = int(free[rng.integers(len(free))])
        result = solve(givens, units, n_symbols, limit=1)
        if result.solutions:
            return result.solutions[0]


def make_puzzle(rng: np.random.Generator, solution: list[int], units: tuple[tuple[int, ...], ...], n_symbols: int,
                givens: int) -> tuple[list[int], int]:
    """(puzzle with about `givens` clues and a unique solution, exact-solver guesses needed to solve it)."""
    n_cells = len(solution)
    order = [int(c) for c in rng.permutation(n_cells)]
    kept = set(order[:givens])
    puzzle = [solution[c] if c in kept else 0 for c in range(n_cells)]
    added = False
    while True:
        result = solve(puzzle, units, n_symbols, limit=2)
        if result.status == "solved":
            break
        other = next(s for s in result.solutions if s != solution)
        differing = [c for c in range(n_cells) if other[c] != solution[c] and puzzle[c] == 0]
        cell = differing[int(rng.integers(len(differing)))]
        puzzle[cell] = solution[cell]
        added = True
    if added:
        for cell in order[:givens]:
            if sum(1 for v in puzzle if v) <= givens:
                break
            puzzle[cell] = 0
            trial = solve(puzzle, units, n_symbols, limit=2)
            if trial.status != "solved":
                puzzle[cell] = solution[cell]
            else:
                result = trial
    return puzzle, result.nodes


def generate_sudoku(rng: np.random.Generator, spec: SudokuSpec, max_tries: int = 200) -> tuple[list[int], list[int]]:
    """(puzzle, solution) as flat digit lists (0 = blank) meeting the spec's clue and effort ranges."""
    for _ in range(max_tries):
        solution = random_solution(rng, spec.units, spec.n_symbols)
        target = int(rng.integers(spec.givens[0], spec.givens[1] + 1))
        puzzle, nodes = make_puzzle(rng, solution, spec.units, spec.n_symbols, target)
        clues = sum(1 for v in puzzle if v)
        if clues > spec.givens[1]:
            continue
        if spec.effort is not None and not spec.effort[0] <= nodes <= spec.effort[1]:
            continue
        return puzzle, solution
    raise RuntimeError(f"no puzzle met givens {spec.givens} and effort {spec.effort} in {max_tries} tries")


def to_tokens(digits: list[int] | np.ndarray) -> np.ndarray:
    """Reference tokens: 1 = blank, digit d -> d + 1."""
    values = np.asarray(digits, dtype=np.int64)
    return np.where(values == 0, BLANK_TOKEN, values + DIGIT_OFFSET)


def generate_sudokus(rng: np.random.Generator, spec: SudokuSpec, count: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` examples as token arrays [count, cells] (inputs, labels)."""
    pairs = [generate_sudoku(rng, spec) for _ in range(count)]
    return (np.stack([to_tokens(p) for p, _ in pairs]), np.stack([to_tokens(s) for _, s in pairs]))
