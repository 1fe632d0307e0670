"""Reading a DICOM header before any pixel is decoded: where the pixel data is, its decoder, metadata.

(The Image Pixel attributes are checked against the pixel data in dicom_pixels.)
"""

from __future__ import annotations

import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pydicom
from pydicom import uid
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import get_decoder

from c5desk.errors import ReadError
from c5desk.io.limits import MAX_IMAGE_FILE_BYTES, MiB
from c5desk.io.source import one_line

DICOM_SUFFIXES = frozenset({".dcm", ".dicom"})
SUPPORTED_PHOTOMETRIC = frozenset(
    {
        "MONOCHROME1",
        "MONOCHROME2",
        "PALETTE COLOR",
        "RGB",
        "YBR_FULL",
        "YBR_FULL_422",
        "YBR_ICT",
        "YBR_RCT",
        "YBR_PARTIAL_420",  # only inside JPEG/MPEG, whose decoders output RGB
    }
)
# Which installable package decodes what, for a useful message when none is installed.
DECODER_PACKAGES: list[tuple[frozenset[str], str, str]] = [
    (frozenset({uid.JPEGBaseline8Bit, uid.JPEGExtended12Bit}), "JPEG", "Pillow or python-gdcm"),
    (frozenset({uid.JPEGLossless, uid.JPEGLosslessSV1}), "JPEG Lossless", "python-gdcm or pylibjpeg-libjpeg"),
    (
        frozenset({uid.JPEGLSLossless, uid.JPEGLSNearLossless}),
        "JPEG-LS",
        "python-gdcm, pyjpegls or pylibjpeg-libjpeg",
    ),
    (frozenset({uid.JPEG2000Lossless, uid.JPEG2000}), "JPEG 2000", "pylibjpeg-openjpeg or python-gdcm"),
    (frozenset({uid.HTJ2KLossless, uid.HTJ2KLosslessRPCL, uid.HTJ2K}), "HTJ2K", "pylibjpeg-openjpeg"),
    (frozenset({uid.RLELossless}), "RLE", "pylibjpeg-rle or python-gdcm"),
]
# Header elements copied into metadata; deliberately no names, IDs, dates, institutions or UIDs.
METADATA_KEYWORDS = {
    "Modality": "modality",
    "Manufacturer": "manufacturer",
    "ManufacturerModelName": "manufacturer_model_name",
    "TransducerData": "transducer_data",
    "TransducerType": "transducer_type",
    "PhotometricInterpretation": "photometric_interpretation",
    "BitsStored": "bits_stored",
    "ImageLaterality": "image_laterality",  # L/R/U/B: which breast, for grouping views (the case browser)
    "Laterality": "laterality",
    "ViewPosition": "view_position",
    "Rows": "rows",
    "Columns": "columns",
}
_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
_PIXEL_TAGS = {0x7FE00010: "PixelData", 0x7FE00008: "FloatPixelData", 0x7FE00009: "DoubleFloatPixelData"}


def looks_like_dicom(head: bytes) -> bool:
    """True when the bytes carry the DICOM Part 10 preamble marker."""
    return len(head) >= 132 and head[128:132] == b"DICM"


@dataclass(frozen=True)
class PixelElement:
    """Where the pixel data value lies in the file; length None when undefined (encapsulated)."""

    keyword: str
    offset: int
    length: int | None


def read_header(path: Path) -> tuple[Dataset, PixelElement | None]:
    """Everything before the pixel data, and where the pixel data is.

    The pixel data element is located by hand rather than parsed: pydicom returns an empty dataset when
    an encapsulated element lacks its end (a truncated cine), which would hide a readable header.
    """
    try:
        with warnings.catch_warnings(), path.open("rb") as stream:
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(stream, force=True, stop_before_pixels=True)
            if len(ds) and transfer_syntax(ds) == uid.DeflatedExplicitVRLittleEndian:
                check_inflated_size(path.name, stream)
                ds = pydicom.dcmread(path, force=True)  # inflated in memory: offsets mean nothing
                pixel = _inflated_pixel_element(ds)
            else:
                pixel = _locate_pixel_element(stream, *ds.original_encoding)
    except ReadError:
        raise
    except Exception as exc:
        raise ReadError(f"{path.name}: not a readable DICOM file ({one_line(exc)})") from exc
    if len(ds) == 0:
        raise ReadError(f"{path.name}: not a DICOM file (no readable elements)")
    return ds, pixel


