"""The bridge between puzzle kinds and the recursive neural solvers.

`CheckpointSolver` wraps one checkpoint and the inference engine with its kind's encode / decode / verify_batch, and
implements pipeline.NeuralSolver. Every checkpoint in solvers/checkpoints/ that names a kind and a size registers
itself with the pipeline (reading only its config.json; torch is imported when a solver is first used). Each model is
loaded once per process.

Concurrent solve() calls from different threads for the same model are gathered by a micro-batcher (at most
`max_batch` puzzles) and run as ONE engine batch: a server answering many LLM calls spends one forward pass per
recursion step on all of them instead of one per caller. Calls that arrive while a batch runs join the next one;
`window_s` can also hold a lone call back a few milliseconds for company. The default is 0: on 2 cores a 5 ms
window cost a lone MCP call 6 ms (warm p50 53.6 -> 47.2 ms without it) and bought no throughput, because calls
pile up behind the running batch anyway.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from recursive_tools.answer import SolverInfo
from recursive_tools.errors import ParseError
from recursive_tools.kinds import KIND_NAMES, get_kind
from recursive_tools.limits import MAX_TRAJECTORIES
from recursive_tools.pipeline import NeuralAttempt, register_neural
from recursive_tools.solvers.budget import Budget
from recursive_tools.solvers.neural.catalog import CheckpointMeta, list_checkpoints, read_meta

if TYPE_CHECKING:
    from recursive_tools.solvers.neural.engine import SampleResult

DEFAULT_WINDOW_S = 0.0
DEFAULT_MAX_BATCH = 64
DEFAULT_SIGMA = 0.3  # PTRM noise scale for Sudoku (the paper's value)
SMALL_BATCH_ROWS = 8  # batches with fewer rows (puzzles x trajectories) run on one intra-op thread


@dataclass
class _Request:
    tokens: np.ndarray
    shape: tuple[int, ...]  # the puzzle's grid shape; only requests of one shape share an engine batch
    trajectories: int
    budget: Budget | None
    future: Future = field(default_factory=Future)


class MicroBatcher:
    """Gathers requests from concurrent threads and hands them to `run_batch` together.

    One worker thread per batcher: it takes the first waiting request, waits up to `window_s` for more (or until
    `max_batch` are waiting), runs them as one batch and resolves each caller's future.
    """

    def __init__(self, run_batch: Callable[[list[_Request]], list[Any]], *, window_s: float = DEFAULT_WINDOW_S,
                 max_batch: int = DEFAULT_MAX_BATCH, name: str = "neural-batcher") -> None:
        if not 0 <= window_s <= 1 or max_batch < 1:
            raise ValueError("window_s must be within 0..1 seconds and max_batch at least 1")
        self._run_batch = run_batch
        self.window_s = window_s
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._start_lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._name = name
        self.batch_sizes: list[int] = []  # sizes of the batches run so far (for tests and benchmarks)

    def submit(self, request: _Request) -> Any:
        self._ensure_worker()
        self._queue.put(request)
        return request.future.result()

    def _ensure_worker(self) -> None:
        with self._start_lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._serve, name=self._name, daemon=True)
                self._worker.start()

    def _serve(self) -> None:
        while True:
            batch = [self._queue.get()]
            closes = time.monotonic() + self.window_s
            while len(batch) < self.max_batch:
                remaining = closes - time.monotonic()
                try:
                    batch.append(self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait())
                except queue.Empty:
                    break
            self.batch_sizes.append(len(batch))
            try:
                results = self._run_batch(batch)
            except Exception as error:  # the callers see the engine's error, the worker keeps serving
                for request in batch:
                    request.future.set_exception(error)
                continue
            for request, result in zip(batch, results):
                request.future.set_result(result)


class CheckpointSolver:
    """A neural solver for one (kind, size): a checkpoint + the engine + the kind's token codec and verifier."""

    def __init__(self, checkpoint: str | Path | CheckpointMeta, *, kind_module: ModuleType | None = None,
                 sigma: float | None = None, window_s: float = DEFAULT_WINDOW_S,
                 max_batch: int = DEFAULT_MAX_BATCH, threads: int | None = None) -> None:
        import torch

        from recursive_tools.solvers.neural.checkpoint import from_pretrained
        from recursive_tools.solvers.neural.engine import InferenceEngine

        meta = checkpoint if isinstance(checkpoint, CheckpointMeta) else read_meta(checkpoint)
        if kind_module is None:
            if meta.kind not in KIND_NAMES:
                raise ValueError(f"checkpoint {meta.name} names kind {meta.kind!r}; known kinds: {KIND_NAMES}")
            kind_module = get_kind(meta.kind)
        self.meta = meta
        self.kind = meta.kind or kind_module.NAME
        self.size_label = meta.size_label or ""
        self.card = meta.solver_card
        self.info = SolverInfo(name=meta.name, family=meta.family, checkpoint=meta.name)
        self.sigma = float(meta.card.get("ptrm_sigma", DEFAULT_SIGMA) if sigma is None else sigma)
        # Deep-supervision steps at inference; a card may ask for more than training used (e.g. larger mazes).
        self.max_steps: int | None = meta.card.get("inference_max_steps")
        self._kind = kind_module
        self.model = from_pretrained(meta.path)
        # A maze net trained on arrows answers with each cell's next move; the kind follows them from the start.
        self._arrows = meta.tokens.get("labels") == "arrows"
        verify = kind_module.verify_arrows_batch if self._arrows else kind_module.verify_batch
        if "box" in meta.tokens:  # a Sudoku checkpoint for a non-default box shape
            verify = functools.partial(verify, box=tuple(meta.tokens["box"]))
        self.engine = InferenceEngine(self.model, verify_batch=verify, threads=threads)
        # A size-agnostic model (no fixed seq_len, e.g. the maze net) is told each batch's grid shape, and so is
        # the verifier when it asks for one.
        self._pass_shape = getattr(self.model.config, "seq_len", None) is None
        # Measured on 2 cores (maze net, 30x30, 8 trajectories): one thread 156 ms; two threads 154 ms once warm,
        # but 1.5 s the first time each batch shape is seen, and trajectories leaving the batch make new shapes at
        # every step (a failing maze took 14-22 s). So by default the convolutional net runs on one thread.
        self._threads = threads or (1 if self._pass_shape else torch.get_num_threads())
        self._verify_takes_shape = "shape" in inspect.signature(kind_module.verify_batch).parameters
        self._views = getattr(kind_module, "views", None)
        if self._views is not None and self._arrows:
            self._views = functools.partial(self._views, arrows=True)
        if self._views is not None and "box" in meta.tokens:
            self._views = functools.partial(self._views, box=tuple(meta.tokens["box"]))
        self._seeds = itertools.count()
        self.batcher = MicroBatcher(self._run_batch, window_s=window_s, max_batch=max_batch,
                                    name=f"neural-batcher-{meta.name}")

    def solve(self, puzzle: Any, *, trajectories: int = 1, budget: Budget | None = None) -> NeuralAttempt:
        if not 1 <= trajectories <= MAX_TRAJECTORIES:
            raise ValueError(f"trajectories must be between 1 and {MAX_TRAJECTORIES}, got {trajectories}")
        tokens, shape = self._encode(puzzle)
        result: SampleResult = self.batcher.submit(_Request(tokens, shape, trajectories, budget))
        return NeuralAttempt(solution=self._decode(puzzle, result), passed_verification=bool(result.verified),
                             steps=result.steps, confidence=result.confidence, trajectories=result.trajectories)

    def trace(self, puzzle: Any, *, trajectories: int = 1, budget: Budget | None = None) -> SampleResult:
        """The engine's full record for one puzzle (halting confidence and changed cells per step)."""
        tokens, shape = self._encode(puzzle)
        return self.engine.run(tokens[None], trajectories=trajectories, sigma=self.sigma, budget=budget,
                               max_steps=self.max_steps, **self._shape_options(shape))[0]

    def _encode(self, puzzle: Any) -> tuple[np.ndarray, tuple[int, ...]]:
        tokens = np.asarray(self._kind.encode(puzzle), dtype=np.int64).reshape(-1)
        seq_len = getattr(self.model.config, "seq_len", None)
        if seq_len is not None and tokens.shape[0] != seq_len:
            raise ValueError(f"{self.info.name} reads {seq_len} tokens; this puzzle encodes to {tokens.shape[0]}")
        return tokens, tuple(getattr(puzzle, "shape", (tokens.shape[0],)))

    def views(self, shape: tuple[int, ...]) -> Any | None:
        """The kind's symmetric views of a grid shape (engine.Views), or None when the kind offers none."""
        return None if self._views is None else self._views(shape)

    def _shape_options(self, shape: tuple[int, ...]) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self._views is not None:  # trajectories run on the kind's symmetric views first, then with noise
            options["views"] = self.views(shape)
        if not self._pass_shape:
            return options
        options["forward_kwargs"] = {"shape": shape}
        if self._verify_takes_shape:
            options["verify_batch"] = functools.partial(self.engine.verify_batch, shape=shape)
        return options

    def _decode(self, puzzle: Any, result: SampleResult) -> Any | None:
        if result.steps == 0:
            return None
        prediction = result.prediction
        if self._arrows:
            prediction = self._kind.follow_arrows(self._kind.encode(puzzle)[None], prediction[None],
                                                  shape=puzzle.shape)[0]
        try:
            return self._kind.decode(puzzle, prediction)
        except (ParseError, ValueError):  # e.g. a pad token predicted in a cell: no usable grid
            return None

    def _run_batch(self, requests: list[_Request]) -> list[SampleResult]:
        # Runs on the batcher's worker thread. Measured on 2 cores (9x9 TRM): from a non-main thread, a one-puzzle
        # batch took 71 ms with 2 intra-op threads and 28 ms with 1, while 64 puzzles ran 1.1 s with 2 and 1.6 s
        # with 1; so small batches use one thread and large ones all of them.
        import torch

        rows = sum(r.trajectories for r in requests)
        torch.set_num_threads(self._threads if rows >= SMALL_BATCH_ROWS else 1)
        results: list[SampleResult | None] = [None] * len(requests)
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for index, request in enumerate(requests):
            by_shape.setdefault(request.shape, []).append(index)
        for shape, members in by_shape.items():
            group = [requests[i] for i in members]
            solved = self.engine.run(np.stack([r.tokens for r in group]), trajectories=[r.trajectories for r in group],
                                     sigma=self.sigma, budget=[r.budget for r in group], seed=next(self._seeds),
                                     max_steps=self.max_steps, **self._shape_options(shape))
            for index, result in zip(members, solved):
                results[index] = result
        return results


