"""Sudoku of every standard size (4x4 .. 25x25): geometry, lenient parsing, verification, exact solving,
explanations, rendering and the reference TRM/HRM token layout.

Geometry first (units and peers defined once from the box shape), then parsing, checking, solving, presenting.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from recursive_tools.answer import Check
from recursive_tools.errors import ParseError
from recursive_tools.kinds.base import ExactOutcome
from recursive_tools.limits import MAX_EXPLANATION_STEPS, MAX_REQUEST_BYTES, MAX_SEARCH_NODES, MAX_SUDOKU_SIZE
from recursive_tools.solvers.budget import Budget
from recursive_tools.solvers.exact import sudoku as exact

NAME = "sudoku"
EXPLAIN_TIME_LIMIT_S = 2.0  # explain() re-runs the solver with a trace; keep it bounded on its own

# ----------------------------------------------------------------------------------------------------------------
# Geometry


@dataclass(frozen=True)
class Geometry:
    """An N x N grid split into boxes of box_rows x box_cols. Units: rows 0..N-1, columns N..2N-1, boxes 2N..3N-1."""

    size: int
    box_rows: int
    box_cols: int

    @cached_property
    def units(self) -> tuple[tuple[int, ...], ...]:
        n, br, bc = self.size, self.box_rows, self.box_cols
        rows = [tuple(r * n + c for c in range(n)) for r in range(n)]
        cols = [tuple(r * n + c for r in range(n)) for c in range(n)]
        boxes = [tuple((top + r) * n + left + c for r in range(br) for c in range(bc))
                 for top in range(0, n, br) for left in range(0, n, bc)]
        return tuple(rows + cols + boxes)

    @cached_property
    def peers(self) -> tuple[tuple[int, ...], ...]:
        return exact.geometry(self.units, self.size).peers

    def unit_name(self, index: int) -> str:
        kind, number = divmod(index, self.size)
        return f"{('row', 'column', 'box')[kind]} {number + 1}"

    def box_of(self, row: int, col: int) -> int:
        """0-based box index of a cell, boxes numbered row-major."""
        return (row // self.box_rows) * (self.size // self.box_cols) + col // self.box_cols

    def peer_mask(self) -> np.ndarray:
        """[L, L] bool: True where two cells share a row, column or box (self included), for attention masks."""
        cells = self.size * self.size
        mask = np.eye(cells, dtype=bool)
        for cell, peers in enumerate(self.peers):
            mask[cell, list(peers)] = True
        return mask


def default_box(size: int) -> tuple[int, int]:
    """The conventional box for a size: the most square factorisation, wider than tall (6 -> 2x3, 12 -> 3x4)."""
    box_rows = max(d for d in range(1, math.isqrt(size) + 1) if size % d == 0)
    if box_rows < 2:
        raise ParseError(f"a {size}x{size} grid has no standard box shape; give the box as 'RxC' "
                         f"(rows x columns, product {size})", expected="a size like 4, 6, 8, 9, 12, 16 or 25")
    return box_rows, size // box_rows


def _default_box_or_none(size: int) -> tuple[int, int] | None:
    try:
        return default_box(size)
    except ParseError:
        return None


def parse_box(box: Any, size: int) -> tuple[int, int]:
    """A box hint ("2x3", "2×3", [2, 3], (2, 3)) checked against the grid size; None means the default box."""
    if box is None or box == "":
        return default_box(size)
    if isinstance(box, str):
        match = re.fullmatch(r"\s*(\d{1,2})\s*[xX×*,]\s*(\d{1,2})\s*", box)
        if not match:
            raise ParseError(f"box {box[:20]!r} not understood; write it as rows x columns, e.g. '2x3'",
                             expected="'RxC'", found=box[:20])
        rows, cols = int(match[1]), int(match[2])
    elif (isinstance(box, (list, tuple)) and len(box) == 2
          and all(isinstance(v, int) and not isinstance(v, bool) for v in box)):
        rows, cols = box
    else:
        raise ParseError(f"box must be a string like '2x3' or a pair [rows, cols], got {str(box)[:30]}",
                         expected="'RxC'")
    if rows < 1 or cols < 1 or rows * cols != size:
        raise ParseError(f"box {rows}x{cols} does not fit a {size}x{size} grid: rows x columns must equal {size}",
                         expected=f"product {size}", found=f"{rows}x{cols}")
    return rows, cols


@lru_cache(maxsize=64)
def geometry(size: int, box_rows: int, box_cols: int) -> Geometry:
    return Geometry(size, box_rows, box_cols)


# ----------------------------------------------------------------------------------------------------------------
# Puzzle


@dataclass(frozen=True, eq=False)
class Puzzle:
    grid: np.ndarray  # [N, N] int8, 0 = blank, read-only
    box_rows: int
    box_cols: int
    symbols: tuple[str, ...] = ()  # symbols[v - 1] is how value v was written (echoed in renders)

    def __post_init__(self) -> None:
        if len(self.symbols) != self.size:
            object.__setattr__(self, "symbols", _digit_symbols(self.size))

    @property
    def size(self) -> int:
        return int(self.grid.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        return self.size, self.size

    @property
    def size_label(self) -> str:
        label = f"{self.size}x{self.size}"
        if (self.box_rows, self.box_cols) != _default_box_or_none(self.size):
            label += f"-box{self.box_rows}x{self.box_cols}"
        return label

    @property
    def geometry(self) -> Geometry:
        return geometry(self.size, self.box_rows, self.box_cols)

    def symbol(self, value: int) -> str:
        return self.symbols[value - 1] if 1 <= value <= len(self.symbols) else "."


def make_puzzle(grid: Any, box: Any = None, symbols: tuple[str, ...] | None = None) -> Puzzle:
    """A Puzzle from an [N, N] array of ints (0 = blank); for generators and tests that already hold numbers."""
    array = np.array(grid, dtype=np.int64)
    if array.ndim != 2 or array.shape[0] != array.shape[1] or not 1 <= array.shape[0] <= MAX_SUDOKU_SIZE:
        raise ParseError(f"expected a square grid of side 1..{MAX_SUDOKU_SIZE}, got shape {array.shape}")
    size = array.shape[0]
    if array.min() < 0 or array.max() > size:
        raise ParseError(f"grid values must be 0 (blank) or 1..{size}")
    box_rows, box_cols = parse_box(box, size)
    return Puzzle(_frozen(array), box_rows, box_cols, symbols or ())


def _frozen(array: np.ndarray) -> np.ndarray:
    out = np.array(array, dtype=np.int8)
    out.setflags(write=False)
    return out


def _digit_symbols(size: int) -> tuple[str, ...]:
    """1-9 then A, B, ... (the convention of the shared 16x16 data)."""
    return tuple(str(v) if v <= 9 else chr(ord("A") + v - 10) for v in range(1, size + 1))


# ----------------------------------------------------------------------------------------------------------------
# Lenient parsing

BLANK_CHARS = frozenset(".0_-*x?·")  # 'X' is a blank too, unless it is a letter symbol (see _resolve)
BLANK_WORDS = frozenset({"", "null", "none", "nil", "blank", "empty"})
_BLANK_HELP = "blanks . 0 _ - * x ?"
_GRID_KEYS = ("grid", "puzzle", "board", "sudoku", "cells", "question", "input", "quiz")
_BOX_DRAWING = "".join(chr(c) for c in range(0x2500, 0x2580))
_SEPARATORS = str.maketrans({ch: " " for ch in "|,;[](){}\"'`\t¦" + _BOX_DRAWING})
_BORDER_CHARS = frozenset("-=+_~|:" + _BOX_DRAWING + " \t")
_LABEL_END = r"(?:\s*[:)|=]|\s*[.\-](?=\s))?"  # '.' and '-' only when spaced: they are blanks too
_LABEL = re.compile(
    r"^\s*(?:(?:row|line)\s*#?\s*\d{1,2}\b" + _LABEL_END +  # "Row 1:", "row 3", "Line 2 -"
    r"|r\d{1,2}(?=[\s:.)|])" + _LABEL_END +  # "r1", "R1:"
    r"|(?:[A-Za-z](?![A-Za-z])|\d{1,2})\s*[:)\]]"  # "A:", "1)", "12:"
    r"|[A-Za-z]\s*\|)\s*",  # "A |"
    re.IGNORECASE)
_PROSE = re.compile(r"[a-wyz][a-z]|[a-z][a-wyz]")  # two lowercase letters in a row ('xx' is a run of blanks)
_BLANK_WORD_RE = re.compile(r"\b(?:null|none|nil|blank|empty)\b", re.IGNORECASE)
_JSON_START = re.compile(r"\[\s*\[")


@dataclass
class _Line:
    """One input line that may be a grid row: its 1-based line number and the whitespace-separated tokens."""

    number: int
    tokens: list[str]
    dash_only: bool = False  # only '-' / '_': a border rule, or a row of blanks (decided by its cell count)
    unknown: str = ""  # characters that are neither cell symbols nor separators

    @property
    def chars(self) -> list[str]:
        return [ch for token in self.tokens for ch in token]


def parse(source: Any, **hints: Any) -> Puzzle:
    """Read a Sudoku from text, nested lists or a dict; hints: box ("2x3"), size (N). Raises ParseError."""
    box_hint = hints.get("box")
    size_hint = hints.get("size")
    if size_hint is not None and (not isinstance(size_hint, int) or isinstance(size_hint, bool)
                                  or not 1 <= size_hint <= MAX_SUDOKU_SIZE):
        raise ParseError(f"size must be an integer 1..{MAX_SUDOKU_SIZE}", expected="an integer", found=str(size_hint))
    if isinstance(source, (bytes, bytearray)):
        source = bytes(source).decode("utf-8", errors="replace")
    if isinstance(source, str):
        if len(source.encode("utf-8", errors="replace")) > MAX_REQUEST_BYTES:
            raise ParseError(f"the puzzle text is longer than {MAX_REQUEST_BYTES} bytes", expected="a single grid")
        structured = _json_grid(source.strip())
        if isinstance(structured, (dict, list, str)):
            source = structured
    if isinstance(source, dict):
        source, box_hint = _unwrap_dict(source, box_hint)
    if isinstance(source, np.ndarray):
        source = source.tolist()
    if isinstance(source, str):
        rows, line_numbers = _rows_from_text(source, size_hint)
    elif isinstance(source, (list, tuple)):
        rows, line_numbers = _rows_from_list(source, size_hint)
    else:
        raise ParseError(f"a Sudoku must be text, a list of rows or a dict with a 'grid'; got {type(source).__name__}",
                         expected="text or a list of rows", found=type(source).__name__)
    return _resolve(rows, line_numbers, box_hint)


def parse_solution(puzzle: Puzzle, source: Any) -> np.ndarray:
    """A proposed solution, read leniently like a puzzle but with the puzzle's size and box; [N, N] int array."""
    parsed = parse(source, size=puzzle.size, box=(puzzle.box_rows, puzzle.box_cols))
    return np.array(parsed.grid, dtype=np.int8)


