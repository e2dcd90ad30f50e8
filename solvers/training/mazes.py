"""Maze generation for training and evaluation, in the reference token layout.

Tokens: 0 pad, 1 wall `#`, 2 open, 3 start `S`, 4 goal `G`, 5 path `o`. A maze smaller than the canvas sits at the
top-left and the rest is pad, which the models treat like the outside of the grid.

Two styles:
- "random": independent walls with a density drawn from a range (the Searchformer-style mazes of shared/data),
  start and goal on open cells, kept when the shortest path is at least `min_path` moves long;
- "perfect": a depth-first carved maze (exactly one path between any two cells).

Two label styles:
- "path": the input with ONE canonical shortest path marked: from the start, always step to the first neighbour (up,
  down, left, right) that is one move closer to the goal;
- "arrows": every passable cell that can reach the goal holds its next move on such a path (token ARROW_OFFSET + the
  index of the move in MOVES); the goal and cut-off cells hold STAY; walls and pad are not supervised. An arrow needs
  only the breadth-first wave from the goal, which a convolutional net can spread one cell at a time, so it is the
  learnable target for mazes larger than any seen in training; following the arrows from S gives the canonical path.
Mazes may have other shortest paths of the same length; evaluation therefore checks optimality by length (see
`is_shortest_path`).

`wave_horizon_labels` gives each deep-supervision step the arrows a wave from the goal moving a fixed number of cells
per step has reached; the arrows beyond it are either hidden (the net is never asked to guess an arrow it has no way
to know) or labelled STAY (the net must show exactly how far breadth-first search has got, a clock that holds at
any distance).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:  # torch is imported where it is used: the maze kind imports this module on the exact path
    import torch

PAD, WALL, OPEN, START, GOAL, PATH = 0, 1, 2, 3, 4, 5
VOCAB_SIZE = 6
CHARS = {WALL: "#", OPEN: " ", START: "S", GOAL: "G", PATH: "o"}
TOKENS = {char: token for token, char in CHARS.items()}
MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1))  # up, down, left, right: the canonical tie-break order
UNREACHED = -1
STAY, ARROW_OFFSET = 1, 2  # arrow labels (the maze kind imports these to follow arrows)

MazeStyle = Literal["random", "perfect"]
LabelStyle = Literal["path", "arrows"]


@dataclass(frozen=True)
class MazeSpec:
    """What to generate: side lengths drawn from [min_side, max_side], placed on a canvas of `canvas` cells a side."""

    min_side: int
    max_side: int
    canvas: int
    style: MazeStyle = "random"
    wall_density: tuple[float, float] = (0.3, 0.5)
    min_path: int | None = None  # None: the maze's side length
    unique_path: bool = False  # keep only mazes whose shortest path is unique
    labels: LabelStyle = "path"

    def __post_init__(self) -> None:
        if not 2 <= self.min_side <= self.max_side <= self.canvas:
            raise ValueError(f"need 2 <= min_side <= max_side <= canvas, got {self.min_side}, {self.max_side}, "
                             f"{self.canvas}")


def distances(grid: np.ndarray, source: tuple[int, int]) -> np.ndarray:
    """Breadth-first move counts from `source` over non-wall, non-pad cells (UNREACHED elsewhere)."""
    rows, cols = grid.shape
    dist = np.full(grid.shape, UNREACHED, dtype=np.int32)
    dist[source] = 0
    frontier = deque([source])
    passable = (grid != WALL) & (grid != PAD)
    while frontier:
        r, c = frontier.popleft()
        step = dist[r, c] + 1
        for dr, dc in MOVES:
            nr, nc = r + dr, c + dc
            if 0 <= nr < rows and 0 <= nc < cols and passable[nr, nc] and dist[nr, nc] == UNREACHED:
                dist[nr, nc] = step
                frontier.append((nr, nc))
    return dist


def canonical_path(grid: np.ndarray) -> list[tuple[int, int]] | None:
    """The canonical shortest path from S to G (both included), or None when G is unreachable."""
    start = tuple(int(v) for v in np.argwhere(grid == START)[0])
    goal = tuple(int(v) for v in np.argwhere(grid == GOAL)[0])
    to_goal = distances(grid, goal)
    if to_goal[start] == UNREACHED:
        return None
    path = [start]
    r, c = start
    while (r, c) != goal:
        want = to_goal[r, c] - 1
        for dr, dc in MOVES:
            nr, nc = r + dr, c + dc
            if 0 <= nr < grid.shape[0] and 0 <= nc < grid.shape[1] and to_goal[nr, nc] == want:
                r, c = nr, nc
                break
        path.append((r, c))
    return path


def count_shortest_paths(grid: np.ndarray, limit: int = 2) -> int:
    """Number of distinct shortest S-G paths, counted up to `limit` (0 when unreachable)."""
    start = tuple(int(v) for v in np.argwhere(grid == START)[0])
    goal = tuple(int(v) for v in np.argwhere(grid == GOAL)[0])
    from_start = distances(grid, start)
    if from_start[goal] == UNREACHED:
        return 0
    ways = np.zeros(grid.shape, dtype=np.int64)
    ways[start] = 1
    order = np.argwhere(from_start > 0)
    order = order[np.argsort(from_start[tuple(order.T)], kind="stable")]
    for r, c in order:
        d = from_start[r, c]
        total = 0
        for dr, dc in MOVES:
            nr, nc = r + dr, c + dc
            if 0 <= nr < grid.shape[0] and 0 <= nc < grid.shape[1] and from_start[nr, nc] == d - 1:
                total += ways[nr, nc]
        ways[r, c] = min(total, limit)
    return int(ways[goal])


def labels_of(grid: np.ndarray, style: LabelStyle) -> np.ndarray:
    """The label grid of a solvable maze: the input with the canonical path's inner cells marked PATH, or arrows."""
    if style == "arrows":
        return arrow_labels(grid)
    path = canonical_path(grid)
    if path is None:
        raise ValueError("the goal cannot be reached from the start")
    label = grid.copy()
    for cell in path[1:-1]:
        label[cell] = PATH
    return label


