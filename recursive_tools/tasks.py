"""Training tasks built from the puzzle kinds, and the `train` / `eval` commands.

The solvers' training code never imports the core; this module hands it each task's rules as data and callables
(TaskSpec): geometry (Sudoku units and the peer mask), the kind's batch verifier, and a generator of examples.
Task names: `sudoku-4x4`, `sudoku-6x6`, `sudoku-9x9`, `sudoku-<N>x<N>` for other box shapes (`--box RxC`), `maze`.
"""

from __future__ import annotations

import argparse
import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from recursive_tools.kinds import get_kind
from recursive_tools.solvers.training import mazes
from recursive_tools.solvers.training.tasks import Examples, TaskSpec

if TYPE_CHECKING:
    import torch


# ----------------------------------------------------------------------------------------------------- mazes

def maze_task(min_side: int = 9, max_side: int = 15, canvas: int | None = None, min_path: int | None = None,
              style: str = "random", labels: str = "path", wave: int | None = None, wave_beyond: str = "hide"
              ) -> TaskSpec:
    """Mazes on a canvas; `labels` "path" (the answer's tokens) or "arrows" (each cell's next move, the maze net's
    learnable target; the verifier follows the arrows from S). `wave` (arrows only): at deep-supervision step s,
    the arrows more than wave * (s + 1) moves from the goal are hidden or read STAY (`wave_beyond`, see
    mazes.wave_horizon_labels)."""
    kind = get_kind("maze")
    spec = mazes.MazeSpec(min_side, max_side, canvas or max_side, style=style,  # type: ignore[arg-type]
                          min_path=min_path, labels=labels)  # type: ignore[arg-type]
    verify = kind.verify_batch if labels == "path" else kind.verify_arrows_batch
    if wave is not None and (labels != "arrows" or wave < 1):
        raise SystemExit("--maze-wave needs --maze-labels arrows and at least 1 move per step")
    step_labels = None if wave is None else functools.partial(_wave_labels, wave=wave, canvas=spec.canvas,
                                                              beyond=wave_beyond)
    return TaskSpec(
        name="maze", kind="maze", size_label="any", vocab_size=mazes.VOCAB_SIZE, grid_shape=(spec.canvas, spec.canvas),
        generate=functools.partial(_generate_mazes, spec=spec), verify_batch=verify,
        default_model="maze-net", loss="softmax", augment=functools.partial(_maze_dihedral, labels_style=labels),
        token_layout={"pad": 0, "wall": 1, "open": 2, "start": 3, "goal": 4, "path": 5,
                      "train_sides": [min_side, max_side], "labels": labels},
        step_labels=step_labels, views=functools.partial(kind.views, arrows=labels == "arrows"),
    )


def _wave_labels(inputs: torch.Tensor, labels: torch.Tensor, steps_done: torch.Tensor, *, wave: int, canvas: int,
                 beyond: mazes.WaveBeyond) -> torch.Tensor:
    return mazes.wave_horizon_labels(inputs, labels, (steps_done + 1) * wave, (canvas, canvas), beyond)


def _generate_mazes(rng: np.random.Generator, count: int, *, spec: mazes.MazeSpec) -> Examples:
    return mazes.generate_mazes(rng, spec, count)


def _maze_dihedral(rng: np.random.Generator, inputs: np.ndarray, labels: np.ndarray, *, labels_style: str = "path"
                   ) -> Examples:
    from recursive_tools.solvers.training.augment import dihedral_batch
    inputs, labels = dihedral_batch(rng, inputs, labels)
    if labels_style == "arrows":  # a move's direction turns with the grid: recompute rather than remap
        labels = _arrow_labels(inputs)
    return inputs, labels


def _arrow_labels(inputs: np.ndarray) -> np.ndarray:
    side = int(round(inputs.shape[1] ** 0.5))
    return np.stack([mazes.arrow_labels(row.reshape(side, side)).reshape(-1) for row in inputs])


def maze_csv_examples(path: str | Path, limit: int | None = None, labels: str = "path") -> Examples:
    from recursive_tools.solvers.training.data import read_csv_examples

    def to_tokens(question: str, answer: str) -> tuple[np.ndarray, np.ndarray]:
        grid = mazes.parse_rows(question)
        label = mazes.parse_rows(answer) if labels == "path" else mazes.arrow_labels(grid)
        return grid.reshape(-1), label.reshape(-1)

    return read_csv_examples(path, to_tokens, limit)


# ---------------------------------------------------------------------------------------------------- sudoku

DEFAULT_GIVENS = {4: (4, 10), 6: (8, 20), 9: (36, 45)}  # generated clue counts; otherwise about 45-55% of cells


