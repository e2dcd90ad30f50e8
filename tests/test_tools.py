"""The tool catalogue and the solve pipeline, through ToolSpec.run as every adapter calls them."""

from __future__ import annotations

import jsonschema
import pytest

from recursive_tools import pipeline
from recursive_tools.errors import ToolInputError
from recursive_tools.examples import EXAMPLES
from recursive_tools.kinds import get_kind
from recursive_tools.solvers.budget import Budget
from recursive_tools.tools import TOOLS, get_tool, is_error, picture, summarize

EASY = EXAMPLES["sudoku-easy"].text
EASY_SOLUTION = ("483921657967345821251876493548132976729564138136798245372689514814253769695417382")
AMBIGUOUS = "8.........95.......76.........426798...571243...893165......916....3.487....1.532"  # Serg set: 2+ solutions
CONTRADICTORY = "11" + "." * 79  # two 1s in row 1


def run(name: str, **arguments):
    output = get_tool(name).run(arguments)
    jsonschema.validate(output.model_dump(mode="json"), get_tool(name).output_schema())
    return output


def test_schemas_are_self_contained_and_valid():
    for tool in TOOLS:
        for schema in (tool.input_schema(), tool.output_schema()):
            jsonschema.Draft202012Validator.check_schema(schema)
            assert "$ref" not in str(schema) and "$defs" not in schema
        assert tool.input_schema()["additionalProperties"] is False
        assert tool.description and tool.read_only and not tool.open_world


def test_unknown_tool_lists_the_known_ones():
    with pytest.raises(ToolInputError, match="solve_sudoku"):
        get_tool("solve_chess")


@pytest.mark.parametrize("arguments, fragment", [
    ({}, "puzzle"),
    ({"puzzle": EASY, "colour": "red"}, "colour"),
    ({"puzzle": EASY, "trajectories": 0}, "trajectories"),
    ({"puzzle": EASY, "time_limit_s": 3600}, "time_limit_s"),
    ({"puzzle": EASY, "box": "three"}, "box"),
    ({"puzzle": "1" * 70_000}, "limit"),
])
def test_bad_arguments_name_the_field(arguments, fragment):
    with pytest.raises(ToolInputError, match=fragment):
        get_tool("solve_sudoku").run(arguments)


def test_exact_solve_is_verified_unique_and_explained():
    answer = run("solve_sudoku", puzzle=EASY, solver="exact")
    assert answer.status == "solved" and answer.verified and answer.unique
    assert "".join(str(v) for row in answer.solution for v in row) == EASY_SOLUTION
    assert answer.solver.family == "exact" and all(c.passed for c in answer.checks)
    assert answer.explanation and answer.rendering
    assert "verified" in summarize(answer)
    assert picture(answer).startswith(b"\x89PNG")


def test_auto_solve_names_the_solver_that_answered():
    answer = run("solve_sudoku", puzzle=EXAMPLES["sudoku-hard"].text)
    assert answer.status == "solved" and answer.verified
    assert answer.attempts and answer.attempts[-1].solver.family == "exact"
    assert answer.solver.name in {a.solver.name for a in answer.attempts}


def test_ambiguous_puzzle_is_reported_without_a_grid():
    answer = run("solve_sudoku", puzzle=AMBIGUOUS, solver="exact")
    assert answer.status == "multiple_solutions" and not answer.verified and answer.solution is None
    assert "more than one solution" in answer.explanation[0]


def test_contradictory_puzzle_is_invalid_or_impossible_never_solved():
    answer = run("solve_sudoku", puzzle=CONTRADICTORY, solver="exact")
    assert answer.status in {"invalid_input", "no_solution"} and not answer.verified and answer.solution is None


def test_bad_puzzle_text_comes_back_as_an_error_result():
    answer = run("solve_sudoku", puzzle="12345")
    assert answer.status == "invalid_input" and is_error(answer)
    assert answer.error and "Invalid sudoku input" in summarize(answer)


def test_search_budget_ends_in_gave_up():
    answer = pipeline.solve("sudoku", EXAMPLES["sudoku-hard"].text, solver="exact", budget=Budget.of(max_nodes=1))
    assert answer.status == "gave_up" and not answer.verified and answer.solution is None


def test_cancelled_solve_gives_up():
    budget = Budget.of(10)
    budget.cancel.set()
    answer = pipeline.solve("sudoku", EXAMPLES["sudoku-hard"].text, solver="exact", budget=budget)
    assert answer.status == "gave_up"


def test_maze_solve_returns_shortest_path():
    answer = run("solve_maze", maze=EXAMPLES["maze-small"].text)
    assert answer.status == "solved" and answer.verified
    assert answer.path[0] == [1, 1] and answer.path[-1] == [7, 7]
    assert any("o" in row for row in answer.solution)
    assert picture(answer).startswith(b"\x89PNG")


def test_verify_solution_accepts_and_locates_failures():
    good = run("verify_solution", kind="sudoku", puzzle=EASY, solution=EASY_SOLUTION)
    assert good.valid and not good.failures and not is_error(good)
    broken = EASY_SOLUTION[:9] + EASY_SOLUTION[10] + EASY_SOLUTION[9] + EASY_SOLUTION[11:]  # swap r2c1, r2c2
    bad = run("verify_solution", kind="sudoku", puzzle=EASY, solution=broken)
    assert not bad.valid and bad.failures
    assert "Invalid" in summarize(bad)


def test_verify_solution_reports_unreadable_solution_as_error():
    result = run("verify_solution", kind="sudoku", puzzle=EASY, solution="12")
    assert not result.valid and is_error(result) and result.error.startswith("solution:")


def test_describe_solvers_lists_exact_solvers_and_limits():
    catalog = run("describe_solvers")
    names = {card.name for card in catalog.solvers}
    assert {"exact-sudoku", "exact-maze"} <= names
    assert catalog.limits["max_trajectories"] >= 1
    only_maze = run("describe_solvers", kind="maze")
    assert {card.kind for card in only_maze.solvers} == {"maze"}


def test_a_failing_neural_solver_falls_back_to_the_exact_solver(monkeypatch):
    class Broken:
        info = pipeline.SolverInfo(name="broken-8x8", family="trm")
        kind, size_label, card = "sudoku", "8x8", {}

        def solve(self, puzzle, *, trajectories, budget):
            raise RuntimeError("model expects 81 tokens")

    monkeypatch.setattr(pipeline, "_registry", dict(pipeline._registry))
    pipeline.register_neural(Broken, "sudoku", "8x8", "broken-8x8")
    sudoku = get_kind("sudoku")
    full = sudoku.solve_exact(sudoku.parse("12345678" + "." * 56), Budget.of(10)).other_solution
    puzzle = [[0 if (r * 8 + c) % 7 == 0 else int(v) for c, v in enumerate(row)] for r, row in enumerate(full)]
    answer = pipeline.solve("sudoku", puzzle, budget=Budget.of(10))
    assert answer.attempts[0].outcome == "error" and "81 tokens" in answer.attempts[0].detail
    assert answer.status == "solved" and answer.verified and answer.solver.family == "exact"
