"""Accuracy of a trained model on held-out puzzles: one deterministic trajectory and PTRM with K trajectories.

Every model runs through the inference engine (halting, verified early exit, trajectories selected by verification,
then by q_halt: they run on the task's symmetric views first, a maze's rotations and mirrors or a Sudoku's
relabellings and shuffles, then with Gaussian noise); the size-agnostic maze net reads square grids of any side there.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .tasks import IGNORE_LABEL, Examples, TaskSpec


def solve_rate(model, task: TaskSpec, examples: Examples, *, steps: int, trajectories: int = 1, sigma: float = 0.3,
               batch_size: int = 64, seed: int = 0) -> dict[str, Any]:
    """{"verified": share whose answer passes the kind's check, "exact": share equal to the label, ...}."""
    inputs, labels = examples
    from ..neural.engine import InferenceEngine

    engine = InferenceEngine(model, task.verify_batch)
    side = int(round(inputs.shape[1] ** 0.5))
    views = task.views((side, side)) if task.views is not None and side * side == inputs.shape[1] else None
    verified = exact = 0
    steps_used: list[int] = []
    for begin in range(0, len(inputs), batch_size):
        results = engine.run(inputs[begin:begin + batch_size], trajectories=trajectories, sigma=sigma,
                             max_steps=steps, seed=seed + begin, views=views)
        for offset, result in enumerate(results):
            label = labels[begin + offset]
            valid = label != IGNORE_LABEL
            verified += bool(result.verified)
            exact += bool(np.array_equal(result.prediction[valid], label[valid]))
            steps_used.append(result.steps)
    n = len(inputs)
    return {"verified": verified / n, "exact": exact / n, "mean_steps": float(np.mean(steps_used))}
