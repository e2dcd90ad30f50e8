"""TRM: Tiny Recursive Model ("Less is More: Recursive Reasoning with Tiny Networks").

One small network `net` (L_level, 2 blocks) refines a latent z and an answer state y. One deep-supervision step:

    x = embed(puzzle)
    repeat T times (the first T-1 without gradient):       # H_cycles = T
        repeat n times: z = net(z, y + x)                  # L_cycles = n: latent reasoning
        y = net(y, z)                                      # refine the answer
    logits = lm_head(y)[grid positions]; (q_halt, q_continue) = q_head(y[position 0])

The carry (y, z) is detached between steps. Reference names: y = z_H, z = z_L.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .base import Carry, RecursiveConfig, RecursiveModel, StepOutput
from .layers import ReasoningModule


@dataclass
class TRMConfig(RecursiveConfig):
    """Defaults are the reference TRM-Att Sudoku settings (7M parameters)."""

    L_layers: int = 2
    H_cycles: int = 3  # T
    L_cycles: int = 6  # n


class TRM(RecursiveModel):
    def __init__(self, config: TRMConfig | None = None, peer_mask: torch.Tensor | None = None) -> None:
        super().__init__()
        config = config or TRMConfig()
        self._init_input(config, peer_mask)
        self.L_level = ReasoningModule([self._block() for _ in range(config.L_layers)])  # `net`
        self._init_heads_and_state()

    def latent_recursion(self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor,
                         mixing: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        for _ in range(self.config.L_cycles):
            z = self.L_level(z, y + x, **mixing)
        y = self.L_level(y, z, **mixing)
        return y, z

    def forward(self, carry: Carry, tokens: torch.Tensor, puzzle_ids: torch.Tensor | None = None) -> StepOutput:
        x = self.embed_input(tokens, puzzle_ids)
        mixing = self.mixing_context()
        y, z = carry.y, carry.z
        with torch.no_grad():
            for _ in range(self.config.H_cycles - 1):
                y, z = self.latent_recursion(x, y, z, mixing)
        y, z = self.latent_recursion(x, y, z, mixing)
        return self.readout(Carry(y, z))
