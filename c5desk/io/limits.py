"""Size limits checked from headers before anything is decoded, so a hostile file cannot exhaust memory.

Every decode path (still images, DICOM, video) describes the frame it is about to decode as a FrameLayout
and calls check_decode first: the pixel count and the estimated peak memory of decoding that one frame
are both checked against the limits below, and the ReadError names the limit that was hit.
"""

from __future__ import annotations

from dataclasses import dataclass

from c5desk.errors import ReadError

MiB = 1 << 20

# Peak memory one frame's decode may take, estimated from its header (decode_bytes). With the frame cache
# below and the interpreter, the whole reader stays well under ~1 GB even for the worst case.
MAX_DECODE_BYTES = 512 * MiB

# 50 MP per frame: ultrasound frames are about 1 MP and a 4K screen capture 8 MP, so this refuses only
# bombs. 100 MP (the old limit) cost 2-3 GB for a 16-bit image; at 50 MP an 8-bit grey frame peaks near
# 150 MB, and wider pixels are held back by MAX_DECODE_BYTES instead (16-bit grey up to about 12 MP,
# 16-bit colour about 9 MP, JPEG 2000 colour about 14 MP).
MAX_PIXELS_PER_FRAME = 50_000_000

# Still images are read into memory whole (and held while a frame decodes); 256 MiB is a multi-page TIFF
# of hundreds of ultrasound frames, while a single picture within the pixel limit is far smaller.
MAX_IMAGE_FILE_BYTES = 256 * MiB

# Decoded frames a Source keeps for stepping back and forth; at least the newest is always kept.
FRAME_CACHE_BYTES = 256 * MiB

# Frames in one file: a 10-minute cine at 100 frames/s is 60 000. Bounds the offset tables and fragment
# lists read to check a declared frame count, and every caller's loop over range(len(source)).
MAX_FRAMES_PER_FILE = 1_000_000

# Bytes per pixel, measured as peak RSS while decoding one 9 MP frame (tests/io/test_io_limits.py checks
# the estimate stays above what decoding really takes): decoder buffer, array, display and RGB copies...
_COPIES = 4  # ...per stored byte;
_PLAIN_WORK = 3  # the uint8 grey of 8-bit data;
_MAPPED_WORK = 36  # float32/float64 copies when values are stretched, windowed or looked up (palette);
_CODEC_WORK = 8  # per sample: decoders of compressed data (OpenJPEG int32 planes, FFmpeg) hold their own.


@dataclass(frozen=True)
class FrameLayout:
    """What one decoded frame will look like, as its header says."""

    rows: int
    cols: int
    samples: int = 1  # 3 for colour (a palette counts as colour: it is expanded to RGB)
    itemsize: int = 1  # bytes per decoded sample
    mapped: bool = False  # values go through a palette, VOI window or float rescale to become 8-bit grey
    compressed: bool = False  # a codec decodes it (JPEG, JPEG 2000, RLE, video)

    @property
    def pixels(self) -> int:
        return self.rows * self.cols

    def decode_bytes(self) -> int:
        """Estimated peak memory of decoding this frame into a Frame (pixels + grey)."""
        per_pixel = _COPIES * self.samples * self.itemsize
        per_pixel += _MAPPED_WORK if self.mapped or self.itemsize > 1 else _PLAIN_WORK
        per_pixel += _CODEC_WORK * self.samples if self.compressed else 0
        return self.pixels * per_pixel


def check_frame_size(name: str, rows: int, cols: int) -> None:
    """Raise ReadError unless rows x cols is a sensible frame size (checked before decoding)."""
    if rows <= 0 or cols <= 0:
        raise ReadError(f"{name}: frame size {rows}x{cols} is empty or invalid")
    if rows * cols > MAX_PIXELS_PER_FRAME:
        raise ReadError(
            f"{name}: frame of {cols}x{rows} pixels ({rows * cols / 1e6:.0f} MP) is over the "
            f"{MAX_PIXELS_PER_FRAME / 1e6:.0f} MP limit"
        )


def check_decode(name: str, layout: FrameLayout, held: int = 0) -> int:
    """ReadError unless decoding one frame of `layout` fits the limits; the estimated peak bytes.

    held: bytes the reader already keeps while decoding (a still image's file contents).
    """
    check_frame_size(name, layout.rows, layout.cols)
    need = layout.decode_bytes() + held
    if need > MAX_DECODE_BYTES:
        raise ReadError(
            f"{name}: decoding a {layout.cols}x{layout.rows} frame would take about {need / MiB:.0f} MB, "
            f"over the {MAX_DECODE_BYTES / MiB:.0f} MB decode limit"
        )
    return need


def check_frame_count(name: str, frames: int) -> None:
    """ReadError unless a file's frame count is between 1 and MAX_FRAMES_PER_FILE."""
    if frames < 1:
        raise ReadError(f"{name}: Number of Frames is {frames}")
    if frames > MAX_FRAMES_PER_FILE:
        raise ReadError(f"{name}: {frames} frames is over the {MAX_FRAMES_PER_FILE} frame limit")
