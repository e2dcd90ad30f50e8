"""Loading and saving recursive models.

(a) Reference checkpoints. The reference TRM/HRM training code saves `torch.save(state_dict)` of its loss-head
    wrapper as a file `step_<N>`. We read it with `torch.load(weights_only=True)` (no arbitrary pickle). Key mapping:
    our parameter and buffer names ARE the reference names after the prefix, so the mapping is

        _orig_mod.model.inner.<name>   (or model.inner.<name> when torch.compile was off)   ->   <name>

    with every shape checked. `H_init`/`L_init` (bf16 there) become fp32; `puzzle_emb.weights` (a buffer there) is a
    parameter here; RoPE tables are not stored in either. The config is inferred from the shapes: hidden size and
    vocabulary from `embed_tokens`, TRM or HRM from the presence of `H_level`, layer counts, the SwiGLU expansion,
    `mlp_t`, learned positions (`embed_pos`) and the sequence length where the shapes fix it. What shapes cannot say
    (cycles, heads, sequence length of an attention model) takes the reference Sudoku defaults or the `overrides`.

(b) Our format: a folder with model.safetensors + config.json + README.md (see catalog.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from .base import RecursiveConfig, RecursiveModel
from .catalog import CARD_FILE, CONFIG_FILE, FORMAT_VERSION, WEIGHTS_FILE, resolve_checkpoint
from .hrm import HRM, HRMConfig
from .layers import swiglu_inner_width
from .maze_net import MazeNet, MazeNetConfig
from .trm import TRM, TRMConfig

# Model families loadable by name. A config class provides to_dict()/from_dict(); a model class takes
# (config, peer_mask=None).
MODEL_CLASSES: dict[str, tuple[type[torch.nn.Module], type[Any]]] = {
    "TRM": (TRM, TRMConfig),
    "HRM": (HRM, HRMConfig),
    "MazeNet": (MazeNet, MazeNetConfig),
}
REFERENCE_PREFIXES = ("_orig_mod.model.inner.", "model.inner.")
_EXPANSION_CANDIDATES = (4.0, 2.0, 1.0, 3.0, 6.0, 8.0, 2.5, 1.5)


class CheckpointError(ValueError):
    """A checkpoint does not fit the model: the message lists the missing, unexpected or mis-shaped keys."""


def register_model(name: str, model_class: type[torch.nn.Module], config_class: type[Any]) -> None:
    """Make another model family loadable (its constructor takes (config, peer_mask=None))."""
    MODEL_CLASSES[name] = (model_class, config_class)


def build_model(model_name: str, config: Mapping[str, Any] | Any,
                peer_mask: torch.Tensor | None = None) -> torch.nn.Module:
    if model_name not in MODEL_CLASSES:
        raise CheckpointError(f"unknown model class {model_name!r}; known: {', '.join(MODEL_CLASSES)}")
    model_class, config_class = MODEL_CLASSES[model_name]
    if not isinstance(config, config_class):
        config = config_class.from_dict(dict(config))
    return model_class(config, peer_mask=peer_mask)


def load_weights(model: torch.nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Copy `state` into `model` after checking that keys and shapes match exactly."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    misshaped = [f"{k}: checkpoint {tuple(state[k].shape)}, model {tuple(expected[k].shape)}"
                 for k in sorted(set(state) & set(expected)) if state[k].shape != expected[k].shape]
    if missing or unexpected or misshaped:
        problems = []
        for label, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", misshaped)):
            if keys:
                problems.append(f"{label} ({len(keys)}): {', '.join(keys[:8])}{' ...' if len(keys) > 8 else ''}")
        raise CheckpointError(f"{source} does not fit {type(model).__name__}: " + "; ".join(problems))
    converted = {k: v.to(expected[k].dtype) for k, v in state.items()}
    model.load_state_dict(converted, strict=True)


# ---- (a) reference checkpoints ----

def strip_reference_prefix(state: Mapping[str, Any], source: str = "checkpoint") -> dict[str, torch.Tensor]:
    for prefix in REFERENCE_PREFIXES:
        if any(k.startswith(prefix) for k in state):
            stripped = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            others = [k for k in state if not k.startswith(prefix)]
            if others:
                raise CheckpointError(f"{source}: keys outside the '{prefix}' prefix: {', '.join(sorted(others)[:8])}")
            bad = [k for k, v in stripped.items() if not isinstance(v, torch.Tensor)]
            if bad:
                raise CheckpointError(f"{source}: entries that are not tensors: {', '.join(bad[:8])}")
            return stripped
    sample = ", ".join(list(state)[:3]) or "no keys at all"
    raise CheckpointError(f"{source} is not a reference TRM/HRM state dict: expected keys starting with "
                          f"{' or '.join(REFERENCE_PREFIXES)}, found {sample}")


def _layer_count(state: Mapping[str, torch.Tensor], level: str) -> int:
    indices = {int(m.group(1)) for k in state if (m := re.match(rf"{level}\.layers\.(\d+)\.", k))}
    return max(indices) + 1 if indices else 0


def infer_reference_config(state: Mapping[str, torch.Tensor],
                           overrides: Mapping[str, Any] | None = None) -> tuple[str, RecursiveConfig]:
    """(model class name, config) for a prefix-stripped reference state dict."""
    overrides = dict(overrides or {})
    if "embed_tokens.embedding_weight" not in state:
        raise CheckpointError("reference checkpoint has no 'embed_tokens.embedding_weight': cannot tell the hidden "
                              "size and vocabulary")
    vocab_size, hidden = state["embed_tokens.embedding_weight"].shape
    model_name = "HRM" if any(k.startswith("H_level.") for k in state) else "TRM"
    values: dict[str, Any] = {"vocab_size": vocab_size, "hidden_size": hidden, "num_heads": max(1, hidden // 64)}
    mlp_t = any(".mlp_t." in k for k in state)
    values["mlp_t"] = mlp_t
    gate_up = state.get("L_level.layers.0.mlp.gate_up_proj.weight")
    if gate_up is not None and "expansion" not in overrides:
        inner = gate_up.shape[0] // 2
        fitting = [e for e in _EXPANSION_CANDIDATES if swiglu_inner_width(hidden, e) == inner]
        if not fitting:
            raise CheckpointError(f"SwiGLU inner width {inner} fits no expansion in {_EXPANSION_CANDIDATES}; "
                                  "pass expansion=... in overrides")
        values["expansion"] = fitting[0]
    if "puzzle_emb.weights" in state:
        rows, dim = state["puzzle_emb.weights"].shape
        if dim != hidden:
            raise CheckpointError(f"puzzle embedding width {dim} differs from the hidden size {hidden}; only "
                                  "puzzle_emb_ndim == hidden_size is supported")
        values["num_puzzle_identifiers"] = rows
        values["puzzle_emb_len"] = overrides.get("puzzle_emb_len", 1 if model_name == "HRM" else 16)
    else:
        values["puzzle_emb_len"] = 0
    prefix = overrides.get("puzzle_emb_len", values["puzzle_emb_len"])
    if "embed_pos.embedding_weight" in state:
        values["pos_encodings"] = "learned"
        values["seq_len"] = state["embed_pos.embedding_weight"].shape[0] - prefix
    elif mlp_t:
        values["pos_encodings"] = "none"
        values["seq_len"] = state["L_level.layers.0.mlp_t.gate_up_proj.weight"].shape[1] - prefix
    if model_name == "HRM":
        values["H_layers"] = _layer_count(state, "H_level")
    values["L_layers"] = _layer_count(state, "L_level")
    values.update(overrides)
    config_class = MODEL_CLASSES[model_name][1]
    try:
        return model_name, config_class.from_dict(values)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"cannot build a {model_name} config from this checkpoint: {exc}") from exc


def model_from_reference_state(state: Mapping[str, Any], source: str = "checkpoint",
                               **overrides: Any) -> RecursiveModel:
    stripped = strip_reference_prefix(state, source)
    model_name, config = infer_reference_config(stripped, overrides)
    model = build_model(model_name, config)
    load_weights(model, stripped, source)
    return model.eval()


def load_reference_checkpoint(path: str | Path, **overrides: Any) -> RecursiveModel:
    """Load a reference `step_N` file; `overrides` set config fields the shapes cannot tell (H_cycles, seq_len...)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no reference checkpoint file at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for foreign or corrupt files
        raise CheckpointError(f"{path} is not a weights-only torch state dict: {exc}") from exc
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{path} holds a {type(state).__name__}, expected a state dict")
    return model_from_reference_state(state, str(path), **overrides)


