"""One training loop for every recursive model: deep supervision on a persistent carry.

Each optimizer step is ONE deep-supervision step of a batch whose slots live on their own schedule, as in the
reference: a slot keeps its carry from step to step (detached in between), halts when the model's Q-head says so
or after `halt_max_steps` steps (with probability `halt_exploration_prob` it is held to a random minimum of
2..halt_max_steps steps first), and a halted slot is refilled with a fresh example and a reset carry.

Loss = per-sequence mean cross entropy (stable-max by default, computed in float64; on the task's step labels when it
has them, which leave out what the model cannot know yet at this step) + q_weight * BCE(q_halt, whole sequence
correct). AdamW (or AdamATan2 when that package is importable and asked for), linear warm-up then cosine
decay to `lr_min_ratio`, gradient clipping, EMA of the parameters (the exported checkpoint holds the EMA weights).

Everything needed to continue is saved in one file per rank: model, optimizer, EMA, step, the carry and the batch
in flight, and every random state, so a resumed run takes exactly the steps the uninterrupted one would have.
Under torchrun the model is wrapped in DistributedDataParallel (gloo on CPU, nccl on GPU); each rank draws its own
examples and the gradients are averaged, so the ranks stay in step.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .data import ExampleStream
from .tasks import IGNORE_LABEL, Examples, TaskSpec

OptimizerName = Literal["adamw", "adam_atan2"]


@dataclass
class TrainConfig:
    steps: int = 2000  # optimizer steps (= deep-supervision steps of the whole batch)
    batch_size: int = 64  # per process
    lr: float = 1e-3
    lr_min_ratio: float = 1.0  # 1.0: constant after warm-up (the reference); < 1: cosine decay to lr * ratio
    warmup_steps: int = 100
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    optimizer: OptimizerName = "adamw"
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    q_weight: float = 0.5
    halt_exploration_prob: float = 0.1
    halt_in_training: bool = True  # False: every slot runs all halt_max_steps steps (steadier very deep iteration)
    loss: Literal["stablemax", "softmax"] = "stablemax"
    seed: int = 0
    eval_every: int = 250
    eval_size: int = 256
    eval_batch_size: int = 128
    checkpoint_every: int = 100
    log_every: int = 10
    time_limit_s: float | None = None  # stop (after checkpointing) once this much wall time was spent in this run

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ----------------------------------------------------------------------------------------------------- losses

def _stablemax_log_probs(logits: torch.Tensor) -> torch.Tensor:
    x = logits.to(torch.float64)
    s = torch.where(x < 0, 1.0 / (1.0 - x), x + 1.0)
    return torch.log(s / s.sum(dim=-1, keepdim=True))


def sequence_losses(logits: torch.Tensor, labels: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-sequence mean cross entropy over supervised tokens [B] (labels == pad are ignored)."""
    log_probs = _stablemax_log_probs(logits) if kind == "stablemax" else F.log_softmax(logits.float(), dim=-1)
    valid = labels != IGNORE_LABEL
    token_loss = -log_probs.gather(-1, labels.unsqueeze(-1)).squeeze(-1) * valid
    return (token_loss.sum(-1) / valid.sum(-1).clamp_min(1)).float()


@dataclass
class StepMetrics:
    loss: float
    lm_loss: float
    q_loss: float
    token_accuracy: float
    exact_accuracy: float  # whole grids right, over the batch
    halted_exact: float | None  # whole grids right among slots halting at this step
    mean_steps: float
    lr: float


# ------------------------------------------------------------------------------------------------ the trainer

