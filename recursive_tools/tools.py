"""The tool catalogue: every tool defined once. The MCP server and the OpenAI/Anthropic adapters loop over TOOLS."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any, Literal

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from recursive_tools import pipeline
from recursive_tools.answer import Answer, Check
from recursive_tools.errors import LimitExceeded, ParseError, ToolInputError
from recursive_tools.kinds import KIND_NAMES, get_kind
from recursive_tools.limits import (DEFAULT_TIME_LIMIT_S, DEFAULT_TRAJECTORIES, MAX_MAZE_SIDE, MAX_REQUEST_BYTES,
                                    MAX_SEARCH_NODES, MAX_SUDOKU_SIZE, MAX_TIME_LIMIT_S, MAX_TRAJECTORIES,
                                    MIN_TIME_LIMIT_S)
from recursive_tools.solvers.budget import Budget

# ---------------------------------------------------------------------------------------------------------------
# Input and output models

GridText = Annotated[str, Field(max_length=MAX_REQUEST_BYTES)]
Cell = int | str | None
GridRows = Annotated[list[Annotated[list[Cell], Field(max_length=MAX_MAZE_SIDE)]], Field(max_length=MAX_MAZE_SIDE)]
Coordinate = Annotated[list[int], Field(min_length=2, max_length=2, description="[row, column], 0-based")]
SolverChoice = Literal["auto", "neural", "exact"]

SOLVER_FIELD = Field("auto", description="'auto' tries the recursive neural model first and falls back to the exact "
                                         "solver; 'neural' or 'exact' forces one")
TIME_FIELD = Field(DEFAULT_TIME_LIMIT_S, ge=MIN_TIME_LIMIT_S, le=MAX_TIME_LIMIT_S,
                   description="wall-clock budget in seconds")


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SolveSudokuInput(_Input):
    puzzle: GridText | GridRows = Field(description=(
        "The Sudoku as text (81 characters, rows on lines, boxes drawn with | and -, any blank marker . 0 _ - * x ?) "
        "or as a list of rows with 0, null or \"\" for blanks. Sizes 4x4 to 25x25."))
    box: str | None = Field(None, pattern=r"^\d{1,2}x\d{1,2}$",
                            description="box shape 'rows x cols', e.g. '2x3' for 6x6; inferred when omitted")
    solver: SolverChoice = SOLVER_FIELD
    trajectories: int = Field(DEFAULT_TRAJECTORIES, ge=1, le=MAX_TRAJECTORIES,
                              description=("parallel trajectories tried when the first neural answer fails "
                                           "(symmetric views of the puzzle, then noisy ones)"))
    time_limit_s: float = TIME_FIELD
    explain: bool = Field(True, description="include human-style solving steps")


class SolveMazeInput(_Input):
    maze: GridText | GridRows = Field(description=(
        "The maze as ASCII art ('#' or block characters are walls, '.' or space open, S/A start, E/G/F goal) or as a "
        "0/1 matrix (1 = wall) with start and goal given. Up to 64x64."))
    start: Coordinate | None = Field(None, description="start cell [row, col], needed for 0/1 matrices")
    goal: Coordinate | None = Field(None, description="goal cell [row, col], needed for 0/1 matrices")
    solver: SolverChoice = SOLVER_FIELD
    time_limit_s: float = TIME_FIELD


class VerifySolutionInput(_Input):
    kind: Literal["sudoku", "maze"] = Field(description="the puzzle kind")
    puzzle: GridText | GridRows = Field(description="the puzzle, in any format solve_sudoku / solve_maze accept")
    solution: GridText | GridRows = Field(description=(
        "the proposed solution: a filled Sudoku grid, or for a maze the grid with 'o' on the path or a list of "
        "[row, col] cells from start to goal"))
    box: str | None = Field(None, pattern=r"^\d{1,2}x\d{1,2}$", description="Sudoku box shape, e.g. '2x3'")
    start: Coordinate | None = Field(None, description="maze start [row, col] for 0/1 matrices")
    goal: Coordinate | None = Field(None, description="maze goal [row, col] for 0/1 matrices")


class DescribeSolversInput(_Input):
    kind: Literal["sudoku", "maze"] | None = Field(None, description="only solvers for this kind")


class VerifyResult(BaseModel):
    kind: str
    valid: bool = Field(description="true only when every check passed")
    checks: list[Check] = Field(default_factory=list)
    failures: list[str] = Field(default_factory=list, description="each failed rule and where it fails")
    error: str | None = Field(None, description="why the puzzle or solution could not be read")


class SolverCard(BaseModel):
    name: str
    family: str
    kind: str
    sizes: list[str] = Field(description="grid sizes it handles, e.g. ['9x9']")
    description: str
    parameters: int | None = None
    accuracy: dict[str, float] = Field(default_factory=dict, description="measured exact-match accuracy, %")


class SolverCatalog(BaseModel):
    solvers: list[SolverCard]
    limits: dict[str, float]


# ---------------------------------------------------------------------------------------------------------------
# The catalogue entry


@dataclass
class ToolContext:
    budget: Budget = field(default_factory=Budget)


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str
    description: str
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    handler: Callable[[Any, ToolContext], BaseModel]
    read_only: bool = True
    idempotent: bool = True
    open_world: bool = False

    @cached_property
    def _input_schema(self) -> dict:
        return inline_refs(self.input_model.model_json_schema())

    @cached_property
    def _output_schema(self) -> dict:
        return inline_refs(self.output_model.model_json_schema(mode="serialization"))

    def input_schema(self) -> dict:
        return copy.deepcopy(self._input_schema)

    def output_schema(self) -> dict:
        return copy.deepcopy(self._output_schema)

    def validate(self, arguments: Any) -> BaseModel:
        """Check arguments against the input schema; the error names the field and what was expected."""
        if not isinstance(arguments, dict):
            raise ToolInputError(f"{self.name}: arguments must be a JSON object, got {type(arguments).__name__}")
        size = len(json.dumps(arguments, default=str))
        if size > MAX_REQUEST_BYTES:
            raise ToolInputError(f"{self.name}: request is {size} bytes; the limit is {MAX_REQUEST_BYTES}")
        error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(self._input_schema)
                                                 .iter_errors(arguments))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "arguments"
            raise ToolInputError(f"{self.name}: invalid {where}: {_short(error.message)}")
        try:
            return self.input_model.model_validate(arguments)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = "/".join(str(p) for p in first["loc"]) or "arguments"
            raise ToolInputError(f"{self.name}: invalid {where}: {first['msg']}") from None

    def run(self, arguments: Any, ctx: ToolContext | None = None) -> BaseModel:
        return self.handler(self.validate(arguments), ctx or ToolContext())


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def inline_refs(schema: dict) -> dict:
    """Replace every local $ref with its definition so each tool schema stands alone (no $defs)."""
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                target = resolve(copy.deepcopy(definitions[node["$ref"].split("/")[-1]]))
                return {**target, **{k: resolve(v) for k, v in node.items() if k != "$ref"}}
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return resolve(schema)


# ---------------------------------------------------------------------------------------------------------------
# Handlers


def _budget(ctx: ToolContext, seconds: float) -> Budget:
    """The call's budget: the tool's time limit, tightened by any deadline the caller already set."""
    budget = Budget.of(seconds, MAX_SEARCH_NODES, ctx.budget.cancel, ctx.budget.progress)
    if ctx.budget.deadline is not None:
        budget.deadline = min(budget.deadline, ctx.budget.deadline)
    return budget


def _box_hint(box: str | None) -> dict:
    """The Sudoku kind reads 'RxC' itself and checks it against the grid size."""
    return {} if box is None else {"box": box}


def _coordinates(args: Any) -> dict:
    return {name: tuple(value) for name in ("start", "goal") if (value := getattr(args, name)) is not None}


def solve_sudoku(args: SolveSudokuInput, ctx: ToolContext) -> Answer:
    return pipeline.solve("sudoku", args.puzzle, hints=_box_hint(args.box), solver=args.solver,
                          trajectories=args.trajectories, budget=_budget(ctx, args.time_limit_s), explain=args.explain)


def solve_maze(args: SolveMazeInput, ctx: ToolContext) -> Answer:
    return pipeline.solve("maze", args.maze, hints=_coordinates(args), solver=args.solver,
                          budget=_budget(ctx, args.time_limit_s))


def verify_solution(args: VerifySolutionInput, ctx: ToolContext) -> VerifyResult:
    kind = get_kind(args.kind)
    hints = _box_hint(args.box) if args.kind == "sudoku" else _coordinates(args)
    try:
        puzzle = kind.parse(args.puzzle, **hints)
    except (ParseError, LimitExceeded) as error:
        return VerifyResult(kind=args.kind, valid=False, error=f"puzzle: {error}")
    try:
        proposed = kind.parse_solution(puzzle, args.solution)
    except (ParseError, LimitExceeded) as error:
        return VerifyResult(kind=args.kind, valid=False, error=f"solution: {error}")
    checks = kind.verify(puzzle, proposed)
    failures = [f"{c.name}: {c.detail}" if c.detail else c.name for c in checks if not c.passed]
    return VerifyResult(kind=args.kind, valid=bool(checks) and not failures, checks=checks, failures=failures)


_EXACT_CARDS = {
    "sudoku": SolverCard(name="exact-sudoku", family="exact", kind="sudoku",
                         sizes=["4x4", "6x6", "8x8", "9x9", "12x12", "16x16", "25x25"],
                         description="constraint propagation (naked and hidden singles) with minimum-remaining-values "
                                     "search; certifies unique, several or no solutions"),
    "maze": SolverCard(name="exact-maze", family="exact", kind="maze", sizes=[f"up to {MAX_MAZE_SIDE}x{MAX_MAZE_SIDE}"],
                       description="breadth-first search for a shortest path; says whether it is unique"),
}


def describe_solvers(args: DescribeSolversInput, ctx: ToolContext) -> SolverCatalog:
    kinds = [args.kind] if args.kind else list(KIND_NAMES)
    cards = [SolverCard(name=r.name, family=r.card.get("family", "neural"), kind=r.kind, sizes=[r.size_label],
                        description=r.card.get("description", "recursive neural model"),
                        parameters=r.card.get("parameters"), accuracy=r.card.get("accuracy", {}))
             for r in pipeline.neural_registrations() if r.kind in kinds]
    cards += [_EXACT_CARDS[k] for k in kinds]
    limits = {"max_request_bytes": MAX_REQUEST_BYTES, "max_sudoku_size": MAX_SUDOKU_SIZE,
              "max_maze_side": MAX_MAZE_SIDE, "max_trajectories": MAX_TRAJECTORIES,
              "max_time_limit_s": MAX_TIME_LIMIT_S}
    return SolverCatalog(solvers=cards, limits=limits)


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        name="solve_sudoku", title="Solve a Sudoku",
        description=("Solve a Sudoku (4x4 to 25x25) with a local recursive reasoning model, verified against the "
                     "rules, falling back to an exact solver. Returns the solved grid, every check, which solver "
                     "solved it, whether the solution is unique, and solving steps to explain. Use this instead of "
                     "solving Sudoku yourself; report 'no_solution' or 'multiple_solutions' as they are."),
        input_model=SolveSudokuInput, output_model=Answer, handler=solve_sudoku),
    ToolSpec(
        name="solve_maze", title="Solve a maze",
        description=("Find a shortest path through a grid maze (up to 64x64) from start to goal. Returns the path as "
                     "coordinates and moves ('right 3, down 2'), the maze with 'o' on the path, and checks that it "
                     "is connected, avoids walls and is shortest."),
        input_model=SolveMazeInput, output_model=Answer, handler=solve_maze),
    ToolSpec(
        name="verify_solution", title="Check a proposed solution",
        description=("Check a proposed Sudoku or maze solution against the rules and say which rule fails where "
                     "(e.g. 'row 3 has 5 twice'). Use it to check an answer from the user or from yourself."),
        input_model=VerifySolutionInput, output_model=VerifyResult, handler=verify_solution),
    ToolSpec(
        name="describe_solvers", title="List the solvers",
        description="List the available solvers (recursive neural models and exact solvers), the puzzle sizes each "
                    "handles, their measured accuracy, and the request limits.",
        input_model=DescribeSolversInput, output_model=SolverCatalog, handler=describe_solvers),
)

_BY_NAME = {tool.name: tool for tool in TOOLS}


def get_tool(name: str) -> ToolSpec:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ToolInputError(f"unknown tool {name!r}; available tools: {', '.join(_BY_NAME)}") from None


# ---------------------------------------------------------------------------------------------------------------
# What the adapters send back to a model


def is_error(output: BaseModel) -> bool:
    """True when the output reports input the caller must fix (adapters send an error result)."""
    if isinstance(output, Answer):
        return output.status == "invalid_input"
    if isinstance(output, VerifyResult):
        return output.error is not None
    return False


def summarize(output: BaseModel, max_steps: int = 8) -> str:
    """Compact text for a model's context window: the grid, verified or not, by which solver, key steps."""
    if isinstance(output, Answer):
        return _summarize_answer(output, max_steps)
    if isinstance(output, VerifyResult):
        if output.error:
            return f"Could not check the {output.kind} solution: {output.error}"
        if output.valid:
            return f"Valid {output.kind} solution: all {len(output.checks)} checks passed."
        return f"Invalid {output.kind} solution:\n" + "\n".join(f"- {f}" for f in output.failures[:max_steps])
    if isinstance(output, SolverCatalog):
        lines = [f"- {c.name} ({c.family}, {c.kind} {', '.join(c.sizes)})"
                 + (f"; accuracy: {'; '.join(f'{k}: {v:g}%' for k, v in c.accuracy.items())}" if c.accuracy else "")
                 for c in output.solvers]
        return "Solvers:\n" + "\n".join(lines)
    return output.model_dump_json()