def looks_like(text: str) -> bool:
    """Cheap sniff: enough digits or blank markers to be a grid, and few maze walls."""
    sample = text[:MAX_REQUEST_BYTES]
    cells = sum(ch.isdigit() or ch in ".*?_" for ch in sample)
    return cells >= 16 and sample.count("#") < cells // 4


def _unwrap_dict(source: dict, box_hint: Any) -> tuple[Any, Any]:
    keys = {str(k).lower(): k for k in source}
    for name in ("box", "box_shape", "boxes"):
        if name in keys and box_hint is None:
            box_hint = source[keys[name]]
    for name in _GRID_KEYS:
        if name in keys:
            value = source[keys[name]]
            if isinstance(value, dict):
                raise ParseError(f"'{keys[name]}' must hold the grid (text or a list of rows), not another object",
                                 expected="text or a list of rows")
            return value, box_hint
    raise ParseError("the object has no grid: expected a key like 'grid' or 'puzzle' holding text or a list of rows; "
                     f"found keys {', '.join(map(str, list(source)[:8])) or 'none'}", expected="'grid' or 'puzzle'")


def _rows_from_text(text: str, size_hint: int | None) -> tuple[list[list[str]], list[int]]:
    if not text.strip():
        raise ParseError("the puzzle is empty: send the grid, e.g. 81 characters with . for blanks",
                         expected="a grid")
    blocks, embedded = _scan_lines(text)
    candidates = sorted(blocks, key=lambda b: -sum(len(line.chars) for line in b)) + embedded
    if not candidates:
        raise ParseError("no grid found: no line looks like a row of digits and blanks "
                         f"(values 1-9, A-Z or numbers; {_BLANK_HELP})", expected="a grid")
    first_error: ParseError | None = None
    for lines in candidates:
        try:
            return _grid_from_lines(lines, size_hint)
        except ParseError as error:
            first_error = first_error or error
    assert first_error is not None
    raise first_error


