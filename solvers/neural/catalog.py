"""Checkpoint folders and their metadata, read from JSON only (no torch import), so the core can list and register
checkpoints cheaply. A checkpoint folder holds:

    model.safetensors   the weights (and buffers such as H_init, L_init, peer_mask)
    config.json         {"format_version", "model" (class name), "config" (model config), "kind", "size_label",
                         "tokens" (token layout), "card" (figures for describe_solvers), "parameters"}
    README.md           the model card, rendered from "card"

A checkpoint is named by its folder name; names resolve under solvers/checkpoints/<name>/.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHECKPOINTS_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "README.md"
FORMAT_VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
FAMILIES = {"TRM": "trm", "HRM": "hrm", "MazeNet": "conv-recurrent"}  # model class -> solver family


@dataclass(frozen=True)
class CheckpointMeta:
    name: str
    path: Path
    model: str  # model class name, e.g. "TRM"
    config: dict[str, Any]
    kind: str | None = None  # puzzle kind it solves, e.g. "sudoku"
    size_label: str | None = None  # e.g. "9x9"
    tokens: dict[str, Any] = field(default_factory=dict)
    card: dict[str, Any] = field(default_factory=dict)
    parameters: int | None = None

    @property
    def family(self) -> str:
        return str(self.card.get("family") or FAMILIES.get(self.model, self.model.lower()))

    @property
    def solver_card(self) -> dict[str, Any]:
        """The card with `family` and `parameters` filled in (what describe_solvers shows)."""
        return {"parameters": self.parameters, **self.card, "family": self.family}


def resolve_checkpoint(path_or_name: str | Path) -> Path:
    """A folder path, or a bare name looked up under solvers/checkpoints/."""
    candidate = Path(path_or_name)
    if (candidate / CONFIG_FILE).is_file():
        return candidate
    name = str(path_or_name)
    if _NAME.match(name) and (CHECKPOINTS_DIR / name / CONFIG_FILE).is_file():
        return CHECKPOINTS_DIR / name
    known = ", ".join(m.name for m in list_checkpoints()) or "none"
    raise FileNotFoundError(f"no checkpoint at {name!r}: expected a folder holding {CONFIG_FILE} and {WEIGHTS_FILE}, "
                            f"or the name of a shipped checkpoint (known: {known})")


def read_meta(path_or_name: str | Path) -> CheckpointMeta:
    folder = resolve_checkpoint(path_or_name)
    try:
        raw = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{folder / CONFIG_FILE} is not readable JSON: {exc}") from exc
    if not isinstance(raw, dict) or "model" not in raw or "config" not in raw:
        raise ValueError(f"{folder / CONFIG_FILE} must be a JSON object with 'model' and 'config' entries")
    version = raw.get("format_version", FORMAT_VERSION)
    if version > FORMAT_VERSION:
        raise ValueError(f"{folder} uses checkpoint format {version}; this version reads up to {FORMAT_VERSION}")
    return CheckpointMeta(name=folder.name, path=folder, model=raw["model"], config=raw["config"],
                          kind=raw.get("kind"), size_label=raw.get("size_label"), tokens=raw.get("tokens") or {},
                          card=raw.get("card") or {}, parameters=raw.get("parameters"))


def list_checkpoints(directory: Path = CHECKPOINTS_DIR) -> list[CheckpointMeta]:
    """Every readable checkpoint folder under `directory`, by name; unreadable ones are skipped with a warning."""
    if not directory.is_dir():
        return []
    found = []
    for folder in sorted(p for p in directory.iterdir() if (p / CONFIG_FILE).is_file()):
        try:
            found.append(read_meta(folder))
        except ValueError as exc:
            warnings.warn(f"skipping checkpoint {folder.name}: {exc}", stacklevel=2)
    return found