def distributed_setup() -> tuple[int, int, torch.device]:
    """(rank, world size, device); starts the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
    rank = torch.distributed.get_rank() if world > 1 else 0
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return rank, world, torch.device("cuda", local)
    return rank, world, torch.device("cpu")


def _make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adam_atan2":
        try:
            from adam_atan2 import AdamATan2  # optional dependency
        except ImportError as error:
            raise RuntimeError("optimizer 'adam_atan2' needs the adam-atan2 package; use 'adamw'") from error
        return AdamATan2(model.parameters(), lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
    return torch.optim.AdamW(model.parameters(), lr=config.lr, betas=config.betas,
                             weight_decay=config.weight_decay)


class Trainer:
    def __init__(self, model: nn.Module, task: TaskSpec, config: TrainConfig, out_dir: str | Path,
                 eval_examples: Examples | None = None, train_examples: Examples | None = None,
                 on_eval: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.rank, self.world, self.device = distributed_setup()
        self.config = config
        self.task = task
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.model = model.to(self.device)
        self.net: nn.Module = model
        if self.world > 1:
            self.net = nn.parallel.DistributedDataParallel(
                model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.optimizer = _make_optimizer(model, config)
        self.ema = [p.detach().clone() for p in model.parameters()]
        self.stream = ExampleStream(task, seed=config.seed * 1000 + 17 + self.rank, examples=train_examples)
        self.eval_examples = eval_examples
        self.on_eval = on_eval
        self.step = 0
        self.exploration = torch.Generator().manual_seed(config.seed * 1000 + 29 + self.rank)
        batch = config.batch_size
        self.carry = model.initial_carry(batch)
        self.inputs = torch.zeros(batch, task.seq_len, dtype=torch.long, device=self.device)
        self.labels = torch.zeros_like(self.inputs)
        self.steps_done = torch.zeros(batch, dtype=torch.long, device=self.device)
        self.min_steps = torch.zeros(batch, dtype=torch.long, device=self.device)
        self.halted = torch.ones(batch, dtype=torch.bool, device=self.device)
        self.elapsed_s = 0.0  # training wall time summed over resumed runs

    # -- one deep-supervision step -------------------------------------------------------------------------
    def lr_at(self, step: int) -> float:
        c = self.config
        if step < c.warmup_steps:
            return c.lr * (step + 1) / c.warmup_steps
        if c.lr_min_ratio >= 1.0:
            return c.lr
        progress = min(1.0, (step - c.warmup_steps) / max(1, c.steps - c.warmup_steps))
        return c.lr * (c.lr_min_ratio + (1 - c.lr_min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))

    def _refill(self) -> None:
        if not bool(self.halted.any()):
            return
        rows = self.halted.nonzero().squeeze(1)
        inputs, labels = self.stream.take(len(rows))
        self.inputs[rows] = torch.as_tensor(inputs, device=self.device)
        self.labels[rows] = torch.as_tensor(labels, device=self.device)
        self.carry = self.model.reset_carry(self.carry, self.halted)
        self.steps_done[rows] = 0
        c = self.config
        max_steps = self._max_steps()
        explore = torch.rand(len(rows), generator=self.exploration) < c.halt_exploration_prob
        lengths = torch.randint(2, max_steps + 1, (len(rows),), generator=self.exploration) if max_steps >= 2 \
            else torch.ones(len(rows), dtype=torch.long)
        self.min_steps[rows] = torch.where(explore, lengths, torch.ones_like(lengths)).to(self.device)

    def _max_steps(self) -> int:
        return int(self.model.config.halt_max_steps)

    def train_step(self) -> StepMetrics:
        c = self.config
        self._refill()
        lr = self.lr_at(self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.net.train()
        out = self.net(self.carry, self.inputs)
        self.carry = out.carry.detach() if hasattr(out.carry, "detach") else out.carry
        supervised = self.labels if self.task.step_labels is None else \
            self.task.step_labels(self.inputs, self.labels, self.steps_done)
        lm = sequence_losses(out.logits, supervised, c.loss)
        with torch.no_grad():
            predictions = out.logits.argmax(-1)
            valid = self.labels != IGNORE_LABEL
            right = (predictions == self.labels) | ~valid
            solved = right.all(-1)
        q_loss = F.binary_cross_entropy_with_logits(out.q_halt, solved.float(), reduction="none")
        loss = (lm + c.q_weight * q_loss).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if c.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.model.parameters(), c.grad_clip)
        self.optimizer.step()
        self._update_ema()
        self.step += 1
        with torch.no_grad():
            self.steps_done += 1
            halted = self.steps_done >= self._max_steps()
            if c.halt_in_training:
                halted |= self.model.halts(out) & (self.steps_done >= self.min_steps)
            self.halted = halted
            token_acc = float(((predictions == self.labels) & valid).sum() / valid.sum().clamp_min(1))
            halted_exact = float(solved[halted].float().mean()) if bool(halted.any()) else None
        return StepMetrics(float(loss.detach()), float(lm.detach().mean()), float(q_loss.detach().mean()), token_acc,
                           float(solved.float().mean()), halted_exact, float(self.steps_done.float().mean()), lr)

    @torch.no_grad()
    def _update_ema(self) -> None:
        decay = min(self.config.ema_decay, (1 + self.step) / (10 + self.step))
        torch._foreach_lerp_(self.ema, [p.detach() for p in self.model.parameters()], 1 - decay)

    # -- EMA weights and evaluation -------------------------------------------------------------------------
    def ema_state_dict(self) -> dict[str, torch.Tensor]:
        """The model's state dict with EMA parameter values (buffers as they are)."""
        state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        for (name, _), value in zip(self.model.named_parameters(), self.ema, strict=True):
            state[name] = value.detach().clone()
        return state

    def evaluate(self) -> dict[str, Any]:
        if self.eval_examples is None:
            return {}
        live = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.model.load_state_dict(self.ema_state_dict())
        try:
            result = evaluate_model(self.model, self.eval_examples, self.task, self._max_steps(),
                                    self.config.eval_batch_size, self.device)
        finally:
            self.model.load_state_dict(live)
        return result

    # -- checkpoints -----------------------------------------------------------------------------------------
    def state_path(self) -> Path:
        return self.out_dir / ("train_state.pt" if self.world == 1 else f"train_state_rank{self.rank}.pt")

    def save(self) -> Path:
        path = self.state_path()
        state = {
            "step": self.step,
            "elapsed_s": self.elapsed_s,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "ema": self.ema,
            "carry": {f.name: getattr(self.carry, f.name) for f in dataclasses.fields(self.carry)},
            "inputs": self.inputs, "labels": self.labels, "steps_done": self.steps_done,
            "min_steps": self.min_steps, "halted": self.halted,
            "stream": self.stream.state_dict(),
            "exploration": self.exploration.get_state(),
            "torch_rng": torch.get_rng_state(),
            "python_rng": list(random.getstate()[1]), "python_rng_version": random.getstate()[0],
            "train_config": self.config.to_dict(),
        }
        tmp = path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)
        return path

    def load(self, path: str | Path) -> None:
        state = torch.load(path, map_location=self.device, weights_only=True)
        self.step = int(state["step"])
        self.elapsed_s = float(state["elapsed_s"])
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        for ema, saved in zip(self.ema, state["ema"], strict=True):
            ema.copy_(saved)
        self.carry = type(self.carry)(**state["carry"])
        for name in ("inputs", "labels", "steps_done", "min_steps", "halted"):
            setattr(self, name, state[name].to(self.device))
        self.stream.load_state_dict(state["stream"])
        self.exploration.set_state(state["exploration"])
        torch.set_rng_state(state["torch_rng"])
        random.setstate((state["python_rng_version"], tuple(state["python_rng"]), None))

    # -- the run ---------------------------------------------------------------------------------------------
    def run(self, progress: bool = True) -> dict[str, Any]:
        c = self.config
        metrics_path = self.out_dir / "metrics.jsonl"
        bar = None
        if progress and self.rank == 0:
            from tqdm import tqdm
            bar = tqdm(total=c.steps, initial=self.step, dynamic_ncols=True, mininterval=2.0)
        started = time.monotonic()
        last_eval: dict[str, Any] = {}
        window: list[StepMetrics] = []
        base_elapsed = self.elapsed_s
        while self.step < c.steps:
            metrics = self.train_step()
            self.elapsed_s = base_elapsed + time.monotonic() - started
            window.append(metrics)
            if bar is not None:
                bar.update(1)
            if self.step % c.log_every == 0 and self.rank == 0:
                summary = _summarise(window)
                window = []
                summary.update(step=self.step, elapsed_s=round(self.elapsed_s, 1))
                _append_jsonl(metrics_path, summary)
                if bar is not None:
                    bar.set_postfix(loss=f"{summary['loss']:.3f}", tok=f"{summary['token_accuracy']:.3f}",
                                    exact=f"{summary['exact_accuracy']:.3f}")
            if c.eval_every and self.step % c.eval_every == 0 and self.rank == 0 and self.eval_examples is not None:
                last_eval = self.evaluate()
                last_eval.update(step=self.step, elapsed_s=round(self.elapsed_s, 1), eval=True)
                _append_jsonl(metrics_path, last_eval)
                plot_metrics(metrics_path, self.out_dir / "curves.png")
                if self.on_eval is not None:
                    self.on_eval(last_eval)
            out_of_time = c.time_limit_s is not None and time.monotonic() - started >= c.time_limit_s
            if self.step % c.checkpoint_every == 0 or self.step == c.steps or out_of_time:
                self.save()
            if out_of_time:
                break
        if bar is not None:
            bar.close()
        if self.rank == 0:
            plot_metrics(metrics_path, self.out_dir / "curves.png")
        return last_eval