def _json_grid(text: str) -> Any:
    """The JSON value when the text is (or plainly embeds) a JSON grid; None otherwise."""
    if not text:
        return None
    if text[0] in "[{\"":
        candidate = text
    else:  # a nested list inside prose: from the first "[[" to the last "]]"
        start = _JSON_START.search(text)
        end = text.rfind("]")
        if start is None or end <= start.start() or not text[:end].rstrip().endswith("]"):
            return None
        candidate = text[start.start():end + 1]
    try:
        return json.loads(candidate)
    except (ValueError, RecursionError):
        return None


def _scan_lines(text: str) -> tuple[list[list[_Line]], list[list[_Line]]]:
    """Group grid-like lines into blocks (prose lines split blocks) and collect long cell runs found inside prose."""
    blocks: list[list[_Line]] = []
    embedded: list[list[_Line]] = []
    current: list[_Line] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _BLANK_WORD_RE.sub(".", _LABEL.sub("", raw, count=1))
        if _PROSE.search(line):
            if current:
                blocks.append(current)
                current = []
            for word in line.split():
                embedded.extend([_Line(number, [run])] for run in _cell_runs(word))
            continue
        if not line.strip() or (set(line) <= _BORDER_CHARS and not _only_dashes(line)):
            continue
        tokens = line.translate(_SEPARATORS).split()
        if not tokens:
            continue
        unknown = "".join(sorted({ch for token in tokens for ch in token if not _is_cell_char(ch)}))
        current.append(_Line(number, tokens, _only_dashes(line), unknown))
    if current:
        blocks.append(current)
    return [_trim_unknown_edges(block) for block in blocks], embedded


def _cell_runs(word: str) -> list[str]:
    """A word of prose that is a whole grid on one line ("...: 53..7....6..195... thanks"): at most one reading,
    with or without a final '.'/'?' that may end the sentence rather than be a blank."""
    run = word.strip(":,;!\"'()[]{}")
    for candidate in (run, run[:-1]):
        if (len(candidate) >= 16 and math.isqrt(len(candidate)) ** 2 == len(candidate)
                and all(map(_is_cell_char, candidate)) and any(ch.isdigit() or ch in BLANK_CHARS for ch in candidate)):
            return [candidate]
    return []


def _only_dashes(line: str) -> bool:
    body = set(line) - set(" \t|")
    return bool(body) and body <= {"-", "_"}


def _is_cell_char(ch: str) -> bool:
    return ch in BLANK_CHARS or ("0" <= ch <= "9") or ("A" <= ch <= "Z") or ("a" <= ch <= "z")


def _trim_unknown_edges(block: list[_Line]) -> list[_Line]:
    """Leading/trailing lines with characters we cannot read are stray text ("OK!"), not rows; a block of nothing
    else is kept whole, so its characters get reported."""
    start, end = 0, len(block)
    while start < end and block[start].unknown:
        start += 1
    while end > start and block[end - 1].unknown:
        end -= 1
    return block[start:end] or block


def _grid_from_lines(lines: list[_Line], size_hint: int | None) -> tuple[list[list[str]], list[int]]:
    """Decide how the lines' tokens form an N x N grid: one character per cell or one token per cell."""
    for line in lines:
        if line.unknown:
            shown = ", ".join(repr(ch) for ch in line.unknown[:10])
            text = " ".join(line.tokens)
            column = min(text.index(ch) for ch in line.unknown) + 1
            raise ParseError(f"line {line.number}: characters not understood: {shown} (first at character {column} "
                             f"of {text[:40]!r}{'...' if len(text) > 40 else ''}); use 1-9 (and A-Z or numbers "
                             f"for grids above 9x9) for values, {_BLANK_HELP}, and spaces, commas or | between cells",
                             row=line.number, column=column, found=line.unknown[:10])
    numeric_tokens = any(len(t) > 1 and _small_number(t) for line in lines for t in line.tokens)
    compact_tokens = any(len(t) > 1 and not _small_number(t) for line in lines for t in line.tokens)
    modes = ("chars", "tokens") if compact_tokens or not numeric_tokens else ("tokens", "chars")
    for mode in modes:
        grid = _square_grid(lines, mode, size_hint)
        if grid is not None:
            return grid
    raise _shape_error(lines, modes[0], size_hint)