def sudoku_task(size: int, box: Any = None, givens: str | tuple[int, int] | None = None) -> TaskSpec:
    from recursive_tools.solvers.training import sudokus
    from recursive_tools.solvers.training.augment import sudoku_batch

    kind = get_kind("sudoku")
    box_rows, box_cols = kind.parse_box(box, size)
    geo = kind.geometry(size, box_rows, box_cols)
    if isinstance(givens, str):
        low, _, high = givens.partition(":")
        givens = (int(low), int(high or low))
    givens = givens or DEFAULT_GIVENS.get(size) or (int(0.45 * size * size), int(0.55 * size * size))
    spec = sudokus.SudokuSpec(geo.units, size, givens)
    label = f"{size}x{size}"
    return TaskSpec(
        name=f"sudoku-{label}", kind="sudoku", size_label=label, vocab_size=size + 2, grid_shape=(size, size),
        generate=functools.partial(_generate_sudokus, spec=spec),
        verify_batch=functools.partial(kind.verify_batch, box=(box_rows, box_cols)), default_model="trm",
        loss="stablemax", augment=functools.partial(sudoku_batch, box=(box_rows, box_cols)),
        peer_mask=geo.peer_mask(), units=geo.units, box=(box_rows, box_cols),
        token_layout={"pad": 0, "blank": 1, "digit_offset": 1, "box": [box_rows, box_cols],
                      "train_givens": list(givens)},
        views=functools.partial(kind.views, box=(box_rows, box_cols)),
    )


def _generate_sudokus(rng: np.random.Generator, count: int, *, spec: Any) -> Examples:
    from recursive_tools.solvers.training import sudokus
    return sudokus.generate_sudokus(rng, spec, count)


def sudoku_csv_examples(task: TaskSpec, path: str | Path, limit: int | None = None) -> Examples:
    from recursive_tools.solvers.training.data import read_csv_examples

    kind = get_kind("sudoku")

    def to_tokens(question: str, answer: str) -> tuple[np.ndarray, np.ndarray]:
        puzzle = kind.parse(question, box=task.box)
        if puzzle.size_label != task.size_label:
            raise ValueError(f"{path}: a {puzzle.size_label} puzzle in a {task.size_label} file")
        return kind.encode(puzzle), kind.encode_solution(puzzle, kind.parse_solution(puzzle, answer))

    return read_csv_examples(path, to_tokens, limit)


# ----------------------------------------------------------------------------------------------------- tasks

def get_task(name: str, **options: Any) -> TaskSpec:
    if name == "maze":
        return maze_task(**{k: v for k, v in options.items() if k in ("min_side", "max_side", "canvas", "min_path",
                                                                        "style", "labels", "wave",
                                                                        "wave_beyond")
                             and v is not None})
    match = re.fullmatch(r"sudoku-(\d+)x(\d+)", name)
    if match and match.group(1) == match.group(2):
        return sudoku_task(int(match.group(1)), box=options.get("box"), givens=options.get("givens"))
    raise SystemExit(f"unknown task {name!r}; expected maze or sudoku-NxN (sudoku-4x4, sudoku-6x6, sudoku-9x9)")


# --------------------------------------------------------------------------------------------------- commands

def add_task_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", required=True, help="maze | sudoku-4x4 | sudoku-6x6 | sudoku-9x9 | sudoku-NxN")
    parser.add_argument("--box", default=None, help="Sudoku box shape RxC (default: the usual one for the size)")
    parser.add_argument("--givens", default=None, help="Sudoku clue count range MIN:MAX for generated puzzles")
    parser.add_argument("--min-side", type=int, default=None, help="maze: smallest generated side")
    parser.add_argument("--max-side", type=int, default=None, help="maze: largest generated side")
    parser.add_argument("--canvas", type=int, default=None, help="maze: canvas side (default: max side)")
    parser.add_argument("--min-path", type=int, default=None, help="maze: shortest path at least this long")
    parser.add_argument("--maze-style", default=None, choices=("random", "perfect"))
    parser.add_argument("--maze-labels", default=None, choices=("path", "arrows"),
                        help="maze: train on the marked path or on each cell's next move (default: path)")
    parser.add_argument("--maze-wave", type=int, default=None, metavar="MOVES",
                        help="maze arrows: at deep-supervision step s, supervise only the arrows within "
                             "MOVES*(s+1) moves of the goal (the net's iterations per step); default: all")
    parser.add_argument("--maze-wave-beyond", default="hide", choices=("hide", "stay"),
                        help="with --maze-wave: the arrows beyond the wave are unsupervised (hide) or must read "
                             "STAY, not reached yet (stay)")


