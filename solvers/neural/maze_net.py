"""Deep-thinking maze network: a recurrent, fully convolutional net that re-reads the maze at every iteration.

After Schwarzschild et al. (2021) and Bansal et al. (2022, "recall" + progressive loss): the state h [B, W, H, W'] is
refined by the same small residual conv block again and again, each time concatenated with the input maze, so the
net never forgets the problem and a maze larger than any seen in training is solved by iterating longer. Nothing in
the net depends on the grid size; the grid border and the pad token both read as "outside".

It implements the recursive-model interface of notes/contracts.md (the carry is base.Carry with the state h in z,
so PTRM noise lands on it, and y left empty): one `forward` call is one deep-supervision step of
`iterations_per_step` iterations (during training all but the last `grad_iterations` run without gradient, the
progressive-loss trick: the net learns to improve whatever state it is handed). Two outputs (config `output`):
- "path": logits over the maze vocabulary, decided only for open cells (path or not); wall, start, goal and pad
  cells are copied from the input;
- "arrows": per cell, logits over STAY and the four moves (tokens 1..5, 0 unused): the next move towards the goal,
  which needs only the breadth-first wave from the goal and so extends to larger mazes by iterating longer. The
  maze kind's follow_arrows turns arrows into the path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .base import Carry, ConfigSerialization, StepOutput

PAD, WALL, OPEN, START, GOAL, PATH = 0, 1, 2, 3, 4, 5
VOCAB_SIZE = 6
ARROW_CLASSES = 5  # stay, up, down, left, right = tokens 1..5 (token 0, the unsupervised pad, is never predicted)
OUTPUTS = ("path", "arrows")
INPUT_CHANNELS = 4  # one-hot wall, open, start, goal; pad and outside are all-zero
FIXED_LOGIT = 30.0  # margin by which a non-open cell's output copies its input token


@dataclass
class MazeNetConfig(ConfigSerialization):
    width: int = 48  # channels of the recurrent state
    blocks: int = 2  # residual blocks (2 convs each) per iteration
    iterations_per_step: int = 10
    grad_iterations: int = 10  # iterations of each step that carry gradient in training (the rest run no-grad)
    halt_max_steps: int = 12  # deep-supervision steps in training and the default in inference
    head_width: int = 32
    vocab_size: int = VOCAB_SIZE
    output: str = "path"  # "path" | "arrows" (see the module docstring)
    # 3: every conv sees its neighbours. 1: only the recall conv does, so information moves one cell per iteration
    # and a cell is first reached at the iteration equal to its distance, as in breadth-first search at any size.
    block_kernel: int = 3

    def __post_init__(self) -> None:
        if self.block_kernel not in (1, 3):
            raise ValueError(f"block_kernel must be 1 or 3, got {self.block_kernel}")
        if self.output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {self.output!r}")
        for name in ("width", "blocks", "iterations_per_step", "grad_iterations", "halt_max_steps", "head_width"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.grad_iterations > self.iterations_per_step:
            raise ValueError("grad_iterations cannot exceed iterations_per_step")
        if self.vocab_size != VOCAB_SIZE:
            raise ValueError(f"the maze vocabulary has {VOCAB_SIZE} tokens, got vocab_size={self.vocab_size}")


def grid_of(tokens: torch.Tensor, shape: tuple[int, int] | None = None) -> torch.Tensor:
    """[B, H, W] tokens from [B, H, W], or [B, L] with `shape` = (H, W) (inferred when L is a perfect square)."""
    if tokens.dim() == 3:
        return tokens
    if shape is not None:
        return tokens.view(tokens.shape[0], *shape)
    side = math.isqrt(tokens.shape[1])
    if side * side != tokens.shape[1]:
        raise ValueError(f"maze tokens of length {tokens.shape[1]} are not a square grid; pass [B, H, W]")
    return tokens.view(tokens.shape[0], side, side)


def _conv(in_channels: int, out_channels: int, kernel: int = 3) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=False)


class ResidualBlock(nn.Module):
    def __init__(self, width: int, kernel: int = 3) -> None:
        super().__init__()
        self.conv1 = _conv(width, width, kernel)
        self.conv2 = _conv(width, width, kernel)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return F.relu(h + self.conv2(F.relu(self.conv1(h))))


class MazeNet(nn.Module):
    def __init__(self, config: MazeNetConfig | None = None, peer_mask: torch.Tensor | None = None) -> None:
        super().__init__()
        if peer_mask is not None:
            raise ValueError("MazeNet takes no peer mask: its convolutions already limit each cell to its neighbours")
        config = config or MazeNetConfig()
        self.config = config
        w = config.width
        self.recall = _conv(w + INPUT_CHANNELS, w)  # h, x -> h: the input is re-read every iteration
        self.blocks = nn.ModuleList(ResidualBlock(w, config.block_kernel) for _ in range(config.blocks))
        self.head = nn.Sequential(_conv(w, config.head_width), nn.ReLU(), _conv(config.head_width, 8), nn.ReLU(),
                                  nn.Conv2d(8, ARROW_CLASSES if config.output == "arrows" else 2, 3, padding=1,
                                            bias=False))
        self.q_head = nn.Linear(2 * config.head_width, 2)
        with torch.no_grad():  # start by never halting
            self.q_head.weight.zero_()
            self.q_head.bias.fill_(-5.0)

    def initial_carry(self, batch_size: int) -> Carry:
        """The state lives in z ([B, width, H, W], sized by the first step); y is unused (empty)."""
        device = self.q_head.weight.device
        return Carry(torch.zeros(batch_size, 0, device=device),
                     torch.zeros(batch_size, self.config.width, 0, 0, device=device))

    def reset_carry(self, carry: Carry, mask: torch.Tensor) -> Carry:
        if carry.z.shape[-1] == 0:
            return carry
        return Carry(carry.y, torch.where(mask.view(-1, 1, 1, 1), torch.zeros((), dtype=carry.z.dtype), carry.z))

    def iterate(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.recall(torch.cat((h, x), dim=1)))
        for block in self.blocks:
            h = block(h)
        return h

    def forward(self, carry: Carry, tokens: torch.Tensor, puzzle_ids: torch.Tensor | None = None,
                shape: tuple[int, int] | None = None) -> StepOutput:
        grid = grid_of(tokens, shape)
        # channels-last: several times faster for these small convolutions on CPU
        x = F.one_hot(grid, VOCAB_SIZE)[..., WALL:GOAL + 1].permute(0, 3, 1, 2).to(self.q_head.weight.dtype)
        x = x.contiguous(memory_format=torch.channels_last)
        h = carry.z
        if h.shape[-2:] != grid.shape[-2:]:
            if h.shape[-1] != 0:
                raise ValueError(f"carry is for a {tuple(h.shape[-2:])} grid, tokens are {tuple(grid.shape[-2:])}")
            h = x.new_zeros(grid.shape[0], self.config.width, *grid.shape[-2:])
        h = h.contiguous(memory_format=torch.channels_last)
        c = self.config
        no_grad = c.iterations_per_step - (c.grad_iterations if torch.is_grad_enabled() else 0)
        with torch.no_grad():
            for _ in range(no_grad):
                h = self.iterate(h, x)
        for _ in range(c.iterations_per_step - no_grad):
            h = self.iterate(h, x)
        features = self.head[:2](h)
        cell_logits = self.head[2:](features)  # [B, 2 or 5, H, W]
        pooled = torch.cat((features.mean(dim=(2, 3)), features.amax(dim=(2, 3))), dim=1)
        q = self.q_head(pooled).float()
        if c.output == "arrows":
            unused = torch.full_like(cell_logits[:, :1], -FIXED_LOGIT)
            logits = torch.cat((unused, cell_logits), dim=1).permute(0, 2, 3, 1).flatten(1, 2)
        else:
            logits = self.vocab_logits(grid, cell_logits)
        return StepOutput(Carry(carry.y, h.detach()), logits, q[:, 0], q[:, 1])

    @staticmethod
    def vocab_logits(grid: torch.Tensor, path_logits: torch.Tensor) -> torch.Tensor:
        """[B, H*W, vocab]: open cells choose OPEN vs PATH; every other cell copies its input token."""
        fixed = F.one_hot(grid, VOCAB_SIZE).to(path_logits.dtype) * FIXED_LOGIT - FIXED_LOGIT
        open_logits = torch.full_like(fixed, -FIXED_LOGIT)
        open_logits[..., OPEN] = path_logits[:, 0]
        open_logits[..., PATH] = path_logits[:, 1]
        logits = torch.where((grid == OPEN).unsqueeze(-1), open_logits, fixed)
        return logits.flatten(1, 2)

    def halts(self, output: StepOutput) -> torch.Tensor:
        return output.q_halt > 0