def _small_number(token: str) -> bool:
    """A token that can be one cell written as a number (10..25 on big grids)."""
    return len(token) <= 2 and token.isascii() and token.isdigit() and int(token) <= MAX_SUDOKU_SIZE


def _cells(line: _Line, mode: str) -> list[str]:
    return line.chars if mode == "chars" else line.tokens


def _square_grid(lines: list[_Line], mode: str, size_hint: int | None) -> tuple[list[list[str]], list[int]] | None:
    rows = [_cells(line, mode) for line in lines]
    if mode == "tokens" and not all(len(t) == 1 or _small_number(t) for row in rows for t in row):
        return None  # some token holds several cells: only the one-character-per-cell reading can work
    numbers = [line.number for line in lines]
    width = _most_common_length(rows)
    # Dash-only lines are rows of blanks when they have the width of the other rows, else border rules.
    keep = [i for i, line in enumerate(lines) if not line.dash_only or len(rows[i]) == width]
    rows, numbers = [rows[i] for i in keep], [numbers[i] for i in keep]
    for candidate in _variants(rows, numbers):
        grid_rows, grid_numbers = candidate
        size = len(grid_rows)
        if (all(len(r) == size for r in grid_rows) and _valid_size(size)
                and (size_hint is None or size == size_hint)):
            return grid_rows, grid_numbers
    flat = [cell for r in rows for cell in r]
    side = math.isqrt(len(flat))
    if (side * side == len(flat) and _valid_size(side) and (size_hint is None or side == size_hint)
            and len(rows) != side):
        # Not laid out as rows (one long line, or wrapped text): read the cells in order.
        return [flat[i * side:(i + 1) * side] for i in range(side)], [numbers[0]] * side
    return None


def _variants(rows: list[list[str]], numbers: list[int]):
    """The rows as given, without a column-header line, without a leading row-label column, and without stray
    lines of another width before or after the grid (a title like "9x9")."""
    yield rows, numbers
    if len(rows) >= 2 and _is_label_sequence(rows[0]):
        yield rows[1:], numbers[1:]
        body = rows[1:]
        if body and _is_label_sequence([r[0] for r in body if r]) and all(body):
            yield [r[1:] for r in body], numbers[1:]
    if rows and all(rows) and _is_label_sequence([r[0] for r in rows]):
        yield [r[1:] for r in rows], numbers
    width = _most_common_length(rows)
    start, end = 0, len(rows)
    while start < end and len(rows[start]) != width:
        start += 1
    while end > start and len(rows[end - 1]) != width:
        end -= 1
    if (start, end) != (0, len(rows)):
        yield rows[start:end], numbers[start:end]


def _is_label_sequence(cells: list[str]) -> bool:
    """1, 2, 3, ... or A, B, C, ... (case-insensitive): a header or label column, never a valid Sudoku line of
    length >= 4 unless it is literally the first row 1..N, which the caller only drops when the count demands it."""
    if len(cells) < 4:
        return False
    if all(_small_number(c) for c in cells):
        return [int(c) for c in cells] == list(range(1, len(cells) + 1))
    upper = [c.upper() for c in cells]
    return upper == [chr(ord("A") + i) for i in range(len(cells))]


def _most_common_length(rows: list[list[str]]) -> int:
    counts = Counter(len(r) for r in rows if r)
    return counts.most_common(1)[0][0] if counts else 0


def _valid_size(size: int) -> bool:
    return 4 <= size <= MAX_SUDOKU_SIZE


def _shape_error(lines: list[_Line], mode: str, size_hint: int | None) -> ParseError:
    rows = [(line.number, _cells(line, mode)) for line in lines if not line.dash_only]
    if not rows:
        return ParseError("no grid found: only border lines (---) and no cells", row=lines[0].number,
                          expected="a grid")
    total = sum(len(cells) for _, cells in rows)
    common = _most_common_length([cells for _, cells in rows])
    expected = size_hint or (common if _valid_size(common) or not _valid_size(len(rows)) else len(rows))
    if len(rows) == 1 and size_hint:
        return ParseError(f"found {total} cells on one line, expected {size_hint * size_hint} "
                          f"(a {size_hint}x{size_hint} grid)", row=rows[0][0], expected=str(size_hint * size_hint),
                          found=str(total))
    if len(rows) == 1:
        return ParseError(f"found {total} cells on one line, but a Sudoku needs a square number of cells "
                          f"({', '.join(str(n * n) for n in (4, 6, 9, 16))}, ...): check for missing or extra cells",
                          row=rows[0][0], expected="a square number of cells", found=str(total))
    if not _valid_size(expected) and len(rows) == common and all(len(cells) == common for _, cells in rows):
        return ParseError(f"the grid is {common}x{common}; Sudoku grids from 4x4 to {MAX_SUDOKU_SIZE}x{MAX_SUDOKU_SIZE} "
                          "are supported", expected=f"at most {MAX_SUDOKU_SIZE}x{MAX_SUDOKU_SIZE}")
    if not _valid_size(expected):
        return ParseError(f"found {len(rows)} rows, most with {common} cells: a Sudoku grid is N x N with N from 4 "
                          f"to {MAX_SUDOKU_SIZE}", row=rows[0][0], expected="an N x N grid")
    problems = [f"row {i} (line {number}) has {len(cells)} cells, expected {expected}"
                for i, (number, cells) in enumerate(rows, start=1) if len(cells) != expected]
    if len(rows) != expected:
        problems.insert(0, f"found {len(rows)} rows, expected {expected}")
    first_bad = next((number for number, cells in rows if len(cells) != expected), None)
    shown = "; ".join(problems[:6]) + (f"; and {len(problems) - 6} more" if len(problems) > 6 else "")
    return ParseError(f"the grid is not square: {shown}", row=first_bad, expected=f"{expected} cells per row")


