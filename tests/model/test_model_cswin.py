"""CSwin branch: stripe-width choice and cross-shaped attention checked against naive per-stripe attention."""

from __future__ import annotations

import math

import pytest
import torch

from c5desk.errors import ModelError
from c5desk.model.cswin import CSwinAttention, CSwinBranch, pick_stripe_widths, stripe_attention, stripe_width


def naive_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q kᵀ / √d) v for (tokens, d) matrices, written out."""
    weights = torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ v


def naive_stripes(q, k, v, num_heads: int, rows: int | None = None, cols: int | None = None) -> torch.Tensor:
    """Attention computed stripe by stripe and head by head with explicit loops.

    ``rows`` set: horizontal stripes of ``rows`` rows; ``cols`` set: vertical stripes of ``cols`` columns.
    """
    batch, height, width, channels = q.shape
    d = channels // num_heads
    out = torch.zeros_like(q)
    for b in range(batch):
        for h in range(num_heads):
            ch = slice(h * d, (h + 1) * d)
            if rows is not None:
                windows = [(slice(s, s + rows), slice(0, width)) for s in range(0, height, rows)]
            else:
                windows = [(slice(0, height), slice(s, s + cols)) for s in range(0, width, cols)]
            for ys, xs in windows:
                region = q[b, ys, xs, ch]
                flat = [t[b, ys, xs, ch].reshape(-1, d) for t in (q, k, v)]
                out[b, ys, xs, ch] = naive_attention(*flat).reshape(region.shape)
    return out


def test_stripe_widths_match_cswin_at_224_and_256() -> None:
    assert pick_stripe_widths(224) == (1, 2, 7, 7)
    assert pick_stripe_widths(256) == (1, 2, 8, 8)


def test_stripe_widths_always_divide_the_feature_map() -> None:
    for size in range(32, 32 * 20, 32):
        for stride, width in zip((4, 8, 16, 32), pick_stripe_widths(size), strict=True):
            assert (size // stride) % width == 0, (size, stride, width)
    assert stripe_width(13, 7) == 13  # prime size: the nearest divisor on a log scale is the whole map
    assert stripe_width(26, 7) == 13  # 7 does not divide 26: fall back to 13 (closer than 2 by ratio)
    assert stripe_width(5, None) == 5


def test_stripe_widths_reject_sizes_not_divisible_by_32() -> None:
    with pytest.raises(ModelError, match="multiple of 32"):
        pick_stripe_widths(200)


def test_horizontal_stripe_attention_equals_per_stripe_attention() -> None:
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 6, 5, 8) for _ in range(3))
    fast = stripe_attention(q, k, v, num_heads=2, rows=3)
    torch.testing.assert_close(fast, naive_stripes(q, k, v, 2, rows=3), atol=1e-5, rtol=1e-5)


def test_stripe_attention_does_not_look_outside_its_stripe() -> None:
    torch.manual_seed(1)
    q, k, v = (torch.randn(1, 4, 4, 4) for _ in range(3))
    before = stripe_attention(q, k, v, num_heads=1, rows=2)
    k2, v2 = k.clone(), v.clone()
    k2[:, 2:], v2[:, 2:] = torch.randn(1, 2, 4, 4), torch.randn(1, 2, 4, 4)  # change the second stripe only
    after = stripe_attention(q, k2, v2, num_heads=1, rows=2)
    torch.testing.assert_close(after[:, :2], before[:, :2])
    assert not torch.allclose(after[:, 2:], before[:, 2:])


def reference_cswin(attn: CSwinAttention, x: torch.Tensor) -> torch.Tensor:
    """CSwinAttention recomputed naively: half the heads on row stripes, half on column stripes, + LePE."""
    _, height, width, channels = x.shape
    q, k, v = attn.qkv(x).chunk(3, dim=-1)
    lepe = attn.lepe(v.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
    if attn.stripe_target is None:
        out = naive_stripes(q, k, v, attn.num_heads, rows=height)
    else:
        half, heads = channels // 2, attn.num_heads // 2
        rows, cols = stripe_width(height, attn.stripe_target), stripe_width(width, attn.stripe_target)
        left = naive_stripes(q[..., :half], k[..., :half], v[..., :half], heads, rows=rows)
        right = naive_stripes(q[..., half:], k[..., half:], v[..., half:], heads, cols=cols)
        out = torch.cat([left, right], dim=-1)
    return attn.proj(out + lepe)


@pytest.mark.parametrize("target", [3, None])
def test_cswin_attention_matches_naive_reference(target: int | None) -> None:
    torch.manual_seed(2)
    attn = CSwinAttention(dim=16, num_heads=4, stripe_target=target).eval()
    x = torch.randn(2, 6, 8, 16)  # 6 rows → stripes of 3; 8 columns → stripes of 4 (different on purpose)
    with torch.no_grad():
        torch.testing.assert_close(attn(x), reference_cswin(attn, x), atol=1e-5, rtol=1e-4)


def test_cswin_attention_rejects_odd_head_counts() -> None:
    with pytest.raises(ModelError, match="even head count"):
        CSwinAttention(dim=24, num_heads=3, stripe_target=2)


def test_cswin_branch_pyramid_shapes() -> None:
    branch = CSwinBranch(in_chans=1, embed_dims=(8, 16, 24, 32), depths=(1, 1, 1, 1), num_heads=(2, 2, 2, 4))
    maps = branch(torch.randn(1, 1, 96, 64))
    assert [tuple(m.shape) for m in maps] == [(1, 8, 24, 16), (1, 16, 12, 8), (1, 24, 6, 4), (1, 32, 3, 2)]
