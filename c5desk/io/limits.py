"""Size limits checked from headers before anything is decoded, so a hostile file cannot exhaust memory."""

from __future__ import annotations

from c5desk.errors import ReadError

# 100 megapixels per frame: far above any ultrasound frame (about 1 MP) yet small enough to decode safely.
MAX_PIXELS_PER_FRAME = 100_000_000


def check_frame_size(name: str, rows: int, cols: int) -> None:
    """Raise ReadError unless rows x cols is a sensible frame size (checked before decoding)."""
    if rows <= 0 or cols <= 0:
        raise ReadError(f"{name}: frame size {rows}x{cols} is empty or invalid")
    if rows * cols > MAX_PIXELS_PER_FRAME:
        raise ReadError(
            f"{name}: frame of {cols}x{rows} pixels ({rows * cols / 1e6:.0f} MP) is over the "
            f"{MAX_PIXELS_PER_FRAME / 1e6:.0f} MP limit"
        )


# Still images are read into memory whole; no sensible ultrasound export comes near this.
MAX_IMAGE_FILE_BYTES = 1 << 30
