"""What a training task is, as data: token geometry, rules (a batch verifier), an example generator, augmentation.

Solvers never import the core, so the core builds TaskSpecs from its puzzle kinds (recursive_tools/tasks.py) and
hands them in; tests and scripts may also build them directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    import torch

    from ..neural.engine import Views

Examples = tuple[np.ndarray, np.ndarray]  # (inputs [N, L], labels [N, L]) int64 token arrays
ExampleGenerator = Callable[[np.random.Generator, int], Examples]
Augmenter = Callable[[np.random.Generator, np.ndarray, np.ndarray], Examples]
BatchVerifier = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (inputs, predictions) -> bool [N]
# (inputs [B, L], labels [B, L], deep-supervision steps done before this one [B]) -> the labels to supervise now
StepLabels = Callable[["torch.Tensor", "torch.Tensor", "torch.Tensor"], "torch.Tensor"]
LossName = Literal["stablemax", "softmax"]

IGNORE_LABEL = 0  # the pad token: never supervised


@dataclass(frozen=True)
class TaskSpec:
    name: str  # "sudoku-9x9", "maze"
    kind: str  # the puzzle kind the checkpoint registers for
    size_label: str  # registry key: "9x9" for Sudoku, "any" for a size-agnostic maze net
    vocab_size: int
    grid_shape: tuple[int, int]  # the training canvas (rows, cols); seq_len = rows * cols
    generate: ExampleGenerator  # fresh training examples
    verify_batch: BatchVerifier  # the puzzle kind's vectorised check of predicted token grids
    default_model: str  # "trm" | "hrm" | "maze-net"
    loss: LossName = "stablemax"
    augment: Augmenter | None = None  # applied to examples read from files (generated ones are fresh already)
    peer_mask: np.ndarray | None = None  # [L, L] bool: cells sharing a unit (Sudoku), for constraint-graph attention
    units: tuple[tuple[int, ...], ...] | None = None  # Sudoku rows, columns, boxes (cell indices)
    box: tuple[int, int] | None = None  # Sudoku box shape (rows, cols)
    token_layout: dict = field(default_factory=dict)  # written into config.json for decoders
    step_labels: StepLabels | None = None  # None: every step is supervised with the full labels
    views: Callable[[tuple[int, int]], Views] | None = None  # symmetric views of a grid shape (evaluation trajectories)

    @property
    def seq_len(self) -> int:
        return self.grid_shape[0] * self.grid_shape[1]
