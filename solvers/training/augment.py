"""Validity-preserving augmentations of the reference (applied to input and label token grids alike).

Sudoku: a permutation of the digits, transpose with probability 1/2, a shuffle of the bands (groups of box rows) and
of the rows within each band, and likewise of the stacks and the columns within each stack. With non-square boxes
(2x3) a transpose would turn the boxes into 3x2, so it is skipped there.
Mazes: one of the 8 dihedral transforms (rotations and reflections) of the square grid.
"""

from __future__ import annotations

import numpy as np

from .tasks import Examples

DIGIT_OFFSET = 1  # token = digit + 1 (0 pad, 1 blank, 2..N+1 digits)


def sudoku_permutation(rng: np.random.Generator, box: tuple[int, int]) -> tuple[np.ndarray, bool]:
    """(cell order [N*N] such that new[i] = old[order[i]], transposed?) for one random symmetry."""
    box_rows, box_cols = box
    n = box_rows * box_cols
    bands = rng.permutation(n // box_rows)  # a band is box_rows rows
    rows = np.concatenate([band * box_rows + rng.permutation(box_rows) for band in bands])
    stacks = rng.permutation(n // box_cols)
    cols = np.concatenate([stack * box_cols + rng.permutation(box_cols) for stack in stacks])
    order = (rows[:, None] * n + cols[None, :])
    transpose = box_rows == box_cols and bool(rng.random() < 0.5)
    if transpose:
        order = order.T
    return order.reshape(-1), transpose


def sudoku_batch(rng: np.random.Generator, inputs: np.ndarray, labels: np.ndarray, box: tuple[int, int]) -> Examples:
    """Each row of the batch gets its own random symmetry and digit permutation."""
    n = box[0] * box[1]
    inputs, labels = inputs.copy(), labels.copy()
    for i in range(len(inputs)):
        order, _ = sudoku_permutation(rng, box)
        mapping = np.arange(n + 1 + DIGIT_OFFSET)
        mapping[DIGIT_OFFSET + 1:] = DIGIT_OFFSET + 1 + rng.permutation(n)
        inputs[i] = mapping[inputs[i][order]]
        labels[i] = mapping[labels[i][order]]
    return inputs, labels


def dihedral(grid: np.ndarray, transform: int) -> np.ndarray:
    """Transform 0..7 of a [..., H, W] grid: rotation by 90 * (t % 4) degrees, then a flip when t >= 4."""
    out = np.rot90(grid, transform % 4, axes=(-2, -1))
    if transform >= 4:
        out = np.flip(out, axis=-1)
    return np.ascontiguousarray(out)


def dihedral_batch(rng: np.random.Generator, inputs: np.ndarray, labels: np.ndarray) -> Examples:
    """A random dihedral transform per row of flat square token grids [B, S*S]."""
    side = int(round(inputs.shape[1] ** 0.5))
    if side * side != inputs.shape[1]:
        raise ValueError("dihedral augmentation needs square grids")
    out_inputs, out_labels = inputs.copy(), labels.copy()
    for i, transform in enumerate(rng.integers(0, 8, size=len(inputs))):
        out_inputs[i] = dihedral(inputs[i].reshape(side, side), int(transform)).reshape(-1)
        out_labels[i] = dihedral(labels[i].reshape(side, side), int(transform)).reshape(-1)
    return out_inputs, out_labels
