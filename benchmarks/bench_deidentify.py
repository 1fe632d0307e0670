"""What pixel de-identification costs when frames enter the store, against reading the same frame.

Every frame imported (or saved from the app) is cleaned once (c5desk.io.deidentify.clean_frame); this prints
the time per frame beside the time to decode it, on pydicom-data's ultrasound files and BUS-BRA PNGs.

    .venv/bin/python benchmarks/bench_deidentify.py [--repeats 5] [--busbra 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from pathlib import Path

from pydicom.data import get_testdata_file

from c5desk.io import open_source
from c5desk.io.deidentify import clean_frame
from c5desk.settings import data_root

DICOM_FILES = ("US1_UNCR.dcm", "OBXXXX1A.dcm", "gdcm-US-ALOKA-16.dcm", "JPGLosslessP14SV1_1s_1f_8b.dcm")


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(path: Path, repeats: int) -> tuple[str, float, float, float]:
    def read():
        with open_source(path) as source:
            return source.frame(0)

    frame = read()
    decode = median_ms(read, repeats)
    clean = median_ms(lambda: clean_frame(frame), repeats)
    blanked = clean_frame(frame)[1].blanked
    return f"{path.name} {frame.grey.shape[1]}x{frame.grey.shape[0]}", decode, clean, blanked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--busbra", type=int, default=20, help="BUS-BRA frames to time (0: none)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    paths = [Path(get_testdata_file(name)) for name in DICOM_FILES]
    busbra = data_root() / "busbra"
    if args.busbra and busbra.is_dir():
        paths += sorted(busbra.rglob("*.png"))[: args.busbra]
    rows = [measure(path, args.repeats) for path in paths]
    print(f"{'frame':48} {'decode ms':>10} {'clean ms':>10} {'clean/decode':>13} {'blanked':>8}")
    for name, decode, clean, blanked in rows:
        print(f"{name[:48]:48} {decode:10.1f} {clean:10.1f} {clean / decode:13.2f} {blanked:8.1%}")
    cleans = [row[2] for row in rows]
    middle, worst = statistics.median(cleans), max(cleans)
    print(f"median clean {middle:.1f} ms, max {worst:.1f} ms over {len(rows)} frames")


if __name__ == "__main__":
    main()
