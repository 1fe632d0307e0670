"""`c5desk info`: right answers on every ultrasound sample and on BUS-BRA; one-line errors on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from io_helpers import EXPECTED, US_FILES, busbra_image, dicom_sample

from c5desk.cli import main

CALIBRATED_CM = {"JPGLosslessP14SV1_1s_1f_8b.dcm": 0.02548, "gdcm-US-ALOKA-16.dcm": 0.03827}


def _info_json(capsys: pytest.CaptureFixture[str], path: Path) -> dict:
    assert main(["info", "--json", str(path)]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name", US_FILES)
def test_info_json_on_ultrasound_samples(capsys: pytest.CaptureFixture[str], name: str) -> None:
    info = _info_json(capsys, dicom_sample(name))
    frames, rows, cols, colour_model = EXPECTED[name]
    assert (info["frames"], info["rows"], info["cols"], info["colour_model"]) == (
        frames,
        rows,
        cols,
        colour_model,
    )
    assert info["format"] == "DICOM" and info["transfer_syntax"]
    assert info["metadata"]["modality"] == "US" and "patient" not in json.dumps(info).lower()
    if name in CALIBRATED_CM:
        assert info["mm_per_px"] == pytest.approx([CALIBRATED_CM[name] * 10] * 2, abs=5e-4)
        assert info["region"]["kind"] == "tissue" and info["regions"]


def test_info_json_on_busbra(capsys: pytest.CaptureFixture[str]) -> None:
    info = _info_json(capsys, busbra_image())
    assert (info["frames"], info["display"], info["mm_per_px"], info["region"]) == (1, "grey", None, None)
    assert info["format"] == "PNG" and info["rows"] > 0 and info["cols"] > 0


def test_info_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(dicom_sample("gdcm-US-ALOKA-16.dcm"))]) == 0
    text = capsys.readouterr().out
    assert "frames           1" in text and "480 rows x 640 columns" in text
    assert "PALETTE COLOR" in text and "0.3827 x 0.3827 mm/pixel" in text and "ultrasound regions" in text
    assert text.count("tissue:") == 3  # the analysis region and the two tissue regions listed
    assert "grey window" not in text  # palette colour: no window applies
    assert main(["info", str(dicom_sample("MR2_UNCR.dcm"))]) == 0
    assert "grey window      window 1000/2000" in capsys.readouterr().out  # 12-bit: the scanner's window


@pytest.mark.parametrize("content", [None, b"", b"plain text, not an image\n"])
def test_bad_input_exits_non_zero_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes | None
) -> None:
    path = tmp_path / "input.png"
    if content is not None:
        path.write_bytes(content)
    assert main(["info", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and captured.err.startswith("c5desk info: error:")


def _installed_command() -> Path:
    command = Path(sys.executable).parent / ("c5desk.exe" if sys.platform == "win32" else "c5desk")
    if not command.exists():
        pytest.skip("the c5desk console script is not installed in this environment")
    return command


def test_installed_command_end_to_end(tmp_path: Path) -> None:
    command = _installed_command()
    good = subprocess.run(
        [command, "info", "--json", dicom_sample("color3d_jpeg_baseline.dcm")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert good.returncode == 0, good.stderr
    info = json.loads(good.stdout)
    assert (info["frames"], info["colour_model"], info["display"]) == (120, "YBR_FULL_422", "rgb")
    (tmp_path / "broken.dcm").write_bytes(b"DICM" * 10)
    (tmp_path / "broken.avi").write_bytes(b"RIFF\0\0\0\0AVI " + bytes(64))  # C libraries may print too
    for broken in ("broken.dcm", "broken.avi"):
        bad = subprocess.run(
            [command, "info", tmp_path / broken], capture_output=True, text=True, timeout=120
        )
        assert bad.returncode == 1 and bad.stdout == ""
        assert len(bad.stderr.strip().splitlines()) == 1, bad.stderr
