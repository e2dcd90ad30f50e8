"""Inference-engine benchmark: throughput, latency and accuracy of one checkpoint on one puzzle file.

    python benchmarks/engine.py CHECKPOINT PUZZLES [--limit 256] [--threads 2] [--max-steps N]

CHECKPOINT is a checkpoint folder or a shipped checkpoint name; PUZZLES a CSV file `source,question,answer,rating`
(the layout of shared/data) or a text file with one puzzle a line. Prints one Markdown table:

- batch 1 and batch 64, with halting (verified early exit; Q-head halts of unverified grids ignored unless
  trusted) and in reference mode (all steps, last step's answer): puzzles/s, p50/p99 latency of a call, accuracy
  (verified grids), mean recursion steps;
- PTRM K = 1 / 8 / 32 trajectories (verified selection, sigma from --sigma): accuracy and time; for a kind with
  symmetric views (mazes, Sudoku) also K > 1 as the pipeline runs it, views first and then noise.
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from recursive_tools.kinds import get_kind
from recursive_tools.neural import CheckpointSolver
from recursive_tools.solvers.neural.engine import InferenceEngine, SampleResult


def read_puzzles(path: Path, limit: int, reveal: int = 0, seed: int = 0) -> list[str]:
    """Puzzle texts; `reveal` > 0 (Sudoku CSV only) fills that many blanks from the answer column, to make easy
    puzzles out of hard ones."""
    with path.open(encoding="utf-8") as handle:
        if path.suffix == ".csv":
            rows = [(row["question"], row["answer"]) for row in csv.DictReader(handle)][:limit]
        else:
            rows = [(line.strip(), "") for line in handle if line.strip() and not line.startswith("#")][:limit]
    if reveal <= 0:
        return [question for question, _ in rows]
    rng = np.random.default_rng(seed)
    easier = []
    for question, answer in rows:
        if len(answer) != len(question):
            raise SystemExit("--reveal needs a CSV whose answer column is the solved grid, one character a cell")
        cells = list(question)
        blanks = [i for i, ch in enumerate(cells) if ch in ".0"]
        for i in rng.permutation(blanks)[:reveal]:
            cells[i] = answer[i]
        easier.append("".join(cells))
    return easier


def as_grid_text(text: str) -> str:
    """A square grid written on one line (as the maze CSV does) split into rows; other text unchanged."""
    side = math.isqrt(len(text))
    if "\n" in text or side * side != len(text) or any(ch.isdigit() or ch == "." for ch in text):
        return text
    return "\n".join(text[r * side:(r + 1) * side] for r in range(side))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure(engine: InferenceEngine, tokens: np.ndarray, batch: int, **options) -> dict[str, float]:
    latencies: list[float] = []
    results: list[SampleResult] = []
    started = time.perf_counter()
    for start in range(0, len(tokens), batch):
        call = time.perf_counter()
        results += engine.run(tokens[start:start + batch], **options)
        latencies.append(time.perf_counter() - call)
    total = time.perf_counter() - started
    return {"puzzles_per_s": len(tokens) / total, "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * percentile(latencies, 0.99),
            "accuracy": float(np.mean([bool(r.verified) for r in results])),
            "steps": float(np.mean([r.steps for r in results])), "seconds": total}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("puzzles", type=Path)
    parser.add_argument("--limit", type=int, default=256, help="puzzles to read (default 256)")
    parser.add_argument("--batch1-limit", type=int, default=64, help="puzzles timed one at a time (default 64)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-steps", type=int, default=None, help="default: the model's halt_max_steps")
    parser.add_argument("--sigma", type=float, default=0.3)
    parser.add_argument("--trajectories", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--reveal", type=int, default=0,
                        help="Sudoku CSV: fill this many blanks of each puzzle from its answer (easier puzzles)")
    args = parser.parse_args(argv)

    solver = CheckpointSolver(args.checkpoint, threads=args.threads)
    meta, model, engine = solver.meta, solver.model, solver.engine
    kind = get_kind(meta.kind)
    texts = read_puzzles(args.puzzles, args.limit, args.reveal)
    tokens = np.stack([kind.encode(kind.parse(as_grid_text(text))) for text in texts])
    max_steps = args.max_steps or model.config.halt_max_steps
    engine.run(tokens[:2], max_steps=1)  # warm-up

    rows = []
    for batch in (1, 64):
        subset = tokens[:args.batch1_limit] if batch == 1 else tokens
        for mode in ("halting", "reference"):
            figures = measure(engine, subset, batch, mode=mode, max_steps=max_steps)
            rows.append((f"{mode}", batch, len(subset), figures))
    figures = measure(engine, tokens, 64, mode="halting", max_steps=max_steps, trust_q_halt=True)
    rows.append(("halting, Q-head halts trusted", 64, len(tokens), figures))
    views = solver.views(kind.parse(as_grid_text(texts[0])).shape)  # one file, one grid shape
    for k in args.trajectories:
        figures = measure(engine, tokens, 64, trajectories=k, sigma=args.sigma, max_steps=max_steps)
        rows.append((f"PTRM K={k} sigma={args.sigma}", 64, len(tokens), figures))
        if views is not None and k > 1:
            figures = measure(engine, tokens, 64, trajectories=k, sigma=args.sigma, max_steps=max_steps, views=views)
            rows.append((f"{views.count} views, then noise: K={k}", 64, len(tokens), figures))

    print(f"checkpoint {meta.name} ({meta.model}, {sum(p.numel() for p in model.parameters()):,} parameters) on "
          f"{args.puzzles.name}{f' with {args.reveal} blanks revealed' if args.reveal else ''}; torch {torch.__version__}, {args.threads} threads, max {max_steps} steps\n")
    print("| run | batch | puzzles | puzzles/s | p50 ms/call | p99 ms/call | accuracy | mean steps | seconds |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, batch, count, f in rows:
        print(f"| {name} | {batch} | {count} | {f['puzzles_per_s']:.1f} | {f['p50_ms']:.1f} | {f['p99_ms']:.1f} | "
              f"{f['accuracy']:.1%} | {f['steps']:.2f} | {f['seconds']:.1f} |")
    by_name = {(name, batch): f for name, batch, _, f in rows}
    for batch in (1, 64):
        speedup = by_name[("halting", batch)]["puzzles_per_s"] / by_name[("reference", batch)]["puzzles_per_s"]
        print(f"\nbatch {batch}: halting runs {speedup:.1f}x the puzzles/s of reference mode", end="")
    print(f"\n\ncommand: python benchmarks/engine.py {' '.join(sys.argv[1:] if argv is None else argv)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
