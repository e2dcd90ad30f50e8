"""Rectangular grid mazes up to 64x64: walls, open cells, one start, one goal; the answer is a shortest path.

Cells are (row, col), 0-based. A solution is the list of cells from start to goal inclusive; its length in moves is
len(path) - 1, and it must be a *shortest* path (mazes may have several; any shortest one is correct).

Accepted puzzle formats (`parse`):
- ASCII art, one character per cell: walls `#`, `+ - |`, block and box-drawing characters (`█ ▓ ▒ ■ ⬛`, `─ │ ┼` ...);
  open cells space, `.`, `_`, `·`, `░`, `□`, `⬜`; start `S` or `A`; goal `G`, `E`, `F` or `B` (any case).
  Surrounding prose and code fences are ignored: the maze is the largest run of grid-like lines.
  Editors and chat UIs trim trailing spaces, so when space is an open cell, short rows are padded with open cells
  (a row that became empty is read as all open); with `.` as the open cell, rows must have equal length.
  A common indentation is removed unless spaces are cells (some row has a space between two other characters).
- 0/1 matrices (1 = wall, 0 = open) as text rows (`0 1 0`, `0,1,0`, `010`) or JSON / Python nested lists; the
  start and goal as `S`/`G` in the grid or the hints start=(r, c), goal=(r, c).
- A list of row strings, or a dict {"maze" | "grid": ..., "start": [r, c], "goal" | "end": [r, c]}.

Token layout (reference TRM/HRM Maze): 0 pad, 1 wall `#`, 2 open ` `, 3 `S`, 4 `G`, 5 `o` (path); row-major; vocab 6.
A model may instead answer with arrows (the maze net's "arrows" output): per cell 1 = stay, 2..5 = the next move up,
down, left, right; `follow_arrows` turns them into path tokens by walking from the start.
Any HxW is encoded as H*W tokens without padding to 30x30; `verify_batch` needs the shape as `shape=(H, W)`
(a square shape is inferred from L when not given).
"""

from __future__ import annotations

import ast
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from recursive_tools.answer import Check
from recursive_tools.errors import LimitExceeded, ParseError
from recursive_tools.kinds.base import ExactOutcome
from recursive_tools.limits import MAX_MAZE_SIDE, MAX_REQUEST_BYTES
from recursive_tools.solvers.budget import Budget
from recursive_tools.solvers.exact.maze import PATH_COUNT_CAP, distance_map, shortest_path
from recursive_tools.solvers.training.augment import dihedral
# The arrow answer encoding has one home, the label maker: STAY, and token ARROW_OFFSET + i for move ARROW_MOVES[i].
from recursive_tools.solvers.training.mazes import ARROW_OFFSET, MOVES as ARROW_MOVES, STAY as ARROW_STAY

NAME = "maze"

Cell = tuple[int, int]
Path = list[Cell]

PAD, WALL, OPEN, START, GOAL, ON_PATH = 0, 1, 2, 3, 4, 5
VOCAB_SIZE = 6
REFERENCE_CHARS = {WALL: "#", OPEN: " ", START: "S", GOAL: "G", ON_PATH: "o"}

WALL_CHARS = frozenset("#+-|█▓▒■⬛▉▇▀▄▌▐") | frozenset(chr(c) for c in range(0x2500, 0x2580))  # box drawing
OPEN_CHARS = frozenset(" ._·░□⬜")
START_CHARS = frozenset("SsAa")
GOAL_CHARS = frozenset("GgEeFfBb")
PATH_CHARS = frozenset("oO*•")  # marks on the path in a solved maze (parse_solution only)
DIGIT_SEPARATORS = frozenset(" \t,;[]()")
_STRUCTURAL = (WALL_CHARS | OPEN_CHARS | frozenset("01")) - {" "}
_EXPECTED = ("expected walls '#' (or block characters), open cells ' ' or '.', start 'S' (or 'A'), "
             "goal 'G' (or 'E', 'F'); or a 0/1 matrix (1 = wall)")
_MOVES = {(0, 1): "right", (1, 0): "down", (0, -1): "left", (-1, 0): "up"}


@dataclass(frozen=True, eq=False)
class Puzzle:
    walls: np.ndarray  # bool [rows, cols], True = wall; read-only
    start: Cell
    goal: Cell

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.walls.shape[0]), int(self.walls.shape[1])

    @property
    def size_label(self) -> str:
        return f"{self.shape[0]}x{self.shape[1]}"


# ---------------------------------------------------------------------------------------------------------------
# Parsing the puzzle


@dataclass
class _Grid:
    """Cells as characters, before start/goal are resolved; `marks` are the path cells of a solved maze."""

    walls: np.ndarray
    starts: list[Cell]
    goals: list[Cell]
    marks: list[Cell]