def _rows_from_list(source: list | tuple, size_hint: int | None) -> tuple[list[list[str]], list[int]]:
    limit = MAX_SUDOKU_SIZE * MAX_SUDOKU_SIZE
    if not source:
        raise ParseError("the grid is an empty list; expected a list of rows", expected="a list of rows")
    if len(source) > limit:
        raise ParseError(f"the list has {len(source)} items; a grid has at most {limit} cells", found=str(len(source)))
    if all(isinstance(row, (list, tuple)) for row in source):
        rows = []
        for number, row in enumerate(source, start=1):
            if len(row) > MAX_SUDOKU_SIZE:
                raise ParseError(f"row {number} has {len(row)} cells; grids are at most {MAX_SUDOKU_SIZE} wide",
                                 row=number, found=str(len(row)))
            rows.append([_cell_text(cell, number, column) for column, cell in enumerate(row, start=1)])
        size = len(rows)
        bad = [f"row {i} has {len(r)} cells, expected {size}" for i, r in enumerate(rows, start=1) if len(r) != size]
        if bad or (size_hint is not None and size != size_hint):
            if size_hint is not None and size != size_hint:
                bad.insert(0, f"found {size} rows, expected {size_hint}")
            first = next((i for i, r in enumerate(rows, start=1) if len(r) != size), None)
            raise ParseError("the grid is not square: " + "; ".join(bad[:6]), row=first,
                             expected=f"{size_hint or size} cells per row")
        return rows, list(range(1, size + 1))
    if all(isinstance(row, str) for row in source):
        text = "\n".join(source)
        if len(text.encode("utf-8", errors="replace")) > MAX_REQUEST_BYTES:
            raise ParseError(f"the puzzle text is longer than {MAX_REQUEST_BYTES} bytes")
        lines: list[_Line] = []
        for number, row in enumerate(source, start=1):
            cleaned = _BLANK_WORD_RE.sub(".", _LABEL.sub("", row, count=1))
            tokens = cleaned.translate(_SEPARATORS).split()
            unknown = "".join(sorted({ch for t in tokens for ch in t if not _is_cell_char(ch)}))
            lines.append(_Line(number, tokens, False, unknown))
        return _grid_from_lines(lines, size_hint)
    if all(not isinstance(cell, (list, tuple, dict)) for cell in source):
        cells = [_cell_text(cell, 1, i) for i, cell in enumerate(source, start=1)]
        side = math.isqrt(len(cells))
        if side * side != len(cells) or (size_hint is not None and side != size_hint):
            raise ParseError(f"a flat list must hold a square number of cells (16, 36, 81, ...); got {len(cells)}",
                             expected="N*N cells", found=str(len(cells)))
        return [cells[i * side:(i + 1) * side] for i in range(side)], list(range(1, side + 1))
    raise ParseError("a grid list must hold rows (lists or strings) or cells, not a mixture",
                     expected="a list of rows")


def _cell_text(cell: Any, row: int, column: int) -> str:
    if cell is None:
        return "."
    if isinstance(cell, bool):
        raise ParseError(f"row {row}, column {column}: true/false is not a cell value", row=row, column=column,
                         found=str(cell))
    if isinstance(cell, int):
        return str(cell)[:8]
    if isinstance(cell, float) and cell.is_integer() and 0 <= cell <= 99:
        return str(int(cell))
    if isinstance(cell, str):
        text = cell.strip()
        return "." if text.lower() in BLANK_WORDS else text[:8]
    raise ParseError(f"row {row}, column {column}: {type(cell).__name__} {str(cell)[:20]!r} is not a cell value; "
                     f"use a number, a one-letter symbol, or 0/null/\"\" for a blank", row=row, column=column,
                     found=str(cell)[:20])


def _resolve(rows: list[list[str]], line_numbers: list[int], box_hint: Any) -> Puzzle:
    """Turn N x N cell strings into values, choosing the symbol convention the text uses."""
    size = len(rows)
    if size > MAX_SUDOKU_SIZE:
        raise ParseError(f"the grid is {size}x{size}; at most {MAX_SUDOKU_SIZE}x{MAX_SUDOKU_SIZE} is supported",
                         found=f"{size}x{size}")
    box_rows, box_cols = parse_box(box_hint, size)
    cells = [cell for row in rows for cell in row]
    letters = {c.upper() for c in cells if len(c) == 1 and c.isalpha() and c.upper() != "X"}
    has_digits = any(_small_number(c) and int(c) > 0 for c in cells)
    letters_only = bool(letters) and not has_digits  # A = 1, B = 2, ... (otherwise 1-9 then A = 10)
    x_is_symbol = letters_only and size >= 24
    numeric_tokens = any(len(c) > 1 and _small_number(c) for c in cells)
    grid = np.zeros((size, size), dtype=np.int8)
    problems: list[str] = []
    first_bad_row = 0
    for r, row in enumerate(rows):
        where = f"row {r + 1}" + (f" (line {line_numbers[r]})" if line_numbers[r] != r + 1 else "")
        for c, cell in enumerate(row):
            value = _value_of(cell, letters_only, x_is_symbol)
            if value is None or value > size:
                first_bad_row = first_bad_row or r + 1
            if value is None:
                problems.append(f"{where}, column {c + 1}: {cell!r} is not understood")
            elif value > size:
                problems.append(f"{where}, column {c + 1}: {cell!r} is outside 1..{size} for a "
                                f"{size}x{size} Sudoku")
            else:
                grid[r, c] = value
    if problems:
        more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        raise ParseError("; ".join(problems[:5]) + more + f" (values are 1..{size}, "
                         f"{'letters A.. or ' if size > 9 else ''}{_BLANK_HELP})",
                         row=first_bad_row)
    if letters_only:
        symbols = tuple(chr(ord("A") + v - 1) for v in range(1, size + 1))
    elif numeric_tokens:
        symbols = tuple(str(v) for v in range(1, size + 1))
    else:
        symbols = _digit_symbols(size)
    return Puzzle(_frozen(grid), box_rows, box_cols, symbols)


