"""Sudoku verification (every check, failures located), the vectorised batch check, token layout and rendering."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recursive_tools.kinds import sudoku

DATA = Path(__file__).parent / "data"


def first_row(name: str) -> dict[str, str]:
    with open(DATA / name, newline="") as handle:
        return next(csv.DictReader(handle))


def solved_pair(name: str = "sudoku9x9_magictour_sample.csv"):
    row = first_row(name)
    puzzle = sudoku.parse(row["question"])
    return puzzle, sudoku.parse_solution(puzzle, row["answer"])


def failures(puzzle, solution) -> dict[str, str]:
    return {c.name: c.detail for c in sudoku.verify(puzzle, solution) if not c.passed}


def test_correct_solution_passes_every_check() -> None:
    puzzle, solution = solved_pair()
    checks = sudoku.verify(puzzle, solution)
    assert [c.name for c in checks] == ["grid is 9x9", "every cell holds a value 1..9", "every given is kept",
                                        "each row holds 1..9 once each", "each column holds 1..9 once each",
                                        "each box (3x3) holds 1..9 once each"]
    assert all(c.passed for c in checks)


def test_swapped_cells_are_located() -> None:
    puzzle, solution = solved_pair()
    broken = solution.copy()
    blanks = np.argwhere(puzzle.grid[0] == 0).reshape(-1)
    a, b = int(blanks[0]), int(blanks[1])
    broken[0, a] = broken[0, b]  # row 1 now has that value twice and misses another
    failed = failures(puzzle, broken)
    value = int(broken[0, a])
    assert f"row 1 has {value} twice (columns {a + 1} and {b + 1})" in failed["each row holds 1..9 once each"]
    assert "row 1 is missing" in failed["each row holds 1..9 once each"]
    assert "each column holds 1..9 once each" in failed
    assert "every given is kept" not in failed


def test_changed_given_and_out_of_range_values() -> None:
    puzzle, solution = solved_pair()
    broken = solution.copy()
    r, c = (int(v) for v in np.argwhere(puzzle.grid > 0)[0])
    broken[r, c] = puzzle.grid[r, c] % 9 + 1
    broken[8, 8] = 0
    failed = failures(puzzle, broken)
    assert f"r{r + 1}c{c + 1} is {puzzle.grid[r, c]} in the puzzle but {broken[r, c]}" in failed["every given is kept"]
    assert failed["every cell holds a value 1..9"] == "r9c9 holds 0"


def test_wrong_shape_and_non_numeric() -> None:
    puzzle, _ = solved_pair()
    checks = sudoku.verify(puzzle, np.zeros((4, 4), dtype=int))
    assert len(checks) == 1 and not checks[0].passed and "4x4" in checks[0].detail
    assert not sudoku.verify(puzzle, [[1, 2], [3]])[0].passed


def test_box_failures_name_cells() -> None:
    puzzle = sudoku.parse("." * 16)
    grid = np.array([[1, 2, 3, 4], [3, 4, 1, 2], [2, 1, 4, 3], [4, 3, 2, 1]])
    assert all(c.passed for c in sudoku.verify(puzzle, grid))
    shifted = np.array([[1, 2, 3, 4], [2, 3, 4, 1], [3, 4, 1, 2], [4, 1, 2, 3]])  # a Latin square, boxes broken
    failed = failures(puzzle, shifted)
    assert list(failed) == ["each box (2x2) holds 1..4 once each"]
    assert "box 1 has 2 twice (r1c2 and r2c1)" in failed["each box (2x2) holds 1..4 once each"]


def test_encode_decode_round_trip() -> None:
    puzzle, solution = solved_pair()
    tokens = sudoku.encode(puzzle)
    assert tokens.dtype == np.int64 and tokens.shape == (81,)
    assert set(np.unique(tokens)) <= set(range(1, 11)) and (tokens == 1).sum() == (puzzle.grid == 0).sum()
    labels = sudoku.encode_solution(puzzle, solution)
    assert labels.min() >= 2 and labels.max() <= 10 and sudoku.vocab_size(9) == 11
    assert np.array_equal(sudoku.decode(puzzle, labels), solution)
    garbage = labels.copy()
    garbage[:3] = [0, 1, 99]
    decoded = sudoku.decode(puzzle, garbage)
    assert list(decoded.reshape(-1)[:3]) == [0, 0, 0]
    assert not all(c.passed for c in sudoku.verify(puzzle, decoded))


def test_verify_batch_agrees_with_verify() -> None:
    rng = np.random.default_rng(0)
    cases = []
    for name in ("sudoku4x4_sample.csv", "sudoku6x6_sample.csv", "sudoku9x9_magictour_sample.csv"):
        puzzle, solution = solved_pair(name)
        inputs, labels = sudoku.encode(puzzle), sudoku.encode_solution(puzzle, solution)
        batch_inputs, batch_predictions, expected = [], [], []
        for trial in range(12):
            prediction = labels.copy()
            if trial % 3 == 1:  # swap two cells (breaks rows/columns, maybe givens)
                i, j = rng.choice(len(prediction), 2, replace=False)
                prediction[[i, j]] = prediction[[j, i]]
            elif trial % 3 == 2:  # one random token
                prediction[rng.integers(len(prediction))] = rng.integers(0, puzzle.size + 2)
            batch_inputs.append(inputs)
            batch_predictions.append(prediction)
            verdict = all(c.passed for c in sudoku.verify(puzzle, sudoku.decode(puzzle, prediction)))
            expected.append(verdict)
        cases.append((batch_inputs, batch_predictions, expected))
        got = sudoku.verify_batch(np.array(batch_inputs), np.array(batch_predictions))
        assert got.tolist() == expected and any(expected) and not all(expected)


@pytest.mark.parametrize("name, box", [("sudoku4x4_sample.csv", None), ("sudoku6x6_sample.csv", None),
                                       ("sudoku6x6_sample.csv", "3x2"), ("sudoku9x9_magictour_sample.csv", None)])
def test_views_keep_the_rules_and_undo_exactly(name, box) -> None:
    puzzle, solution = solved_pair(name)
    size = puzzle.size
    if box:  # the same grid read with 3x2 boxes: its transposed solution is valid there
        puzzle = sudoku.make_puzzle(puzzle.grid.T, box=box)
        solution = solution.T
    inputs, labels = sudoku.encode(puzzle)[None], sudoku.encode_solution(puzzle, solution)[None]
    views = sudoku.views((size, size), box=box)
    seen = [views.apply(inputs, view) for view in range(views.count)]
    assert np.array_equal(seen[0], inputs) and len({s.tobytes() for s in seen}) == views.count  # all different
    for view in range(views.count):
        answer = views.apply(labels, view)
        assert sudoku.verify_batch(seen[view], answer, box=box)[0]  # still a solution of the view's puzzle
        assert np.array_equal(views.undo(answer, view), labels) and np.array_equal(views.undo(seen[view], view), inputs)
        if view:  # a view's answer is not the original's: undo is what maps it back
            assert not sudoku.verify_batch(inputs, answer, box=box)[0]


def test_verify_batch_box_shape_and_shape_errors() -> None:
    latin = np.array([[1, 2, 3, 4], [2, 3, 4, 1], [3, 4, 1, 2], [4, 1, 2, 3]]).reshape(1, -1) + 1
    blank = np.ones_like(latin)
    assert not sudoku.verify_batch(blank, latin)[0]
    with pytest.raises(ValueError):
        sudoku.verify_batch(np.ones((1, 10)), np.ones((1, 10)))


def test_peer_mask() -> None:
    mask = sudoku.geometry(9, 3, 3).peer_mask()
    assert mask.shape == (81, 81) and mask.dtype == bool and mask.diagonal().all()
    assert (mask.sum(axis=1) == 21).all() and (mask == mask.T).all()  # 20 peers + itself
    assert mask[0, 8] and mask[0, 72] and mask[0, 20] and not mask[0, 30]


def test_render_text_and_png() -> None:
    puzzle, solution = solved_pair("sudoku6x6_sample.csv")
    text = sudoku.render_text(puzzle)
    lines = text.splitlines()
    assert len(lines) == 6 + 2 and lines[2].startswith("------+") and " | " in lines[0]
    assert "." in text and "." not in sudoku.render_text(puzzle, solution)
    png = sudoku.render_png(puzzle, solution)
    assert png.startswith(b"\x89PNG")
    fields = sudoku.answer_fields(puzzle, solution)
    assert fields["solution"] == solution.tolist() and fields["path"] is None and fields["rendering"]


def test_render_echoes_symbols() -> None:
    letters = "A" + "." * 15
    puzzle = sudoku.parse(letters)
    assert sudoku.render_text(puzzle).startswith("A .")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 10), min_size=81, max_size=81))
def test_verify_batch_matches_verify_on_random_grids(values) -> None:
    puzzle, solution = solved_pair()
    prediction = sudoku.encode_solution(puzzle, solution)
    for index, value in enumerate(values[:5]):
        prediction[values[index + 5] * 8 % 81] = value  # perturb a few cells
    verdict = all(c.passed for c in sudoku.verify(puzzle, sudoku.decode(puzzle, prediction)))
    assert sudoku.verify_batch(sudoku.encode(puzzle)[None], prediction[None])[0] == verdict
