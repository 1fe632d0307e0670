"""De-identified source ids (salted hashes) and the expansion of files and folders for batch scoring."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest
from io_helpers import dicom_dataset, dicom_sample, write_dicom

from c5desk.errors import ReadError
from c5desk.io import SUPPORTED_SUFFIXES, iter_paths, open_source
from c5desk.io.ids import FALLBACK_SALT, installation_salt, source_id


def _ids(path: Path) -> list[str]:
    with open_source(path) as source:
        return [frame.source_id for frame in source]


def test_salt_is_created_once_and_reused(isolated_config: Path) -> None:
    first = installation_salt()
    salt_file = isolated_config / "salt"
    assert salt_file.is_file() and salt_file.read_bytes().strip() == first
    assert len(first) >= 32 and installation_salt() == first
    assert not [p for p in isolated_config.iterdir() if p.name != "salt"]  # no temp file left behind


def test_environment_salt_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    path = dicom_sample("OBXXXX1A_2frame.dcm")
    default_ids = _ids(path)
    monkeypatch.setenv("C5DESK_SALT", "another-site")
    assert installation_salt() == b"another-site"
    other_ids = _ids(path)
    assert set(default_ids).isdisjoint(other_ids)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="needs POSIX modes, not root")
def test_unwritable_config_falls_back_to_fixed_salt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    monkeypatch.setenv("C5DESK_CONFIG", str(locked / "c5desk"))
    assert installation_salt() == FALLBACK_SALT


def test_config_path_that_is_a_file_falls_back_to_fixed_salt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("C5DESK_CONFIG", str(blocker))
    assert installation_salt() == FALLBACK_SALT


def test_ids_are_stable_per_frame_and_hide_the_uid(tmp_path: Path) -> None:
    frames = np.stack([np.full((6, 6), 30 * i, np.uint8) for i in range(3)])
    ds = dicom_dataset(frames, "MONOCHROME2", frames=3)
    path = write_dicom(tmp_path / "Doe_Jane_2024-01-01.dcm", ds)
    ids = _ids(path)
    assert ids == _ids(path) and len(set(ids)) == 3
    assert all(len(i) == 20 and int(i, 16) >= 0 for i in ids)
    for secret in (str(ds.SOPInstanceUID), "Doe", "Jane", "SECRET-ID-123", "2024"):
        assert all(secret not in i for i in ids)
    # the id follows the SOP Instance UID, not the file: a re-encoded copy of the instance keeps it
    ds.BitsStored = 8
    ds.ImageComments = "re-saved"
    assert _ids(write_dicom(tmp_path / "copy.dcm", ds)) == ids


def test_dicom_without_uid_and_images_hash_their_bytes(tmp_path: Path) -> None:
    ds = dicom_dataset(np.zeros((6, 6), np.uint8), "MONOCHROME2")
    del ds.SOPInstanceUID
    first = _ids(write_dicom(tmp_path / "a.dcm", ds))
    assert first == _ids(write_dicom(tmp_path / "b.dcm", ds))  # same bytes, other name
    cv2.imwrite(str(tmp_path / "x.png"), np.zeros((4, 4), np.uint8))
    cv2.imwrite(str(tmp_path / "y.png"), np.ones((4, 4), np.uint8))
    (tmp_path / "x_copy.png").write_bytes((tmp_path / "x.png").read_bytes())
    assert _ids(tmp_path / "x.png") == _ids(tmp_path / "x_copy.png") != _ids(tmp_path / "y.png")


def test_source_id_depends_on_every_part() -> None:
    base = source_id("1.2.3", 0, salt=b"s")
    assert base == source_id("1.2.3", 0, salt=b"s")
    assert (
        len(
            {
                base,
                source_id("1.2.3", 1, salt=b"s"),
                source_id("1.2.4", 0, salt=b"s"),
                source_id("1.2.3", 0, salt=b"t"),
            }
        )
        == 4
    )


def _touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_iter_paths_expands_folders_in_natural_order(tmp_path: Path) -> None:
    dicom_bytes = dicom_sample("US1_UNCR.dcm").read_bytes()
    _touch(tmp_path / "study" / "frame10.png")
    _touch(tmp_path / "study" / "frame2.PNG")
    _touch(tmp_path / "study" / "series" / "IM0001", dicom_bytes)  # DICOM without a suffix
    _touch(tmp_path / "study" / "series" / "DICOMDIR", dicom_bytes)  # an index, not an image
    _touch(tmp_path / "study" / "notes.txt")
    _touch(tmp_path / "study" / ".hidden.png")
    _touch(tmp_path / "study" / ".cache" / "a.png")
    _touch(tmp_path / "study" / "clip.mp4")
    single = _touch(tmp_path / "chosen.weird")
    found = list(iter_paths([single, tmp_path / "study", tmp_path / "study" / "frame2.PNG"]))
    relative = [p.relative_to(tmp_path).as_posix() for p in found]
    assert relative == [
        "chosen.weird",  # named explicitly: kept whatever its suffix
        "study/clip.mp4",
        "study/frame2.PNG",
        "study/frame10.png",
        "study/series/IM0001",
    ]


def test_iter_paths_missing_path_is_a_read_error(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="no such file"):
        list(iter_paths([tmp_path / "gone"]))


def test_supported_suffixes_cover_the_formats() -> None:
    assert {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".dcm", ".mp4", ".avi"} <= SUPPORTED_SUFFIXES