def _value_of(cell: str, letters_only: bool, x_is_symbol: bool) -> int | None:
    if cell in BLANK_CHARS or cell.lower() in BLANK_WORDS or (cell == "X" and not x_is_symbol):
        return 0
    if cell.isdigit() and cell.isascii() and len(cell) <= 2:
        return int(cell)
    if len(cell) == 1 and cell.isascii() and cell.isalpha():
        offset = ord(cell.upper()) - ord("A")
        return offset + 1 if letters_only else offset + 10
    return None


# ----------------------------------------------------------------------------------------------------------------
# Verification


def verify(puzzle: Puzzle, solution: Any) -> list[Check]:
    """Every rule checked, each failure located: shape, value range, givens kept, rows/columns/boxes permutations."""
    n = puzzle.size
    try:
        grid = np.asarray(solution).astype(np.int64)
    except (ValueError, TypeError):
        return [Check(name=f"grid is {n}x{n}", passed=False, detail="the solution is not a rectangular grid of numbers")]
    shape_ok = grid.ndim == 2 and grid.shape == (n, n)
    checks = [Check(name=f"grid is {n}x{n}", passed=shape_ok,
                    detail="" if shape_ok else f"the solution has shape {'x'.join(map(str, grid.shape)) or 'scalar'}")]
    if not shape_ok:
        return checks
    out_of_range = [f"{_cell_name(r, c)} holds {grid[r, c]}" for r, c in zip(*np.nonzero((grid < 1) | (grid > n)))]
    checks.append(Check(name=f"every cell holds a value 1..{n}", passed=not out_of_range,
                        detail=_listing(out_of_range, "cells")))
    changed = [f"{_cell_name(r, c)} is {puzzle.grid[r, c]} in the puzzle but {grid[r, c]} in the solution"
               for r, c in zip(*np.nonzero((puzzle.grid > 0) & (grid != puzzle.grid)))]
    checks.append(Check(name="every given is kept", passed=not changed, detail=_listing(changed, "givens")))
    geo = puzzle.geometry
    flat = grid.reshape(-1)
    for kind, label, plural in ((0, "row", "rows"), (1, "column", "columns"), (2, "box", "boxes")):
        problems: list[str] = []
        for index in range(n):
            problems.extend(_unit_problems(geo, kind * n + index, flat, n))
        what = f"each {label}" + (f" ({geo.box_rows}x{geo.box_cols})" if label == "box" else "")
        checks.append(Check(name=f"{what} holds 1..{n} once each", passed=not problems,
                            detail=_listing(problems, "problems") if problems else f"{n} {plural} checked"))
    return checks


def _unit_problems(geo: Geometry, unit_index: int, flat: np.ndarray, n: int, *, missing: bool = True) -> list[str]:
    """'row 3 has 5 twice (columns 2 and 7)', 'row 3 is missing 8' for one unit (only values in 1..n count)."""
    unit = geo.units[unit_index]
    name = geo.unit_name(unit_index)
    positions: dict[int, list[int]] = {}
    for cell in unit:
        value = int(flat[cell])
        if 1 <= value <= n:
            positions.setdefault(value, []).append(cell)
    problems = []
    for value, cells in sorted(positions.items()):
        if len(cells) > 1:
            where = _positions_in_unit(geo, unit_index, cells)
            times = "twice" if len(cells) == 2 else f"{len(cells)} times"
            problems.append(f"{name} has {value} {times} ({where})")
    absent = [str(v) for v in range(1, n + 1) if v not in positions]
    if missing and absent and len(absent) < n:
        problems.append(f"{name} is missing {', '.join(absent)}")
    return problems


def _positions_in_unit(geo: Geometry, unit_index: int, cells: list[int]) -> str:
    """Where cells sit in their unit: 'columns 2 and 7' in a row, 'rows 1, 4 and 9' in a column, cells in a box."""
    places = [divmod(cell, geo.size) for cell in cells]
    kind = unit_index // geo.size
    if kind == 0:
        names = [str(c + 1) for _, c in places]
    elif kind == 1:
        names = [str(r + 1) for r, _ in places]
    else:
        names = [_cell_name(r, c) for r, c in places]
    joined = ", ".join(names[:-1]) + " and " + names[-1]
    return ("columns " if kind == 0 else "rows " if kind == 1 else "") + joined


def _cell_name(r: int, c: int) -> str:
    return f"r{r + 1}c{c + 1}"


def _listing(items: list[str], noun: str, limit: int = 8) -> str:
    if not items:
        return ""
    more = f"; and {len(items) - limit} more {noun}" if len(items) > limit else ""
    return "; ".join(items[:limit]) + more


# ----------------------------------------------------------------------------------------------------------------
# Exact solving and explanation


