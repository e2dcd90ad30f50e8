"""Exact maze solving: breadth-first search on a boolean wall grid.

Pure data in, pure data out: `walls` is a 2-D numpy bool array (True = wall), cells are (row, col), 0-based.
One BFS gives the shortest distance, a shortest path (chosen to turn as little as greedily possible), and the
number of distinct shortest paths (layer counting: paths(v) = sum of paths(u) over neighbours u one layer closer),
capped so the count stays cheap on open grids where it grows exponentially.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np

from recursive_tools.solvers.budget import Budget

Cell = tuple[int, int]
MazeStatus = Literal["solved", "no_solution", "gave_up"]

PATH_COUNT_CAP = 1_000_000  # "at least this many shortest paths"; uniqueness only needs 2
_BUDGET_CHECK_EVERY = 1024  # cells expanded between budget checks


@dataclass(frozen=True)
class MazeSolution:
    status: MazeStatus
    path: list[Cell] | None = None  # start .. goal inclusive
    length: int | None = None  # moves on a shortest path (len(path) - 1)
    shortest_paths: int | None = None  # distinct shortest paths, at most PATH_COUNT_CAP
    unique: bool | None = None
    nodes: int = 0  # cells expanded
    detail: str = ""


@dataclass
class _Search:
    width: int  # padded width: the grid gets a one-cell wall border so neighbours need no bounds checks
    passable: list[bool]
    dist: list[int]
    paths: list[int]
    nodes: int
    stopped: str | None  # budget reason when the search ended early


def _check_cell(walls: np.ndarray, cell: Cell, what: str) -> None:
    rows, cols = walls.shape
    r, c = cell
    if not (0 <= r < rows and 0 <= c < cols):
        raise ValueError(f"{what} {cell} is outside the {rows}x{cols} grid")
    if walls[r, c]:
        raise ValueError(f"{what} {cell} is a wall")


def _bfs(walls: np.ndarray, source: Cell, target: Cell | None, budget: Budget | None,
         count_cap: int) -> _Search:
    walls = np.asarray(walls, dtype=bool)
    if walls.ndim != 2:
        raise ValueError(f"walls must be a 2-D array, got shape {walls.shape}")
    _check_cell(walls, source, "source")
    width = walls.shape[1] + 2
    passable = np.pad(~walls, 1, constant_values=False).ravel().tolist()
    size = len(passable)
    dist = [-1] * size
    paths = [0] * size
    start = (source[0] + 1) * width + source[1] + 1
    goal = -1 if target is None else (target[0] + 1) * width + target[1] + 1
    dist[start], paths[start] = 0, 1
    offsets = (1, width, -1, -width)
    queue = deque([start])
    goal_dist = 0 if start == goal else -1
    nodes = 0
    while queue:
        u = queue.popleft()
        du = dist[u]
        if goal_dist >= 0 and du >= goal_dist:
            break  # every predecessor of the goal is expanded, so its path count is final
        nodes += 1
        if budget is not None and nodes % _BUDGET_CHECK_EVERY == 0:
            reason = budget.exhausted(nodes)
            if reason is not None:
                return _Search(width, passable, dist, paths, nodes, reason)
        pu, dn = paths[u], du + 1
        for offset in offsets:
            v = u + offset
            if passable[v]:
                dv = dist[v]
                if dv < 0:
                    dist[v], paths[v] = dn, pu
                    queue.append(v)
                    if v == goal:
                        goal_dist = dn
                elif dv == dn:
                    paths[v] = min(paths[v] + pu, count_cap)
    return _Search(width, passable, dist, paths, nodes, None)


def distance_map(walls: np.ndarray, source: Cell) -> np.ndarray:
    """BFS distance in moves from `source` to every cell: int32 [rows, cols], -1 for walls and unreachable cells."""
    search = _bfs(walls, source, None, None, PATH_COUNT_CAP)
    rows, cols = np.asarray(walls).shape
    return np.asarray(search.dist, dtype=np.int32).reshape(rows + 2, cols + 2)[1:-1, 1:-1].copy()


def _trace_back(search: _Search, goal: int) -> list[Cell]:
    """A shortest path, walked back from the goal, keeping the current direction whenever that stays shortest."""
    width, dist = search.width, search.dist
    offsets = (1, width, -1, -width)
    cells = [goal]
    heading = 0
    u = goal
    while dist[u] > 0:
        want = dist[u] - 1
        order = (heading,) + tuple(o for o in offsets if o != heading)
        heading = next(o for o in order if o and search.passable[u + o] and dist[u + o] == want)
        u += heading
        cells.append(u)
    cells.reverse()
    return [(index // width - 1, index % width - 1) for index in cells]


def shortest_path(walls: np.ndarray, start: Cell, goal: Cell, budget: Budget | None = None, *,
                  count_cap: int = PATH_COUNT_CAP) -> MazeSolution:
    """Shortest 4-connected path from start to goal through open cells, with a count of shortest paths.

    Raises ValueError when walls is not 2-D or start/goal lie outside the grid or on a wall (callers validate first).
    """
    walls = np.asarray(walls, dtype=bool)
    start, goal = (int(start[0]), int(start[1])), (int(goal[0]), int(goal[1]))
    _check_cell(walls, goal, "goal")
    search = _bfs(walls, start, goal, budget, max(2, count_cap))
    if search.stopped is not None:
        return MazeSolution("gave_up", nodes=search.nodes,
                            detail=f"search stopped ({search.stopped}) after expanding {search.nodes} cells")
    goal_index = (goal[0] + 1) * search.width + goal[1] + 1
    length = search.dist[goal_index]
    if length < 0:
        return MazeSolution("no_solution", nodes=search.nodes,
                            detail=f"the goal {goal} cannot be reached from the start {start}: "
                                   f"only {search.nodes} open cells are connected to the start")
    count = search.paths[goal_index]
    capped = "at least " if count >= count_cap else ""
    detail = ("the shortest path is unique" if count == 1
              else f"{capped}{count} different shortest paths of {length} moves")
    return MazeSolution("solved", _trace_back(search, goal_index), length, count, count == 1, search.nodes, detail)
