"""Exact Sudoku solver benchmark: solve and certify uniqueness (count to 2) for every puzzle of a file, in-process.

    python benchmarks/exact_sudoku.py [PUZZLES] [--limit N] [--time-limit S] [--no-ortools]

PUZZLES is a CSV file `source,question,answer,rating` (the layout of shared/data; default
../shared/data/sudoku/magictour_top1465.csv next to the repository) or a text file with one puzzle a line (anything
after a ':' is ignored). Each puzzle is parsed first (not timed), then `kind.solve_exact` is timed: propagation,
search and the proof that the solution is unique. Prints a Markdown table: puzzles/s, median, p99 and max ms,
how many were solved and certified unique (and matched the CSV's answer when there is one). When OR-Tools is
importable the same puzzles go through CP-SAT (AllDifferent model, search stopped after a second solution).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

from recursive_tools.kinds import sudoku
from recursive_tools.solvers.budget import Budget

DEFAULT_PUZZLES = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "sudoku" / "magictour_top1465.csv"


def read_puzzles(path: Path, limit: int | None) -> list[tuple[str, str | None]]:
    """(question, answer or None) pairs."""
    with path.open(encoding="utf-8", newline="") as handle:
        if path.suffix == ".csv":
            rows = [(row["question"], row.get("answer") or None) for row in csv.DictReader(handle)]
        else:
            rows = [(line.split(":")[0].strip(), None) for line in handle if line.strip() and not line.startswith("#")]
    return rows[:limit]


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def row(name: str, seconds: list[float], solved_unique: int, matched: str) -> str:
    ms = sorted(s * 1000 for s in seconds)
    return (f"| {name} | {len(ms)} | {len(ms) / (sum(ms) / 1000):.1f} | {statistics.median(ms):.2f} | "
            f"{percentile(ms, 0.99):.2f} | {ms[-1]:.2f} | {solved_unique} | {matched} |")


def bench_exact(puzzles: list[sudoku.Puzzle], answers: list[str | None], time_limit: float) -> str:
    seconds, solved_unique, matched = [], 0, 0
    for puzzle, answer in zip(puzzles, answers):
        start = time.perf_counter()
        outcome = sudoku.solve_exact(puzzle, Budget.of(time_limit))
        seconds.append(time.perf_counter() - start)
        if outcome.status == "solved" and outcome.unique:
            solved_unique += 1
            if answer is not None and (sudoku.parse_solution(puzzle, answer) == outcome.solution).all():
                matched += 1
    with_answers = sum(a is not None for a in answers)
    return row("recursive-tools exact (pure Python)", seconds, solved_unique,
               f"{matched}/{with_answers}" if with_answers else "-")


def bench_cpsat(puzzles: list[sudoku.Puzzle], time_limit: float) -> str:
    from ortools.sat.python import cp_model

    class StopAfterTwo(cp_model.CpSolverSolutionCallback):
        def __init__(self) -> None:
            super().__init__()
            self.count = 0

        def on_solution_callback(self) -> None:
            self.count += 1
            if self.count >= 2:
                self.stop_search()

    seconds, solved_unique = [], 0
    for puzzle in puzzles:
        start = time.perf_counter()
        model = cp_model.CpModel()
        n = puzzle.size
        cells = [model.new_int_var(1, n, f"c{i}") for i in range(n * n)]
        for unit in puzzle.geometry.units:
            model.add_all_different([cells[i] for i in unit])
        for i, value in enumerate(puzzle.grid.reshape(-1)):
            if value:
                model.add(cells[i] == int(value))
        solver = cp_model.CpSolver()
        solver.parameters.enumerate_all_solutions = True
        solver.parameters.num_workers = 1
        solver.parameters.max_time_in_seconds = time_limit
        callback = StopAfterTwo()
        status = solver.solve(model, callback)
        seconds.append(time.perf_counter() - start)
        solved_unique += callback.count == 1 and status == cp_model.OPTIMAL  # OPTIMAL: enumeration completed
    return row("OR-Tools CP-SAT (1 worker, count to 2)", seconds, solved_unique, "-")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("puzzles", nargs="?", type=Path, default=DEFAULT_PUZZLES)
    parser.add_argument("--limit", type=int, default=None, help="only the first N puzzles")
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per puzzle before giving up")
    parser.add_argument("--no-ortools", action="store_true", help="skip the CP-SAT comparison")
    args = parser.parse_args(argv)
    if not args.puzzles.is_file():
        print(f"puzzle file not found: {args.puzzles}\n(the default is shared/data/sudoku/magictour_top1465.csv "
              "next to the repository; pass a CSV `source,question,answer,rating` or a one-puzzle-a-line file)",
              file=sys.stderr)
        return 2
    rows = read_puzzles(args.puzzles, args.limit)
    puzzles = [sudoku.parse(question) for question, _ in rows]
    answers = [answer for _, answer in rows]
    sudoku.solve_exact(puzzles[0])  # warm caches (geometry, peers) outside the timings
    print(f"{args.puzzles.name}: {len(puzzles)} puzzles, {puzzles[0].size_label}\n")
    print("| solver | puzzles | puzzles/s | median ms | p99 ms | max ms | solved + unique | matches answer |")
    print("|---|---|---|---|---|---|---|---|")
    print(bench_exact(puzzles, answers, args.time_limit))
    if args.no_ortools:
        return 0
    try:
        import ortools  # noqa: F401
    except ImportError:
        print("\nOR-Tools is not installed: CP-SAT comparison skipped (pip install ortools to include it).")
        return 0
    print(bench_cpsat(puzzles, args.time_limit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