def _bounded(budget: Budget | None, seconds: float | None = None) -> Budget:
    """The caller's budget, capped at MAX_SEARCH_NODES (and `seconds`), sharing its cancel event and progress."""
    budget = budget or Budget()
    deadline = budget.deadline
    if seconds is not None:
        own = Budget.of(seconds).deadline
        deadline = own if deadline is None else min(deadline, own)
    max_nodes = MAX_SEARCH_NODES if budget.max_nodes is None else min(budget.max_nodes, MAX_SEARCH_NODES)
    return Budget(deadline, max_nodes, budget.cancel, budget.progress)


def _run(puzzle: Puzzle, budget: Budget, *, limit: int, trace: bool = False) -> exact.SearchResult:
    return exact.solve(puzzle.grid.reshape(-1).tolist(), puzzle.geometry.units, puzzle.size,
                       limit=limit, budget=budget, trace=trace)


def solve_exact(puzzle: Puzzle, budget: Budget | None = None) -> ExactOutcome:
    """Certify the puzzle: unique solution, several, none (with the contradiction), or gave_up (with why)."""
    n = puzzle.size
    flat = puzzle.grid.reshape(-1)
    given_conflicts = [p for i in range(3 * n) for p in _unit_problems(puzzle.geometry, i, flat, n, missing=False)]
    if given_conflicts:
        return ExactOutcome("no_solution", unique=False, detail="the givens break the rules: " +
                            _listing(given_conflicts, "conflicts"))
    result = _run(puzzle, _bounded(budget), limit=2)
    grids = [np.array(s, dtype=np.int8).reshape(n, n) for s in result.solutions]
    if result.status == "gave_up":
        why = {"nodes": f"search node limit reached after {result.nodes} nodes", "time": "time limit reached",
               "cancelled": "cancelled"}.get(result.reason, result.reason)
        return ExactOutcome("gave_up", grids[0] if grids else None, None, None, result.nodes,
                            why + (" (one solution found, uniqueness not established)" if grids else ""))
    if result.status == "no_solution":
        return ExactOutcome("no_solution", unique=False, nodes=result.nodes, detail=_contradiction_text(puzzle, result))
    if result.status == "multiple_solutions":
        differing = int((grids[0] != grids[1]).sum())
        return ExactOutcome("multiple_solutions", grids[0], grids[1], False, result.nodes,
                            f"at least two solutions; they differ in {differing} cells")
    return ExactOutcome("solved", grids[0], None, True, result.nodes, "the solution is unique")


def _contradiction_text(puzzle: Puzzle, result: exact.SearchResult) -> str:
    found = result.contradiction
    if found is None:
        return f"no solution: every branch of the search ends in a contradiction ({result.nodes} nodes)"
    if found.unit is not None:
        return f"no solution: {found.value} has no possible place in {puzzle.geometry.unit_name(found.unit)}"
    r, c = divmod(found.cell or 0, puzzle.size)
    return f"no solution: {_cell_name(r, c)} has no possible value"


def explain(puzzle: Puzzle, solution: Any = None) -> list[str]:
    """Human-style steps that fill the grid: singles found by logic, and guesses where logic stalls."""
    result = _run(puzzle, _bounded(None, EXPLAIN_TIME_LIMIT_S), limit=1, trace=True)
    if result.status == "no_solution":
        return [_contradiction_text(puzzle, result)]
    if result.status == "gave_up" and not result.solutions:
        return [f"no explanation: the search stopped ({result.reason}) before finding a solution"]
    geo = puzzle.geometry
    steps = []
    for step in result.trace:
        r, c = divmod(step.cell, puzzle.size)
        symbol = puzzle.symbol(step.value)
        if step.reason == "guess":
            steps.append(f"guess {_cell_name(r, c)} = {symbol}")
        elif step.reason == "forced" and step.via is None:
            steps.append(f"{_cell_name(r, c)} = {symbol}: forced (its other candidate leads to a contradiction)")
        elif step.reason == "forced":
            probed = _cell_name(*divmod(step.via, puzzle.size))
            steps.append(f"{_cell_name(r, c)} = {symbol}: forced (it follows from either candidate of {probed})")
        elif step.reason == "hidden_single":
            steps.append(f"{_cell_name(r, c)} = {symbol}: only place for {symbol} in {geo.unit_name(step.unit or 0)}")
        else:
            steps.append(f"{_cell_name(r, c)} = {symbol}: naked single")
    counts = Counter(step.reason for step in result.trace)
    summary = (f"{len(result.trace)} cells filled: {counts['naked_single']} naked singles, "
               f"{counts['hidden_single']} hidden singles, "
               + (f"{counts['forced']} forced by trying both candidates of a cell, " if counts["forced"] else "")
               + f"{counts['guess']} guesses")
    if counts["guess"]:
        summary += " (guesses shown are the ones that led to the solution; wrong branches were undone)"
    lines = [summary] + steps[:MAX_EXPLANATION_STEPS]
    if len(steps) > MAX_EXPLANATION_STEPS:
        lines.append(f"... {len(steps) - MAX_EXPLANATION_STEPS} more steps omitted")
    return lines


# ----------------------------------------------------------------------------------------------------------------
# Presentation


def answer_fields(puzzle: Puzzle, solution: Any) -> dict:
    grid = None if solution is None else np.asarray(solution).astype(int).tolist()
    return {"solution": grid, "path": None, "rendering": render_text(puzzle, solution)}


