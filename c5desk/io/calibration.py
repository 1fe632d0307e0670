"""Physical calibration of DICOM frames: the Sequence of Ultrasound Regions, else Pixel Spacing.

Ultrasound frames usually hold several regions (the 2D scan, a Doppler strip, colour/grey bars); only a
2D region gives mm per pixel for the image we analyse, so we pick the tissue region holding the centre.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pydicom.dataset import Dataset

from c5desk.io.frame import Region

# PS3.3 C.8.5.5.1: Region Spatial Format, Region Data Type and Physical Units codes.
SPATIAL_FORMATS = {0: "none", 1: "2d", 2: "m_mode", 3: "spectral", 4: "waveform", 5: "graphics"}
DATA_TYPES = {
    0: "none",
    1: "tissue",
    2: "color_flow",
    3: "pw_doppler",
    4: "cw_doppler",
    5: "doppler_mean_trace",
    6: "doppler_mode_trace",
    7: "doppler_max_trace",
    8: "volume_trace",
    10: "ecg_trace",
    11: "pulse_trace",
    12: "phonocardiogram_trace",
    13: "grey_bar",
    14: "color_bar",
    15: "integrated_backscatter",
    16: "area_trace",
    17: "d_area_dt",
    18: "other_physiological",
}
UNITS = {
    0: "none",
    1: "percent",
    2: "dB",
    3: "cm",
    4: "seconds",
    5: "hertz",
    6: "dB/seconds",
    7: "cm/sec",
    8: "cm2",
    9: "cm2/sec",
    10: "cm3",
    11: "cm3/sec",
    12: "degrees",
}
MM_PER_UNIT = {"cm": 10.0, "mm": 1.0}


@dataclass(frozen=True)
class UltrasoundRegion:
    """One item of (0018,6011), bounds converted to Region's exclusive max."""

    x0: int
    y0: int
    x1: int
    y1: int
    spatial_format: str
    data_type: str
    units_x: str
    units_y: str
    physical_delta_x: float
    physical_delta_y: float

    @property
    def mm_per_px(self) -> tuple[float, float] | None:
        """(x, y) mm per pixel when both axes are lengths (cm) with a non-zero delta, else None."""
        if self.units_x not in MM_PER_UNIT or self.units_y not in MM_PER_UNIT:
            return None
        x = abs(self.physical_delta_x) * MM_PER_UNIT[self.units_x]
        y = abs(self.physical_delta_y) * MM_PER_UNIT[self.units_y]
        return (x, y) if x > 0 and y > 0 else None

    @property
    def kind(self) -> str:
        """The data type for 2D regions (and those without a format), else the spatial format."""
        return self.data_type if self.spatial_format in ("2d", "none") else self.spatial_format

    @property
    def area(self) -> int:
        return (self.x1 - self.x0) * (self.y1 - self.y0)

    def as_region(self) -> Region:
        mm = self.mm_per_px
        return Region(
            self.x0, self.y0, self.x1, self.y1, mm[0] if mm else None, mm[1] if mm else None, self.kind
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "kind": self.kind, "mm_per_px": list(self.mm_per_px or []) or None}


def _code_name(table: dict[int, str], value: object) -> str:
    try:
        return table.get(int(value), f"code_{int(value)}")  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return "none"


def read_regions(ds: Dataset, rows: int, cols: int) -> list[UltrasoundRegion]:
    """Every well-formed region of the Sequence of Ultrasound Regions, clipped to the frame."""
    regions = []
    for item in ds.get("SequenceOfUltrasoundRegions", None) or []:
        try:
            x0, y0 = max(0, int(item.RegionLocationMinX0)), max(0, int(item.RegionLocationMinY0))
            # DICOM max bounds are inclusive; Region's are exclusive.
            x1 = min(cols, int(item.RegionLocationMaxX1) + 1)
            y1 = min(rows, int(item.RegionLocationMaxY1) + 1)
        except (AttributeError, TypeError, ValueError):
            continue
        if x1 <= x0 or y1 <= y0:
            continue
        regions.append(
            UltrasoundRegion(
                x0,
                y0,
                x1,
                y1,
                spatial_format=_code_name(SPATIAL_FORMATS, item.get("RegionSpatialFormat", 0)),
                data_type=_code_name(DATA_TYPES, item.get("RegionDataType", 0)),
                units_x=_code_name(UNITS, item.get("PhysicalUnitsXDirection", 0)),
                units_y=_code_name(UNITS, item.get("PhysicalUnitsYDirection", 0)),
                physical_delta_x=_as_float(item.get("PhysicalDeltaX", 0.0)),
                physical_delta_y=_as_float(item.get("PhysicalDeltaY", 0.0)),
            )
        )
    return regions


def _as_float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def analysis_region(regions: list[UltrasoundRegion], rows: int, cols: int) -> UltrasoundRegion | None:
    """The 2D region the lesion is analysed in: tissue first, then calibrated, containing the frame
    centre, then the largest; None when no 2D region exists."""
    two_d = [r for r in regions if r.spatial_format == "2d"]
    if not two_d:
        return None
    centre = (cols / 2, rows / 2)

    def preference(region: UltrasoundRegion) -> tuple[bool, bool, bool, int]:
        holds_centre = region.as_region().contains(*centre)
        return region.data_type == "tissue", region.mm_per_px is not None, holds_centre, region.area

    return max(two_d, key=preference)


def _spacing(value: object) -> tuple[float, float] | None:
    """A (row, column) spacing in mm as (x, y), or None when absent or not positive."""
    try:
        row_mm, col_mm = (float(v) for v in value)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return None
    return (col_mm, row_mm) if row_mm > 0 and col_mm > 0 else None


def pixel_spacing(ds: Dataset) -> tuple[tuple[float, float], str] | None:
    """Fallback calibration from Pixel Spacing, the enhanced Pixel Measures, or Imager Pixel Spacing."""
    if (spacing := _spacing(ds.get("PixelSpacing"))) is not None:
        return spacing, "pixel_spacing"
    try:
        measures = ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
        if (spacing := _spacing(measures.get("PixelSpacing"))) is not None:
            return spacing, "pixel_measures"
    except (AttributeError, IndexError, TypeError):
        pass
    if (spacing := _spacing(ds.get("ImagerPixelSpacing"))) is not None:
        return spacing, "imager_pixel_spacing"
    return None


@dataclass(frozen=True)
class Calibration:
    mm_per_px: tuple[float, float] | None
    source: str | None  # "ultrasound_regions", "pixel_spacing", ... or None when uncalibrated
    chosen: UltrasoundRegion | None  # the analysis region, when the file has 2D ultrasound regions
    regions: list[UltrasoundRegion]

    @property
    def region(self) -> Region | None:
        return self.chosen.as_region() if self.chosen else None


def calibrate(ds: Dataset, rows: int, cols: int) -> Calibration:
    """mm per pixel and the analysis region of a DICOM dataset (header only)."""
    regions = read_regions(ds, rows, cols)
    chosen = analysis_region(regions, rows, cols)
    if chosen is not None and chosen.mm_per_px is not None:
        return Calibration(chosen.mm_per_px, "ultrasound_regions", chosen, regions)
    fallback = pixel_spacing(ds)
    if fallback is not None:
        return Calibration(fallback[0], fallback[1], chosen, regions)
    return Calibration(None, None, chosen, regions)
