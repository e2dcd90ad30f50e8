"""Accuracy of a trained model on held-out puzzles: one deterministic trajectory and PTRM with K trajectories.

Models with a fixed sequence length (TRM, HRM) run through the inference engine (halting, verified early exit,
Gaussian-noise trajectories selected by verification, then by q_halt). The size-agnostic maze net runs through the
training loop's evaluation (the same verified early exit, one trajectory), because the engine serves fixed-length
models only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .tasks import IGNORE_LABEL, Examples, TaskSpec


def solve_rate(model, task: TaskSpec, examples: Examples, *, steps: int, trajectories: int = 1, sigma: float = 0.3,
               batch_size: int = 64, seed: int = 0) -> dict[str, Any]:
    """{"verified": share whose answer passes the kind's check, "exact": share equal to the label, ...}."""
    inputs, labels = examples
    if getattr(model.config, "seq_len", None) is None:
        if trajectories != 1:
            return {"skipped": "PTRM trajectories need the inference engine, which serves fixed-length models"}
        from .loop import evaluate_model
        result = evaluate_model(model, examples, task, steps, batch_size)
        return {"verified": result["verified_any_step"], "exact_last_step": result["exact_last_step"],
                "token_accuracy": result["token_accuracy"]}
    from ..neural.engine import InferenceEngine

    engine = InferenceEngine(model, task.verify_batch)
    verified = exact = 0
    steps_used: list[int] = []
    for begin in range(0, len(inputs), batch_size):
        results = engine.run(inputs[begin:begin + batch_size], trajectories=trajectories, sigma=sigma,
                             max_steps=steps, seed=seed + begin)
        for offset, result in enumerate(results):
            label = labels[begin + offset]
            valid = label != IGNORE_LABEL
            verified += bool(result.verified)
            exact += bool(np.array_equal(result.prediction[valid], label[valid]))
            steps_used.append(result.steps)
    n = len(inputs)
    return {"verified": verified / n, "exact": exact / n, "mean_steps": float(np.mean(steps_used))}
