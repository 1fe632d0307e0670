"""Walking folders never fails for one bad entry: link loops, broken links, folders that cannot be listed
and pipes are yielded (or skipped) so that each becomes its own one-line ReadError, never a crash."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

import c5desk.io as io_module
from c5desk.errors import ReadError
from c5desk.io import iter_paths, open_source

needs_links = pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="needs POSIX links")


def _png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((8, 8), 128, np.uint8))
    return path


def _names(found: list[Path], root: Path) -> list[str]:
    return [path.relative_to(root).as_posix() for path in found]


def _open_error(path: Path) -> str:
    with pytest.raises(ReadError) as caught:
        open_source(path)
    message = str(caught.value)
    assert message.startswith(path.name) and "\n" not in message
    return message


@needs_links
def test_symlink_loops_are_yielded_and_read_as_errors(tmp_path: Path) -> None:
    """The report: RuntimeError 'Symlink loop' from iter_paths, nothing scored."""
    _png(tmp_path / "good.png")
    os.symlink("b.png", tmp_path / "a.png")
    os.symlink("a.png", tmp_path / "b.png")
    os.symlink("self.png", tmp_path / "self.png")
    found = list(iter_paths([tmp_path]))
    assert _names(found, tmp_path) == ["a.png", "b.png", "good.png", "self.png"]
    for name in ("a.png", "b.png", "self.png"):
        assert _open_error(tmp_path / name) == f"{name}: symbolic link loop"
    assert open_source(tmp_path / "good.png").frame(0).shape == (8, 8)


@needs_links
def test_broken_links_are_yielded_and_read_as_errors(tmp_path: Path) -> None:
    os.symlink("gone.png", tmp_path / "dangling.png")
    os.symlink("gone", tmp_path / "IM0002")  # no suffix: cannot tell whether it was DICOM
    found = list(iter_paths([tmp_path]))
    assert _names(found, tmp_path) == ["dangling.png", "IM0002"]
    assert _open_error(tmp_path / "dangling.png").endswith("broken symbolic link (its target is missing)")
    # Named directly, a broken link is an error row too, not a failure of the whole run.
    assert list(iter_paths([tmp_path / "dangling.png"])) == [tmp_path / "dangling.png"]


@needs_links
def test_linked_folders_are_followed_once_and_cycles_end(tmp_path: Path) -> None:
    _png(tmp_path / "study" / "one.png")
    _png(tmp_path / "elsewhere" / "two.png")
    os.symlink("..", tmp_path / "study" / "parent")  # a cycle: study/parent/study/parent/...
    os.symlink(tmp_path / "elsewhere", tmp_path / "study" / "linked")
    os.symlink(".", tmp_path / "study" / "here")
    found = list(iter_paths([tmp_path / "study"]))
    assert sorted(path.name for path in found) == ["one.png", "two.png"]
    assert len({path.resolve() for path in found}) == 2


def test_a_folder_that_cannot_be_listed_is_yielded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Permission denied on a subfolder (simulated: tests may run as root, who may list anything)."""
    _png(tmp_path / "open" / "a.png")
    _png(tmp_path / "private" / "b.png")
    real_scandir = os.scandir

    def scandir(path: object) -> object:
        if Path(os.fspath(path)).name == "private":
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(io_module.os, "scandir", scandir)
    found = list(iter_paths([tmp_path]))
    assert _names(found, tmp_path) == ["open/a.png", "private"]
    assert _open_error(tmp_path / "private") == "private: folder cannot be opened (permission denied)"


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0, reason="needs POSIX modes, not root")
def test_a_folder_without_permission_is_yielded(tmp_path: Path) -> None:
    _png(tmp_path / "private" / "b.png")
    (tmp_path / "private").chmod(0)
    try:
        assert _names(list(iter_paths([tmp_path])), tmp_path) == ["private"]
        assert "permission denied" in _open_error(tmp_path / "private")
    finally:
        (tmp_path / "private").chmod(0o755)


def test_a_plain_folder_is_still_not_a_file(tmp_path: Path) -> None:
    assert _open_error(tmp_path) == f"{tmp_path.name}: is a folder, not a file"


@pytest.mark.timeout(60)
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX named pipes")
def test_a_pipe_without_suffix_is_never_opened(tmp_path: Path) -> None:
    """Peeking at a suffix-less entry to see whether it is DICOM must not block on a pipe."""
    os.mkfifo(tmp_path / "IM0001")
    _png(tmp_path / "a.png")
    assert _names(list(iter_paths([tmp_path])), tmp_path) == ["a.png"]