def _summarize_answer(answer: Answer, max_steps: int) -> str:
    if answer.status == "invalid_input":
        return f"Invalid {answer.kind} input: {answer.error}"
    if answer.status != "solved":
        reason = " ".join(answer.explanation[:2])
        return f"{answer.kind}: {answer.status.replace('_', ' ')}. {reason}".strip()
    solver = answer.solver
    head = (f"{answer.kind} solved by {solver.name} ({solver.family})" if solver else f"{answer.kind} solved")
    if answer.recursion_steps is not None:
        head += f" in {answer.recursion_steps} recursion steps"
        if answer.trajectories and answer.trajectories > 1:
            head += f" ({answer.trajectories} trajectories)"
    passed = sum(c.passed for c in answer.checks)
    head += (f"; verified: all {passed} checks passed" if answer.verified
             else f"; NOT verified: {len(answer.checks) - passed} of {len(answer.checks)} checks failed")
    if answer.unique is not None:
        head += "; unique solution" if answer.unique else "; not the only solution"
    parts = [head + ".", answer.rendering or ""]
    steps = answer.explanation[:max_steps]
    if steps:
        more = len(answer.explanation) - len(steps)
        parts.append("Steps: " + "; ".join(steps) + (f"; ... {more} more" if more > 0 else ""))
    return "\n".join(p for p in parts if p)


def picture(output: BaseModel) -> bytes | None:
    """A PNG of the solved grid or maze path, when there is one to draw."""
    if isinstance(output, Answer) and output.native_solution is not None:
        return get_kind(output.kind).render_png(output.parsed_puzzle, output.native_solution)
    return None

