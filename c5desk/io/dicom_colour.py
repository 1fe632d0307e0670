"""From decoded DICOM samples to display pixels: palettes, MONOCHROME1 inversion, native byte order.

pydicom 3 already returns RGB for YBR_FULL(_422) and for JPEG / JPEG 2000 colour (the decoders' own
conversion is accounted for, so colour JPEG is never converted twice, i.e. never shown green).
"""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut

from c5desk.io.greyscale import display_pixels, to_grey


def palette_table(ds: Dataset, little_endian: bool) -> tuple[np.ndarray, int]:
    """The full palette as an (entries, 3) uint8 table and the first mapped stored value.

    pydicom's apply_color_lut reads plain 16-bit LUT data as little-endian even in big-endian files, so
    plain LUTs are parsed here; segmented ones (whose reader handles byte order) go through pydicom.
    """
    entries, first, depth = (int(v) for v in ds.RedPaletteColorLookupTableDescriptor)
    entries = entries or 65536  # 0 means 2**16 entries
    if "RedPaletteColorLookupTableData" in ds:
        channels = [
            _plain_lut(ds[f"{colour}PaletteColorLookupTableData"].value, entries, little_endian)
            for colour in ("Red", "Green", "Blue")
        ]
        table = np.stack(channels, axis=-1)
    else:
        table = apply_color_lut(np.arange(first, first + entries, dtype=np.int64), ds)[..., :3]
    if depth == 16 and table.max() > 255:
        table = table >> 8  # 16-bit entries: the high byte is the display value
    return np.ascontiguousarray(table.astype(np.uint8)), first


def _plain_lut(data: bytes, entries: int, little_endian: bool) -> np.ndarray:
    width = 2 if len(data) >= 2 * entries else 1  # 8-bit entries may be stored one per byte
    dtype = np.dtype(np.uint8) if width == 1 else np.dtype("<u2" if little_endian else ">u2")
    lut = np.frombuffer(data, dtype=dtype, count=min(entries, len(data) // width)).astype(np.uint16)
    if len(lut) < entries:  # tolerate a short LUT by repeating its last entry
        lut = np.concatenate([lut, np.full(entries - len(lut), lut[-1] if len(lut) else 0, np.uint16)])
    return lut


def apply_palette(stored: np.ndarray, table: np.ndarray, first: int) -> np.ndarray:
    """Map stored values through the palette (values outside the LUT take its first/last entry)."""
    index = np.clip(stored.astype(np.int64) - first, 0, len(table) - 1)
    return table[index]


def to_display(
    samples: np.ndarray,
    photometric: str,
    bits_stored: int,
    palette: tuple[np.ndarray, int] | None,
    voi_grey: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Decoded samples of one frame -> (display pixels, model grey uint8).

    voi_grey: a >8-bit monochrome frame through its Modality and VOI LUTs (dicom_voi), not yet inverted;
    None stretches the frame's own range. 8-bit ultrasound is display-ready as stored.
    """
    if photometric == "PALETTE COLOR" and palette is not None:
        rgb = apply_palette(samples, *palette)
        return rgb, to_grey(rgb)
    if samples.ndim == 3:  # RGB: pydicom has converted YBR already
        return display_pixels(samples), to_grey(samples)
    grey = to_grey(samples) if voi_grey is None else voi_grey
    if photometric == "MONOCHROME1":
        grey = 255 - grey
    if samples.dtype in (np.uint8, np.uint16):
        return (_invert(samples, bits_stored) if photometric == "MONOCHROME1" else samples), grey
    return grey, grey  # signed, float or 32-bit: shown as the model sees it


def native_order(samples: np.ndarray) -> np.ndarray:
    """Samples in the machine's byte order (big-endian files may decode to big-endian arrays)."""
    if samples.dtype.byteorder in ("=", "|"):
        return samples
    return samples.astype(samples.dtype.newbyteorder("="))


def _invert(samples: np.ndarray, bits_stored: int) -> np.ndarray:
    """MONOCHROME1 (0 = white) stored values shown the usual way round, kept as uint8/uint16."""
    top = min((1 << bits_stored) - 1, np.iinfo(samples.dtype).max)
    return (top - np.minimum(samples, top)).astype(samples.dtype)
