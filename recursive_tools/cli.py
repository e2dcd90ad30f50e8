"""`recursive-tools`: solve and verify puzzles, list solvers and examples, serve MCP, train and evaluate models.

The command line is the one place the core reaches up to the adapters: `serve` imports the MCP server lazily.

Exit codes: 0 for any answered request (solved, no solution, several solutions, gave up), 2 for invalid input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from recursive_tools import __version__
from recursive_tools.errors import ToolInputError
from recursive_tools.limits import DEFAULT_TIME_LIMIT_S, DEFAULT_TRAJECTORIES, MAX_REQUEST_BYTES

EXIT_INVALID = 2


class InputError(Exception):
    """Input that could not even be read (missing file, too large); printed without a traceback."""


def _read_source(value: str) -> str:
    """PUZZLE | FILE | - : stdin for '-', a file's text when the path exists, otherwise the text itself."""
    if value == "-":
        text = sys.stdin.read(MAX_REQUEST_BYTES + 1)
    else:
        try:
            path = Path(value)
            is_file = "\n" not in value and path.is_file()
        except (OSError, ValueError):  # too long or odd characters for a path: it is puzzle text
            is_file = False
        if is_file:
            with path.open(encoding="utf-8", errors="replace") as handle:
                text = handle.read(MAX_REQUEST_BYTES + 1)
        else:
            text = value
    if len(text) > MAX_REQUEST_BYTES:
        raise InputError(f"input is larger than {MAX_REQUEST_BYTES} bytes; send one puzzle at a time")
    return text


def _coordinate(text: str) -> tuple[int, int]:
    try:
        row, col = (int(v) for v in text.replace(" ", "").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'row,col' (0-based), got {text!r}") from None
    return row, col


def _box(text: str) -> str:
    rows, sep, cols = text.partition("x")
    if not (sep and rows.isdigit() and cols.isdigit()):
        raise argparse.ArgumentTypeError(f"expected a box shape like '2x3' (rows x columns), got {text!r}")
    return text


def _puzzle_and_kind(args: argparse.Namespace) -> tuple[str, str]:
    from recursive_tools.examples import get_example
    from recursive_tools.kinds import detect_kind

    if args.example:
        example = get_example(args.example)
        if args.puzzle is not None:
            raise InputError("give either --example or a PUZZLE, not both")
        return example.text, example.kind if args.kind == "auto" else args.kind
    if args.puzzle is None:
        raise InputError("give a PUZZLE (text, a file, or - for stdin) or --example NAME; "
                         "`recursive-tools examples` lists the examples")
    text = _read_source(args.puzzle)
    return text, detect_kind(text) if args.kind == "auto" else args.kind


def _arguments_for(kind: str, puzzle: str, args: argparse.Namespace) -> dict:
    """Tool arguments from CLI flags: the CLI goes through the same catalogue entry as every adapter."""
    arguments: dict = {"solver": args.solver, "time_limit_s": args.time_limit}
    if kind == "sudoku":
        arguments.update(puzzle=puzzle, trajectories=args.trajectories, explain=not args.no_explain)
        if args.box:
            arguments["box"] = args.box
    else:
        arguments["maze"] = puzzle
        arguments.update({k: list(v) for k in ("start", "goal") if (v := getattr(args, k)) is not None})
    return arguments


def cmd_solve(args: argparse.Namespace) -> int:
    from recursive_tools.tools import get_tool, summarize

    puzzle, kind = _puzzle_and_kind(args)
    answer = get_tool(f"solve_{kind}").run(_arguments_for(kind, puzzle, args))
    if args.json:
        print(answer.model_dump_json(indent=2))
    else:
        print(summarize(answer, max_steps=args.steps))
        if answer.status == "solved" and answer.timings_ms:
            print(f"({answer.timings_ms['total']:.1f} ms)")
    return EXIT_INVALID if answer.status == "invalid_input" else 0


def cmd_verify(args: argparse.Namespace) -> int:
    from recursive_tools.kinds import detect_kind
    from recursive_tools.tools import get_tool, summarize

    puzzle = _read_source(args.puzzle)
    solution = _read_source(args.solution)
    kind = detect_kind(puzzle) if args.kind == "auto" else args.kind
    arguments = {"kind": kind, "puzzle": puzzle, "solution": solution}
    if args.box:
        arguments["box"] = args.box
    arguments.update({k: list(v) for k in ("start", "goal") if (v := getattr(args, k)) is not None})
    result = get_tool("verify_solution").run(arguments)
    print(result.model_dump_json(indent=2) if args.json else summarize(result, max_steps=20))
    return EXIT_INVALID if result.error else 0


def cmd_examples(args: argparse.Namespace) -> int:
    from recursive_tools.examples import EXAMPLES

    if args.name:
        print(EXAMPLES[args.name].text.rstrip("\n"))
        return 0
    for name, example in EXAMPLES.items():
        print(f"{name:14s} {example.kind:7s} {example.description}")
    return 0


def cmd_solvers(args: argparse.Namespace) -> int:
    from recursive_tools.tools import get_tool, summarize

    catalog = get_tool("describe_solvers").run({"kind": args.kind} if args.kind else {})
    print(catalog.model_dump_json(indent=2) if args.json else summarize(catalog))
    return 0


def _add_solve_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", choices=["auto", "sudoku", "maze"], default="auto",
                        help="puzzle kind (default: detected from the text)")
    parser.add_argument("--json", action="store_true", help="print the full JSON answer")
    parser.add_argument("--box", type=_box, help="Sudoku box shape rows x cols, e.g. 2x3 (default: from the size)")
    parser.add_argument("--start", type=_coordinate, help="maze start 'row,col' for 0/1 matrices")
    parser.add_argument("--goal", type=_coordinate, help="maze goal 'row,col' for 0/1 matrices")


