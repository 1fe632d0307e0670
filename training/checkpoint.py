"""Resumable training checkpoints without pickle: tensors in safetensors, everything else in JSON.

A work folder holds last.safetensors (model + optimizer moments), best.safetensors (the selected weights) and
state.json (epoch, history, best score, and the run's fingerprint so a resume never mixes two recipes).
Each file is replaced atomically; state.json is written last, so it never points at a half-written checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from c5desk.fsio import atomic_path, write_text_atomic

STATE = "state.json"
LAST = "last.safetensors"
BEST = "best.safetensors"


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer state_dict into flat tensors and JSON-friendly rest."""
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, values in state["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    for index, values in meta.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(values)
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_checkpoint(
    folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    optim, meta = optimizer_tensors(optimizer)
    tensors.update(optim)
    with atomic_path(folder / LAST) as temporary:
        save_file(tensors, str(temporary))
    record = {**state, "optimizer": meta}
    write_text_atomic(folder / STATE, json.dumps(record, indent=1))


def save_best(folder: Path, weights: dict[str, torch.Tensor]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / BEST) as temporary:
        save_file(weights, str(temporary))


def load_checkpoint(
    folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, fingerprint: str
) -> dict[str, Any] | None:
    """Restore model and optimizer from `folder` when it holds a checkpoint of this very run, else None."""
    path = folder / STATE
    if not path.is_file() or not (folder / LAST).is_file():
        return None
    state = json.loads(path.read_text())
    if state.get("fingerprint") != fingerprint:
        return None
    tensors = load_file(str(folder / LAST))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    restore_optimizer(optimizer, tensors, state["optimizer"])
    return state


def load_best(folder: Path) -> dict[str, torch.Tensor] | None:
    path = folder / BEST
    return load_file(str(path)) if path.is_file() else None