def _summarise(window: list[StepMetrics]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for name in ("loss", "lm_loss", "q_loss", "token_accuracy", "exact_accuracy", "mean_steps", "lr"):
        summary[name] = float(np.mean([getattr(m, name) for m in window]))
    halted = [m.halted_exact for m in window if m.halted_exact is not None]
    summary["halted_exact"] = float(np.mean(halted)) if halted else None
    return summary


def _append_jsonl(path: Path, record: dict[str, Any]) -> None:
    with open(path, "a") as handle:
        handle.write(json.dumps(record) + "\n")


# ------------------------------------------------------------------------------------------------ evaluation

@torch.no_grad()
def evaluate_model(model: nn.Module, examples: Examples, task: TaskSpec, max_steps: int, batch_size: int = 128,
                   device: torch.device | None = None) -> dict[str, Any]:
    """Run every example for `max_steps` deep-supervision steps from a fresh carry (no halting) and report
    exact match at the last step, at the first step the Q-head would halt, and at the first verified step."""
    model.eval()
    device = device or next(model.parameters()).device
    inputs_all, labels_all = examples
    totals = {"last": 0, "halt": 0, "verified": 0, "tokens_right": 0, "tokens": 0}
    for begin in range(0, len(inputs_all), batch_size):
        inputs = torch.as_tensor(inputs_all[begin:begin + batch_size], device=device)
        labels = torch.as_tensor(labels_all[begin:begin + batch_size], device=device)
        count = len(inputs)
        carry = model.initial_carry(count)
        halt_correct = torch.zeros(count, dtype=torch.bool, device=device)
        halt_taken = torch.zeros(count, dtype=torch.bool, device=device)
        verified = np.zeros(count, dtype=bool)
        for step in range(max_steps):
            out = model(carry, inputs)
            carry = out.carry
            predictions = out.logits.argmax(-1)
            valid = labels != IGNORE_LABEL
            solved = ((predictions == labels) | ~valid).all(-1)
            halting = model.halts(out) | (step == max_steps - 1)
            newly = halting & ~halt_taken
            halt_correct |= newly & solved
            halt_taken |= halting
            verified |= task.verify_batch(inputs.cpu().numpy(), predictions.cpu().numpy())
        totals["last"] += int(solved.sum())
        totals["halt"] += int(halt_correct.sum())
        totals["verified"] += int(verified.sum())
        totals["tokens_right"] += int(((predictions == labels) & valid).sum())
        totals["tokens"] += int(valid.sum())
    n = len(inputs_all)
    return {"count": n, "exact_last_step": totals["last"] / n, "exact_at_halt": totals["halt"] / n,
            "verified_any_step": totals["verified"] / n,
            "token_accuracy": totals["tokens_right"] / max(1, totals["tokens"])}


def plot_metrics(metrics_path: Path, png_path: Path) -> bool:
    """Loss and accuracy curves from the JSON-lines log as a PNG (False when matplotlib is not installed)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    if not metrics_path.is_file():
        return False
    records = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    train = [r for r in records if not r.get("eval")]
    evals = [r for r in records if r.get("eval")]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    if train:
        steps = [r["step"] for r in train]
        ax_loss.plot(steps, [r["loss"] for r in train], label="loss")
        ax_loss.plot(steps, [r["lm_loss"] for r in train], label="cross entropy")
        ax_acc.plot(steps, [r["token_accuracy"] for r in train], label="train tokens")
        ax_acc.plot(steps, [r["exact_accuracy"] for r in train], label="train exact")
    if evals:
        steps = [r["step"] for r in evals]
        for key in ("exact_last_step", "exact_at_halt", "verified_any_step"):
            ax_acc.plot(steps, [r[key] for r in evals], marker="o", label=f"eval {key}")
    if train:
        ax_loss.set_yscale("log")
    ax_loss.set_xlabel("step")
    ax_acc.set_xlabel("step")
    ax_acc.set_ylim(0, 1)
    for ax in (ax_loss, ax_acc):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png_path, dpi=90)
    plt.close(fig)
    return True
