"""`c5desk info PATH [--json]`: frames, size, colour model, transfer syntax, calibration, regions, metadata.

Reads headers only (plus nothing else): no torch, no Qt, so it answers at once.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from c5desk.io import open_source


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="an image, DICOM or video file")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def run(args: argparse.Namespace) -> int:
    with open_source(args.path) as source:
        info = source.info()
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print(format_info(info))
    return 0


def _mm(value: list[float] | None) -> str:
    return "uncalibrated" if not value else f"{value[0]:.4g} x {value[1]:.4g} mm/pixel (x, y)"


def _region_line(region: dict[str, Any]) -> str:
    mm = region["mm_per_px"]
    return (
        f"{region['kind']}: x {region['x0']}..{region['x1'] - 1}, y {region['y0']}..{region['y1'] - 1}"
        f" ({_mm(mm)})"
    )


def format_info(info: dict[str, Any]) -> str:
    """The human-readable form of Source.info()."""
    calibration = f" from {info['calibration'].replace('_', ' ')}" if info.get("calibration") else ""
    lines = [
        f"format           {info['format']} ({info['kind']})",
        f"frames           {info['frames']}",
        f"size             {info['rows']} rows x {info['cols']} columns",
        f"colour model     {info['colour_model']} (shown as {info['display']}, {info['bits_stored']} bits)",
    ]
    if info.get("voi"):  # above 8 bits: the scanner's window (or min-max when the file names none)
        lines.append(f"grey window      {info['voi']}")
    if info.get("transfer_syntax"):
        lines.append(f"transfer syntax  {info['transfer_syntax']}")
    lines.append(f"calibration      {_mm(info['mm_per_px'])}{calibration}")
    lines.append(f"region           {_region_line(info['region']) if info['region'] else 'whole frame'}")
    if info["regions"]:
        lines.append(f"regions          {len(info['regions'])}")
        lines.extend(f"  - {_region_line(region)}" for region in info["regions"])
    if info["metadata"]:
        lines.append("metadata")
        width = max(len(key) for key in info["metadata"])
        for key, value in info["metadata"].items():
            shown = "\\".join(str(v) for v in value) if isinstance(value, list) else value
            lines.append(f"  {key:<{width}}  {'-' if shown is None else shown}")
    return "\n".join(lines)