def render_text(puzzle: Puzzle, solution: Any = None) -> str:
    """The grid with box borders; blanks as '.', symbols as the puzzle wrote them."""
    grid = puzzle.grid if solution is None else np.asarray(solution)
    n, br, bc = puzzle.size, puzzle.box_rows, puzzle.box_cols
    width = max(len(s) for s in puzzle.symbols) if puzzle.symbols else 1
    segment = "-" * (bc * (width + 1) + 1)
    rule = "+".join([segment] * (n // bc))[1:-1]
    lines = []
    for r in range(n):
        if r and r % br == 0:
            lines.append(rule)
        boxes = [" ".join(puzzle.symbol(int(grid[r, c])).rjust(width) for c in range(left, left + bc))
                 for left in range(0, n, bc)]
        lines.append(" | ".join(boxes))
    return "\n".join(lines)


def render_png(puzzle: Puzzle, solution: Any = None) -> bytes:
    """A PNG picture: givens in black, filled-in values in blue, thick lines around boxes."""
    from PIL import Image, ImageDraw, ImageFont

    n, br, bc = puzzle.size, puzzle.box_rows, puzzle.box_cols
    grid = puzzle.grid if solution is None else np.asarray(solution)
    cell = 40 if n <= 9 else 32 if n <= 16 else 26
    margin = 6
    side = n * cell + 2 * margin
    image = Image.new("RGB", (side, side), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=int(cell * 0.55))
    for i in range(n + 1):
        offset = margin + i * cell
        draw.line([(offset, margin), (offset, side - margin)], fill="black", width=3 if i % bc == 0 else 1)
        draw.line([(margin, offset), (side - margin, offset)], fill="black", width=3 if i % br == 0 else 1)
    for r in range(n):
        for c in range(n):
            value = int(grid[r, c])
            if value < 1:
                continue
            colour = "black" if puzzle.grid[r, c] else (30, 90, 200)
            center = (margin + c * cell + cell / 2, margin + r * cell + cell / 2)
            draw.text(center, puzzle.symbol(value), fill=colour, font=font, anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# ----------------------------------------------------------------------------------------------------------------
# Reference token layout: 0 pad, 1 blank, value v -> v + 1; vocabulary N + 2; row-major


def vocab_size(size: int) -> int:
    return size + 2


def encode(puzzle: Puzzle) -> np.ndarray:
    return puzzle.grid.reshape(-1).astype(np.int64) + 1


def encode_solution(puzzle: Puzzle, solution: Any) -> np.ndarray:
    return np.asarray(solution).reshape(-1).astype(np.int64) + 1


def decode(puzzle: Puzzle, tokens: Any) -> np.ndarray:
    """[N, N] values from label tokens; pad, blank and out-of-range tokens become 0 (which verify reports)."""
    values = np.asarray(tokens).reshape(-1).astype(np.int64) - 1
    values[(values < 1) | (values > puzzle.size)] = 0
    return values.reshape(puzzle.size, puzzle.size).astype(np.int8)


def verify_batch(inputs: Any, predictions: Any, box: Any = None) -> np.ndarray:
    """[B] bool: each predicted grid (tokens [B, L]) fills every row, column and box and keeps the givens."""
    inputs = np.asarray(inputs, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    batch, cells = predictions.shape
    n = math.isqrt(cells)
    if n * n != cells or inputs.shape != predictions.shape:
        raise ValueError(f"expected token arrays [B, N*N] of equal shape, got {inputs.shape} and {predictions.shape}")
    br, bc = parse_box(box, n)
    grid = predictions.reshape(batch, n, n)
    boxes = grid.reshape(batch, n // br, br, n // bc, bc).transpose(0, 1, 3, 2, 4).reshape(batch, n, n)
    target = np.arange(2, n + 2)
    ok = np.ones(batch, dtype=bool)
    for units in (grid, grid.transpose(0, 2, 1), boxes):
        ok &= (np.sort(units, axis=2) == target).all(axis=(1, 2))
    given = inputs > 1
    ok &= ((predictions == inputs) | ~given).all(axis=1)
    return ok


SYMMETRY_VIEWS = 8  # views per grid; trajectories beyond them repeat the views with noise


class Views:
    """Symmetries of an N x N Sudoku that its rules do not see (see solvers.neural.engine.Views): a relabelling of the
    digits, shuffles of the bands and of the rows within each band, of the stacks and of the columns within each
    stack, and a transpose when the boxes are square; the augmentations of training. View 0 is the identity; view v
    is drawn from a generator seeded with v, so one grid shape always gets the same views."""

    def __init__(self, shape: tuple[int, int], *, box: Any = None) -> None:
        from recursive_tools.solvers.training.augment import sudoku_permutation

        size = shape[0]
        box_shape = parse_box(box, size)
        self.count = SYMMETRY_VIEWS
        self._orders, self._digits = [np.arange(size * size)], [np.arange(size + 2)]
        for view in range(1, self.count):
            rng = np.random.default_rng(view)
            order, _ = sudoku_permutation(rng, box_shape)
            digits = np.arange(size + 2)  # pad and blank keep their tokens
            digits[2:] = 2 + rng.permutation(size)
            self._orders.append(order)
            self._digits.append(digits)

    def apply(self, tokens: np.ndarray, view: int) -> np.ndarray:
        return self._digits[view][np.asarray(tokens)[:, self._orders[view]]]

    def undo(self, predictions: np.ndarray, view: int) -> np.ndarray:
        order, digits = self._orders[view], self._digits[view]
        back = np.empty_like(digits)
        back[digits] = np.arange(len(digits))
        cells = np.empty_like(order)
        cells[order] = np.arange(len(order))
        return back[np.clip(np.asarray(predictions), 0, len(digits) - 1)][:, cells]


def views(shape: tuple[int, int], *, box: Any = None) -> Views:
    return Views(tuple(shape), box=box)