def check_inflated_size(name: str, stream: BinaryIO) -> None:
    """A deflated dataset is inflated whole in memory: inflate it once in bounded chunks to measure it."""
    stream.seek(0)
    head = stream.read(144)
    if not looks_like_dicom(head) or head[132:138] != b"\x02\x00\x00\x00UL":
        raise ReadError(f"{name}: deflated DICOM without a standard file meta header")
    stream.seek(144 + struct.unpack("<L", head[140:144])[0])  # the deflated data follows group 0002
    inflater, total = zlib.decompressobj(-zlib.MAX_WBITS), 0
    while chunk := stream.read(MiB):
        while chunk:
            total += len(inflater.decompress(chunk, 16 * MiB))  # bounded output per call
            if total > MAX_IMAGE_FILE_BYTES:
                raise ReadError(
                    f"{name}: deflated data inflates to over the {MAX_IMAGE_FILE_BYTES / MiB:.0f} MB limit"
                )
            chunk = inflater.unconsumed_tail


def _locate_pixel_element(stream: BinaryIO, implicit_vr: bool, little_endian: bool) -> PixelElement | None:
    """Parse the element header at the stream position (where dcmread stopped before the pixels)."""
    start = stream.tell()
    endian = "<" if little_endian else ">"
    head = stream.read(8)
    if len(head) < 8:
        return None
    group, element = struct.unpack(f"{endian}HH", head[:4])
    keyword = _PIXEL_TAGS.get((group << 16) | element)
    if keyword is None:
        return None
    if implicit_vr:
        (length,) = struct.unpack(f"{endian}L", head[4:8])
        offset = start + 8
    else:  # OB/OW/OF/OD: 2 reserved bytes, then a 32-bit length
        extra = stream.read(4)
        if len(extra) < 4:
            return None
        (length,) = struct.unpack(f"{endian}L", extra)
        offset = start + 12
    return PixelElement(keyword, offset, None if length == 0xFFFFFFFF else length)


def _inflated_pixel_element(ds: Dataset) -> PixelElement | None:
    for keyword in _PIXEL_KEYWORDS:
        if keyword in ds:
            return PixelElement(keyword, -1, len(ds[keyword].value))
    return None


def transfer_syntax(ds: Dataset) -> uid.UID:
    """The file's transfer syntax, or the one implied by how the header parsed when there is no meta."""
    meta = getattr(ds, "file_meta", None)
    declared = meta.get("TransferSyntaxUID") if meta is not None else None
    if declared:
        return uid.UID(str(declared))
    implicit, little = getattr(ds, "original_encoding", (True, True))
    if implicit:
        return uid.ImplicitVRLittleEndian
    return uid.ExplicitVRLittleEndian if little else uid.ExplicitVRBigEndian


def check_decodable(name: str, syntax: uid.UID) -> None:
    """ReadError naming a package to install when no installed plugin decodes `syntax`."""
    try:
        decoder = get_decoder(syntax)
    except (NotImplementedError, ValueError) as exc:
        label = syntax.name if syntax.name != str(syntax) else "unknown"
        raise ReadError(
            f"{name}: transfer syntax {syntax} ({label}) cannot be decoded by any installed package"
        ) from exc
    if decoder.is_available:
        return
    for syntaxes, label, packages in DECODER_PACKAGES:
        if syntax in syntaxes:
            raise ReadError(f"{name}: {label} pixel data needs {packages} (install one of them)")
    raise ReadError(f"{name}: {syntax.name} pixel data needs: {'; '.join(decoder.missing_dependencies)}")


def _json_value(value: Any) -> Any:
    if isinstance(value, list | tuple | MultiValue):
        return [_json_value(v) for v in value if str(v).strip()]  # drop empty trailing values
    if isinstance(value, int):
        return int(value)  # plain types: pydicom's IS/DS subclasses are not for export
    if isinstance(value, float):
        return float(value)
    return str(value).strip()


def frame_time_ms(ds: Dataset) -> float | None:
    """Nominal time between frames: Frame Time, else from Cine Rate or Recommended Display Frame Rate."""
    try:
        if ds.get("FrameTime"):
            return float(ds.FrameTime)
        for keyword in ("CineRate", "RecommendedDisplayFrameRate"):
            if ds.get(keyword):
                return 1000.0 / float(ds.get(keyword))
    except (TypeError, ValueError, ZeroDivisionError):
        pass
    return None


def dicom_metadata(ds: Dataset, syntax: uid.UID, frames: int) -> dict[str, Any]:
    """Non-PHI description of the acquisition and encoding."""
    meta: dict[str, Any] = {}
    for keyword, key in METADATA_KEYWORDS.items():
        value = ds.get(keyword)
        if value not in (None, ""):
            meta[key] = _json_value(value)
    meta["frame_time_ms"] = frame_time_ms(ds)
    meta["transfer_syntax"] = syntax.name
    meta["number_of_frames"] = frames
    return meta
