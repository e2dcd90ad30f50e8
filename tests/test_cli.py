"""The `recursive-tools` command, run as a subprocess the way a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from recursive_tools.examples import EXAMPLES


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "recursive_tools.cli", *args], input=stdin, capture_output=True,
                          text=True, timeout=120)


def test_version_and_help():
    assert cli("--version").stdout.startswith("recursive-tools ")
    help_text = cli("--help").stdout
    for command in ("solve", "verify", "examples", "solvers"):
        assert command in help_text


def test_solve_example_as_json():
    done = cli("solve", "--example", "sudoku-hard", "--json", "--solver", "exact")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["status"] == "solved" and answer["verified"] is True and answer["unique"] is True
    assert answer["solver"] == {"name": "exact-sudoku", "family": "exact", "checkpoint": None}
    assert len(answer["solution"]) == 9 and all(c["passed"] for c in answer["checks"])
    assert {"kind", "checks", "path", "timings_ms", "explanation", "error"} <= answer.keys()


def test_solve_default_prints_a_readable_answer():
    done = cli("solve", "--example", "sudoku-easy")
    assert done.returncode == 0, done.stderr
    assert "verified" in done.stdout and "|" in done.stdout


def test_solve_from_stdin_and_file(tmp_path):
    text = EXAMPLES["sudoku-4x4"].text
    from_stdin = json.loads(cli("solve", "--json", "--solver", "exact", "-", stdin=text).stdout)
    path = tmp_path / "puzzle.txt"
    path.write_text(text)
    from_file = json.loads(cli("solve", "--json", "--solver", "exact", str(path)).stdout)
    assert from_stdin["solution"] == from_file["solution"] and from_file["verified"]


def test_maze_is_detected_and_solved_by_the_shipped_maze_net():
    done = cli("solve", "--json", EXAMPLES["maze-small"].text)
    answer = json.loads(done.stdout)
    assert answer["kind"] == "maze" and answer["status"] == "solved" and answer["verified"]
    assert answer["path"][0] == [1, 1] and answer["path"][-1] == [7, 7]
    assert answer["solver"] == {"name": "maze-conv-recurrent", "family": "conv-recurrent",
                                "checkpoint": "maze-conv-recurrent"}
    big = json.loads(cli("solve", "--json", "--example", "maze-30").stdout)
    assert big["verified"] and big["attempts"][0]["solver"]["name"] == "maze-conv-recurrent"  # the net goes first


def test_invalid_input_exits_2_with_the_reason():
    done = cli("solve", "--json", "--kind", "sudoku", "1 2 3\n4 5")
    assert done.returncode == 2
    answer = json.loads(done.stdout)
    assert answer["status"] == "invalid_input" and answer["verified"] is False and answer["error"]


def test_missing_puzzle_is_a_clear_error():
    done = cli("solve")
    assert done.returncode == 2 and "--example" in done.stderr and "Traceback" not in done.stderr


def test_verify_command():
    puzzle = EXAMPLES["sudoku-easy"].text
    solution = "483921657967345821251876493548132976729564138136798245372689514814253769695417382"
    assert cli("verify", puzzle, solution).returncode == 0
    wrong = cli("verify", "--json", puzzle, solution.replace("4", "5", 1))
    assert wrong.returncode == 0 and json.loads(wrong.stdout)["valid"] is False


def test_examples_listing():
    listing = cli("examples").stdout
    assert all(name in listing for name in EXAMPLES)


@pytest.mark.parametrize("args", [["--help"], ["solve", "--solver", "exact", "--example", "sudoku-hard"],
                                  ["solve", "--example", "maze-small", "--solver", "exact"]])
def test_exact_path_never_imports_torch(args):
    code = ("import sys; from recursive_tools.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules, 'torch was imported'")
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
