"""DICOM frames (single- and multi-frame, any colour model and transfer syntax pydicom can decode).

The header is read once; each frame(i) asks pydicom for frame i alone, straight from the file, so a long
cine is never decoded or held in memory as a whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import get_decoder, pixel_array
from pydicom.uid import DeflatedExplicitVRLittleEndian

from c5desk.io.calibration import calibrate
from c5desk.io.dicom_colour import native_order, palette_table, to_display
from c5desk.io.dicom_header import check_decodable, dicom_metadata, read_header, transfer_syntax
from c5desk.io.dicom_pixels import check_pixel_module
from c5desk.io.dicom_voi import voi_for
from c5desk.io.frame import Frame
from c5desk.io.ids import file_digest, source_id
from c5desk.io.isolated import UNSAFE_PLUGINS, decode_isolated
from c5desk.io.source import Source, describe


class DicomSource(Source):
    kind = "dicom"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        ds, pixel = read_header(path)
        self._syntax = transfer_syntax(ds)
        check_decodable(self.name, self._syntax)
        count = check_pixel_module(self.name, ds, self._syntax, pixel, path)
        self._frames, self._declared = count.present, count.declared
        self._rows, self._cols = int(ds.Rows), int(ds.Columns)
        self._photometric = str(ds.PhotometricInterpretation).strip()
        self._bits_stored = int(ds.get("BitsStored", ds.BitsAllocated))
        self._samples = int(ds.get("SamplesPerPixel", 1) or 1)
        self._palette: tuple[np.ndarray, int] | None = None
        if self._photometric == "PALETTE COLOR":
            self._palette = palette_table(ds, little_endian=self._syntax.is_little_endian)
        self._voi = voi_for(ds, self._syntax, self._photometric, self._bits_stored)
        plugins = get_decoder(self._syntax).available_plugins if self._syntax.is_encapsulated else ()
        self._safe_plugins = [plugin for plugin in plugins if plugin not in UNSAFE_PLUGINS]
        self._unsafe_plugins = [plugin for plugin in plugins if plugin in UNSAFE_PLUGINS]
        self._calibration = calibrate(ds, self._rows, self._cols)
        self._meta = dicom_metadata(ds, self._syntax, self._frames)
        if self._declared != self._frames:  # a truncated file: only the frames that arrived are read
            self._meta["declared_frames"] = self._declared
        uid = str(ds.get("SOPInstanceUID", "") or "").strip()
        self._key: bytes | None = f"dicom-sop:{uid}".encode() if uid else None
        # Deflated files are inflated whole by read_header; frames are decoded from that dataset.
        self._inflated = ds if self._syntax == DeflatedExplicitVRLittleEndian else None

    def __len__(self) -> int:
        return self._frames

    @property
    def _options(self) -> dict[str, int]:
        """pydicom reads Number of Frames from the file; a truncated file decodes with the frames present."""
        return {"number_of_frames": self._frames}

    def _identity(self) -> bytes:
        """SOP Instance UID, or the file's bytes when there is none (hashed once, lazily)."""
        if self._key is None:
            self._key = b"file-sha256:" + file_digest(self.path)
        return self._key

    def _pixel_source(self) -> Path | Dataset:
        """The path, so pydicom reads only frame i from disk (a deflated file: its inflated dataset)."""
        return self._inflated if self._inflated is not None else self.path

    def _decode_samples(self, index: int) -> np.ndarray:
        """Frame `index` as decoded samples: safe plugins in-process first, fragile ones isolated."""
        source, syntax = self._pixel_source(), self._syntax
        if not syntax.is_encapsulated:
            return pixel_array(source, index=index, transfer_syntax_uid=syntax, **self._options)
        failures: list[Exception] = []
        for plugin in self._safe_plugins:
            try:
                return pixel_array(
                    source, index=index, transfer_syntax_uid=syntax, decoding_plugin=plugin, **self._options
                )
            except Exception as exc:
                failures.append(exc)
        for plugin in self._unsafe_plugins:
            try:
                return decode_isolated(self.path, index, syntax, plugin, self._options)
            except Exception as exc:
                failures.append(exc)
        raise failures[0] if failures else RuntimeError("no decoder available")

    def _decode(self, index: int) -> Frame:
        samples = native_order(self._decode_samples(index))
        voi_grey = self._voi.to_grey(samples, index) if self._voi is not None else None
        pixels, grey = to_display(samples, self._photometric, self._bits_stored, self._palette, voi_grey)
        return Frame(
            pixels=pixels,
            grey=grey,
            index=index,
            mm_per_px=self._calibration.mm_per_px,
            region=self._calibration.region,
            source_id=source_id(self._identity(), index),
            meta=dict(self._meta),
        )

    def _describe(self) -> dict[str, Any]:
        calibration = self._calibration
        colour = self._samples == 3 or self._photometric == "PALETTE COLOR"
        return describe(
            "DICOM",
            self._frames,
            (self._rows, self._cols),
            self._photometric,
            "rgb" if colour else "grey",
            self._bits_stored,
            dict(self._meta),
            transfer_syntax=self._syntax.name,
            mm_per_px=list(calibration.mm_per_px) if calibration.mm_per_px else None,
            calibration=calibration.source,
            region=calibration.chosen.to_dict() if calibration.chosen else None,
            regions=[region.to_dict() for region in calibration.regions],
            voi=self._voi.describe() if self._voi is not None else None,
        )