_loaded: dict[Path, CheckpointSolver] = {}
_load_lock = threading.Lock()


def load_solver(checkpoint: str | Path | CheckpointMeta) -> CheckpointSolver:
    """The process-wide solver for a checkpoint (loaded on first call, then shared; thread-safe)."""
    meta = checkpoint if isinstance(checkpoint, CheckpointMeta) else read_meta(checkpoint)
    key = meta.path.resolve()
    with _load_lock:
        if key not in _loaded:
            _loaded[key] = CheckpointSolver(meta)
        return _loaded[key]


def register_shipped_checkpoints(checkpoints: list[CheckpointMeta] | None = None) -> list[str]:
    """Register every checkpoint that names a known kind and size; one per (kind, size): a card with
    "preferred": true wins, else the first by name. A card with "serve": false (a model too weak to be worth trying
    first) stays loadable by name but is not registered. Returns the registered names."""
    candidates = [m for m in (list_checkpoints() if checkpoints is None else checkpoints)
                  if m.kind in KIND_NAMES and m.size_label and m.card.get("serve", True)]
    candidates.sort(key=lambda m: (not m.card.get("preferred", False), m.name))
    registered: dict[tuple[str, str], str] = {}
    for meta in candidates:
        key = (meta.kind, meta.size_label)
        if key in registered:
            continue
        register_neural(lambda meta=meta: load_solver(meta), meta.kind, meta.size_label, meta.name,
                        card=meta.solver_card)
        registered[key] = meta.name
    return list(registered.values())
