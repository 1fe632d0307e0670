"""Write a corpus of hostile and careless inputs: every case of the hardening issue, and the ones that held.

    python scripts/make_bad_inputs.py OUT [--bundle TINY_BUNDLE]

OUT/frames     files to `info` and `score`: good frames beside truncated, bombed, looping and wrong-type ones
OUT/labelled   a labelled folder for `import` and `evaluate` whose labels.csv breaks in every way seen so far
OUT/bundles    model bundles that must be refused or must never produce a result (needs --bundle)
OUT/cases.json what each file is and what a command must say about it ("ok" or a word of its one-line error)

Nothing here needs much memory or disk: the bombs are small files that only claim to be large.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pydicom
from pydicom.data import get_testdata_file

# The bad cases of `frames/`: name → a word the one-line error must contain (case-insensitive).
FRAME_ERRORS = {
    "trunc_native.dcm": "",
    "trunc_jpeg.dcm": "",
    "trunc_j2k.dcm": "",
    "trunc_rle.dcm": "",
    "bomb_rows.dcm": "limit",
    "bomb_frames_max.dcm": "frames",
    "bomb_frames_100k.dcm": "frames",
    "bomb_30000.png": "limit",
    "big_100mp.png": "limit",
    "fifo.png": "not a regular file",
    "dangling.png": "",
    "loop.png": "",
    "corrupt.mp4": "",
    "text_as.png": "",
    "empty.dcm": "empty",
    "pdf_as.dcm": "",
}
GOOD_FRAMES = (
    "good_a.png",
    "sub/x.png",
    "sub/x.jpg",
    "sub__x.png",
    "=HYPERLINK(1).png",
    "us1.dcm",
    "cine.dcm",
)


def _real_frame(seed: int) -> np.ndarray:
    """A speckled frame with a dark oval: enough texture for every reader and model to accept."""
    rng = np.random.default_rng(seed)
    image = rng.normal(110, 25, (96, 128)).clip(0, 255).astype(np.uint8)
    cv2.ellipse(image, (64, 48), (20, 12), 0, 0, 360, 30, -1)
    return image


def _png_claiming(path: Path, width: int, height: int) -> None:
    """A valid grey PNG of width x height zeros, written row by row so it never exists in memory."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    # Deflate one block of rows once and repeat it: after a full flush each copy decodes on its own.
    rows_per_block = 500
    block = bytes((width + 1) * rows_per_block)  # filter byte 0, then zeros, per row
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    blocks, rest = divmod(height, rows_per_block)
    tail = packer.compress(bytes((width + 1) * rest)) + packer.flush(zlib.Z_FINISH)
    checksum = 1
    for _ in range(blocks):
        checksum = zlib.adler32(block, checksum)
    checksum = zlib.adler32(bytes((width + 1) * rest), checksum)
    body = b"\x78\xda" + segment * blocks + tail + struct.pack(">I", checksum)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def _truncated(source: str, target: Path, keep: float = 0.6) -> None:
    data = Path(get_testdata_file(source)).read_bytes()
    target.write_bytes(data[: int(len(data) * keep)])


def _dicom_with(source: str, target: Path, **changes: int) -> None:
    ds = pydicom.dcmread(get_testdata_file(source))
    for keyword, value in changes.items():
        setattr(ds, keyword, value)
    ds.save_as(target)


def write_frames(folder: Path) -> None:
    (folder / "sub").mkdir(parents=True)
    for index, name in enumerate(GOOD_FRAMES[:5]):
        cv2.imwrite(str(folder / name), _real_frame(index))
    shutil.copy(get_testdata_file("US1_UNCR.dcm"), folder / "us1.dcm")
    shutil.copy(get_testdata_file("OBXXXX1A_2frame.dcm"), folder / "cine.dcm")
    _truncated("US1_UNCR.dcm", folder / "trunc_native.dcm")
    _truncated("color3d_jpeg_baseline.dcm", folder / "trunc_jpeg.dcm", keep=0.01)
    _truncated("US1_J2KR.dcm", folder / "trunc_j2k.dcm")
    _truncated("OBXXXX1A_rle.dcm", folder / "trunc_rle.dcm")
    _dicom_with("US1_UNCR.dcm", folder / "bomb_rows.dcm", Rows=65535, Columns=65535)
    _dicom_with("US1_J2KR.dcm", folder / "bomb_frames_max.dcm", NumberOfFrames=2**31 - 1)
    _dicom_with("US1_J2KR.dcm", folder / "bomb_frames_100k.dcm", NumberOfFrames=100_000)
    _png_claiming(folder / "bomb_30000.png", 30_000, 30_000)
    _png_claiming(folder / "big_100mp.png", 10_000, 10_000)
    os.mkfifo(folder / "fifo.png")
    (folder / "dangling.png").symlink_to(folder / "gone.png")
    (folder / "loop.png").symlink_to(folder / "loop.png")
    (folder / "sub" / "cycle").symlink_to(folder, target_is_directory=True)
    (folder / "corrupt.mp4").write_bytes(np.random.default_rng(1).bytes(4096))
    (folder / "text_as.png").write_text("not an image\n", encoding="utf-8")
    (folder / "empty.dcm").write_bytes(b"")
    (folder / "pdf_as.dcm").write_bytes(b"%PDF-1.4\n" + bytes(200))


