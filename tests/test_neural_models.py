"""TRM / HRM models and checkpoint IO: shapes, an independent re-computation of the forward pass from the equations,
reference-format state dicts, and our safetensors format."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from recursive_tools.solvers.neural.base import Carry
from recursive_tools.solvers.neural.catalog import list_checkpoints, read_meta
from recursive_tools.solvers.neural.checkpoint import (
    CheckpointError,
    from_pretrained,
    load_reference_checkpoint,
    model_from_reference_state,
    save_pretrained,
)
from recursive_tools.solvers.neural.hrm import HRM, HRMConfig
from recursive_tools.solvers.neural.trm import TRM, TRMConfig

torch.set_num_threads(1)
SMALL = dict(vocab_size=6, seq_len=16, hidden_size=32, num_heads=2, H_cycles=2, L_cycles=2, puzzle_emb_len=4)


def sudoku4_peer_mask() -> torch.Tensor:
    cells = torch.arange(16)
    row, col = cells // 4, cells % 4
    box = (row // 2) * 2 + col // 2
    return (row[:, None] == row) | (col[:, None] == col) | (box[:, None] == box)


def randomize_heads(model: torch.nn.Module) -> None:
    """Give the zero-initialised parts (q_head, puzzle embedding) values so they take part in the comparison."""
    torch.manual_seed(1)
    with torch.no_grad():
        model.q_head.weight.normal_(0, 0.3)
        model.q_head.bias.normal_(0, 0.3)
        if hasattr(model, "puzzle_emb"):
            model.puzzle_emb.weights.normal_(0, 1)


# ---------------------------------------------------------------- the reference equations, written out directly

def eq_rms(x):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5)


def eq_swiglu(x, w, prefix):
    gate, up = (x @ w[f"{prefix}.gate_up_proj.weight"].T).chunk(2, dim=-1)
    return (F.silu(gate) * up) @ w[f"{prefix}.down_proj.weight"].T


def eq_rope_tables(length, head_dim, base=10000.0):
    inv_freq = 1.0 / base ** (torch.arange(0, head_dim, 2).float() / head_dim)
    angles = torch.arange(length).float()[:, None] * inv_freq[None, :]
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def eq_attention(x, w, prefix, heads, rope, mask):
    batch, length, dim = x.shape
    head_dim = dim // heads
    q, k, v = (x @ w[f"{prefix}.qkv_proj.weight"].T).split(dim, dim=-1)
    q, k, v = (t.reshape(batch, length, heads, head_dim) for t in (q, k, v))
    if rope is not None:
        cos, sin = rope[0][:, None, :], rope[1][:, None, :]
        half = head_dim // 2

        def rotate(t):
            return t * cos + torch.cat([-t[..., half:], t[..., :half]], dim=-1) * sin

        q, k = rotate(q), rotate(k)
    scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(head_dim)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    out = torch.einsum("bhqk,bkhd->bqhd", scores.softmax(-1), v).reshape(batch, length, dim)
    return out @ w[f"{prefix}.o_proj.weight"].T


def eq_net(state, injection, w, level, layers, heads, rope, mask, mlp_t):
    h = state + injection
    for i in range(layers):
        p = f"{level}.layers.{i}"
        if mlp_t:
            ht = h.transpose(1, 2)
            h = eq_rms(ht + eq_swiglu(ht, w, f"{p}.mlp_t")).transpose(1, 2)
        else:
            h = eq_rms(h + eq_attention(h, w, f"{p}.self_attn", heads, rope, mask))
        h = eq_rms(h + eq_swiglu(h, w, f"{p}.mlp"))
    return h


def eq_input(w, cfg, tokens):
    batch = tokens.shape[0]
    x = w["embed_tokens.embedding_weight"][tokens]
    if cfg.puzzle_emb_len:
        prefix = torch.zeros(batch, cfg.puzzle_emb_len, cfg.hidden_size)
        prefix[:, 0] = w["puzzle_emb.weights"][0]
        x = torch.cat([prefix, x], dim=1)
    if cfg.pos_encodings == "learned":
        x = (x + w["embed_pos.embedding_weight"]) / math.sqrt(2)
    return math.sqrt(cfg.hidden_size) * x


def eq_context(w, cfg):
    total = cfg.seq_len + cfg.puzzle_emb_len
    rope = eq_rope_tables(total, cfg.hidden_size // cfg.num_heads) if cfg.pos_encodings == "rope" else None
    mask = None
    if cfg.attention_mask:
        mask = torch.ones(total, total, dtype=torch.bool)
        mask[cfg.puzzle_emb_len:, cfg.puzzle_emb_len:] = w["peer_mask"]
    return rope, mask


def eq_readout(w, cfg, y):
    logits = y[:, cfg.puzzle_emb_len:] @ w["lm_head.weight"].T
    q = y[:, 0] @ w["q_head.weight"].T + w["q_head.bias"]
    return logits, q[:, 0], q[:, 1]


def eq_trm_step(w, cfg, y, z, tokens):
    x = eq_input(w, cfg, tokens)
    rope, mask = eq_context(w, cfg)

    def net(a, b):
        return eq_net(a, b, w, "L_level", cfg.L_layers, cfg.num_heads, rope, mask, cfg.mlp_t)

    for _ in range(cfg.H_cycles):  # T rounds; gradient placement does not change values
        for _ in range(cfg.L_cycles):  # n
            z = net(z, y + x)
        y = net(y, z)
    return (y, z), eq_readout(w, cfg, y)


def eq_hrm_step(w, cfg, z_H, z_L, tokens):
    x = eq_input(w, cfg, tokens)
    rope, mask = eq_context(w, cfg)
    for _ in range(cfg.H_cycles):
        for _ in range(cfg.L_cycles):
            z_L = eq_net(z_L, z_H + x, w, "L_level", cfg.L_layers, cfg.num_heads, rope, mask, False)
        z_H = eq_net(z_H, z_L, w, "H_level", cfg.H_layers, cfg.num_heads, rope, mask, False)
    return (z_H, z_L), eq_readout(w, cfg, z_H)


VARIANTS = {
    "trm-rope": lambda: TRM(TRMConfig(**SMALL)),
    "trm-learned": lambda: TRM(TRMConfig(**SMALL, pos_encodings="learned")),
    "trm-mlp_t": lambda: TRM(TRMConfig(**SMALL, mlp_t=True, pos_encodings="none")),
    "trm-peer-mask": lambda: TRM(TRMConfig(**SMALL, attention_mask=True), peer_mask=sudoku4_peer_mask()),
    "hrm": lambda: HRM(HRMConfig(**{**SMALL, "puzzle_emb_len": 1}, H_layers=2, L_layers=2)),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_forward_matches_the_equations(variant):
    torch.manual_seed(0)
    model = VARIANTS[variant]().eval()
    randomize_heads(model)
    cfg = model.config
    w = {k: v.float() for k, v in model.state_dict().items()}
    w["peer_mask"] = model.state_dict().get("peer_mask")
    tokens = torch.randint(1, cfg.vocab_size, (3, cfg.seq_len))
    carry = model.initial_carry(3)
    y, z = carry.y.clone(), carry.z.clone()
    step = eq_hrm_step if isinstance(model, HRM) else eq_trm_step
    with torch.no_grad():
        for _ in range(3):  # three deep-supervision steps, carrying the state
            out = model(carry, tokens)
            (y, z), (logits, q_halt, q_continue) = step(w, cfg, y, z, tokens)
            torch.testing.assert_close(out.logits, logits, atol=2e-4, rtol=1e-4)
            torch.testing.assert_close(out.q_halt, q_halt, atol=2e-4, rtol=1e-4)
            torch.testing.assert_close(out.q_continue, q_continue, atol=2e-4, rtol=1e-4)
            assert torch.equal(model.halts(out), (q_halt > 0) if cfg.halt_rule == "q_halt" else (q_halt > q_continue))
            carry = out.carry


def test_shapes_dtypes_and_gradient_only_through_last_cycle():
    model = TRM(TRMConfig(**SMALL))
    tokens = torch.randint(0, 6, (5, 16))
    carry = model.initial_carry(5)
    assert carry.y.shape == carry.z.shape == (5, 20, 32) and carry.y.dtype == torch.float32
    out = model(carry, tokens)
    assert out.logits.shape == (5, 16, 6) and out.logits.dtype == torch.float32
    assert out.q_halt.shape == out.q_continue.shape == (5,) and out.q_halt.dtype == torch.float32
    assert not out.carry.y.requires_grad and not out.carry.z.requires_grad
    assert torch.allclose(out.q_halt, torch.full((5,), -5.0))  # fresh q_head: never halt
    out.logits.sum().backward()
    assert model.L_level.layers[0].mlp.gate_up_proj.weight.grad is not None


def test_reset_carry_restores_the_fixed_initial_state():
    model = TRM(TRMConfig(**SMALL))
    carry = model(model.initial_carry(3), torch.randint(0, 6, (3, 16))).carry
    reset = model.reset_carry(carry, torch.tensor([True, False, True]))
    fresh = model.initial_carry(1)
    assert torch.equal(reset.y[0], fresh.y[0]) and torch.equal(reset.z[2], fresh.z[0])
    assert torch.equal(reset.y[1], carry.y[1])
    assert isinstance(reset, Carry)


def test_reference_sizes_with_default_configs():
    with torch.device("meta"):
        sizes = {name: sum(p.numel() for n, p in m.named_parameters() if n != "puzzle_emb.weights")
                 for name, m in (("att", TRM()), ("mlp", TRM(TRMConfig(mlp_t=True, pos_encodings="none"))),
                                 ("hrm", HRM()))}
    assert sizes == {"att": 6_828_034, "mlp": 5_028_866, "hrm": 27_275_266}  # the published parameter counts


def test_config_rejects_nonsense():
    with pytest.raises(ValueError, match="pos_encodings"):
        TRMConfig(pos_encodings="sinusoid")
    with pytest.raises(ValueError, match="peer mask"):
        TRM(TRMConfig(**SMALL, attention_mask=True))


# ---------------------------------------------------------------- reference-format checkpoints

def reference_state(hidden=32, vocab=6, layers=2, mlp_t_length=None, hrm=False):
    """Keys and shapes as the reference code saves them (written from REFERENCE.md, not from our model)."""
    inner = -(round(4 * hidden * 2 / 3) // -256) * 256
    g = torch.Generator().manual_seed(3)

    def t(*shape, dtype=torch.float32):
        return torch.randn(*shape, generator=g).to(dtype) * 0.1

    state = {"H_init": t(hidden, dtype=torch.bfloat16), "L_init": t(hidden, dtype=torch.bfloat16),
             "embed_tokens.embedding_weight": t(vocab, hidden), "lm_head.weight": t(vocab, hidden),
             "q_head.weight": t(2, hidden), "q_head.bias": t(2), "puzzle_emb.weights": t(1, hidden)}
    for level in (("H_level", "L_level") if hrm else ("L_level",)):
        for i in range(layers):
            p = f"{level}.layers.{i}"
            if mlp_t_length:
                inner_t = -(round(4 * mlp_t_length * 2 / 3) // -256) * 256
                state[f"{p}.mlp_t.gate_up_proj.weight"] = t(2 * inner_t, mlp_t_length)
                state[f"{p}.mlp_t.down_proj.weight"] = t(mlp_t_length, inner_t)
            else:
                state[f"{p}.self_attn.qkv_proj.weight"] = t(3 * hidden, hidden)
                state[f"{p}.self_attn.o_proj.weight"] = t(hidden, hidden)
            state[f"{p}.mlp.gate_up_proj.weight"] = t(2 * inner, hidden)
            state[f"{p}.mlp.down_proj.weight"] = t(hidden, inner)
    return {"_orig_mod.model.inner." + k: v for k, v in state.items()}


def test_reference_state_dict_loads_and_infers_config(tmp_path):
    path = tmp_path / "step_1000"
    state = reference_state()
    torch.save(state, path)
    model = load_reference_checkpoint(path, seq_len=16, num_heads=2)
    assert isinstance(model, TRM) and model.config.hidden_size == 32 and model.config.L_layers == 2
    assert model.config.puzzle_emb_len == 16 and model.config.pos_encodings == "rope"
    assert torch.equal(model.H_init, state["_orig_mod.model.inner.H_init"].float())
    assert torch.equal(model.lm_head.weight, state["_orig_mod.model.inner.lm_head.weight"])
    assert model(model.initial_carry(2), torch.ones(2, 16, dtype=torch.long)).logits.shape == (2, 16, 6)


def test_reference_variants_mlp_t_hrm_and_uncompiled_prefix():
    mlp = model_from_reference_state(reference_state(mlp_t_length=16 + 16))
    assert mlp.config.mlp_t and mlp.config.seq_len == 16 and mlp.config.pos_encodings == "none"
    plain = {k.replace("_orig_mod.", ""): v for k, v in reference_state(hrm=True, layers=3).items()}
    hrm = model_from_reference_state(plain, seq_len=16)
    assert isinstance(hrm, HRM) and hrm.config.H_layers == 3 and hrm.config.puzzle_emb_len == 1


def test_wrong_reference_state_dicts_fail_clearly():
    state = reference_state()
    del state["_orig_mod.model.inner.L_level.layers.1.mlp.down_proj.weight"]
    with pytest.raises(CheckpointError, match=r"missing keys \(1\): L_level.layers.1.mlp.down_proj.weight"):
        model_from_reference_state(state)
    state = reference_state()
    state["_orig_mod.model.inner.lm_head.weight"] = torch.zeros(7, 32)
    with pytest.raises(CheckpointError, match=r"wrong shapes.*lm_head.weight: checkpoint \(7, 32\), model \(6, 32\)"):
        model_from_reference_state(state)
    state = reference_state()
    state["_orig_mod.model.inner.L_level.layers.0.extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match="unexpected keys.*extra.weight"):
        model_from_reference_state(state)
    with pytest.raises(CheckpointError, match="not a reference TRM/HRM state dict"):
        model_from_reference_state({"encoder.weight": torch.zeros(1)})


def test_reference_loader_refuses_pickled_objects(tmp_path):
    path = tmp_path / "step_1"
    torch.save({"_orig_mod.model.inner.H_init": Carry}, path)  # a class, not a tensor: needs full pickle
    with pytest.raises(CheckpointError, match="weights-only"):
        load_reference_checkpoint(path)


# ---------------------------------------------------------------- our format

def test_save_load_round_trip_is_exact(tmp_path):
    torch.manual_seed(0)
    model = TRM(TRMConfig(**SMALL, attention_mask=True), peer_mask=sudoku4_peer_mask())
    randomize_heads(model)
    folder = save_pretrained(model, tmp_path / "trm-sudoku-4x4", {"title": "test model", "accuracy": {"4x4": 1.0}},
                             kind="sudoku", size_label="4x4", tokens={"pad": 0, "blank": 1, "digit_offset": 2})
    loaded = from_pretrained(folder)
    assert loaded.config == model.config
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert a.dtype == b.dtype and torch.equal(a, b), name
    tokens = torch.randint(1, 6, (4, 16))
    with torch.no_grad():
        assert torch.equal(model(model.initial_carry(4), tokens).logits,
                           loaded(loaded.initial_carry(4), tokens).logits)
    meta = read_meta(folder)
    assert (meta.model, meta.kind, meta.size_label, meta.tokens["blank"]) == ("TRM", "sudoku", "4x4", 1)
    assert "test model" in (folder / "README.md").read_text()
    assert json.loads((folder / "config.json").read_text())["config"]["attention_mask"] is True
    assert [m.name for m in list_checkpoints(tmp_path)] == ["trm-sudoku-4x4"]


def test_unknown_checkpoint_name_lists_known_ones():
    with pytest.raises(FileNotFoundError, match="no checkpoint at 'no-such-model'"):
        from_pretrained("no-such-model")


def test_listing_and_registering_checkpoints_does_not_import_torch():
    code = ("import sys; from recursive_tools.neural import register_shipped_checkpoints; "
            "register_shipped_checkpoints(); assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