def _parse_error(message: str, **where: Any) -> ParseError:
    return ParseError(message, **where)


def _check_size(rows: int, cols: int) -> None:
    if rows > MAX_MAZE_SIDE or cols > MAX_MAZE_SIDE:
        raise LimitExceeded(f"the maze is {rows}x{cols}; the largest accepted is {MAX_MAZE_SIDE}x{MAX_MAZE_SIDE}")
    if rows * cols < 2:
        raise _parse_error(f"the maze is {rows}x{cols}; it needs at least two cells (a start and a goal)")


def _grid_from_rows(rows: list[list[str]], *, allow_marks: bool, row_numbers: list[int] | None = None) -> _Grid:
    """Classify one character per cell; rows must already have equal length."""
    height, width = len(rows), len(rows[0])
    _check_size(height, width)
    walls = np.zeros((height, width), dtype=bool)
    starts: list[Cell] = []
    goals: list[Cell] = []
    marks: list[Cell] = []
    for r, row in enumerate(rows):
        unknown: dict[str, int] = {}
        for c, ch in enumerate(row):
            if ch in WALL_CHARS or ch == "1":
                walls[r, c] = True
            elif ch in OPEN_CHARS or ch == "0":
                pass
            elif ch in START_CHARS:
                starts.append((r, c))
            elif ch in GOAL_CHARS:
                goals.append((r, c))
            elif allow_marks and ch in PATH_CHARS:
                marks.append((r, c))
            else:
                unknown.setdefault(ch, c)
        if unknown:
            line = row_numbers[r] if row_numbers else r + 1
            listed = ", ".join(f"{ch!r} (column {c + 1})" for ch, c in list(unknown.items())[:8])
            if allow_marks:
                advice = f"{_EXPECTED}; path marks 'o' or '*'"
            elif set(unknown) & PATH_CHARS:
                advice = "'o' marks a path; give the maze without one (verify_solution checks a proposed path)"
            else:
                advice = _EXPECTED
            raise _parse_error(f"maze row {r + 1} (line {line}): characters not understood: {listed}; {advice}",
                               row=r + 1, column=next(iter(unknown.values())) + 1, found="".join(unknown))
    return _Grid(walls, starts, goals, marks)


def _is_digit_row(line: str) -> bool:
    cells = [ch for ch in line if ch not in DIGIT_SEPARATORS]
    return bool(cells) and all(ch in "01" or ch in START_CHARS or ch in GOAL_CHARS for ch in cells) \
        and sum(ch in "01" for ch in cells) * 2 >= len(cells)


def _line_kind(line: str, allow_marks: bool) -> str:
    """'strong' (clearly a maze row), 'weak' (only maze characters), 'blank', or 'other' (prose, fences)."""
    text = line.strip()
    if not text:
        return "blank"
    if _is_digit_row(text):
        return "strong"
    visible = [ch for ch in text if ch != " "]
    markers = START_CHARS | GOAL_CHARS | (PATH_CHARS if allow_marks else frozenset())
    structural = sum(ch in _STRUCTURAL for ch in visible)
    known = structural + sum(ch in markers for ch in visible)
    # A row that is mostly maze characters stays in the maze even with a stray character, so the error can name
    # it instead of the maze being cut in two.
    if (any(ch in WALL_CHARS for ch in visible) or structural * 2 >= len(visible)) and known * 5 >= len(visible) * 3:
        return "strong"
    return "weak" if known == len(visible) else "other"


def _spaces_are_cells(lines: list[str]) -> bool:
    """Whether space is an open cell: some row has a space between two other characters (not just indentation)."""
    return any(" " in line.strip() for line in lines) and not all(_is_digit_row(line) for line in lines if line.strip())