def arrow_labels(grid: np.ndarray) -> np.ndarray:
    """Arrow label grid (see the module docstring): works on a canvas with pad, which is left unsupervised."""
    goal = tuple(int(v) for v in np.argwhere(grid == GOAL)[0])
    to_goal = distances(grid, goal)
    labels = np.where((grid == WALL) | (grid == PAD), 0, STAY).astype(np.int64)
    padded = np.pad(to_goal, 1, constant_values=UNREACHED)
    rows, cols = grid.shape
    undecided = to_goal > 0
    for index, (dr, dc) in enumerate(MOVES):  # the first move one step closer wins, as in canonical_path
        neighbour = padded[1 + dr:1 + dr + rows, 1 + dc:1 + dc + cols]
        closer = undecided & (neighbour == to_goal - 1)
        labels[closer] = ARROW_OFFSET + index
        undecided &= ~closer
    return labels


WaveBeyond = Literal["hide", "stay"]


def wave_horizon_labels(inputs: torch.Tensor, labels: torch.Tensor, horizon: torch.Tensor,
                        grid_shape: tuple[int, int], beyond: WaveBeyond = "hide") -> torch.Tensor:
    """Arrow labels [B, L] with every arrow more than `horizon` [B] moves from the goal set to pad (unsupervised,
    "hide") or to STAY ("stay": not reached yet).

    STAY labels stay: the goal knows itself, and a cut-off cell is never reached, so "not reached yet" reads STAY.
    """
    import torch

    grid = inputs.view(-1, *grid_shape)
    passable = (grid != WALL) & (grid != PAD)
    reached = grid == GOAL
    limit = horizon.view(-1, 1, 1)
    for moves in range(1, int(horizon.max()) + 1):
        front = torch.zeros_like(reached)  # one breadth-first step: passable cells next to a reached one
        front[:, 1:] |= reached[:, :-1]
        front[:, :-1] |= reached[:, 1:]
        front[:, :, 1:] |= reached[:, :, :-1]
        front[:, :, :-1] |= reached[:, :, 1:]
        grown = reached | (front & passable & (limit >= moves))
        if torch.equal(grown, reached):
            break
        reached = grown
    hidden = ~reached.view_as(labels) & (labels >= ARROW_OFFSET)
    return labels.masked_fill(hidden, PAD if beyond == "hide" else STAY)


