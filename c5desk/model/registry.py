"""Model registry in the style of timm: variants are small registered functions over one builder.

A bundle stores only ``(arch name, arch_args)``; ``create_model(name, **arch_args)`` rebuilds the network from
them, so every registered function must accept its overrides as JSON-friendly keyword arguments.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from torch import nn

from c5desk.errors import ModelError

ModelFn = TypeVar("ModelFn", bound=Callable[..., nn.Module])

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: ModelFn) -> ModelFn:
    """Decorator: register ``fn`` under its function name (``c5net_tiny``...)."""
    name = fn.__name__
    if name in _REGISTRY and _REGISTRY[name] is not fn:
        raise ModelError(f"model name {name!r} is registered twice")
    _REGISTRY[name] = fn
    return fn


def builds(builder: Callable[..., nn.Module]) -> Callable[[ModelFn], ModelFn]:
    """Decorator: ``fn(**overrides)`` passes its overrides to ``builder``, whose keywords are the only ones
    a bundle's arch_args may use (``accepted_args``); ``architecture`` is the variant's own, not an override.
    """

    def mark(fn: ModelFn) -> ModelFn:
        fn.builder = builder  # type: ignore[attr-defined]
        return fn

    return mark


def accepted_args(name: str) -> frozenset[str] | None:
    """The arch_args keys architecture ``name`` takes (None: it does not say; ModelError: unknown name)."""
    _import_variants()
    fn = _REGISTRY.get(name)
    if fn is None:
        raise ModelError(f"unknown model architecture {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    params = inspect.signature(getattr(fn, "builder", fn)).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return frozenset(p.name for p in params if p.name != "architecture")


def list_models() -> list[str]:
    """Names of every registered architecture, sorted."""
    _import_variants()
    return sorted(_REGISTRY)


def is_model(name: str) -> bool:
    _import_variants()
    return name in _REGISTRY


def create_model(name: str, **overrides: Any) -> nn.Module:
    """Build the registered architecture ``name``; ``overrides`` replace the variant's default arguments.

    The result carries ``arch_name`` and ``arch_args`` (the overrides given) so it can be saved as a bundle.
    """
    _import_variants()
    builder = _REGISTRY.get(name)
    if builder is None:
        raise ModelError(f"unknown model architecture {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    try:
        model = builder(**overrides)
    except ModelError:
        raise
    except (TypeError, ValueError) as exc:
        raise ModelError(f"cannot build {name!r} with arguments {overrides}: {exc}") from exc
    model.arch_name = name
    model.arch_args = dict(overrides)
    return model


def _import_variants() -> None:
    """The variant modules register themselves on import; import them on first use of the registry."""
    from c5desk.model import baselines, c5net  # noqa: F401