def build_parser() -> argparse.ArgumentParser:
    from recursive_tools.examples import EXAMPLES

    parser = argparse.ArgumentParser(prog="recursive-tools", description=(
        "Solve grid puzzles with tiny recursive reasoning models and exact solvers, verified against the rules."))
    parser.add_argument("--version", action="version", version=f"recursive-tools {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    solve = commands.add_parser("solve", help="solve a Sudoku or maze")
    solve.add_argument("puzzle", nargs="?", metavar="PUZZLE|FILE|-", help="puzzle text, a file, or - for stdin")
    solve.add_argument("--example", choices=list(EXAMPLES), help="solve an embedded example puzzle")
    _add_solve_options(solve)
    solve.add_argument("--solver", choices=["auto", "neural", "exact"], default="auto",
                       help="auto: neural model first, then the exact solver (default)")
    solve.add_argument("--trajectories", type=int, default=DEFAULT_TRAJECTORIES,
                       help="parallel trajectories tried when the first neural answer fails: symmetric views of the "
                            f"puzzle, then noisy ones (default {DEFAULT_TRAJECTORIES})")
    solve.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT_S, help="seconds (default %(default)s)")
    solve.add_argument("--steps", type=int, default=12, help="explanation steps to print (default %(default)s)")
    solve.add_argument("--no-explain", action="store_true", help="skip the human-style explanation")
    solve.set_defaults(run=cmd_solve)

    verify = commands.add_parser("verify", help="check a proposed solution and say which rule fails where")
    verify.add_argument("puzzle", metavar="PUZZLE|FILE|-")
    verify.add_argument("solution", metavar="SOLUTION|FILE|-")
    _add_solve_options(verify)
    verify.set_defaults(run=cmd_verify)

    examples = commands.add_parser("examples", help="list the embedded example puzzles, or print one")
    examples.add_argument("name", nargs="?", choices=list(EXAMPLES))
    examples.set_defaults(run=cmd_examples)

    solvers = commands.add_parser("solvers", help="list the solvers and their measured accuracy")
    solvers.add_argument("--kind", choices=["sudoku", "maze"])
    solvers.add_argument("--json", action="store_true")
    solvers.set_defaults(run=cmd_solvers)

    # MCP server (adapters/mcp_server.py); serve_config holds only its arguments, so the SDK loads on `serve` alone.
    from recursive_tools.adapters.serve_config import add_serve_arguments

    serve = commands.add_parser("serve", help="run the MCP server over stdio, or streamable HTTP with --http")
    add_serve_arguments(serve)
    serve.set_defaults(run=cmd_serve)

    # Training and evaluation (recursive_tools/tasks.py builds each task from the puzzle kinds; torch loads on use).
    from recursive_tools.tasks import (add_eval_command_arguments, add_train_command_arguments, eval_command,
                                       train_command)

    train = commands.add_parser("train", help="train a recursive model on a task (sudoku-4x4, sudoku-9x9, maze, ...)")
    add_train_command_arguments(train)
    train.set_defaults(run=train_command)
    evaluate = commands.add_parser("eval", help="exact-match accuracy of a checkpoint, single trajectory and PTRM K")
    add_eval_command_arguments(evaluate)
    evaluate.set_defaults(run=eval_command)
    return parser


def cmd_serve(args: argparse.Namespace) -> int:
    from recursive_tools.adapters.mcp_server import run_serve

    return run_serve(args)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (InputError, ToolInputError) as error:
        print(f"recursive-tools: error: {error}", file=sys.stderr)
        return EXIT_INVALID
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