def _maze_block(text: str, allow_marks: bool) -> list[tuple[int, str]]:
    """The maze's lines (1-based line number, text) out of text that may hold prose and code fences."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kinds = [_line_kind(line, allow_marks) for line in lines]
    blocks: list[list[int]] = []
    current: list[int] = []
    for i, kind in enumerate(kinds + ["other"]):
        if kind in ("strong", "weak"):
            current.append(i)
            continue
        if current and kind == "blank" and i + 1 < len(kinds) and kinds[i + 1] == "strong" and \
                _spaces_are_cells([lines[j] for j in current]):
            current.append(i)  # a trimmed all-open row inside a maze whose open cells are spaces
            continue
        if current:
            blocks.append(current)
        current = []
    blocks = [b for b in blocks if any(kinds[i] == "strong" for i in b)]
    if not blocks:
        raise _parse_error("no maze found: expected rows of walls and open cells, e.g. '#S..#' or '0 1 0'; "
                           + _EXPECTED)
    best = max(blocks, key=lambda b: sum(kinds[i] == "strong" for i in b))
    return [(i + 1, lines[i]) for i in best]


def _text_rows(numbered: list[tuple[int, str]]) -> tuple[list[list[str]], list[int]]:
    lines = [line.rstrip() for _, line in numbered]
    numbers = [n for n, _ in numbered]
    if all(_is_digit_row(line) for line in lines if line):
        rows = [[ch for ch in line if ch not in DIGIT_SEPARATORS] for line in lines]
        pad = False
    else:
        pad = _spaces_are_cells(lines)
        if "\t" in "".join(lines):
            lines = [line.expandtabs(4) if not pad else line for line in lines]
        if not pad:
            indent = min(len(line) - len(line.lstrip(" ")) for line in lines if line)
            lines = [line[indent:] for line in lines]
        rows = [list(line) for line in lines]
    width = max(len(row) for row in rows)
    _check_size(len(rows), width)
    if pad:
        rows = [row + [" "] * (width - len(row)) for row in rows]
    else:
        for r, row in enumerate(rows):
            if len(row) != width:
                raise _parse_error(f"maze row {r + 1} (line {numbers[r]}) has {len(row)} cells, expected {width} "
                                   "like the longest row; every row needs the same number of cells",
                                   row=r + 1, expected=str(width), found=str(len(row)))
    return rows, numbers


def _cell_text(value: Any, r: int, c: int) -> str:
    if isinstance(value, bool) or value is None:
        raise _parse_error(f"maze row {r + 1}, column {c + 1}: {value!r} is not a cell; {_EXPECTED}",
                           row=r + 1, column=c + 1, found=repr(value))
    if isinstance(value, int):
        if value not in (0, 1):
            raise _parse_error(f"maze row {r + 1}, column {c + 1}: {value} is not 0 (open) or 1 (wall)",
                               row=r + 1, column=c + 1, found=str(value))
        return str(value)
    if isinstance(value, str) and len(value.strip()) <= 1:
        return value.strip() or " "
    raise _parse_error(f"maze row {r + 1}, column {c + 1}: {value!r} is not one cell; {_EXPECTED}",
                       row=r + 1, column=c + 1, found=repr(value)[:40])


def _list_rows(source: list, allow_marks: bool) -> list[list[str]]:
    if not source:
        raise _parse_error("the maze is an empty list; expected a list of rows")
    if len(source) > MAX_MAZE_SIDE:
        raise LimitExceeded(f"the maze has {len(source)} rows; the largest accepted is {MAX_MAZE_SIDE}x{MAX_MAZE_SIDE}")
    if all(isinstance(row, str) for row in source):
        text_rows = [[ch for ch in row if ch not in DIGIT_SEPARATORS] if _is_digit_row(row) else list(row)
                     for row in source]
    else:
        text_rows = []
        for r, row in enumerate(source):
            if not isinstance(row, (list, tuple)):
                raise _parse_error(f"maze row {r + 1} is {type(row).__name__}, expected a list of cells",
                                   row=r + 1, found=repr(row)[:40])
            if len(row) > MAX_MAZE_SIDE:
                raise LimitExceeded(f"maze row {r + 1} has {len(row)} cells; the largest accepted is "
                                    f"{MAX_MAZE_SIDE}x{MAX_MAZE_SIDE}")
            text_rows.append([_cell_text(value, r, c) for c, value in enumerate(row)])
    width = len(text_rows[0])
    for r, row in enumerate(text_rows):
        if len(row) > MAX_MAZE_SIDE:
            raise LimitExceeded(f"maze row {r + 1} has {len(row)} cells; the largest accepted is "
                                f"{MAX_MAZE_SIDE}x{MAX_MAZE_SIDE}")
        if len(row) != width:
            raise _parse_error(f"maze row {r + 1} has {len(row)} cells, expected {width} like row 1",
                               row=r + 1, expected=str(width), found=str(len(row)))
    return text_rows


def _structured(text: str) -> Any:
    """JSON or a Python literal when the text is one (nested lists, a dict); None otherwise."""
    stripped = text.strip()
    if not stripped or stripped[0] not in "[{(":
        return None
    try:
        return json.loads(stripped)
    except ValueError:
        pass
    try:
        return ast.literal_eval(stripped)
    except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError):
        return None


def _read_grid(source: Any, *, allow_marks: bool, hints: dict) -> _Grid:
    if isinstance(source, (bytes, bytearray)):
        try:
            source = bytes(source).decode("utf-8")
        except UnicodeDecodeError as error:
            raise _parse_error(f"the maze is not UTF-8 text (byte {error.start})") from None
    if isinstance(source, str):
        if len(source.encode("utf-8", "replace")) > MAX_REQUEST_BYTES:
            raise LimitExceeded(f"the maze text is {len(source.encode('utf-8', 'replace'))} bytes; "
                                f"the largest accepted is {MAX_REQUEST_BYTES}")
        structured = _structured(source)
        if structured is not None and isinstance(structured, (list, tuple, dict)):
            return _read_grid(list(structured) if isinstance(structured, tuple) else structured,
                              allow_marks=allow_marks, hints=hints)
        try:
            block = _maze_block(source, allow_marks)
        except ParseError:
            embedded = _structured(source[source.find("["):source.rfind("]") + 1])  # a JSON grid inside prose
            if isinstance(embedded, list):
                return _read_grid(embedded, allow_marks=allow_marks, hints=hints)
            raise
        rows, numbers = _text_rows(block)
        return _grid_from_rows(rows, allow_marks=allow_marks, row_numbers=numbers)
    if isinstance(source, dict):
        grid_key = next((k for k in ("maze", "grid", "walls", "puzzle") if k in source), None)
        if grid_key is None:
            raise _parse_error(f"the dict has no maze: expected a 'maze' or 'grid' key, got {sorted(map(str, source))[:8]}")
        for key, hint in (("start", "start"), ("goal", "goal"), ("end", "goal")):
            if source.get(key) is not None and hints.get(hint) is None:
                hints[hint] = source[key]
        return _read_grid(source[grid_key], allow_marks=allow_marks, hints=hints)
    if isinstance(source, np.ndarray):
        source = source.tolist()
    if isinstance(source, (list, tuple)):
        return _grid_from_rows(_list_rows(list(source), allow_marks), allow_marks=allow_marks)
    raise _parse_error(f"cannot read a maze from {type(source).__name__}; give text, a list of rows or a dict")


def _coordinate(value: Any, what: str) -> Cell:
    if isinstance(value, str):
        numbers = re.findall(r"-?\d+", value)
        value = [int(n) for n in numbers] if len(numbers) == 2 else value
    elif isinstance(value, dict):
        value = [value.get("row", value.get("r")), value.get("col", value.get("column", value.get("c")))]
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
        return int(value[0]), int(value[1])
    raise _parse_error(f"{what} must be [row, col] (0-based integers), got {value!r}"[:200], found=repr(value)[:40])


def _place(grid: _Grid, hints: dict, what: str, marked: list[Cell], marker: str) -> Cell:
    hint = hints.get(what)
    if len(marked) > 1:
        where = ", ".join(f"({r}, {c})" for r, c in marked[:4])
        raise _parse_error(f"the maze has {len(marked)} {what} markers ({marker}) at {where} (row, col, 0-based); "
                           f"expected exactly one", row=marked[1][0] + 1, column=marked[1][1] + 1)
    if hint is not None:
        cell = _coordinate(hint, what)
        if marked and marked[0] != cell:
            raise _parse_error(f"the {what} is given twice: marked {marker} at {marked[0]} in the grid and "
                               f"{what}={cell}; give only one (coordinates are 0-based (row, col))")
    elif marked:
        cell = marked[0]
    else:
        raise _parse_error(f"no {what} found: mark it with {marker} in the grid, or give {what}=[row, col] (0-based)")
    rows, cols = grid.walls.shape
    if not (0 <= cell[0] < rows and 0 <= cell[1] < cols):
        raise _parse_error(f"the {what} {cell} is outside the {rows}x{cols} maze (rows 0..{rows - 1}, "
                           f"cols 0..{cols - 1}, 0-based)", found=str(cell))
    if grid.walls[cell]:
        raise _parse_error(f"the {what} {cell} is a wall; it must be an open cell", row=cell[0] + 1,
                           column=cell[1] + 1)
    return cell


def _puzzle_from_grid(grid: _Grid, hints: dict) -> Puzzle:
    start = _place(grid, hints, "start", grid.starts, "'S' (or 'A')")
    goal = _place(grid, hints, "goal", grid.goals, "'G' (or 'E', 'F')")
    if start == goal:
        raise _parse_error(f"the start and the goal are the same cell {start}")
    walls = grid.walls.copy()
    walls.setflags(write=False)
    return Puzzle(walls, start, goal)


def parse(source: Any, **hints: Any) -> Puzzle:
    """Read a maze from text, nested lists or a dict; hints `start` and `goal` are (row, col), 0-based.

    Raises ParseError (what was wrong and where) or LimitExceeded (larger than 64x64 or the request byte limit).
    Other hints are ignored.
    """
    hints = {k: v for k, v in hints.items() if k in ("start", "goal") and v is not None}
    return _puzzle_from_grid(_read_grid(source, allow_marks=False, hints=hints), hints)


def looks_like(text: str) -> bool:
    """A grid with wall characters and both a start and a goal marker (for --kind auto)."""
    try:
        rows, _ = _text_rows(_maze_block(text[:MAX_REQUEST_BYTES], allow_marks=False))
    except (ParseError, LimitExceeded):
        return False
    cells = set("".join("".join(row) for row in rows))
    return bool(cells & (WALL_CHARS | {"1"})) and bool(cells & START_CHARS) and bool(cells & GOAL_CHARS) \
        and not cells & set("23456789")  # digits beyond 0/1 mean a Sudoku (whose letters look like S/G/A/F)


# ---------------------------------------------------------------------------------------------------------------
# Solutions


def _neighbours(cell: Cell) -> Iterable[Cell]:
    r, c = cell
    return ((r, c + 1), (r + 1, c), (r, c - 1), (r - 1, c))


def _trace(start: Cell, goal: Cell, marked: set[Cell]) -> tuple[Path, Cell | None]:
    """Follow marked cells from start; returns the path and the cell where it branched (None if it did not)."""
    path, seen = [start], {start}
    while path[-1] != goal:
        steps = [n for n in _neighbours(path[-1]) if n not in seen and (n in marked or n == goal)]
        if goal in steps:
            steps = [goal]
        if len(steps) != 1:
            return path, (path[-1] if steps else None)
        path.append(steps[0])
        seen.add(steps[0])
    return path, None


def parse_solution(puzzle: Puzzle, source: Any) -> Path:
    """A proposed path: a list of [row, col] (JSON or Python literal text too), or the maze drawn with 'o' / '*' on
    the path cells (the drawing's walls must match the puzzle's)."""
    if isinstance(source, str):
        structured = _structured(source)
        if structured is not None:
            source = structured
    if isinstance(source, dict) and "path" in source:
        source = source["path"]
    if isinstance(source, (list, tuple)) and source and all(
            isinstance(step, (list, tuple)) and len(step) == 2 and all(
                isinstance(v, int) and not isinstance(v, bool) for v in step) for step in source):
        if len(source) > MAX_MAZE_SIDE * MAX_MAZE_SIDE:
            raise LimitExceeded(f"the path has {len(source)} cells; a 64x64 maze has at most "
                                f"{MAX_MAZE_SIDE * MAX_MAZE_SIDE}")
        return [(int(r), int(c)) for r, c in source]
    grid = _read_grid(source, allow_marks=True, hints={})
    if grid.walls.shape != puzzle.walls.shape:
        raise _parse_error(f"the solution grid is {grid.walls.shape[0]}x{grid.walls.shape[1]}, "
                           f"the maze is {puzzle.size_label}")
    changed = np.argwhere(grid.walls != puzzle.walls)
    if len(changed):
        cells = ", ".join(f"({r}, {c})" for r, c in changed[:5].tolist())
        raise _parse_error(f"the solution grid's walls differ from the maze's at {len(changed)} cells: {cells} "
                           "(row, col, 0-based)", row=int(changed[0][0]) + 1, column=int(changed[0][1]) + 1)
    for found, expected, what in ((grid.starts, puzzle.start, "start"), (grid.goals, puzzle.goal, "goal")):
        if any(cell != expected for cell in found):
            raise _parse_error(f"the solution grid marks the {what} at {found[0]}, the maze has it at {expected}")
    marked = set(grid.marks)
    path, branch = _trace(puzzle.start, puzzle.goal, marked)
    if branch is not None:
        raise _parse_error(f"the marked path branches at {branch} (row, col, 0-based): more than one next cell; "
                           "give the path as a list of [row, col] instead")
    stray = sorted(marked - set(path))
    if stray:
        cells = ", ".join(f"({r}, {c})" for r, c in stray[:5])
        raise _parse_error(f"{len(stray)} marked cells are not on the path traced from the start "
                           f"(it stops at {path[-1]}): {cells} (row, col, 0-based)")
    return path


def _fmt(cell: Cell) -> str:
    return f"({cell[0]},{cell[1]})"


def verify(puzzle: Puzzle, solution: Path) -> list[Check]:
    """Every rule a shortest-path answer must meet, each located where it fails."""
    path = [(int(r), int(c)) for r, c in solution]
    rows, cols = puzzle.shape
    checks: list[Check] = []

    def add(name: str, failures: list[str], total: int) -> None:
        detail = "; ".join(failures[:3]) + (f"; ... {total - 3} more" if total > 3 else "")
        checks.append(Check(name=name, passed=not failures, detail=detail))

    if not path:
        return [Check(name="path is not empty", passed=False, detail="the path has no cells")]
    add(f"starts at the start {_fmt(puzzle.start)}",
        [] if path[0] == puzzle.start else [f"starts at {_fmt(path[0])}"], 1)
    add(f"ends at the goal {_fmt(puzzle.goal)}",
        [] if path[-1] == puzzle.goal else [f"ends at {_fmt(path[-1])}"], 1)
    outside = [f"step {i} {_fmt(cell)}" for i, cell in enumerate(path)
               if not (0 <= cell[0] < rows and 0 <= cell[1] < cols)]
    add(f"every cell is inside the {puzzle.size_label} maze", outside, len(outside))
    jumps = [f"step {i + 1} {_fmt(a)}->{_fmt(b)} is not a single move"
             for i, (a, b) in enumerate(zip(path, path[1:])) if abs(a[0] - b[0]) + abs(a[1] - b[1]) != 1]
    add("each step moves to a 4-connected neighbour", jumps, len(jumps))
    walled = [f"step {i} {_fmt(cell)} is a wall" for i, cell in enumerate(path)
              if 0 <= cell[0] < rows and 0 <= cell[1] < cols and puzzle.walls[cell]]
    add("only open cells", walled, len(walled))
    first_seen: dict[Cell, int] = {}
    revisits = []
    for i, cell in enumerate(path):
        if cell in first_seen:
            revisits.append(f"{_fmt(cell)} visited at steps {first_seen[cell]} and {i}")
        first_seen.setdefault(cell, i)
    add("no cell visited twice", revisits, len(revisits))
    shortest = int(distance_map(puzzle.walls, puzzle.start)[puzzle.goal])
    moves = len(path) - 1
    if shortest < 0:
        problem = ["the goal cannot be reached from the start, so no path is valid"]
    elif moves > shortest:
        problem = [f"the path has {moves} moves, the shortest has {shortest}"]
    elif moves < shortest:
        problem = [f"the path has {moves} moves, fewer than the shortest possible {shortest}, "
                   "so it breaks another rule"]
    else:
        problem = []
    add("is a shortest path" + (f" ({shortest} moves)" if shortest >= 0 else ""), problem, 1)
    return checks


def solve_exact(puzzle: Puzzle, budget: Budget) -> ExactOutcome:
    result = shortest_path(puzzle.walls, puzzle.start, puzzle.goal, budget)
    return ExactOutcome(status=result.status, solution=result.path, unique=result.unique, nodes=result.nodes,
                        detail=result.detail)


def _runs(path: Path) -> list[tuple[str, int]]:
    runs: list[tuple[str, int]] = []
    for a, b in zip(path, path[1:]):
        move = _MOVES.get((b[0] - a[0], b[1] - a[1]), f"jump to {_fmt(b)}")
        if runs and runs[-1][0] == move and not move.startswith("jump"):
            runs[-1] = (move, runs[-1][1] + 1)
        else:
            runs.append((move, 1))
    return runs


def explain(puzzle: Puzzle, solution: Path) -> list[str]:
    path = [tuple(cell) for cell in solution]
    result = shortest_path(puzzle.walls, puzzle.start, puzzle.goal)
    if result.status != "solved":
        return [f"No path: {result.detail}."]
    if result.unique:
        uniqueness = "the only shortest path"
    else:
        at_least = "at least " if result.shortest_paths >= PATH_COUNT_CAP else ""
        uniqueness = f"one of {at_least}{result.shortest_paths} shortest paths"
    return [
        f"Path from start {_fmt(puzzle.start)} to goal {_fmt(puzzle.goal)} (row, col, 0-based): "
        f"{len(path) - 1} moves, {uniqueness}.",
        "Moves: " + ", ".join(f"{move} {count}" for move, count in _runs(path)) + ".",
        "Cells: " + " ".join(_fmt(cell) for cell in path) + ".",
    ]


def _char_grid(puzzle: Puzzle, solution: Path | None, open_char: str) -> list[list[str]]:
    grid = [["#" if wall else open_char for wall in row] for row in puzzle.walls.tolist()]
    rows, cols = puzzle.shape
    for r, c in solution or []:
        if 0 <= r < rows and 0 <= c < cols and (r, c) not in (puzzle.start, puzzle.goal):
            grid[r][c] = "o"
    grid[puzzle.start[0]][puzzle.start[1]] = "S"
    grid[puzzle.goal[0]][puzzle.goal[1]] = "G"
    return grid


def render_text(puzzle: Puzzle, solution: Path | None = None) -> str:
    """The maze with '#' walls, '.' open cells, 'o' on the path, S and G (readable, and parseable again)."""
    return "\n".join("".join(row) for row in _char_grid(puzzle, solution, "."))


def answer_fields(puzzle: Puzzle, solution: Path | None) -> dict:
    """solution: rows in the reference characters ('#', ' ', 'S', 'G', 'o'); path: [[r, c], ...]."""
    return {
        "solution": None if solution is None else ["".join(row) for row in _char_grid(puzzle, solution, " ")],
        "path": None if solution is None else [[int(r), int(c)] for r, c in solution],
        "rendering": render_text(puzzle, solution),
    }


def render_png(puzzle: Puzzle, solution: Path | None = None) -> bytes:
    from PIL import Image, ImageDraw  # lazily: only pictures need Pillow

    rows, cols = puzzle.shape
    cell = max(6, min(24, 720 // max(rows, cols)))
    image = Image.new("RGB", (cols * cell, rows * cell), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    colours = {"#": (40, 40, 48), "o": (255, 170, 40), "S": (40, 170, 80), "G": (210, 50, 50)}
    for r, row in enumerate(_char_grid(puzzle, solution, ".")):
        for c, ch in enumerate(row):
            if ch in colours:
                box = (c * cell, r * cell, (c + 1) * cell - 1, (r + 1) * cell - 1)
                if ch in "SG":
                    draw.ellipse(box, fill=colours[ch])
                else:
                    draw.rectangle(box, fill=colours[ch])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------------------------
# Tokens (reference layout)


def encode(puzzle: Puzzle) -> np.ndarray:
    tokens = np.where(puzzle.walls, WALL, OPEN).astype(np.int64)
    tokens[puzzle.start] = START
    tokens[puzzle.goal] = GOAL
    return tokens.reshape(-1)


def encode_solution(puzzle: Puzzle, solution: Path) -> np.ndarray:
    tokens = encode(puzzle).reshape(puzzle.shape)
    for cell in solution[1:-1]:
        tokens[tuple(cell)] = ON_PATH
    return tokens.reshape(-1)


def decode(puzzle: Puzzle, tokens: np.ndarray) -> Path | None:
    """The path traced along predicted 'o' cells from the start: ends at the goal when the cells form a path, else
    stops where the trace dead-ends or branches (verify then says where). None when tokens do not fit the maze.
    'o' cells off the traced path are ignored (verify_batch, which checks the whole grid, rejects them)."""
    tokens = np.asarray(tokens)
    if tokens.size != puzzle.shape[0] * puzzle.shape[1]:
        return None
    marked = {(int(r), int(c)) for r, c in np.argwhere(tokens.reshape(puzzle.shape) == ON_PATH)}
    path, _ = _trace(puzzle.start, puzzle.goal, marked)
    return path


def _grid_shape(length: int, shape: tuple[int, int] | None) -> tuple[int, int]:
    """(H, W) of a flat row of `length` tokens: `shape` when given (checked), else the square side."""
    if shape is None:
        side = int(round(length ** 0.5))
        if side * side != length:
            raise ValueError(f"sequence length {length} is not square; pass shape=(H, W)")
        return side, side
    if shape[0] * shape[1] != length:
        raise ValueError(f"shape {shape} does not match sequence length {length}")
    return shape


def follow_arrows(inputs: np.ndarray, arrows: np.ndarray, *, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Path tokens [B, L] from arrow predictions [B, L]: walk from the start along the arrows and mark the cells
    passed. A walk that hits a wall, leaves the grid, revisits a cell or stops before the goal marks nothing (the
    verifier then rejects the row); a walk that reaches the goal is checked for optimality by verify_batch."""
    inputs, arrows = np.asarray(inputs), np.asarray(arrows)
    batch, length = inputs.shape
    rows, cols = _grid_shape(length, shape)
    out = inputs.copy()
    for b in range(batch):
        grid, field = inputs[b].reshape(rows, cols), arrows[b].reshape(rows, cols)
        starts = np.argwhere(grid == START)
        if len(starts) != 1:
            continue
        r, c = (int(v) for v in starts[0])
        visited: list[Cell] = []
        seen = {(r, c)}
        while grid[r, c] != GOAL:
            move = int(field[r, c]) - ARROW_OFFSET
            if not 0 <= move < len(ARROW_MOVES):
                break
            r, c = r + ARROW_MOVES[move][0], c + ARROW_MOVES[move][1]
            if not (0 <= r < rows and 0 <= c < cols) or grid[r, c] not in (OPEN, GOAL) or (r, c) in seen:
                break
            visited.append((r, c))
            seen.add((r, c))
        else:
            for cell in visited[:-1]:
                out[b, cell[0] * cols + cell[1]] = ON_PATH
    return out