# ---- (b) our format ----

def _model_name(model: torch.nn.Module) -> str:
    for name, (model_class, _) in MODEL_CLASSES.items():
        if type(model) is model_class:
            return name
    raise CheckpointError(f"{type(model).__name__} is not a registered model class; call register_model first")


def render_card(name: str, model_name: str, config: dict[str, Any], card: Mapping[str, Any],
                parameters: int) -> str:
    lines = [f"# {card.get('title', name)}", ""]
    if card.get("description"):
        lines += [str(card["description"]), ""]
    lines += [f"- model: {model_name}, {parameters:,} parameters"]
    for key, value in card.items():
        if key in ("title", "description"):
            continue
        if isinstance(value, Mapping):
            lines.append(f"- {key}:")
            lines += [f"  - {k}: {v}" for k, v in value.items()]
        else:
            lines.append(f"- {key}: {value}")
    lines += ["", "## Config", "", "```json", json.dumps(config, indent=2), "```", ""]
    return "\n".join(lines)


def save_pretrained(model: torch.nn.Module, path: str | Path, card: Mapping[str, Any], *,
                    kind: str | None = None, size_label: str | None = None,
                    tokens: Mapping[str, Any] | None = None) -> Path:
    """Write model.safetensors + config.json + README.md into folder `path` (created if needed)."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    model_name = _model_name(model)
    config = model.config.to_dict()
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    parameters = sum(p.numel() for p in model.parameters())
    save_file(state, str(folder / WEIGHTS_FILE), metadata={"format": "pt", "model": model_name})
    (folder / WEIGHTS_FILE).chmod(0o644)  # safetensors writes owner-only; shipped weights must be readable by all
    meta = {"format_version": FORMAT_VERSION, "model": model_name, "config": config, "kind": kind,
            "size_label": size_label, "tokens": dict(tokens or {}), "card": dict(card), "parameters": parameters}
    (folder / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    (folder / CARD_FILE).write_text(render_card(folder.name, model_name, config, card, parameters), encoding="utf-8")
    return folder


def from_pretrained(path_or_name: str | Path) -> RecursiveModel:
    """Load a checkpoint folder (or a shipped checkpoint by name) in eval mode on the CPU."""
    folder = resolve_checkpoint(path_or_name)
    meta = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"{folder} has {CONFIG_FILE} but no {WEIGHTS_FILE}")
    state = load_file(str(weights), device="cpu")
    model = build_model(meta["model"], meta["config"], peer_mask=state.get("peer_mask"))
    load_weights(model, state, str(weights))
    return model.eval()
