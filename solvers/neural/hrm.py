"""HRM: Hierarchical Reasoning Model (sapientinc/HRM), on the same layers and interface as TRM.

Two networks: a slow high-level H_level and a fast low-level L_level (4 blocks each). One deep-supervision step:

    x = embed(puzzle)
    repeat H_cycles times:
        repeat L_cycles times: z_L = L_level(z_L, z_H + x)
        z_H = H_level(z_H, z_L)
    logits = lm_head(z_H)[grid positions]; (q_halt, q_continue) = q_head(z_H[position 0])

Only the last L update and the last H update carry gradient (the one-step gradient approximation).
The carry stores z_H as `y` and z_L as `z`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .base import Carry, HaltRule, RecursiveConfig, RecursiveModel, StepOutput
from .layers import ReasoningModule


@dataclass
class HRMConfig(RecursiveConfig):
    """Defaults are the reference HRM Sudoku settings (27M parameters)."""

    puzzle_emb_len: int = 1
    H_layers: int = 4
    L_layers: int = 4
    H_cycles: int = 2
    L_cycles: int = 2
    halt_rule: HaltRule = "q_halt_vs_continue"


class HRM(RecursiveModel):
    def __init__(self, config: HRMConfig | None = None, peer_mask: torch.Tensor | None = None) -> None:
        super().__init__()
        config = config or HRMConfig()
        self._init_input(config, peer_mask)
        self.H_level = ReasoningModule([self._block() for _ in range(config.H_layers)])
        self.L_level = ReasoningModule([self._block() for _ in range(config.L_layers)])
        self._init_heads_and_state()

    def forward(self, carry: Carry, tokens: torch.Tensor, puzzle_ids: torch.Tensor | None = None) -> StepOutput:
        x = self.embed_input(tokens, puzzle_ids)
        mixing = self.mixing_context()
        z_H, z_L = carry.y, carry.z
        H_cycles, L_cycles = self.config.H_cycles, self.config.L_cycles
        with torch.no_grad():
            for h in range(H_cycles):
                last_h = h == H_cycles - 1
                for _ in range(L_cycles - 1 if last_h else L_cycles):
                    z_L = self.L_level(z_L, z_H + x, **mixing)
                if not last_h:
                    z_H = self.H_level(z_H, z_L, **mixing)
        z_L = self.L_level(z_L, z_H + x, **mixing)
        z_H = self.H_level(z_H, z_L, **mixing)
        return self.readout(Carry(z_H, z_L))
