"""What every recursive model shares: config fields, the carry, one step's output, input embedding and heads.

The interface (see notes/contracts.md) is the same for TRM and HRM, so one engine and one training loop serve both:

    initial_carry(batch_size) -> Carry
    forward(carry, tokens[B, L], puzzle_ids[B] | None) -> StepOutput   # ONE deep-supervision step
    reset_carry(carry, mask[B]) -> Carry                                # masked rows back to the initial state
    halts(output) -> BoolTensor[B]                                      # the model's own halting rule
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from .layers import Block, RotaryEmbedding, TokenEmbedding, lecun_linear, trunc_normal_init_

PosEncoding = Literal["rope", "learned", "none"]
HaltRule = Literal["q_halt", "q_halt_vs_continue"]
LEARNED_POSITION_SCALE = 0.707106781  # 1/sqrt(2): token + position embeddings keep unit variance


class ConfigSerialization:
    """to_dict / from_dict for the model config dataclasses (config.json); unknown keys name the known ones."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Any:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields {unknown}; known fields: {sorted(known)}")
        return cls(**values)


@dataclass
class RecursiveConfig(ConfigSerialization):
    vocab_size: int = 11
    seq_len: int = 81  # grid cells, without the puzzle-embedding prefix
    hidden_size: int = 512
    num_heads: int = 8
    expansion: float = 4.0  # SwiGLU width factor
    puzzle_emb_len: int = 16  # prefix positions; position 0 holds the learned puzzle vector, the rest are zeros
    num_puzzle_identifiers: int = 1
    pos_encodings: PosEncoding = "rope"
    rope_theta: float = 10000.0
    mlp_t: bool = False  # mix along the sequence with a SwiGLU instead of attention
    # Constraint-graph attention: each cell attends only to its peers, given as an [L, L] bool mask (data, e.g. the
    # Sudoku kind's row/column/box peers). Prefix positions attend everywhere and are attended by every cell. The mask
    # is a buffer (`peer_mask`), saved with the weights.
    attention_mask: bool = False
    halt_max_steps: int = 16  # N_sup, deep-supervision steps
    halt_rule: HaltRule = "q_halt"  # halt when q_halt > 0, or when q_halt > q_continue

    def __post_init__(self) -> None:
        if self.pos_encodings not in ("rope", "learned", "none"):
            raise ValueError(f"pos_encodings must be 'rope', 'learned' or 'none', got {self.pos_encodings!r}")
        if self.halt_rule not in ("q_halt", "q_halt_vs_continue"):
            raise ValueError(f"halt_rule must be 'q_halt' or 'q_halt_vs_continue', got {self.halt_rule!r}")
        if self.mlp_t and self.attention_mask:
            raise ValueError("attention_mask needs the attention mixer; it cannot be combined with mlp_t")
        for name in ("vocab_size", "seq_len", "hidden_size", "num_heads", "halt_max_steps", "num_puzzle_identifiers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")

    @property
    def total_length(self) -> int:
        return self.seq_len + self.puzzle_emb_len


@dataclass
class Carry:
    """The recurrent state between deep-supervision steps: answer state y and latent z, each [B, L_total, D].

    For HRM, y is the high-level state z_H and z the low-level state z_L.
    """

    y: torch.Tensor
    z: torch.Tensor

    def select(self, rows: torch.Tensor) -> Carry:
        return Carry(self.y.index_select(0, rows), self.z.index_select(0, rows))

    def detach(self) -> Carry:
        return Carry(self.y.detach(), self.z.detach())


@dataclass
class StepOutput:
    carry: Carry
    logits: torch.Tensor  # [B, L, vocab], grid positions only
    q_halt: torch.Tensor  # [B] fp32 logits
    q_continue: torch.Tensor  # [B]


def full_attention_mask(peer_mask: torch.Tensor, prefix: int) -> torch.Tensor:
    """Extend an [L, L] peer mask with prefix rows/columns that attend and are attended everywhere."""
    return F.pad(peer_mask, (prefix, 0, prefix, 0), value=True)