class Views:
    """The dihedral transforms that keep a maze's (H, W): all 8 (rotations, then a mirror) of a square, the
    identity, half turn and two mirrors of any other shape. A shortest path stays shortest under each, so a net can
    answer every view, be verified in it, and have the answer turned back; a net that answers with arrows has
    their moves turned back as well. (See solvers.neural.engine.Views.)"""

    def __init__(self, shape: tuple[int, int], *, arrows: bool = False) -> None:
        self.shape = shape
        self.arrows = arrows
        self.transforms = tuple(range(8)) if shape[0] == shape[1] else (0, 2, 4, 6)
        self.count = len(self.transforms)

    def apply(self, tokens: np.ndarray, view: int) -> np.ndarray:
        return _dihedral(np.asarray(tokens), self.shape, self.transforms[view])

    def undo(self, predictions: np.ndarray, view: int) -> np.ndarray:
        transform = self.transforms[view]
        inverse = (4 - transform) % 4 if transform < 4 else transform  # a mirror undoes itself
        out = _dihedral(np.asarray(predictions), self.shape, inverse)
        if self.arrows:
            moves = np.array([ARROW_MOVES.index(_turn(move, inverse)) for move in ARROW_MOVES])
            is_move = (out >= ARROW_OFFSET) & (out < ARROW_OFFSET + len(ARROW_MOVES))
            out = np.where(is_move, ARROW_OFFSET + moves[np.clip(out - ARROW_OFFSET, 0, len(moves) - 1)], out)
        return out