def is_shortest_path(grid: np.ndarray, prediction: np.ndarray) -> bool:
    """True when `prediction` keeps every input cell and marks exactly one shortest S-G path with PATH tokens."""
    marked = prediction == PATH
    if not np.array_equal(np.where(marked, OPEN, prediction), grid) or marked[grid != OPEN].any():
        return False
    start = tuple(int(v) for v in np.argwhere(grid == START)[0])
    goal = tuple(int(v) for v in np.argwhere(grid == GOAL)[0])
    shortest = distances(grid, goal)[start]
    if shortest == UNREACHED or int(marked.sum()) != shortest - 1:
        return False
    corridor = np.where(marked | (grid == START) | (grid == GOAL), OPEN, WALL).astype(grid.dtype)
    corridor[start], corridor[goal] = START, GOAL
    return int(distances(corridor, start)[goal]) == shortest


def _random_walls(rng: np.random.Generator, side: int, density_range: tuple[float, float]) -> np.ndarray:
    density = rng.uniform(*density_range)
    return np.where(rng.random((side, side)) < density, WALL, OPEN).astype(np.int64)


def _perfect_maze(rng: np.random.Generator, side: int) -> np.ndarray:
    """Depth-first carved maze on the odd cells of a side x side grid (walls on a lattice between rooms)."""
    grid = np.full((side, side), WALL, dtype=np.int64)
    rooms = [(r, c) for r in range(0, side, 2) for c in range(0, side, 2)]
    first = rooms[rng.integers(len(rooms))]
    grid[first] = OPEN
    stack = [first]
    while stack:
        r, c = stack[-1]
        options = [(r + 2 * dr, c + 2 * dc, r + dr, c + dc) for dr, dc in MOVES
                   if 0 <= r + 2 * dr < side and 0 <= c + 2 * dc < side and grid[r + 2 * dr, c + 2 * dc] == WALL]
        if not options:
            stack.pop()
            continue
        nr, nc, wr, wc = options[rng.integers(len(options))]
        grid[wr, wc] = grid[nr, nc] = OPEN
        stack.append((nr, nc))
    return grid


def generate_maze(rng: np.random.Generator, spec: MazeSpec, max_tries: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """One (input, label) pair of canvas x canvas token grids, drawn until it meets the spec's filters."""
    for _ in range(max_tries):
        side = int(rng.integers(spec.min_side, spec.max_side + 1))
        grid = _perfect_maze(rng, side) if spec.style == "perfect" else _random_walls(rng, side, spec.wall_density)
        open_cells = np.argwhere(grid == OPEN)
        if len(open_cells) < 2:
            continue
        start, goal = rng.choice(len(open_cells), size=2, replace=False)
        grid[tuple(open_cells[start])] = START
        grid[tuple(open_cells[goal])] = GOAL
        path = canonical_path(grid)
        min_path = side if spec.min_path is None else spec.min_path
        if path is None or len(path) - 1 < min_path:
            continue
        if spec.unique_path and count_shortest_paths(grid) != 1:
            continue
        inputs = np.zeros((spec.canvas, spec.canvas), dtype=np.int64)
        inputs[:side, :side] = grid
        return inputs, labels_of(inputs, spec.labels)
    raise RuntimeError(f"no maze met the filters in {max_tries} tries; relax min_path or unique_path")


def generate_mazes(rng: np.random.Generator, spec: MazeSpec, count: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` examples as flat token arrays [count, canvas * canvas] (inputs, labels)."""
    pairs = [generate_maze(rng, spec) for _ in range(count)]
    inputs = np.stack([p[0].reshape(-1) for p in pairs])
    labels = np.stack([p[1].reshape(-1) for p in pairs])
    return inputs, labels


def parse_rows(text: str, side: int | None = None) -> np.ndarray:
    """Tokens of a maze written in the reference characters (a flat string of side*side chars, or lines)."""
    if "\n" in text:
        rows = text.split("\n")
    else:
        side = side or int(round(len(text) ** 0.5))
        if side * side != len(text):
            raise ValueError(f"a flat maze string must hold side*side characters, got {len(text)}")
        rows = [text[i * side:(i + 1) * side] for i in range(side)]
    try:
        return np.array([[TOKENS[ch] for ch in row] for row in rows], dtype=np.int64)
    except KeyError as error:
        raise ValueError(f"unexpected maze character {error.args[0]!r}; expected one of '# SGo'") from None
