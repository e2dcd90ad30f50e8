"""Lenient Sudoku parsing: every format people and LLMs paste, and errors that say what is wrong and where."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recursive_tools.errors import ParseError
from recursive_tools.kinds import sudoku
from recursive_tools.limits import MAX_REQUEST_BYTES

DATA = Path(__file__).parent / "data"
FLAT = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
ROWS = [FLAT[i:i + 9] for i in range(0, 81, 9)]
EXPECTED = np.array([[0 if ch == "." else int(ch) for ch in row] for row in ROWS])
BOXED = """
+-------+-------+-------+
| 5 3 . | . 7 . | . . . |
| 6 . . | 1 9 5 | . . . |
| . 9 8 | . . . | . 6 . |
+-------+-------+-------+
| 8 . . | . 6 . | . . 3 |
| 4 . . | 8 . 3 | . . 1 |
| 7 . . | . 2 . | . . 6 |
+-------+-------+-------+
| . 6 . | . . . | 2 8 . |
| . . . | 4 1 9 | . . 5 |
| . . . | . 8 . | . 7 9 |
+-------+-------+-------+
"""
UNICODE = """
╔═══════╤═══════╤═══════╗
║ 5 3 · │ · 7 · │ · · · ║
║ 6 · · │ 1 9 5 │ · · · ║
║ · 9 8 │ · · · │ · 6 · ║
╟───────┼───────┼───────╢
║ 8 · · │ · 6 · │ · · 3 ║
║ 4 · · │ 8 · 3 │ · · 1 ║
║ 7 · · │ · 2 · │ · · 6 ║
╟───────┼───────┼───────╢
║ · 6 · │ · · · │ 2 8 · ║
║ · · · │ 4 1 9 │ · · 5 ║
║ · · · │ · 8 · │ · 7 9 ║
╚═══════╧═══════╧═══════╝
"""
COMPACT_BORDERS = """53.|.7.|...
6..|195|...
.98|...|.6.
---+---+---
8..|.6.|..3
4..|8.3|..1
7..|.2.|..6
-----------
.6.|...|28.
...|419|..5
...|.8.|.79"""

NINE_BY_NINE_FORMATS = {
    "81 characters": FLAT,
    "zeros": FLAT.replace(".", "0"),
    "underscores": FLAT.replace(".", "_"),
    "dashes": FLAT.replace(".", "-"),
    "stars": FLAT.replace(".", "*"),
    "x": FLAT.replace(".", "x"),
    "X": FLAT.replace(".", "X"),
    "question marks": FLAT.replace(".", "?"),
    "rows on lines": "\n".join(ROWS),
    "space separated": "\n".join(" ".join(row) for row in ROWS),
    "comma separated": "\n".join(",".join(row) for row in ROWS),
    "rows separated by commas": ",".join(ROWS),
    "rows separated by spaces": " ".join(ROWS),
    "rows separated by pipes": "|".join(ROWS),
    "box borders": BOXED,
    "unicode box drawing": UNICODE,
    "compact with borders": COMPACT_BORDERS,
    "Row labels": "\n".join(f"Row {i + 1}: " + " ".join(row) for i, row in enumerate(ROWS)),
    "r labels": "\n".join(f"r{i + 1} {row}" for i, row in enumerate(ROWS)),
    "letter labels and header": "    1 2 3   4 5 6   7 8 9\n" + "\n".join(
        f"{'ABCDEFGHI'[i]} | " + " ".join(row) for i, row in enumerate(ROWS)),
    "number labels and header": "  1 2 3 | 4 5 6 | 7 8 9\n" + "\n".join(
        f"{i + 1} | " + " ".join(row) for i, row in enumerate(ROWS)),
    "JSON zeros": json.dumps(EXPECTED.tolist()),
    "JSON null": json.dumps([[int(ch) if ch != "." else None for ch in row] for row in ROWS]),
    "JSON empty strings": json.dumps([[ch if ch != "." else "" for ch in row] for row in ROWS]),
    "JSON row strings": json.dumps(ROWS),
    "JSON flat": json.dumps(EXPECTED.reshape(-1).tolist()),
    "JSON grid key": json.dumps({"grid": FLAT}),
    "JSON puzzle key": json.dumps({"puzzle": EXPECTED.tolist()}),
    "prose around rows": "Please solve this:\n\n" + "\n".join(ROWS) + "\n\nThanks!",
    "prose on one line": f"Please solve this: {FLAT} Thanks!",
    "prose ending with a full stop": f"Solve {FLAT}. please",
    "JSON object with box": json.dumps({"board": ROWS, "box": "3x3"}),
    "JSON string": json.dumps(FLAT),
    "prose around JSON": f"Can you solve {json.dumps(EXPECTED.tolist())} for me?",
    "markdown fence": "Here it is:\n```\n" + "\n".join(" ".join(row) for row in ROWS) + "\n```\nThanks",
    "title line": "9x9\n" + "\n".join(ROWS) + "\nOK",
    "padded lines": "\n\n   " + "\n   ".join(ROWS) + "   \n\n",
}


@pytest.mark.parametrize("name", list(NINE_BY_NINE_FORMATS))
def test_nine_by_nine_formats(name: str) -> None:
    puzzle = sudoku.parse(NINE_BY_NINE_FORMATS[name])
    assert puzzle.size_label == "9x9" and (puzzle.box_rows, puzzle.box_cols) == (3, 3)
    assert np.array_equal(puzzle.grid, EXPECTED)


def test_grid_in_prose_ending_with_a_blank() -> None:
    grid = sudoku.parse(f"Solve {FLAT[:-1]}. please").grid
    assert grid[8, 8] == 0 and np.array_equal(grid.reshape(-1)[:80], EXPECTED.reshape(-1)[:80])


def test_structured_sources() -> None:
    assert np.array_equal(sudoku.parse(EXPECTED.tolist()).grid, EXPECTED)
    assert np.array_equal(sudoku.parse(EXPECTED).grid, EXPECTED)
    assert np.array_equal(sudoku.parse({"Grid": ROWS}).grid, EXPECTED)
    assert np.array_equal(sudoku.parse([[str(v) if v else "." for v in row] for row in EXPECTED]).grid, EXPECTED)


def read_csv(name: str) -> list[dict[str, str]]:
    with open(DATA / name, newline="") as handle:
        return list(csv.DictReader(handle))


def test_sixteen_by_sixteen_letter_conventions() -> None:
    row = read_csv("sudoku16x16_sample.csv")[0]
    digits_and_letters = sudoku.parse(row["question"])  # 1-9 then A-G, as in the shared data
    assert digits_and_letters.size_label == "16x16" and digits_and_letters.symbols[9:] == tuple("ABCDEFG")
    grid = digits_and_letters.grid
    letters = "".join("." if v == 0 else "ABCDEFGHIJKLMNOP"[v - 1] for v in grid.reshape(-1))
    letter_puzzle = sudoku.parse(letters)
    assert np.array_equal(letter_puzzle.grid, grid) and letter_puzzle.symbols[0] == "A"
    tokens = "\n".join(" ".join(str(v) if v else "." for v in line) for line in grid)
    token_puzzle = sudoku.parse(tokens)
    assert np.array_equal(token_puzzle.grid, grid) and token_puzzle.symbols[-1] == "16"
    assert np.array_equal(sudoku.parse(grid.tolist()).grid, grid)
    assert "G" in sudoku.render_text(digits_and_letters)


def test_twenty_five_by_twenty_five_tokens() -> None:
    size = 25
    grid = np.array([[(5 * (r % 5) + r // 5 + c) % size + 1 for c in range(size)] for r in range(size)])
    grid[::2, ::3] = 0
    text = "\n".join(" ".join(str(v) if v else "0" for v in line) for line in grid)
    puzzle = sudoku.parse(text)
    assert puzzle.size_label == "25x25" and np.array_equal(puzzle.grid, grid)
    letters = "\n".join("".join("." if v == 0 else chr(ord("A") + v - 1) for v in line) for line in grid)
    assert np.array_equal(sudoku.parse(letters).grid, grid)  # A..Y, X included as a symbol


def test_twelve_by_twelve_digits_and_letters() -> None:
    grid = np.array([[(4 * (r % 3) + r // 3 + c) % 12 + 1 for c in range(12)] for r in range(12)])
    grid[1::2, ::2] = 0
    text = "\n".join("".join("." if v == 0 else "123456789ABC"[v - 1] for v in line) for line in grid)
    puzzle = sudoku.parse(text)
    assert puzzle.size_label == "12x12" and (puzzle.box_rows, puzzle.box_cols) == (3, 4)
    assert np.array_equal(puzzle.grid, grid)


@pytest.mark.parametrize("size,box", [(4, (2, 2)), (6, (2, 3)), (8, (2, 4)), (12, (3, 4))])
def test_box_shape_inferred(size: int, box: tuple[int, int]) -> None:
    puzzle = sudoku.parse("." * size * size)
    assert (puzzle.box_rows, puzzle.box_cols) == box and puzzle.size_label == f"{size}x{size}"


def test_box_hint() -> None:
    puzzle = sudoku.parse("." * 36, box="3x2")
    assert (puzzle.box_rows, puzzle.box_cols) == (3, 2) and puzzle.size_label == "6x6-box3x2"
    assert sudoku.parse({"grid": "." * 36, "box": "3x2"}).box_rows == 3
    assert sudoku.parse(json.dumps({"grid": "." * 36, "box": "3x2"})).box_rows == 3
    with pytest.raises(ParseError, match="box 2x2 does not fit a 6x6 grid"):
        sudoku.parse("." * 36, box="2x2")
    with pytest.raises(ParseError, match="rows x columns"):
        sudoku.parse("." * 36, box="big")
    assert sudoku.parse("." * 49, box="1x7").size_label == "7x7-box1x7"


ERRORS = {
    "a short row": ("\n".join(ROWS).replace("6..195...", "6..195.."), r"row 2 \(line 2\) has 8 cells, expected 9"),
    "a missing row": ("\n".join(ROWS[:8]), "found 8 rows, expected 9"),
    "a short single line": (FLAT[:80], "found 80 cells on one line"),
    "an unknown character": ("\n".join(ROWS).replace("6..195...", "6..1#5..."),
                             r"line 2: characters not understood: '#' \(first at character 5"),
    "a value out of range": ("1234" + "5..." + "." * 8, r"row 2 \(line 1\), column 1: '5' is outside 1..4"),
    "no box shape": ("\n".join(["......."] * 7), "7x7 grid has no standard box shape"),
    "empty text": ("   ", "the puzzle is empty"),
    "prose only": ("hello there, how are you?", "no grid found"),
    "a ragged JSON grid": ("[[1,2,3,4],[1,2,3],[1,2,3,4],[1,2,3,4]]", "row 2 has 3 cells, expected 4"),
    "a dict without a grid": ('{"rows": 9}', "no grid: expected a key like 'grid'"),
    "a bad JSON cell": ("[[1,2,3,4],[1,2,true,4],[1,2,3,4],[1,2,3,4]]", "row 2, column 3: true/false"),
    "too large": ("\n".join(["." * 36] * 36), "the grid is 36x36; Sudoku grids from 4x4 to 25x25"),
    "a column of single cells": ("1\n" * 50, "found 50 rows, most with 1 cells"),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_say_what_and_where(name: str) -> None:
    text, message = ERRORS[name]
    with pytest.raises(ParseError, match=message):
        sudoku.parse(text)


def test_error_fields_locate_the_row() -> None:
    with pytest.raises(ParseError) as caught:
        sudoku.parse("\n".join(ROWS).replace("6..195...", "6..1#5..."))
    assert caught.value.row == 2 and caught.value.column == 5


def test_oversized_input_is_refused() -> None:
    with pytest.raises(ParseError, match="longer than"):
        sudoku.parse("." * (MAX_REQUEST_BYTES + 1))
    with pytest.raises(ParseError, match="a grid has at most"):
        sudoku.parse([0] * 10_000)


def test_non_grid_types_are_refused() -> None:
    for source in (42, 3.5, None, {"grid": {"grid": FLAT}}, [[1, [2]], [3, 4]], [{"a": 1}]):
        with pytest.raises(ParseError):
            sudoku.parse(source)


def test_parse_solution_uses_the_puzzle_shape() -> None:
    puzzle = sudoku.parse(FLAT)
    with pytest.raises(ParseError, match=r"found 16 cells on one line, expected 81 \(a 9x9 grid\)"):
        sudoku.parse_solution(puzzle, "1234" * 4)
    solution = sudoku.parse_solution(puzzle, "\n".join(ROWS))
    assert solution.shape == (9, 9)


def test_looks_like() -> None:
    assert sudoku.looks_like(FLAT)
    assert not sudoku.looks_like("#####\n#S..#\n#..G#\n#####")


GRID_CHARS = st.sampled_from(list("0123456789.ABCGPxX_-*?|+, \n:#[]{}\"null") + ["\u2502", "\u2550", "Row 1:", "r2 "])


@settings(max_examples=int(os.environ.get("SUDOKU_FUZZ_EXAMPLES", "300")), deadline=None)
@given(st.one_of(
    st.text(max_size=300),
    st.lists(GRID_CHARS, max_size=200).map("".join),
    st.lists(st.lists(st.one_of(st.none(), st.integers(-5, 30), st.text(max_size=3), st.booleans(),
                                st.floats(allow_nan=True)), max_size=10), max_size=10),
    st.lists(st.text(alphabet="0123456789.ABCDEFG ,|", max_size=20), max_size=18),
    st.dictionaries(st.sampled_from(["grid", "puzzle", "box", "other"]),
                    st.one_of(st.text(max_size=40), st.integers(), st.none()), max_size=3),
))
def test_parse_raises_only_parse_errors(source) -> None:
    try:
        puzzle = sudoku.parse(source)
    except ParseError as error:
        assert str(error)
        return
    assert puzzle.grid.shape == (puzzle.size, puzzle.size) and 4 <= puzzle.size <= 25
    assert puzzle.grid.min() >= 0 and puzzle.grid.max() <= puzzle.size


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 9), min_size=81, max_size=81), st.sampled_from([".", "0", "_", "-", "*", "?"]),
       st.sampled_from(["flat", "rows", "spaced", "json"]))
def test_round_trip_through_formats(values, blank, layout) -> None:
    grid = np.array(values).reshape(9, 9)
    cells = [[str(v) if v else blank for v in row] for row in grid]
    text = {"flat": "".join(map("".join, cells)), "rows": "\n".join(map("".join, cells)),
            "spaced": "\n".join(map(" ".join, cells)), "json": json.dumps(grid.tolist())}[layout]
    assert np.array_equal(sudoku.parse(text).grid, grid)