def views(shape: tuple[int, int], *, arrows: bool = False) -> Views:
    return Views(tuple(shape), arrows=arrows)


def _dihedral(tokens: np.ndarray, shape: tuple[int, int], transform: int) -> np.ndarray:
    """augment.dihedral (the training augmentation) of flat grids [B, H*W]."""
    return dihedral(tokens.reshape(-1, *shape), transform).reshape(len(tokens), -1)


def _turn(move: tuple[int, int], transform: int) -> tuple[int, int]:
    """Where a move (dr, dc) points after `dihedral(transform)`: np.rot90 takes (dr, dc) to (-dc, dr)."""
    dr, dc = move
    for _ in range(transform % 4):
        dr, dc = -dc, dr
    return (dr, -dc) if transform >= 4 else (dr, dc)


def _neighbour_count(mask: np.ndarray) -> np.ndarray:
    """For [B, H, W] bool: how many of each cell's four neighbours are set."""
    padded = np.pad(mask, ((0, 0), (1, 1), (1, 1))).astype(np.int8)
    return padded[:, :-2, 1:-1] + padded[:, 2:, 1:-1] + padded[:, 1:-1, :-2] + padded[:, 1:-1, 2:]


def _batch_distances(passable: np.ndarray, start: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """BFS by repeated dilation for a whole batch: moves from start to goal per maze, -1 if unreachable."""
    reached = start.copy()
    dist = np.full(len(start), -1, dtype=np.int64)
    dist[goal.any(axis=(1, 2)) & (reached & goal).any(axis=(1, 2))] = 0
    active = dist < 0
    step = 0
    while active.any():
        step += 1
        grown = reached | (_neighbour_count(reached) > 0) & passable
        changed = (grown != reached).any(axis=(1, 2))
        reached = grown
        hit = active & (reached & goal).any(axis=(1, 2))
        dist[hit] = step
        active &= ~hit & changed
    return dist


def verify_batch(inputs: np.ndarray, predictions: np.ndarray, *, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Per row of [B, L] tokens: the predicted 'o' cells form a shortest S->G path; walls, S, G and pad unchanged.

    `shape` is the maze's (H, W) with H*W = L; inferred when L is a perfect square."""
    inputs, predictions = np.asarray(inputs), np.asarray(predictions)
    if inputs.shape != predictions.shape or inputs.ndim != 2:
        raise ValueError(f"inputs {inputs.shape} and predictions {predictions.shape} must both be [B, L]")
    batch, length = inputs.shape
    shape = _grid_shape(length, shape)
    grid = inputs.reshape(batch, *shape)
    pred = predictions.reshape(batch, *shape)
    is_open = grid == OPEN
    ok = np.where(is_open, (pred == OPEN) | (pred == ON_PATH), pred == grid).all(axis=(1, 2))
    start, goal = grid == START, grid == GOAL
    ok &= (start.sum(axis=(1, 2)) == 1) & (goal.sum(axis=(1, 2)) == 1) & ((grid >= PAD) & (grid <= GOAL)).all((1, 2))
    on_path = (pred == ON_PATH) & is_open
    degree = _neighbour_count(on_path | start | goal)
    ok &= np.where(on_path, degree == 2, True).all(axis=(1, 2))
    ok &= np.where(start | goal, degree == 1, True).all(axis=(1, 2))
    # With those degrees the start's component is a path ending at the goal; if it holds every 'o' cell and has
    # the BFS length, it is a shortest path and nothing else is marked.
    dist = _batch_distances(is_open | start | goal, start, goal)
    ok &= (dist > 0) & (on_path.sum(axis=(1, 2)) == dist - 1)
    return ok


def verify_arrows_batch(inputs: np.ndarray, arrows: np.ndarray, *, shape: tuple[int, int] | None = None) -> np.ndarray:
    """verify_batch for a model that answers with arrows: follow them from the start, then check the path."""
    return verify_batch(inputs, follow_arrows(inputs, arrows, shape=shape), shape=shape)
