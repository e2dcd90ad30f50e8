"""One inference engine for every recursive model (TRM, HRM, anything with the model interface in base.py).

A batch of puzzles runs deep-supervision steps together. Each row (one trajectory of one puzzle) stops on its own:

- `halting` mode: when its decoded grid passes the injected verifier (verified early exit: that grid is the
  answer), when the model's Q-head says halt, or at `max_steps`. Stopped rows leave the batch (the carry is
  index-selected), so no compute is spent on them. With a verifier in the loop, a Q-head halt on a grid that fails
  verification is known to be wrong, so by default that row keeps refining; `trust_q_halt=True` stops it anyway
  (cheaper, as the reference training does). Without a verifier every Q-head halt ends its row.
- `reference` mode: every row runs all `max_steps` steps and the last step's grid is the answer, exactly as the
  reference evaluation does.

Probabilistic trajectories (PTRM): each puzzle runs K rows in the same batch; Gaussian noise of scale sigma is added
to the latent z before every deep-supervision step. Trajectory 0 of each puzzle stays noise-free, so K trajectories
never do worse than one under verified selection. With `views` (symmetries of the puzzle's grid that its rules do not
see, e.g. the rotations and mirrors of a maze), trajectory t runs on view t % views.count: the first views.count
trajectories are the noise-free views, later ones add noise; each row is verified in its own view and the chosen
answer is mapped back by views.undo (then verified again as returned). Selection: `verified` (first trajectory whose
grid passes the verifier wins, ties broken by q_halt; otherwise the highest q_halt) or `q` (the paper: highest final
q_halt).

The verifier is the puzzle kind's vectorised check, injected as `verify_batch(inputs, predictions) -> bool array`
on numpy token arrays [rows, L]; the engine knows no puzzle rules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import torch

from ..budget import Budget
from .base import Carry

VerifyBatch = Callable[[np.ndarray, np.ndarray], np.ndarray]
Mode = Literal["halting", "reference"]
Selection = Literal["verified", "q"]
StopReason = Literal["verified", "q_halt", "max_steps", "cancelled", "time", "nodes", "not_started"]


class Views(Protocol):
    """Symmetric views of one grid shape: `apply` shows a batch of puzzle tokens [B, L] in view v, `undo` maps
    predicted tokens [B, L] from view v back to the original frame. The verifier must accept a view's answer in
    that view exactly when it accepts the undone answer on the original puzzle."""

    count: int

    def apply(self, tokens: np.ndarray, view: int) -> np.ndarray: ...

    def undo(self, predictions: np.ndarray, view: int) -> np.ndarray: ...


MAX_STEPS = 256
MAX_TRAJECTORIES = 256
DEFAULT_MAX_ROWS = 1024  # rows (puzzles x trajectories) per forward; larger requests run in consecutive groups
_STOP_CODES: tuple[StopReason, ...] = ("not_started", "verified", "q_halt", "max_steps", "cancelled", "time", "nodes")
_CODE = {reason: code for code, reason in enumerate(_STOP_CODES)}


@dataclass
class SampleResult:
    """What the engine found for one puzzle, from its chosen trajectory."""

    prediction: np.ndarray  # [L] predicted tokens (the input tokens when no step ran)
    steps: int  # deep-supervision steps the chosen trajectory ran
    confidence: float | None  # sigmoid(q_halt) at the chosen step
    verified: bool | None  # verifier verdict on `prediction` (None without a verifier)
    stop_reason: StopReason
    trajectory: int  # index of the chosen trajectory (it ran on view trajectory % views.count when views were given)
    trajectories: int  # trajectories run for this puzzle
    halt_confidence: list[float] = field(default_factory=list)  # sigmoid(q_halt) after each step
    cells_changed: list[int] = field(default_factory=list)  # cells whose prediction changed at each step
    row_steps: int = 0  # steps summed over all this puzzle's trajectories (the compute spent)


class InferenceEngine:
    def __init__(self, model: torch.nn.Module, verify_batch: VerifyBatch | None = None, *,
                 threads: int | None = None, max_rows: int = DEFAULT_MAX_ROWS) -> None:
        self.model = model.eval()
        self.verify_batch = verify_batch
        self.max_rows = max_rows
        if threads is not None:
            torch.set_num_threads(threads)

    def run(self, tokens: np.ndarray | torch.Tensor, *, trajectories: int | Sequence[int] = 1,
            sigma: float = 0.0, max_steps: int | None = None, mode: Mode = "halting",
            selection: Selection = "verified", budget: Budget | Sequence[Budget | None] | None = None,
            seed: int = 0, trust_q_halt: bool = False, verify_batch: VerifyBatch | None = None,
            forward_kwargs: dict[str, Any] | None = None, views: Views | None = None) -> list[SampleResult]:
        """Solve a batch of token grids [B, L]; one SampleResult per puzzle, in order.

        `verify_batch` replaces the engine's verifier for this call; `forward_kwargs` go to every model call (e.g. the
        grid shape for a size-agnostic maze net); `views` spreads the trajectories over symmetric views of the grid.
        """
        tokens = torch.as_tensor(np.asarray(tokens) if not isinstance(tokens, torch.Tensor) else tokens,
                                 dtype=torch.long)
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be [batch, length], got shape {tuple(tokens.shape)}")
        batch = tokens.shape[0]
        counts = [trajectories] * batch if isinstance(trajectories, int) else list(trajectories)
        budgets = list(budget) if isinstance(budget, Sequence) else [budget] * batch
        max_steps = self.model.config.halt_max_steps if max_steps is None else max_steps
        self._check(tokens, counts, budgets, sigma, max_steps, mode, selection)
        verify = verify_batch or self.verify_batch
        results: list[SampleResult] = []
        generator = torch.Generator().manual_seed(seed)
        start = 0
        while start < batch:  # groups of whole puzzles that fit in max_rows
            end, rows = start, 0
            while end < batch and (end == start or rows + counts[end] <= self.max_rows):
                rows += counts[end]
                end += 1
            results += self._run_group(tokens[start:end], counts[start:end], budgets[start:end], sigma, max_steps,
                                       mode, selection, generator, trust_q_halt, verify, forward_kwargs or {}, views)
            start = end
        return results

    def _check(self, tokens: torch.Tensor, counts: list[int], budgets: list[Budget | None], sigma: float,
               max_steps: int, mode: str, selection: str) -> None:
        config = self.model.config
        seq_len = getattr(config, "seq_len", None)  # None: a size-agnostic model (e.g. convolutional)
        if seq_len is not None and tokens.shape[1] != seq_len:
            raise ValueError(f"puzzles have {tokens.shape[1]} tokens; this model reads {seq_len}")
        if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= config.vocab_size):
            raise ValueError(f"token ids must be in 0..{config.vocab_size - 1}")
        if len(counts) != tokens.shape[0] or len(budgets) != tokens.shape[0]:
            raise ValueError("give one trajectory count and one budget per puzzle (or a single value for all)")
        if any(not 1 <= k <= MAX_TRAJECTORIES for k in counts):
            raise ValueError(f"trajectories must be between 1 and {MAX_TRAJECTORIES}")
        if not 1 <= max_steps <= MAX_STEPS:
            raise ValueError(f"max_steps must be between 1 and {MAX_STEPS}, got {max_steps}")
        if not 0.0 <= sigma <= 10.0:
            raise ValueError(f"sigma must be between 0 and 10, got {sigma}")
        if mode not in ("halting", "reference") or selection not in ("verified", "q"):
            raise ValueError("mode must be 'halting' or 'reference'; selection 'verified' or 'q'")

    def _run_group(self, tokens: torch.Tensor, counts: list[int], budgets: list[Budget | None], sigma: float,
                   max_steps: int, mode: Mode, selection: Selection,
                   generator: torch.Generator, trust_q_halt: bool, verify: VerifyBatch | None,
                   forward_kwargs: dict[str, Any], views: Views | None) -> list[SampleResult]:
        model = self.model
        device = next(model.parameters()).device
        count_tensor = torch.tensor(counts)
        puzzle_of_row = torch.repeat_interleave(torch.arange(len(counts)), count_tensor)
        trajectory_of_row = torch.arange(len(puzzle_of_row)) - torch.repeat_interleave(
            torch.cumsum(count_tensor, 0) - count_tensor, count_tensor)
        view_count = views.count if views is not None else 1
        view_of_row = trajectory_of_row % view_count
        row_tokens = tokens.index_select(0, puzzle_of_row)
        for view in range(1, view_count):
            in_view = (view_of_row == view).nonzero().squeeze(1)
            if len(in_view):
                row_tokens[in_view] = torch.as_tensor(views.apply(row_tokens[in_view].numpy(), view))
        rows = row_tokens.shape[0]
        noise_scale = torch.where(trajectory_of_row < view_count, 0.0, sigma)

        predictions = row_tokens.clone()  # latest prediction of every row; step 1 counts changes from the input
        steps = torch.zeros(rows, dtype=torch.long)
        last_q = torch.full((rows,), float("-inf"))
        confidence = torch.full((rows, max_steps), float("nan"))
        changed = torch.zeros((rows, max_steps), dtype=torch.long)
        stop = torch.zeros(rows, dtype=torch.long)
        winner = torch.full((len(counts),), -1, dtype=torch.long)  # verified winning row per puzzle
        noisy = sigma > 0 and max(counts) > view_count
        verify_in_loop = mode == "halting" and selection == "verified" and verify is not None
        distinct_budgets = {id(b): b for b in budgets if b is not None}
        budget_index = torch.tensor([list(distinct_budgets).index(id(b)) if b is not None else -1 for b in budgets])

        active = torch.arange(rows)
        with torch.inference_mode():
            carry = model.initial_carry(rows)
            carry = Carry(carry.y.to(device), carry.z.to(device))
            active_tokens = row_tokens.to(device)
            for step in range(1, max_steps + 1):
                keep = torch.ones(len(active), dtype=torch.bool)
                for index, spent in enumerate(b.exhausted() for b in distinct_budgets.values()):
                    if spent is not None:
                        out_of_budget = budget_index.index_select(0, puzzle_of_row[active]) == index
                        stop[active[out_of_budget]] = _CODE[spent]
                        keep &= ~out_of_budget
                if not bool(keep.all()):
                    active, carry, active_tokens = _select(keep, active, carry, active_tokens)
                if len(active) == 0:
                    break
                if noisy:
                    noise = torch.randn(carry.z.shape, generator=generator).to(device)
                    scale = noise_scale[active].view(-1, *[1] * (carry.z.dim() - 1)).to(device)
                    carry = Carry(carry.y, carry.z + noise * scale)
                output = model(carry, active_tokens, **forward_kwargs)
                carry = output.carry
                prediction = output.logits.argmax(-1).cpu()
                q = output.q_halt.float().cpu()
                confidence[active, step - 1] = torch.sigmoid(q)
                changed[active, step - 1] = (prediction != predictions[active]).sum(1)
                predictions[active] = prediction
                steps[active] = step
                last_q[active] = q

                done = torch.zeros(len(active), dtype=torch.bool)
                if mode == "halting" and (trust_q_halt or not verify_in_loop):
                    halted = model.halts(output).cpu()
                    stop[active[halted]] = _CODE["q_halt"]
                    done |= halted
                if verify_in_loop:
                    passed = _verify(verify, row_tokens[active], prediction)
                    _choose_verified(passed, active, puzzle_of_row, q, winner, stop)
                    done |= winner[puzzle_of_row[active]] >= 0
                if step == max_steps:
                    stop[active[~done]] = _CODE["max_steps"]
                    done[:] = True
                for b in distinct_budgets.values():
                    b.report(step, max_steps, f"recursion step {step}/{max_steps}: {int((~done).sum())} of {rows} "
                                              "trajectories still running")
                if bool(done.all()):
                    break
                if bool(done.any()):
                    active, carry, active_tokens = _select(~done, active, carry, active_tokens)

        chosen = _choose_rows(winner, puzzle_of_row, last_q, steps)
        answers = predictions[chosen]
        for view in range(1, view_count):
            in_view = (view_of_row[chosen] == view).nonzero().squeeze(1)
            if len(in_view):
                answers[in_view] = torch.as_tensor(views.undo(answers[in_view].numpy(), view))
        verdicts = _verify(verify, tokens, answers) if verify is not None else None
        results = []
        for puzzle, row in enumerate(chosen.tolist()):
            ran = int(steps[row])
            results.append(SampleResult(
                prediction=answers[puzzle].numpy().copy(), steps=ran,
                confidence=float(confidence[row, ran - 1]) if ran else None,
                verified=None if verdicts is None else bool(verdicts[puzzle]),
                stop_reason=_STOP_CODES[int(stop[row])], trajectory=int(trajectory_of_row[row]),
                trajectories=counts[puzzle], halt_confidence=confidence[row, :ran].tolist(),
                cells_changed=changed[row, :ran].tolist(),
                row_steps=int(steps[puzzle_of_row == puzzle].sum())))
        return results


def _verify(verify: VerifyBatch, inputs: torch.Tensor, predictions: torch.Tensor) -> torch.Tensor:
    verdict = np.asarray(verify(inputs.numpy(), predictions.numpy()), dtype=bool)
    return torch.from_numpy(verdict.reshape(-1))


def _select(keep: torch.Tensor, active: torch.Tensor, carry: Carry,
            active_tokens: torch.Tensor) -> tuple[torch.Tensor, Carry, torch.Tensor]:
    """Drop finished rows from the batch."""
    index = keep.nonzero().squeeze(1)
    device_index = index.to(active_tokens.device)
    return active.index_select(0, index), carry.select(device_index), active_tokens.index_select(0, device_index)


def _choose_verified(passed: torch.Tensor, active: torch.Tensor, puzzle_of_row: torch.Tensor, q: torch.Tensor,
                     winner: torch.Tensor, stop: torch.Tensor) -> None:
    """For puzzles not yet won, the verified row with the highest q_halt this step becomes the winner."""
    candidates = passed.nonzero().squeeze(1)
    if len(candidates) == 0:
        return
    rows = active[candidates]
    puzzles = puzzle_of_row[rows]
    fresh = winner[puzzles] < 0
    rows, puzzles, scores = rows[fresh], puzzles[fresh], q[candidates][fresh]
    if len(rows) == 0:
        return
    order = np.lexsort((rows.numpy(), -scores.numpy(), puzzles.numpy()))  # by puzzle, then best q, then first row
    _, first = np.unique(puzzles.numpy()[order], return_index=True)
    best = torch.from_numpy(order[first])
    winner[puzzles[best]] = rows[best]
    stop[rows[best]] = _CODE["verified"]


def _choose_rows(winner: torch.Tensor, puzzle_of_row: torch.Tensor, last_q: torch.Tensor,
                 steps: torch.Tensor) -> torch.Tensor:
    """The verified winner of each puzzle, else its trajectory with the highest final q_halt (first on ties)."""
    score = torch.where(steps > 0, last_q, torch.tensor(float("-inf"))).numpy()
    row_ids = np.arange(len(puzzle_of_row))
    order = np.lexsort((row_ids, -score, puzzle_of_row.numpy()))
    _, first = np.unique(puzzle_of_row.numpy()[order], return_index=True)
    best_by_q = torch.from_numpy(order[first])
    return torch.where(winner >= 0, winner, best_by_q)
