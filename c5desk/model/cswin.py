"""CSwin transformer branch (cross-shaped window self-attention), written for this project.

Maths after Dong et al., "CSWin Transformer" (CVPR 2022; reference code microsoft/CSWin-Transformer, MIT):
a block splits its heads in two halves, one attending inside horizontal stripes of ``sw`` rows spanning the
full width, the other inside vertical stripes of ``sw`` columns; together they give a cross-shaped receptive
field. The last stage attends globally. Positions enter through LePE: a depthwise 3×3 conv on V added to the
attention output. Token maps are kept as (B, H, W, C) inside the branch and returned as NCHW.

Differences from the reference, on purpose: LePE runs over the whole V map (one conv call; neighbours across a
stripe border still inform the position code), and stripe widths are chosen per forward from the actual map
size, so one set of weights serves any input size divisible by 32.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import torch
import torch.nn.functional as F
from timm.layers import DropPath, LayerNorm, Mlp, trunc_normal_
from torch import nn

from c5desk.errors import ModelError

STAGE_STRIDES = (4, 8, 16, 32)
DEFAULT_STRIPE_TARGETS: tuple[int | None, ...] = (1, 2, 7, None)  # None = global attention


@lru_cache(maxsize=256)
def stripe_width(size: int, target: int | None) -> int:
    """The divisor of ``size`` closest to ``target`` on a log scale (ties: the wider); None means global.

    Stripes must tile the map exactly; when ``target`` does not divide ``size`` the nearest divisor is the
    fall-back (a prime size can only get 1 or the whole map).
    """
    if size < 1:
        raise ModelError(f"feature map size must be positive, got {size}")
    if target is None or target >= size:
        return size
    divisors = [d for d in range(1, size + 1) if size % d == 0]
    return min(divisors, key=lambda d: (abs(math.log(d / target)), -d))


def pick_stripe_widths(
    input_size: int, targets: Sequence[int | None] = DEFAULT_STRIPE_TARGETS
) -> tuple[int, ...]:
    """Stripe width of each stage for a square input: (1, 2, 7, 7) at 224, (1, 2, 8, 8) at 256."""
    if input_size < 32 or input_size % 32:
        raise ModelError(f"input size must be a positive multiple of 32, got {input_size}")
    return tuple(stripe_width(input_size // s, t) for s, t in zip(STAGE_STRIDES, targets, strict=True))


def stripe_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, num_heads: int, rows: int
) -> torch.Tensor:
    """Multi-head attention restricted to horizontal stripes of ``rows`` full-width rows.

    q, k, v: (B, H, W, C) with H divisible by ``rows``; ``rows == H`` is global attention.
    Returns (B, H, W, C). Vertical stripes are this function on the H/W-transposed maps.
    """
    channels = q.shape[-1]
    tokens = rows * q.shape[2]

    def to_stripes(t: torch.Tensor) -> torch.Tensor:
        # (B, H, W, C) row-major -> (B * H/rows, heads, rows * W, C/heads): consecutive rows form one stripe.
        return t.reshape(-1, tokens, num_heads, channels // num_heads).transpose(1, 2)

    out = F.scaled_dot_product_attention(to_stripes(q), to_stripes(k), to_stripes(v))
    return out.transpose(1, 2).reshape(q.shape)


class CSwinAttention(nn.Module):
    """Cross-shaped window attention with LePE; ``stripe_target=None`` gives global attention."""

    def __init__(self, dim: int, num_heads: int, stripe_target: int | None, qkv_bias: bool = True) -> None:
        super().__init__()
        split = stripe_target is not None
        if dim % num_heads or (split and (num_heads % 2 or num_heads < 2)):
            raise ModelError(
                f"CSwin attention needs dim % heads == 0 and an even head count, got {dim}/{num_heads}"
            )
        self.num_heads = num_heads
        self.stripe_target = stripe_target
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.lepe = nn.Conv2d(dim, dim, kernel_size=3, padding=1, groups=dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width, channels = x.shape[1], x.shape[2], x.shape[3]
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        lepe = self.lepe(v.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        if self.stripe_target is None:
            out = stripe_attention(q, k, v, self.num_heads, height)
        else:
            half, heads = channels // 2, self.num_heads // 2
            rows = stripe_width(int(height), self.stripe_target)
            cols = stripe_width(int(width), self.stripe_target)
            horizontal = stripe_attention(q[..., :half], k[..., :half], v[..., :half], heads, rows)
            qt, kt, vt = (t[..., half:].transpose(1, 2) for t in (q, k, v))
            vertical = stripe_attention(qt, kt, vt, heads, cols).transpose(1, 2)
            out = torch.cat([horizontal, vertical], dim=-1)
        return self.proj(out + lepe)


class CSwinBlock(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x)); tokens (B, H, W, C)."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        stripe_target: int | None,
        mlp_ratio: float = 4.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.norm1 = LayerNorm(dim)
        self.attn = CSwinAttention(dim, num_heads, stripe_target)
        self.norm2 = LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class PatchMerge(nn.Module):
    """Halve the resolution between stages with a stride-2 3×3 conv, then LayerNorm (as in CSwin)."""

    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(dim_in, dim_out, kernel_size=3, stride=2, padding=1)
        self.norm = LayerNorm(dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1))


class CSwinBranch(nn.Module):
    """Conv stem (stride 4) and four CSwin stages at strides 4/8/16/32; returns four NCHW maps."""

    def __init__(
        self,
        in_chans: int = 1,
        embed_dims: Sequence[int] = (32, 64, 128, 256),
        depths: Sequence[int] = (1, 1, 2, 1),
        num_heads: Sequence[int] = (2, 2, 4, 8),
        stripe_targets: Sequence[int | None] = DEFAULT_STRIPE_TARGETS,
        mlp_ratio: float = 4.0,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if not len(embed_dims) == len(depths) == len(num_heads) == len(stripe_targets) == 4:
            raise ModelError(
                "CSwin branch needs four stages of embed_dims, depths, num_heads and stripe_targets"
            )
        self.out_channels = list(embed_dims)
        self.stem = nn.Conv2d(in_chans, embed_dims[0], kernel_size=7, stride=4, padding=3)
        self.stem_norm = LayerNorm(embed_dims[0])
        self.merges = nn.ModuleList(PatchMerge(embed_dims[i], embed_dims[i + 1]) for i in range(3))
        total = sum(depths)  # stochastic depth grows linearly with depth, 0 at the first block
        rates = [drop_path_rate * i / max(total - 1, 1) for i in range(total)]
        self.stages = nn.ModuleList()
        for i in range(len(depths)):
            stage_rates = rates[sum(depths[:i]) : sum(depths[: i + 1])]
            blocks = [
                CSwinBlock(embed_dims[i], num_heads[i], stripe_targets[i], mlp_ratio, r) for r in stage_rates
            ]
            self.stages.append(nn.Sequential(*blocks))
        self.out_norms = nn.ModuleList(LayerNorm(d) for d in embed_dims)
        self.apply(_init_weights)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        tokens = self.stem_norm(self.stem(x).permute(0, 2, 3, 1))
        outputs = []
        for i, stage in enumerate(self.stages):
            if i > 0:
                tokens = self.merges[i - 1](tokens)
            tokens = stage(tokens)
            outputs.append(self.out_norms[i](tokens).permute(0, 3, 1, 2))
        return outputs


def _init_weights(module: nn.Module) -> None:
    # Transformer-style init (truncated normal, std 0.02) as in ViT/CSwin; convs keep PyTorch's default.
    if isinstance(module, nn.Linear):
        trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