def task_from_args(args: argparse.Namespace) -> TaskSpec:
    return get_task(args.task, box=args.box, givens=args.givens, min_side=args.min_side, max_side=args.max_side,
                    canvas=args.canvas, min_path=args.min_path, style=args.maze_style,
                    labels=args.maze_labels, wave=args.maze_wave,
                    wave_beyond=args.maze_wave_beyond)


def read_examples(task: TaskSpec, path: str, limit: int | None = None) -> Examples:
    """Puzzles for a task from a CSV file or a reference dataset folder."""
    if Path(path).is_dir():
        from recursive_tools.solvers.training.data import read_reference_dataset
        dataset = read_reference_dataset(path, "test")
        return dataset.inputs[:limit], dataset.labels[:limit]
    if task.kind == "maze":
        return maze_csv_examples(path, limit, task.token_layout["labels"])
    return sudoku_csv_examples(task, path, limit)


def train_command(args: argparse.Namespace) -> int:
    from recursive_tools.solvers.training.cli import run_train

    task = task_from_args(args)
    train = read_examples(task, args.data) if args.data else None
    held_out = read_examples(task, args.eval_data, args.eval_size) if args.eval_data else None
    note = f"{args.data} with augmentation" if args.data else _generated_note(task, args)
    run_train(args, task, eval_examples=held_out, train_examples=train, data_note=note)
    return 0


def _generated_note(task: TaskSpec, args: argparse.Namespace) -> str:
    if task.kind == "maze":
        return (f"generated {task.token_layout['train_sides'][0]}..{task.token_layout['train_sides'][1]} mazes "
                f"({args.maze_style or 'random'} walls 30-50%, shortest path >= "
                f"{args.min_path or 'the side'} moves), {task.token_layout['labels']} labels"
                + (f", arrows supervised within {args.maze_wave} moves of the goal per step (beyond: "
                   f"{args.maze_wave_beyond})" if args.maze_wave else ""))
    low, high = task.token_layout["train_givens"]
    return f"generated unique-solution {task.name} puzzles with {low}-{high} givens (new puzzles every batch)"


def eval_command(args: argparse.Namespace) -> int:
    import json

    from recursive_tools.solvers.training.cli import run_eval
    from recursive_tools.solvers.neural.checkpoint import from_pretrained

    model = from_pretrained(args.checkpoint)
    meta = json.loads((Path(_checkpoint_folder(args.checkpoint)) / "config.json").read_text())
    kind = meta["kind"]
    if kind == "maze":
        labels = meta.get("tokens", {}).get("labels", "path")
        task = maze_task(labels=labels)
        if args.data:
            examples, note = maze_csv_examples(args.data, args.limit, labels), args.data
        else:
            side = args.maze_side or 30
            gen = mazes.MazeSpec(side, side, side, min_path=args.min_path or side, labels=labels)
            examples = mazes.generate_mazes(np.random.default_rng(args.seed), gen, args.limit or 100)
            note = f"{len(examples[0])} generated {side}x{side} mazes, shortest path >= {gen.min_path or side}"
    else:
        task = get_task(f"sudoku-{meta['size_label']}", box=args.box)
        if args.data:
            examples, note = sudoku_csv_examples(task, args.data, args.limit), args.data
        else:
            examples = task.generate(np.random.default_rng(args.seed), args.limit or 200)
            note = f"{len(examples[0])} generated {task.name} puzzles (seed {args.seed})"
    figures = run_eval(args, model, task, examples, note)
    print(json.dumps(figures, indent=2))
    if args.update_card:
        from recursive_tools.solvers.training.cli import record_figures
        record_figures(_checkpoint_folder(args.checkpoint), args.update_card, figures)
    return 0


def _checkpoint_folder(name_or_path: str) -> Path:
    from recursive_tools.solvers.neural.catalog import resolve_checkpoint
    return resolve_checkpoint(name_or_path)


def add_train_command_arguments(parser: argparse.ArgumentParser) -> None:
    """Every option of `recursive-tools train` (then call train_command(args))."""
    from recursive_tools.solvers.training.cli import add_train_arguments
    add_task_arguments(parser)
    add_train_arguments(parser)


def add_eval_command_arguments(parser: argparse.ArgumentParser) -> None:
    """Every option of `recursive-tools eval` (then call eval_command(args))."""
    from recursive_tools.solvers.training.cli import add_eval_arguments
    add_eval_arguments(parser)
    parser.add_argument("--box", default=None, help="Sudoku box shape RxC when not the default")
    parser.add_argument("--maze-side", type=int, default=None, help="maze: side of generated evaluation mazes")
    parser.add_argument("--min-path", type=int, default=None, help="maze: generated shortest paths at least this long")

