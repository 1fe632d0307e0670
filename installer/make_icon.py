"""Redraw resources/icons/c5desk.png (256 px) and c5desk.ico (16-256 px) with Pillow.

The icon: an ultrasound sector with speckle on a dark tile, a dark lesion with an amber outline (the app's
outline colour). Deterministic; run from the repository root: python installer/make_icon.py
"""

from __future__ import annotations

import math
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"
SIZE = 1024  # drawn large, then downsampled for smooth edges
ICO_SIZES = [(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)]


def speckle(rng: random.Random) -> Image.Image:
    texture = Image.new("L", (SIZE, SIZE), 0)
    draw = ImageDraw.Draw(texture)
    for _ in range(9000):
        x, y = rng.randrange(SIZE), rng.randrange(SIZE)
        draw.ellipse([x, y, x + rng.randrange(4, 12), y + rng.randrange(3, 7)], fill=rng.randrange(70, 190))
    return texture.filter(ImageFilter.GaussianBlur(2.5))


def sector() -> Image.Image:
    apex, near, far = (SIZE // 2, 150), 60, 780
    mask = Image.new("L", (SIZE, SIZE), 0)
    draw = ImageDraw.Draw(mask)
    draw.pieslice([apex[0] - far, apex[1] - far, apex[0] + far, apex[1] + far], 55, 125, fill=255)
    draw.pieslice([apex[0] - near, apex[1] - near, apex[0] + near, apex[1] + near], 0, 360, fill=0)
    return mask


def lesion_outline() -> list[tuple[float, float]]:
    cx, cy = SIZE // 2 + 20, 560
    points = []
    for k in range(64):
        a = 2 * math.pi * k / 64
        r = 1 + 0.12 * math.sin(3 * a) + 0.06 * math.sin(7 * a)
        points.append((cx + 170 * r * math.cos(a), cy + 115 * r * math.sin(a)))
    return points


def draw_icon() -> Image.Image:
    icon = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    ImageDraw.Draw(icon).rounded_rectangle([40, 40, SIZE - 40, SIZE - 40], radius=180, fill=(30, 31, 34, 255))
    outline = lesion_outline()
    lesion = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(lesion).polygon(outline, fill=255)
    lesion = lesion.filter(ImageFilter.GaussianBlur(8))
    grey = Image.composite(Image.new("L", (SIZE, SIZE), 20), speckle(random.Random(5)), lesion)
    icon.alpha_composite(Image.merge("RGBA", (grey, grey, grey, sector())))
    ImageDraw.Draw(icon).line([*outline, outline[0]], fill=(255, 170, 40, 255), width=22, joint="curve")
    return icon.resize((256, 256), Image.LANCZOS)


def main() -> None:
    ICONS.mkdir(parents=True, exist_ok=True)
    icon = draw_icon()
    icon.save(ICONS / "c5desk.png", optimize=True)
    icon.save(ICONS / "c5desk.ico", sizes=ICO_SIZES)


if __name__ == "__main__":
    main()
