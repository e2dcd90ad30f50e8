"""Command-line pieces for `recursive-tools train` and `recursive-tools eval`.

The core builds the TaskSpec (puzzle rules come from its kinds) and calls `run_train(args, task, ...)` /
`run_eval(args, task, examples)`; argparse wiring is `add_train_arguments(parser)` / `add_eval_arguments(parser)`.
"""

from __future__ import annotations

import argparse
import ast
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .tasks import Examples, TaskSpec

MODEL_CHOICES = ("trm", "hrm", "maze-net")
FAMILIES = {"trm": "trm", "hrm": "hrm", "maze-net": "conv-recurrent"}


def _parse_overrides(pairs: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise SystemExit(f"--set expects key=value, got {pair!r}")
        key, raw = pair.split("=", 1)
        try:
            values[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            values[key] = raw
    return values


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", choices=MODEL_CHOICES, default=None, help="default: the task's model")
    parser.add_argument("--set", dest="model_set", action="append", default=[], metavar="KEY=VALUE",
                        help="model config field, e.g. --set hidden_size=128 (repeatable)")
    parser.add_argument("--out", required=True, help="run folder: train_state.pt, metrics.jsonl, curves.png")
    parser.add_argument("--export", default=None, help="checkpoint folder written at the end (EMA weights + card)")
    parser.add_argument("--data", default=None, help="training puzzles (CSV or reference dataset folder); "
                        "default: generated on the fly")
    parser.add_argument("--eval-data", default=None, help="held-out puzzles; default: generated with another seed")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--lr-min-ratio", type=float, default=1.0, help="< 1: cosine decay to lr * ratio")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--optimizer", choices=("adamw", "adam_atan2"), default="adamw")
    parser.add_argument("--ema", type=float, default=0.999)
    parser.add_argument("--grad-clip", type=float, default=1.0)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--eval-size", type=int, default=256)
    parser.add_argument("--checkpoint-every", type=int, default=100)
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--time-limit-min", type=float, default=None, help="stop (resumable) after this many minutes")
    parser.add_argument("--no-train-halting", action="store_true",
                        help="run every example for all deep-supervision steps in training (no Q-head halting)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads per process")
    parser.add_argument("--fresh", action="store_true", help="ignore an existing train_state.pt in --out")
    parser.add_argument("--init", default=None, metavar="CHECKPOINT",
                        help="start from a checkpoint's weights (fine-tuning); the model config comes from it, "
                             "--set values override it")
    parser.add_argument("--no-progress", action="store_true")


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="checkpoint folder or shipped name")
    parser.add_argument("--data", default=None, help="puzzle file (CSV source,question,answer,rating); "
                        "default: generated")
    parser.add_argument("--limit", type=int, default=None, help="evaluate at most this many puzzles")
    parser.add_argument("--steps", type=int, default=None, help="deep-supervision steps (default: the model's)")
    parser.add_argument("--trajectories", type=int, nargs="*", default=[1, 8],
                        help="K values for PTRM (1 = one deterministic trajectory)")
    parser.add_argument("--sigma", type=float, default=0.3, help="PTRM noise scale")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--update-card", default=None, metavar="LABEL",
                        help="record the figures in the checkpoint's card under this label")
    parser.add_argument("--seed", type=int, default=12345)


def build_training_model(model_name: str, task: TaskSpec, overrides: dict[str, Any]):
    """A fresh model for the task; `overrides` are config fields."""
    import torch

    if model_name == "maze-net":
        from ..neural.maze_net import MazeNet, MazeNetConfig
        return MazeNet(MazeNetConfig.from_dict({"output": task.token_layout.get("labels", "path"), **overrides}))
    from ..neural.hrm import HRMConfig
    from ..neural.trm import TRMConfig
    from ..neural.checkpoint import build_model
    config_class = TRMConfig if model_name == "trm" else HRMConfig
    values: dict[str, Any] = {"vocab_size": task.vocab_size, "seq_len": task.seq_len,
                              "attention_mask": task.peer_mask is not None}
    values.update(overrides)
    config = config_class.from_dict(values)
    peer_mask = torch.as_tensor(task.peer_mask) if config.attention_mask else None
    return build_model("TRM" if model_name == "trm" else "HRM", config, peer_mask=peer_mask)


def _model_from_checkpoint(path: str, overrides: dict[str, Any]):
    """A model built from a checkpoint's config (with `overrides`) holding its weights."""
    from ..neural.catalog import read_meta
    from ..neural.checkpoint import build_model, from_pretrained, load_weights

    meta = read_meta(path)
    trained = from_pretrained(meta.path)
    model = build_model(meta.model, {**meta.config, **overrides}, peer_mask=getattr(trained, "peer_mask", None))
    load_weights(model, trained.state_dict(), str(meta.path))
    return model.train()