class RecursiveModel(nn.Module):
    """Input embedding, positions, heads and state shared by TRM and HRM; subclasses add their networks."""

    config: RecursiveConfig

    def _init_input(self, config: RecursiveConfig, peer_mask: torch.Tensor | None) -> None:
        self.config = config
        self.embed_scale = math.sqrt(config.hidden_size)
        embed_std = 1.0 / self.embed_scale
        self.embed_tokens = TokenEmbedding(config.vocab_size, config.hidden_size, embed_std)
        if config.puzzle_emb_len > 0:
            self.puzzle_emb = PuzzleEmbedding(config.num_puzzle_identifiers, config.hidden_size)
        if config.pos_encodings == "learned":
            self.embed_pos = TokenEmbedding(config.total_length, config.hidden_size, embed_std)
        elif config.pos_encodings == "rope" and not config.mlp_t:
            self.rotary_emb = RotaryEmbedding(config.hidden_size // config.num_heads, config.total_length,
                                              config.rope_theta)
        if config.attention_mask:
            if peer_mask is None:
                raise ValueError("config.attention_mask is set: pass the [seq_len, seq_len] bool peer mask")
            if peer_mask.shape != (config.seq_len, config.seq_len):
                raise ValueError(f"peer mask has shape {tuple(peer_mask.shape)}, expected "
                                 f"({config.seq_len}, {config.seq_len})")
            self.register_buffer("peer_mask", peer_mask.to(torch.bool).clone())
        elif peer_mask is not None:
            raise ValueError("a peer mask was given but config.attention_mask is False")

    def _block(self) -> Block:
        c = self.config
        return Block(c.hidden_size, c.num_heads, c.expansion, mlp_t=c.mlp_t, total_length=c.total_length)

    def _init_heads_and_state(self) -> None:
        c = self.config
        self.lm_head = lecun_linear(c.hidden_size, c.vocab_size)
        self.q_head = nn.Linear(c.hidden_size, 2, bias=True)
        with torch.no_grad():  # start by never halting: q = (-5, -5)
            self.q_head.weight.zero_()
            self.q_head.bias.fill_(-5.0)
        # Fixed random initial states (never trained; a checkpoint carries them, so never redraw on load).
        self.register_buffer("H_init", trunc_normal_init_(torch.empty(c.hidden_size), std=1.0))
        self.register_buffer("L_init", trunc_normal_init_(torch.empty(c.hidden_size), std=1.0))

    def embed_input(self, tokens: torch.Tensor, puzzle_ids: torch.Tensor | None = None) -> torch.Tensor:
        """x = sqrt(D) * cat(prefix, token embeddings) [+ learned positions]."""
        x = self.embed_tokens(tokens)
        if self.config.puzzle_emb_len > 0:
            if puzzle_ids is None:
                puzzle_ids = torch.zeros(tokens.shape[0], dtype=torch.long, device=tokens.device)
            puzzle_vector = self.puzzle_emb(puzzle_ids)[:, None, :]
            prefix = F.pad(puzzle_vector, (0, 0, 0, self.config.puzzle_emb_len - 1))
            x = torch.cat((prefix, x), dim=1)
        if self.config.pos_encodings == "learned":
            x = LEARNED_POSITION_SCALE * (x + self.embed_pos.embedding_weight)
        return self.embed_scale * x

    def mixing_context(self) -> dict[str, Any]:
        """Keyword arguments every block receives: RoPE tables and the attention mask, when used."""
        return {
            "cos_sin": self.rotary_emb() if hasattr(self, "rotary_emb") else None,
            "attn_mask": full_attention_mask(self.peer_mask, self.config.puzzle_emb_len)
            if self.config.attention_mask else None,
        }

    def readout(self, carry: Carry) -> StepOutput:
        y = carry.y
        logits = self.lm_head(y)[:, self.config.puzzle_emb_len:]
        q = self.q_head(y[:, 0]).float()
        return StepOutput(carry.detach(), logits, q[..., 0], q[..., 1])

    def initial_carry(self, batch_size: int) -> Carry:
        shape = (batch_size, self.config.total_length, self.config.hidden_size)
        return Carry(self.H_init.expand(shape).clone(), self.L_init.expand(shape).clone())

    def reset_carry(self, carry: Carry, mask: torch.Tensor) -> Carry:
        rows = mask.view(-1, 1, 1)
        return Carry(torch.where(rows, self.H_init, carry.y), torch.where(rows, self.L_init, carry.z))

    def halts(self, output: StepOutput) -> torch.Tensor:
        if self.config.halt_rule == "q_halt":
            return output.q_halt > 0
        return output.q_halt > output.q_continue


class PuzzleEmbedding(nn.Module):
    """One learned vector per puzzle identifier (`weights` [ids, D]), zero-initialised as in the reference."""

    def __init__(self, num_identifiers: int, dim: int) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(num_identifiers, dim))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, self.weights)