def write_labelled(folder: Path) -> dict[str, str]:
    """A labelled folder; returns row description → a word of its expected per-row error ('ok' if fine)."""
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    mask = np.zeros((96, 128), np.uint8)
    cv2.ellipse(mask, (64, 48), (20, 12), 0, 0, 360, 255, -1)
    for index in range(8):
        cv2.imwrite(str(folder / "images" / f"f{index}.png"), _real_frame(10 + index))
        cv2.imwrite(str(folder / "masks" / f"f{index}.png"), mask)
    cv2.imwrite(str(folder / "masks" / "levels.png"), (mask > 0).astype(np.uint8) * 3)
    header = "image,mask,label,split,category,note\n"
    rows = [
        ("good", "images/f0.png,masks/f0.png,benign,test,3,plain note"),
        ("good_formula_note", "images/f1.png,masks/f1.png,malignant,test,5,\"=cmd|' /C calc'!A0\""),
        ("good_tirads_4a", "images/f2.png,masks/f2.png,malignant,test,4a,+SUM(1+1)"),
        ("good_normal", 'images/f3.png,,normal,test,,@HYPERLINK("x")'),
        ("traversal", "../../../etc/passwd,masks/f0.png,benign,test,,"),
        ("duplicate_identical", "images/f0.png,masks/f0.png,benign,test,3,plain note"),
        ("conflict_a", "images/f4.png,masks/f4.png,malignant,test,,"),
        ("conflict_b", "images/f4.png,masks/f4.png,benign,test,,"),
        ("mask_levels", "images/f5.png,masks/levels.png,benign,test,,"),
        ("unterminated_quote", 'images/f6.png,masks/f6.png,benign,test,,"never closed'),
        ("after_quote", "images/f7.png,masks/f7.png,malignant,test,,"),
        ("over_long", "images/f6.png,masks/f6.png,benign,test,," + "x" * 200_000),
    ]
    text = header + "".join(line + "\n" for _, line in rows)
    data = text.encode("utf-8") + b"images/f7.png,masks/f7.png,benign,test,,bad \xff byte\n"
    (folder / "labels.csv").write_bytes(data)
    return {name: "" for name, _ in rows} | {"bad_utf8": ""}


def write_bundles(folder: Path, tiny: Path) -> dict[str, str]:
    """Broken copies of a tiny bundle: each must be refused on load or give error rows, never a result."""
    cases = {}
    for name, change in {
        "nan_mean": lambda spec: spec.update(mean=[float("nan")] * len(spec["mean"])),
        "huge_arch": lambda spec: spec["arch_args"].update(embed_dims=[4096] * 4, depths=[64] * 4),
        "wrong_input_size": lambda spec: spec.update(input_size=spec["input_size"] * 2 + 32),
    }.items():
        target = folder / name
        shutil.copytree(tiny, target)
        spec = json.loads((target / "model.json").read_text(encoding="utf-8"))
        change(spec)
        (target / "model.json").write_text(json.dumps(spec), encoding="utf-8")
        cases[name] = ""
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="a new folder")
    parser.add_argument("--bundle", type=Path, help="a tiny model bundle to break in the bundles/ cases")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=False)
    write_frames(args.out / "frames")
    cases = {"frames": FRAME_ERRORS, "good_frames": list(GOOD_FRAMES)}
    cases["labelled"] = write_labelled(args.out / "labelled")
    if args.bundle:
        cases["bundles"] = write_bundles(args.out / "bundles", args.bundle)
    (args.out / "cases.json").write_text(json.dumps(cases, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
