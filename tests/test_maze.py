"""Maze kind and exact BFS solver: parse formats and errors, verification, BFS vs brute force, tokens; and the shipped
maze net on mazes larger than its training ones."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recursive_tools.errors import LimitExceeded, ParseError
from recursive_tools.kinds import detect_kind, maze
from recursive_tools.solvers.budget import Budget
from recursive_tools.solvers.exact.maze import distance_map, shortest_path

DATA = Path(__file__).parent / "data" / "maze30_sample.csv"

SMALL = """\
#######
#S..#.#
#.#.#.#
#.#...#
#...#G#
#######
"""


def reference_rows() -> list[dict]:
    with DATA.open(newline="") as handle:
        return list(csv.DictReader(handle))


def as_rows(flat: str, width: int = 30) -> list[str]:
    return [flat[i:i + width] for i in range(0, len(flat), width)]


def all_checks_pass(puzzle: maze.Puzzle, path) -> bool:
    return all(c.passed for c in maze.verify(puzzle, path))


# ---------------------------------------------------------------------------------------------------------------
# Parsing: formats


def test_parse_hash_art():
    puzzle = maze.parse(SMALL)
    assert puzzle.shape == (6, 7) and puzzle.size_label == "6x7"
    assert puzzle.start == (1, 1) and puzzle.goal == (4, 5)
    assert puzzle.walls[0].all() and not puzzle.walls[1, 2]


def test_parse_block_characters_and_letter_markers():
    art = "█████\n█A░░█\n█▓█░█\n█░░E█\n█████"
    puzzle = maze.parse(art)
    assert puzzle.start == (1, 1) and puzzle.goal == (3, 3)
    assert puzzle.walls[2, 2] and puzzle.walls[2, 1] and not puzzle.walls[1, 2]


def test_parse_lowercase_markers_and_finish():
    puzzle = maze.parse("#####\n#s.f#\n#####")
    assert puzzle.start == (1, 1) and puzzle.goal == (1, 3)


def test_parse_prose_and_code_fence():
    text = f"Please find the shortest route:\n\n```text\n{SMALL}```\nThanks! S is the start, G the goal."
    assert maze.parse(text).start == (1, 1)


def test_parse_markdown_indented_dot_maze():
    text = "Maze:\n\n" + "\n".join("    " + line for line in SMALL.splitlines())
    assert maze.parse(text).shape == (6, 7)


def test_parse_space_open_with_trimmed_trailing_spaces():
    # Reference character set with no border: trailing spaces trimmed by an editor are padded back as open cells.
    row = reference_rows()[0]
    rows = as_rows(row["question"])
    trimmed = "\n".join(line.rstrip() for line in rows)
    puzzle = maze.parse(trimmed)
    assert puzzle.shape == (30, 30)
    assert (puzzle.walls == (np.array([list(r) for r in rows]) == "#")).all()


def test_parse_interior_blank_row_is_open_when_spaces_are_cells():
    puzzle = maze.parse("# S #\n\n# G #")
    assert puzzle.shape == (3, 5) and not puzzle.walls[1].any()


def test_parse_ragged_dot_rows_is_an_error():
    with pytest.raises(ParseError, match=r"row 3 .*has 6 cells, expected 7"):
        maze.parse("#######\n#S....#\n#....#\n#....G#\n#######")


def test_parse_zero_one_text_with_coordinates():
    puzzle = maze.parse("0 1 0\n0 1 0\n0 0 0", start=(0, 0), goal=[0, 2])
    assert puzzle.walls.tolist() == [[False, True, False]] * 2 + [[False] * 3]
    assert maze.parse("010\n010\n000", start="0,0", goal="(0, 2)").goal == (0, 2)
    assert maze.parse("0,1,0\n0,1,0\n0,0,0", start=(0, 0), goal=(0, 2)).shape == (3, 3)


def test_parse_zero_one_with_markers():
    puzzle = maze.parse("S 1 0\n0 1 G\n0 0 0")
    assert puzzle.start == (0, 0) and puzzle.goal == (1, 2)


def test_parse_json_nested_lists_and_dict():
    grid = [[0, 1, 0], [0, 1, 0], [0, 0, 0]]
    assert maze.parse(json.dumps(grid), start=(0, 0), goal=(0, 2)).shape == (3, 3)
    assert maze.parse(grid, start=(0, 0), goal=(0, 2)).shape == (3, 3)
    assert maze.parse({"maze": grid, "start": [0, 0], "end": [0, 2]}).goal == (0, 2)
    assert maze.parse([["S", "#"], [" ", "G"]]).goal == (1, 1)
    assert maze.parse(["S#", " G"]).start == (0, 0)
    assert maze.parse("Here it is: [[0, 1], [0, 0]] thanks", start=(0, 0), goal=(1, 1)).shape == (2, 2)


# ---------------------------------------------------------------------------------------------------------------
# Parsing: errors


@pytest.mark.parametrize("text, message", [
    ("#####\n#S..#\n#####", r"no goal found.*goal=\[row, col\]"),
    ("#####\n#..G#\n#####", r"no start found"),
    ("#####\n#S.S#\n#G..#\n#####", r"2 start markers .*\(1, 1\), \(1, 3\)"),
    ("#####\n#S.G#\n#.G.#\n#####", r"2 goal markers"),
    ("#####\n#S?G#\n#..x#\n#####", r"row 2 \(line 2\): characters not understood: '\?' \(column 3\)"),
    ("hello there", r"no maze found"),
    ("", r"no maze found"),
])
def test_parse_errors_say_what_and_where(text, message):
    with pytest.raises(ParseError, match=message):
        maze.parse(text)


def test_parse_coordinate_errors():
    grid = "0 1\n0 0"
    with pytest.raises(ParseError, match=r"start \(5, 0\) is outside the 2x2 maze"):
        maze.parse(grid, start=(5, 0), goal=(1, 1))
    with pytest.raises(ParseError, match=r"goal \(0, 1\) is a wall"):
        maze.parse(grid, start=(0, 0), goal=(0, 1))
    with pytest.raises(ParseError, match=r"start must be \[row, col\]"):
        maze.parse(grid, start="top left", goal=(1, 1))
    with pytest.raises(ParseError, match="given twice"):
        maze.parse(SMALL, start=(2, 1))
    with pytest.raises(ParseError, match="same cell"):
        maze.parse(grid, start=(0, 0), goal=(0, 0))
    with pytest.raises(ParseError, match=r"row 2 has 3 cells, expected 2"):
        maze.parse([[0, 1], [0, 0, 0]], start=(0, 0), goal=(1, 1))
    with pytest.raises(ParseError, match="is not 0 \\(open\\) or 1 \\(wall\\)"):
        maze.parse([[0, 7], [0, 0]], start=(0, 0), goal=(1, 1))


def test_parse_size_limits():
    with pytest.raises(LimitExceeded, match="65x65; the largest accepted is 64x64"):
        maze.parse("\n".join(["S" + "." * 64] + ["#" * 65] * 63 + ["G" + "." * 64]))
    assert maze.parse("\n".join(["S" + "." * 63] + ["." * 63 + "#"] * 62 + ["." * 63 + "G"])).shape == (64, 64)
    with pytest.raises(LimitExceeded):
        maze.parse("#" * 70_000)


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.text(alphabet=st.sampled_from(list("#. SGAEFo01\n,[]█░x?{}\"")), max_size=200),
    st.text(max_size=100),
    st.recursive(st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=3),
                 lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.sampled_from(
                     ["maze", "grid", "start", "goal", "x"]), inner, max_size=3), max_leaves=30),
))
def test_parse_raises_only_parse_errors(source):
    try:
        puzzle = maze.parse(source)
    except (ParseError, LimitExceeded):
        return
    assert puzzle.walls.ndim == 2 and not puzzle.walls[puzzle.start] and not puzzle.walls[puzzle.goal]


def test_looks_like():
    assert maze.looks_like(SMALL)
    assert maze.looks_like("Solve:\n```\n" + SMALL + "```")
    assert not maze.looks_like("53..7....\n6..195...\n.98....6.")
    assert not maze.looks_like("Please solve my puzzle")
    assert detect_kind(SMALL) == "maze"


# ---------------------------------------------------------------------------------------------------------------
# Solver


def brute_force_shortest(walls: np.ndarray, start, goal) -> tuple[int, int]:
    """(moves, number of shortest paths) by exhaustive simple-path enumeration; (-1, 0) if unreachable."""
    rows, cols = walls.shape
    best, count = -1, 0

    def walk(cell, seen):
        nonlocal best, count
        if cell == goal:
            moves = len(seen) - 1
            if best < 0 or moves < best:
                best, count = moves, 1
            elif moves == best:
                count += 1
            return
        r, c = cell
        for n in ((r, c + 1), (r + 1, c), (r, c - 1), (r - 1, c)):
            if 0 <= n[0] < rows and 0 <= n[1] < cols and not walls[n] and n not in seen:
                seen.add(n)
                walk(n, seen)
                seen.remove(n)

    walk(start, {start})
    return best, count


def test_bfs_matches_brute_force_on_random_small_mazes():
    rng = np.random.default_rng(1)
    for _ in range(150):
        rows, cols = rng.integers(2, 5, size=2)
        walls = rng.random((rows, cols)) < 0.3
        open_cells = [tuple(map(int, c)) for c in np.argwhere(~walls)]
        if len(open_cells) < 2:
            continue
        i, j = rng.choice(len(open_cells), size=2, replace=False)
        start, goal = open_cells[i], open_cells[j]
        moves, count = brute_force_shortest(walls, start, goal)
        result = shortest_path(walls, start, goal)
        if moves < 0:
            assert result.status == "no_solution" and result.path is None
            continue
        assert result.status == "solved" and result.length == moves and result.shortest_paths == count
        assert result.unique == (count == 1)
        puzzle = maze.Puzzle(walls, start, goal)
        assert all_checks_pass(puzzle, result.path)
        assert distance_map(walls, start)[goal] == moves


def test_unique_flag_and_unreachable_goal():
    corridor = maze.parse("#####\n#S.G#\n#####")
    outcome = maze.solve_exact(corridor, Budget.of(1))
    assert outcome.status == "solved" and outcome.unique is True and outcome.solution == [(1, 1), (1, 2), (1, 3)]
    square = maze.parse("S 0\n0 G")
    outcome = maze.solve_exact(square, Budget.of(1))
    assert outcome.unique is False and "2 different shortest paths" in outcome.detail
    walled = maze.parse("#####\n#S#G#\n#####")
    outcome = maze.solve_exact(walled, Budget.of(1))
    assert outcome.status == "no_solution" and outcome.solution is None and "cannot be reached" in outcome.detail
    assert not maze.verify(walled, [(1, 1), (1, 2), (1, 3)])[-1].passed


def test_budget_cancel_gives_up():
    budget = Budget.of(10)
    budget.cancel.set()
    result = shortest_path(np.zeros((64, 64), bool), (0, 0), (63, 63), budget)
    assert result.status == "gave_up" and "cancelled" in result.detail


def test_open_grid_path_count_is_capped_and_fast():
    import time

    started = time.perf_counter()
    result = shortest_path(np.zeros((64, 64), bool), (0, 0), (63, 63))
    assert time.perf_counter() - started < 0.1
    assert result.length == 126 and not result.unique and "at least" in result.detail


def test_reference_file_ratings_and_answers():
    for row in reference_rows():
        puzzle = maze.parse("\n".join(as_rows(row["question"])))
        outcome = maze.solve_exact(puzzle, Budget.of(5))
        assert len(outcome.solution) - 1 == int(row["rating"])
        count = int(row["source"].split("n_shortest_paths=")[1])
        assert outcome.unique == (count == 1)
        answer_art = "\n".join(as_rows(row["answer"]))
        path = maze.parse_solution(puzzle, answer_art)
        assert all_checks_pass(puzzle, path)
        # our answer in the reference characters is parseable back to the same path
        ours = maze.answer_fields(puzzle, outcome.solution)["solution"]
        assert maze.parse_solution(puzzle, "\n".join(ours)) == outcome.solution


# ---------------------------------------------------------------------------------------------------------------
# Verification


def test_verify_locates_failures():
    puzzle = maze.parse(SMALL)
    good = maze.solve_exact(puzzle, Budget.of(1)).solution
    checks = maze.verify(puzzle, good)
    assert all(c.passed for c in checks) and len(checks) == 7

    def failing(path) -> dict[str, str]:
        return {c.name: c.detail for c in maze.verify(puzzle, path) if not c.passed}

    jump = good[:3] + good[4:]
    failed = failing(jump)
    assert any("step 3 " in d and "is not a single move" in d for d in failed.values())
    assert any(name.startswith("is a shortest path") for name in failed)
    through_wall = [(1, 1), (2, 1), (2, 2), (2, 3)]
    failed = failing(through_wall)
    assert failed["only open cells"] == "step 2 (2,2) is a wall"
    assert "ends at (2,3)" in failed["ends at the goal (4,5)"]
    detour = [(1, 1), (1, 2), (1, 1), (2, 1), (3, 1), (4, 1), (4, 2), (4, 3), (3, 3), (3, 4), (3, 5), (4, 5)]
    failed = failing(detour)
    assert failed["no cell visited twice"] == "(1,1) visited at steps 0 and 2"
    assert "the path has 11 moves, the shortest has 7" in failed["is a shortest path (7 moves)"]
    assert "starts at (9,9)" in failing([(9, 9)] + good)["starts at the start (1,1)"]
    assert "step 0 (9,9)" in failing([(9, 9)] + good)["every cell is inside the 6x7 maze"]
    assert not maze.verify(puzzle, [])[0].passed


def test_parse_solution_formats_and_errors():
    puzzle = maze.parse(SMALL)
    good = maze.solve_exact(puzzle, Budget.of(1)).solution
    as_list = [list(cell) for cell in good]
    assert maze.parse_solution(puzzle, as_list) == good
    assert maze.parse_solution(puzzle, json.dumps(as_list)) == good
    assert maze.parse_solution(puzzle, {"path": as_list}) == good
    assert maze.parse_solution(puzzle, maze.render_text(puzzle, good)) == good
    starred = maze.render_text(puzzle, good).replace("o", "*")
    assert maze.parse_solution(puzzle, starred) == good
    stray = maze.render_text(puzzle, good).splitlines()
    stray[1] = "#So.#o#"
    with pytest.raises(ParseError, match="not on the path"):
        maze.parse_solution(puzzle, "\n".join(stray))
    with pytest.raises(ParseError, match="walls differ"):
        maze.parse_solution(puzzle, maze.render_text(puzzle, good).replace("#So", "#S#"))
    with pytest.raises(ParseError, match="the maze is 6x7"):
        maze.parse_solution(puzzle, "#####\n#S.G#\n#####")


# ---------------------------------------------------------------------------------------------------------------
# Explanation, rendering, tokens


def test_explain_answer_fields_and_render():
    puzzle = maze.parse(SMALL)
    path = maze.solve_exact(puzzle, Budget.of(1)).solution
    lines = maze.explain(puzzle, path)
    assert "7 moves" in lines[0] and lines[1].startswith("Moves: ") and "(1,1)" in lines[2]
    moves = lines[1].removeprefix("Moves: ").rstrip(".").split(", ")
    assert sum(int(m.split()[1]) for m in moves) == 7
    fields = maze.answer_fields(puzzle, path)
    assert fields["path"] == [list(c) for c in path]
    assert fields["solution"][1].startswith("#S") and sum(r.count("o") for r in fields["solution"]) == 6
    assert set("".join(fields["solution"])) <= set("# SGo")
    assert (maze.parse(maze.render_text(puzzle)).walls == puzzle.walls).all()
    with pytest.raises(ParseError, match="marks a path"):
        maze.parse(fields["rendering"])
    png = maze.render_png(puzzle, path)
    assert png.startswith(b"\x89PNG")


def test_encode_decode_round_trip():
    for row in reference_rows():
        puzzle = maze.parse("\n".join(as_rows(row["question"])))
        tokens = maze.encode(puzzle)
        reference = np.array([{"#": 1, " ": 2, "S": 3, "G": 4}[ch] for ch in row["question"]])
        assert tokens.dtype == np.int64 and (tokens == reference).all()
        path = maze.parse_solution(puzzle, "\n".join(as_rows(row["answer"])))
        label = maze.encode_solution(puzzle, path)
        reference_label = np.array([{"#": 1, " ": 2, "S": 3, "G": 4, "o": 5}[ch] for ch in row["answer"]])
        assert (label == reference_label).all()
        assert maze.decode(puzzle, label) == path
    assert maze.decode(puzzle, np.zeros(5, dtype=np.int64)) is None


def test_decode_partial_path_stops_where_it_breaks():
    puzzle = maze.parse(SMALL)
    path = maze.solve_exact(puzzle, Budget.of(1)).solution
    broken = maze.encode_solution(puzzle, path).reshape(puzzle.shape)
    broken[path[3]] = maze.OPEN
    decoded = maze.decode(puzzle, broken.reshape(-1))
    assert decoded == path[:3] and not all_checks_pass(puzzle, decoded)


def test_verify_batch_agrees_with_verify():
    rng = np.random.default_rng(3)
    puzzles = [maze.parse("\n".join(as_rows(row["question"]))) for row in reference_rows()]
    puzzles.append(maze.parse("\n".join(["S" + "." * 29] + ["." * 30] * 28 + ["." * 29 + "G"])))
    inputs, predictions, expected = [], [], []
    for puzzle in puzzles:
        good = maze.solve_exact(puzzle, Budget.of(1)).solution
        label = maze.encode_solution(puzzle, good)
        variants = [label]
        for _ in range(6):
            corrupted = label.copy()
            cells = rng.choice(len(label), size=rng.integers(1, 3), replace=False)
            corrupted[cells] = rng.integers(1, 6, size=len(cells))
            variants.append(corrupted)
        for prediction in variants:
            decoded = maze.decode(puzzle, prediction)
            grid_kept = ((prediction == label) | ((label == 2) | (label == 5)) & np.isin(prediction, (2, 5))).all()
            marks_all_on_path = (prediction == 5).sum() == max(len(decoded) - 2, 0)
            expected.append(bool(grid_kept and marks_all_on_path and all_checks_pass(puzzle, decoded)))
            inputs.append(maze.encode(puzzle))
            predictions.append(prediction)
    verdicts = maze.verify_batch(np.stack(inputs), np.stack(predictions), shape=(30, 30))
    assert verdicts.tolist() == expected
    assert verdicts[0] and not all(verdicts)


def test_verify_batch_rejects_stray_marks_and_needs_shape():
    puzzle = maze.parse(SMALL)
    path = maze.solve_exact(puzzle, Budget.of(1)).solution
    label = maze.encode_solution(puzzle, path)
    stray = label.copy().reshape(puzzle.shape)
    stray[4, 1] = maze.ON_PATH if (4, 1) not in path else maze.OPEN
    batch = np.stack([label, stray.reshape(-1)])
    inputs = np.stack([maze.encode(puzzle)] * 2)
    assert maze.verify_batch(inputs, batch, shape=(6, 7)).tolist() == [True, False]
    with pytest.raises(ValueError, match="pass shape"):
        maze.verify_batch(inputs, batch)


def test_square_detours_are_rejected_by_verify_batch():
    # every 2x2 block of open cells gives detours of equal length; a longer loop must fail
    puzzle = maze.parse("S 0 0\n0 0 0\n0 0 G")
    inputs = maze.encode(puzzle)[None]
    for length in (4, 6):
        ok = 0
        cells = [(r, c) for r in range(3) for c in range(3) if (r, c) not in ((0, 0), (2, 2))]
        for chosen in itertools.combinations(cells, length - 1):
            prediction = maze.encode(puzzle).reshape(3, 3)
            for cell in chosen:
                prediction[cell] = maze.ON_PATH
            verdict = maze.verify_batch(inputs, prediction.reshape(1, -1))[0]
            ok += verdict
            if verdict:
                assert all_checks_pass(puzzle, maze.decode(puzzle, prediction.reshape(-1)))
        assert ok == (6 if length == 4 else 0)


def test_follow_arrows_walks_from_the_start_and_rejects_bad_fields():
    puzzle = maze.parse("S 0 0\n1 1 0\nG 0 0")  # one way round: right, right, down, down, left, left
    inputs = maze.encode(puzzle)[None]
    up, down, left, right = (maze.ARROW_OFFSET + i for i in range(4))
    good = np.array([[right, right, down], [0, 0, down], [maze.ARROW_STAY, left, left]]).reshape(1, -1)
    assert maze.verify_arrows_batch(inputs, good)[0]
    path_tokens = maze.follow_arrows(inputs, good)
    assert maze.decode(puzzle, path_tokens[0]) == [(0, 0), (0, 1), (0, 2), (1, 2), (2, 2), (2, 1), (2, 0)]
    into_wall = good.copy().reshape(3, 3)
    into_wall[0, 1] = down
    looping = good.copy().reshape(3, 3)
    looping[0, 1] = left
    stopping = good.copy().reshape(3, 3)
    stopping[1, 2] = maze.ARROW_STAY
    for bad in (into_wall, looping, stopping):
        assert np.array_equal(maze.follow_arrows(inputs, bad.reshape(1, -1)), inputs)  # nothing marked
        assert not maze.verify_arrows_batch(inputs, bad.reshape(1, -1))[0]
    assert not maze.verify_arrows_batch(inputs, np.full((1, 9), up))[0]  # off the grid


@pytest.mark.parametrize("shape", [(9, 9), (7, 11)])
def test_views_turn_a_maze_and_its_arrows_back(shape):
    from recursive_tools.solvers.training.mazes import arrow_labels

    rng = np.random.default_rng(7)
    grids = []
    while len(grids) < 12:
        walls = rng.random(shape) < 0.3
        start, goal = (tuple(int(v) for v in np.argwhere(~walls)[i]) for i in rng.choice((~walls).sum(), 2, False))
        if (shortest_path(walls, start, goal).length or 0) >= 4:
            grids.append(maze.encode(maze.Puzzle(walls=walls, start=start, goal=goal)))
    tokens = np.stack(grids)
    views = maze.views(shape, arrows=True)
    assert views.count == (8 if shape[0] == shape[1] else 4)
    turned_arrows_matter = False
    for view in range(views.count):
        seen = views.apply(tokens, view)
        assert np.array_equal(maze.views(shape).undo(seen, view), tokens)  # spatial round trip
        assert (seen != tokens).any() == (view > 0)
        arrows = np.stack([arrow_labels(grid.reshape(shape)).reshape(-1) for grid in seen])  # answered in the view
        assert maze.verify_arrows_batch(tokens, views.undo(arrows, view), shape=shape).all()
        unturned = maze.views(shape).undo(arrows, view)  # cells moved back, moves not turned
        turned_arrows_matter |= not maze.verify_arrows_batch(tokens, unturned, shape=shape).all()
    assert turned_arrows_matter


def test_the_shipped_maze_net_answers_mazes_larger_than_any_it_was_trained_on():
    from recursive_tools import pipeline

    # 30x30; training went up to 25x25 (the card: 96% of this set with one trajectory, 100% with 8)
    texts = ["\n".join(as_rows(row["question"])) for row in reference_rows()]
    answers = [pipeline.solve("maze", text) for text in texts]
    assert all(a.verified and a.solver.name == "maze-conv-recurrent" for a in answers)


def test_maze_trajectories_are_the_rotations_and_mirrors_turned_back():
    from recursive_tools.neural import load_solver
    from recursive_tools.solvers.neural.catalog import read_meta

    solver = load_solver(read_meta("maze-conv-recurrent"))
    chosen = []
    for row in reference_rows():
        puzzle = maze.parse("\n".join(as_rows(row["question"])))
        tokens = maze.encode(puzzle)[None]
        result = solver.trace(puzzle, trajectories=8)  # verified by the engine after turning the answer back
        assert result.verified and result.trajectories == 8
        path = maze.decode(puzzle, maze.follow_arrows(tokens, result.prediction[None])[0])
        assert all_checks_pass(puzzle, path)
        # trajectory t ran on view t: the net alone on that view answers the same, once turned back
        views = maze.views(puzzle.shape, arrows=True)
        alone = solver.engine.run(views.apply(tokens, result.trajectory), max_steps=solver.max_steps)[0]
        assert np.array_equal(views.undo(alone.prediction[None], result.trajectory)[0], result.prediction)
        chosen.append(result.trajectory)
    assert max(chosen) > 0  # among views verified at the same step the highest q_halt wins, not always view 0
