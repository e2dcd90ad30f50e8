"""Layers shared by every recursive model (TRM, HRM): one definition each, used everywhere.

Parameter names follow the reference code (`embedding_weight`, `qkv_proj`, `gate_up_proj`, ...) so that a reference
state dict maps onto ours by stripping its prefix. Everything runs in fp32 on any device; nothing is CUDA-only.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

NORM_EPS = 1e-5


def trunc_normal_init_(tensor: torch.Tensor, std: float = 1.0, bound: float = 2.0) -> torch.Tensor:
    """Fill with a normal truncated at +-bound standard deviations, rescaled so the result has exactly `std`."""
    if std == 0:
        return tensor.zero_()
    # Variance of a standard normal truncated to [-bound, bound]: 1 - 2 b phi(b) / (2 Phi(b) - 1).
    pdf = math.exp(-0.5 * bound * bound) / math.sqrt(2 * math.pi)
    mass = math.erf(bound / math.sqrt(2))
    compensated = std / math.sqrt(1 - 2 * bound * pdf / mass)
    with torch.no_grad():
        return nn.init.trunc_normal_(tensor, 0.0, compensated, -bound * compensated, bound * compensated)


def lecun_linear(in_features: int, out_features: int, bias: bool = False) -> nn.Linear:
    """A Linear layer ([out, in] weight) with truncated LeCun normal init (std 1/sqrt(fan_in)), zero bias."""
    layer = nn.Linear(in_features, out_features, bias=bias)
    trunc_normal_init_(layer.weight, std=1.0 / math.sqrt(in_features))
    if bias:
        nn.init.zeros_(layer.bias)
    return layer


def rms_norm(x: torch.Tensor, eps: float = NORM_EPS) -> torch.Tensor:
    """Weightless RMS norm over the last axis, computed in fp32: x * rsqrt(mean(x^2) + eps)."""
    x32 = x.float()
    return (x32 * torch.rsqrt(x32.square().mean(-1, keepdim=True) + eps)).to(x.dtype)


class TokenEmbedding(nn.Module):
    """A lookup table named like the reference's CastedEmbedding (`embedding_weight` [num, dim])."""

    def __init__(self, num_embeddings: int, embedding_dim: int, init_std: float) -> None:
        super().__init__()
        self.embedding_weight = nn.Parameter(trunc_normal_init_(torch.empty(num_embeddings, embedding_dim), init_std))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, self.embedding_weight)


def swiglu_inner_width(hidden_size: int, expansion: float) -> int:
    """round(expansion * hidden * 2/3), rounded up to a multiple of 256 (1536 for 512 with expansion 4)."""
    return -(round(expansion * hidden_size * 2 / 3) // -256) * 256


class SwiGLU(nn.Module):
    """down(silu(gate) * up) with one fused `gate_up_proj` whose output splits as (gate, up)."""

    def __init__(self, hidden_size: int, expansion: float) -> None:
        super().__init__()
        inner = swiglu_inner_width(hidden_size, expansion)
        self.gate_up_proj = lecun_linear(hidden_size, 2 * inner)
        self.down_proj = lecun_linear(inner, hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
        return self.down_proj(F.silu(gate) * up)


class RotaryEmbedding(nn.Module):
    """cos/sin tables [positions, head_dim] for rotate-half RoPE (not saved in checkpoints, as in the reference)."""

    def __init__(self, head_dim: int, max_positions: int, base: float) -> None:
        super().__init__()
        inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        freqs = torch.outer(torch.arange(max_positions, dtype=torch.float32), inv_freq)
        angles = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos_cached", angles.cos(), persistent=False)
        self.register_buffer("sin_cached", angles.sin(), persistent=False)

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cos_cached, self.sin_cached


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    first, second = x.chunk(2, dim=-1)
    return torch.cat((-second, first), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x [B, L, heads, head_dim]; cos/sin [L, head_dim]; computed in fp32."""
    x32 = x.float()
    cos, sin = cos[:, None, :], sin[:, None, :]
    return (x32 * cos + rotate_half(x32) * sin).to(x.dtype)


class Attention(nn.Module):
    """Non-causal multi-head self-attention with a fused `qkv_proj`, optional RoPE and optional boolean mask."""

    def __init__(self, hidden_size: int, num_heads: int) -> None:
        super().__init__()
        if hidden_size % num_heads:
            raise ValueError(f"hidden_size {hidden_size} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.qkv_proj = lecun_linear(hidden_size, 3 * hidden_size)
        self.o_proj = lecun_linear(hidden_size, hidden_size)

    def forward(self, h: torch.Tensor, cos_sin: tuple[torch.Tensor, torch.Tensor] | None = None,
                attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        batch, length, _ = h.shape
        qkv = self.qkv_proj(h).view(batch, length, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.unbind(dim=2)
        if cos_sin is not None:
            cos, sin = cos_sin
            q, k = apply_rotary(q, cos[:length], sin[:length]), apply_rotary(k, cos[:length], sin[:length])
        # SDPA wants [B, heads, L, head_dim]; a boolean mask is True where attention is allowed.
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                             attn_mask=attn_mask, is_causal=False)
        return self.o_proj(out.transpose(1, 2).reshape(batch, length, -1))


class Block(nn.Module):
    """Post-norm block: h = norm(h + mix(h)); h = norm(h + mlp(h)).

    The mixer is self-attention, or (`mlp_t`) a SwiGLU across the sequence axis: the hidden state is transposed
    to [B, D, L], mixed and normalised there (over L, as the reference does), then transposed back.
    """

    def __init__(self, hidden_size: int, num_heads: int, expansion: float, *,
                 mlp_t: bool = False, total_length: int = 0) -> None:
        super().__init__()
        if mlp_t:
            self.mlp_t = SwiGLU(total_length, expansion)
        else:
            self.self_attn = Attention(hidden_size, num_heads)
        self.mlp = SwiGLU(hidden_size, expansion)

    def forward(self, h: torch.Tensor, cos_sin: tuple[torch.Tensor, torch.Tensor] | None = None,
                attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        if hasattr(self, "mlp_t"):
            h_t = h.transpose(1, 2)
            h = rms_norm(h_t + self.mlp_t(h_t)).transpose(1, 2)
        else:
            h = rms_norm(h + self.self_attn(h, cos_sin, attn_mask))
        return rms_norm(h + self.mlp(h))


class ReasoningModule(nn.Module):
    """A stack of blocks applied to (state + injection): net(state, injection)."""

    def __init__(self, blocks: list[Block]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(blocks)

    def forward(self, state: torch.Tensor, injection: torch.Tensor,
                cos_sin: tuple[torch.Tensor, torch.Tensor] | None = None,
                attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        h = state + injection
        for layer in self.layers:
            h = layer(h, cos_sin, attn_mask)
        return h
