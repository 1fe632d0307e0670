"""Bounds on a bundle's ``arch_args``, checked before any network is built (no torch here).

``create_model(arch, **arch_args)`` rebuilds the network from values a file supplies; unchecked, a
hand-edited ``embed_dims`` or ``depths`` allocates gigabytes before the weights are even compared. Every
argument any registered builder takes has a rule here, wide enough for every shipped variant (c5net_base
included) and far below what would exhaust a workstation. Which keys a given architecture accepts is the
registry's business (``registry.accepted_args``). The transformer's size is estimated from the arguments
alone (a lower bound) so that an absurd combination of in-bounds values is refused without building
anything; the exact size is bounded by c5desk.model.weights_check on a meta-device build.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from c5desk.errors import BundleError

MAX_WEIGHT_BYTES = 1 << 30  # c5net_base is ~0.2 GB in float32; 1 GiB leaves room, refuses absurd specs
_RESNET = re.compile(r"resnet[0-9a-z_]{1,12}")


def _int_in(low: int, high: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


def _number_in(low: float, high: float) -> Callable[[Any], bool]:
    return lambda v: (
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and low <= v <= high
    )


def _list_of(item: Callable[[Any], bool], lengths: range) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, list) and len(v) in lengths and all(item(x) for x in v)


def _or_null(test: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or test(v)


_FOUR = range(4, 5)
_WIDTH = _int_in(4, 2048)

# key -> (test, what the value must be); shipped variants: c5net_base has depths (1, 2, 21, 1), dims 64..512
RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "input_size": (lambda v: _int_in(32, 1024)(v) and v % 32 == 0, "a multiple of 32 from 32 to 1024"),
    "in_chans": (_int_in(1, 4), "an integer 1..4"),
    "cnn_name": (lambda v: isinstance(v, str) and bool(_RESNET.fullmatch(v)), "a timm ResNet name"),
    "cnn_channels": (_or_null(_list_of(_WIDTH, _FOUR)), "null or four widths 4..2048"),
    "cnn_stem_width": (_or_null(_int_in(4, 512)), "null or an integer 4..512"),
    "embed_dims": (_list_of(_int_in(4, 1024), _FOUR), "four widths 4..1024"),
    "depths": (lambda v: _list_of(_int_in(1, 32), _FOUR)(v) and sum(v) <= 64, "four depths 1..32, sum <= 64"),
    "num_heads": (_list_of(_int_in(1, 64), _FOUR), "four head counts 1..64"),
    "stripe_targets": (_list_of(_or_null(_int_in(1, 256)), _FOUR), "four stripe widths 1..256 or null"),
    "mlp_ratio": (_number_in(0.25, 16.0), "a number 0.25..16"),
    "fused_channels": (_or_null(_list_of(_WIDTH, _FOUR)), "null or four widths 4..2048"),
    "decoder_channels": (_list_of(_int_in(4, 1024), range(1, 7)), "1 to 6 widths 4..1024"),
    "light_final_block": (lambda v: isinstance(v, bool), "true or false"),
    "mask_pooled_scales": (_int_in(0, 5), "an integer 0..5"),
    "shape_width": (_int_in(1, 512), "an integer 1..512"),
    "dropout": (_number_in(0.0, 0.99), "a number 0..0.99"),
    "drop_path_rate": (_number_in(0.0, 0.99), "a number 0..0.99"),
    "mean": (_list_of(_number_in(-1e3, 1e3), range(1, 5)), "1 to 4 finite numbers"),
    "std": (_list_of(_number_in(1e-6, 1e3), range(1, 5)), "1 to 4 positive finite numbers"),
    "prompts": (lambda v: isinstance(v, bool), "true or false"),  # model v2: prompt inputs
    "presence": (lambda v: isinstance(v, bool), "true or false"),  # model v2: lesion-present output
}


def check_arch_args(args: dict[str, Any], source: str) -> None:
    """Raise BundleError naming the first argument no builder takes or whose value is out of bounds."""
    for key, value in args.items():
        rule = RULES.get(key)
        if rule is None:
            raise BundleError(f"{source}: arch_args.{key} is not an argument of any known architecture")
        test, requirement = rule
        if not test(value):
            raise BundleError(f"{source}: arch_args.{key} must be {requirement}, got {value!r:.80}")
    if 4 * transformer_parameters(args) > MAX_WEIGHT_BYTES:
        raise BundleError(
            f"{source}: arch_args embed_dims, depths and mlp_ratio give a transformer over "
            f"{MAX_WEIGHT_BYTES >> 20} MiB of weights, the limit"
        )


def transformer_parameters(args: dict[str, Any]) -> int:
    """At least how many parameters the CSwin branch has (qkv, projection and MLP of every block); 0 when
    ``args`` set none of its sizes (the variant's defaults are known to fit)."""
    if not {"embed_dims", "depths", "mlp_ratio"} & set(args):
        return 0
    dims = args.get("embed_dims", (32, 64, 128, 256))
    depths = args.get("depths", (1, 1, 2, 1))
    ratio = args.get("mlp_ratio", 4.0)
    return int(sum(depth * dim * dim * (4 + 2 * ratio) for depth, dim in zip(depths, dims, strict=False)))


def first_non_finite(value: Any, path: str = "") -> str | None:
    """The dotted path of the first NaN or infinite number inside JSON data, else None."""
    if isinstance(value, float) and not math.isfinite(value):
        return path or "value"
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = ((f"[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for key, item in items:
        sub = f"{path}{key}" if str(key).startswith("[") else f"{path}.{key}" if path else str(key)
        found = first_non_finite(item, sub)
        if found:
            return found
    return None
