"""The command line never shows a traceback (issue 15): output piped into `head` ends quietly (exit 141),
an unforeseen exception is one line pointing at the log, `models --register` of a non-bundle is one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from c5desk import cli
from c5desk.cli import EXIT_BROKEN_PIPE, main

CINE = get_testdata_file("OBXXXX1A_2frame.dcm")


def test_info_into_a_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    """`c5desk info f.dcm | head -1`, made certain: the pipe's reading end is closed before the command."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {**os.environ, "C5DESK_CONFIG": str(tmp_path / "config"), "C5DESK_LOGS": str(tmp_path / "logs")}
    try:
        result = subprocess.run(
            [sys.executable, "-m", "c5desk.cli", "info", CINE],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            timeout=300,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr
    assert result.returncode == EXIT_BROKEN_PIPE and result.stderr == ""


class ClosedPipe:
    """A stdout whose reader has gone away: every write or flush fails as a closed pipe does."""

    def write(self, _text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    def fileno(self) -> int:
        raise OSError("not a real file")


@pytest.mark.parametrize("argv", [["info", CINE], ["info", "--json", CINE], ["models"], ["--help"]])
def test_a_closed_stdout_ends_any_command_quietly(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(argv) == EXIT_BROKEN_PIPE
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (RuntimeError("decoder\nexploded"), "c5desk info: error: unexpected RuntimeError: decoder exploded"),
        (MemoryError(), "c5desk info: error: not enough memory"),
    ],
)
def test_an_unforeseen_exception_is_one_line_pointing_at_the_log(
    fault: BaseException,
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from c5desk.commands import info

    def fails(_path):
        raise fault

    monkeypatch.setattr(info, "open_source", fails)
    assert main(["info", CINE]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert err.startswith(expected) and "c5desk.log" in err


@pytest.mark.parametrize("kind", ["file", "empty_folder", "missing", "bad_json"])
def test_registering_something_that_is_not_a_bundle_is_one_line(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("C5DESK_USER_DATA", str(tmp_path / "data"))
    target = tmp_path / "target"
    if kind == "file":
        target.write_text("not a bundle")
    elif kind == "empty_folder":
        target.mkdir()
    elif kind == "bad_json":
        target.mkdir()
        (target / "model.json").write_bytes(b"{not json")
    assert main(["models", "--register", str(target)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert err.startswith("c5desk models: error: ")


def test_the_exit_status_for_a_closed_pipe_is_documented() -> None:
    assert EXIT_BROKEN_PIPE == 141 and "141" in (cli.__doc__ or "")