def run_train(args: argparse.Namespace, task: TaskSpec, *, eval_examples: Examples | None = None,
              train_examples: Examples | None = None, data_note: str = "") -> dict[str, Any]:
    import torch

    from .loop import Trainer, TrainConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model_name = args.model or task.default_model
    overrides = _parse_overrides(args.model_set)
    if args.init:
        model = _model_from_checkpoint(args.init, overrides)
    else:
        model = build_training_model(model_name, task, overrides)
    config = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, lr_min_ratio=args.lr_min_ratio,
                         warmup_steps=args.warmup, weight_decay=args.weight_decay, optimizer=args.optimizer,
                         ema_decay=args.ema, grad_clip=args.grad_clip, loss=task.loss, seed=args.seed,
                         eval_every=args.eval_every, eval_size=args.eval_size,
                         checkpoint_every=args.checkpoint_every, log_every=args.log_every,
                         halt_in_training=not args.no_train_halting,
                         time_limit_s=None if args.time_limit_min is None else 60 * args.time_limit_min)
    if eval_examples is None:
        eval_examples = task.generate(np.random.default_rng(10_000_019 + args.seed), args.eval_size)
    trainer = Trainer(model, task, config, args.out, eval_examples=eval_examples, train_examples=train_examples)
    state = trainer.state_path()
    if state.is_file() and not args.fresh:
        trainer.load(state)
        if trainer.rank == 0:
            print(f"resumed from {state} at step {trainer.step}", file=sys.stderr)
    params = sum(p.numel() for p in model.parameters())
    if trainer.rank == 0:
        print(f"{model_name}: {params:,} parameters; task {task.name}; {config.steps} steps of batch "
              f"{config.batch_size} x {trainer.world} process(es)", file=sys.stderr)
    result = trainer.run(progress=not args.no_progress)
    if trainer.rank == 0:
        if result:
            print(json.dumps(result), file=sys.stderr)
        if args.export:
            export(trainer, args, model_name, data_note)
    return result


def export(trainer, args: argparse.Namespace, model_name: str, data_note: str) -> Path:
    """Write the EMA weights as a checkpoint folder with its card."""
    from ..neural.checkpoint import save_pretrained

    model = trainer.model
    model.load_state_dict(trainer.ema_state_dict())
    task = trainer.task
    card = {
        "title": f"{model_name} for {task.name}",
        "family": FAMILIES[model_name],
        "command": "recursive-tools " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "training_time_min": round(trainer.elapsed_s / 60, 1),
        "training_steps": trainer.step,
        "batch_size": trainer.config.batch_size * trainer.world,
        "data": data_note or "generated on the fly by the task's generator",
    }
    folder = save_pretrained(model, args.export, card, kind=task.kind, size_label=task.size_label,
                             tokens=task.token_layout)
    print(f"exported {folder}", file=sys.stderr)
    return folder


def run_eval(args: argparse.Namespace, model, task: TaskSpec, examples: Examples, data_note: str) -> dict[str, Any]:
    """Exact match for one deterministic trajectory and for each PTRM K, with timing."""
    import torch

    from .evaluate import solve_rate

    if args.threads:
        torch.set_num_threads(args.threads)
    steps = args.steps or int(model.config.halt_max_steps)
    figures: dict[str, Any] = {"data": data_note, "puzzles": int(len(examples[0])), "steps": steps}
    for k in args.trajectories:
        started = time.monotonic()
        rate = solve_rate(model, task, examples, steps=steps, trajectories=k, sigma=args.sigma,
                          batch_size=args.batch_size, seed=args.seed)
        seconds = time.monotonic() - started
        figures[f"K={k}"] = {**rate, "seconds": round(seconds, 1),
                             "puzzles_per_s": round(len(examples[0]) / max(seconds, 1e-9), 2)}
        print(f"K={k}: {json.dumps(figures[f'K={k}'])}", file=sys.stderr)
    return figures


def record_figures(folder: str | Path, label: str, figures: dict[str, Any]) -> None:
    """Store measured figures in the checkpoint's config.json card under `label` and re-render its README.md."""
    data = str(figures["data"])
    if "/shared/data/" in data:  # name shared files as the repository's docs do, not by this machine's path
        data = "shared/data/" + data.split("/shared/data/", 1)[1]
    summary = {"data": data, "puzzles": figures["puzzles"], "max_steps": figures["steps"]}
    for key, value in figures.items():
        if key.startswith("K="):
            summary[key] = f"{100 * value['verified']:.1f}% verified ({value['puzzles_per_s']} puzzles/s)"
    update_card(folder, {label: summary})


def update_card(folder: str | Path, fields: dict[str, Any]) -> None:
    """Merge `fields` into a checkpoint's card (config.json) and re-render its README.md."""
    from ..neural.catalog import CARD_FILE, CONFIG_FILE
    from ..neural.checkpoint import render_card

    folder = Path(folder)
    meta = json.loads((folder / CONFIG_FILE).read_text())
    meta.setdefault("card", {}).update(fields)
    (folder / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    (folder / CARD_FILE).write_text(render_card(folder.name, meta["model"], meta["config"], meta["card"],
                                                meta["parameters"]))
