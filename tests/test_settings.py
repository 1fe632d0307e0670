"""Per-user folders follow each OS's conventions (platformdirs' own answers), and a 0.1 installation's files
move to them on first use — the de-identification salt moved, never recreated."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest
from platformdirs.macos import MacOS
from platformdirs.unix import Unix
from platformdirs.windows import Windows

from c5desk import settings
from c5desk.io.frame import Frame
from c5desk.io.ids import source_id
from c5desk.model.catalog import Catalog
from c5desk.store import Store

OS_DIRS = {"linux": Unix, "macos": MacOS, "windows": Windows}


@pytest.fixture
def home(tmp_path: Path, monkeypatch) -> Path:
    """A user with no c5desk overrides and a home of their own."""
    for variable in ("C5DESK_CONFIG", "C5DESK_CACHE", "C5DESK_USER_DATA", "C5DESK_LOGS", "C5DESK_SALT"):
        monkeypatch.delenv(variable, raising=False)
    for variable in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(settings, "_migrated", set())
    appdata = tmp_path / "home" / "AppData" / "Local"
    monkeypatch.setattr("platformdirs.windows.get_win_folder", lambda name: str(appdata))
    return tmp_path / "home"


def use_os(monkeypatch, name: str) -> None:
    monkeypatch.setattr(settings, "platform_dirs", lambda: OS_DIRS[name](settings.APP_NAME, appauthor=False))


@pytest.mark.parametrize("name", sorted(OS_DIRS))
def test_folders_follow_each_os(home: Path, monkeypatch, name: str) -> None:
    use_os(monkeypatch, name)
    expected = OS_DIRS[name](settings.APP_NAME, appauthor=False)
    assert settings.config_dir() == Path(expected.user_config_dir)
    assert settings.user_data_dir() == Path(expected.user_data_dir)
    assert settings.cache_dir() == Path(expected.user_cache_dir)
    assert settings.log_dir() == Path(expected.user_log_dir)
    if name == "windows":
        assert settings.config_dir() == home / "AppData" / "Local" / "c5desk"  # no vendor folder, not roaming
    if name == "macos":
        assert settings.log_dir() == home / "Library" / "Logs" / "c5desk"
    if name == "linux":
        assert settings.config_dir() == home / ".config" / "c5desk" == settings.legacy_config_dir()


def test_a_moved_config_takes_data_and_logs_along(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("C5DESK_CONFIG", str(tmp_path / "c"))
    monkeypatch.delenv("C5DESK_USER_DATA", raising=False)
    monkeypatch.delenv("C5DESK_LOGS", raising=False)
    assert (
        settings.user_data_dir() == tmp_path / "c" / "data" and settings.log_dir() == tmp_path / "c" / "logs"
    )
    monkeypatch.setenv("C5DESK_LOGS", str(tmp_path / "elsewhere"))
    assert settings.log_dir() == tmp_path / "elsewhere"


def a_0_1_installation(legacy: Path, monkeypatch) -> tuple[bytes, str, int]:
    """The files 0.1 kept in ~/.config/c5desk: salt, settings, a dataset with one frame, a model version."""
    from c5desk.model.bundle import make_random_bundle

    legacy.mkdir(parents=True)
    salt = b"a-salt-that-de-identified-every-stored-frame-0123456789abcdef"
    (legacy / "salt").write_bytes(salt)
    (legacy / "gui.json").write_text('{"theme": "light"}', encoding="utf-8")
    monkeypatch.setenv("C5DESK_SALT", salt.decode())  # while building it: no folder is looked up
    pixels = np.full((20, 30), 90, np.uint8)
    frame_source = source_id(b"1.2.826.0.1.3680043.8.498.1", 0)
    with Store.create(legacy / "dataset") as store:
        frame_id = store.add_frame(Frame(pixels, pixels, 0, None, None, frame_source, {}))
    make_random_bundle(legacy / "models" / "mine", input_size=32, version="random-mine")
    monkeypatch.delenv("C5DESK_SALT")
    return salt, frame_source, frame_id


@pytest.mark.parametrize("name", ["linux", "macos", "windows"])
def test_a_0_1_installation_moves_on_first_use(home: Path, monkeypatch, name: str) -> None:
    use_os(monkeypatch, name)
    salt, frame_source, frame_id = a_0_1_installation(settings.legacy_config_dir(), monkeypatch)
    config, data = settings.config_dir(), settings.user_data_dir()
    assert (config / "salt").read_bytes() == salt  # moved, byte for byte: ids stay what they were
    assert (config / "gui.json").is_file()
    assert source_id(b"1.2.826.0.1.3680043.8.498.1", 0) == frame_source
    with Store.open(settings.user_data_folder("dataset")) as store:
        assert settings.user_data_folder("dataset") == data / "dataset"
        assert store.frame_id_for(frame_source) == frame_id and store.salt_matches()
    assert "random-mine" in Catalog().scan().entries and Catalog().user_dir == data / "models"
    if name != "linux":  # on Linux the config folder itself does not move
        assert not (settings.legacy_config_dir() / "salt").exists()


def test_a_folder_that_cannot_be_renamed_is_used_where_it_is(home: Path, monkeypatch) -> None:
    use_os(monkeypatch, "macos")
    salt, frame_source, _ = a_0_1_installation(settings.legacy_config_dir(), monkeypatch)
    real_replace, legacy = os.replace, str(settings.legacy_config_dir())

    def across_devices(source, destination):  # a rename out of the old folder crosses file systems
        if str(source).startswith(legacy):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_replace(source, destination)

    monkeypatch.setattr(os, "replace", across_devices)
    config = settings.config_dir()
    monkeypatch.setattr(os, "replace", real_replace)
    assert (config / "salt").read_bytes() == salt  # a file is copied safely, then the old one removed
    assert not (settings.legacy_config_dir() / "salt").exists()
    assert settings.user_data_folder("dataset") == settings.legacy_config_dir() / "dataset"
    with Store.open(settings.user_data_folder("dataset")) as store:
        assert store.frame_id_for(frame_source) is not None and store.salt_matches()


def test_a_salt_that_could_not_be_moved_is_still_the_one_used(home: Path, monkeypatch) -> None:
    """Never a new salt: it would change every de-identified id in the existing datasets."""
    use_os(monkeypatch, "macos")
    _, frame_source, _ = a_0_1_installation(settings.legacy_config_dir(), monkeypatch)
    monkeypatch.setattr(settings, "_move", lambda source, destination: False)  # every move fails
    assert settings.config_file("salt") == settings.legacy_config_dir() / "salt"
    assert source_id(b"1.2.826.0.1.3680043.8.498.1", 0) == frame_source
    assert not (settings.config_dir() / "salt").exists()


def test_nothing_is_overwritten(home: Path, monkeypatch) -> None:
    use_os(monkeypatch, "macos")
    a_0_1_installation(settings.legacy_config_dir(), monkeypatch)
    new_config = Path(settings.platform_dirs().user_config_dir)
    new_config.mkdir(parents=True)
    (new_config / "salt").write_bytes(b"the-salt-this-installation-already-uses")
    assert settings.migrate_legacy_folders(settings.legacy_config_dir(), new_config, home / "data") == [
        "gui.json",
        "dataset",
        "models",
    ]
    assert (new_config / "salt").read_bytes() == b"the-salt-this-installation-already-uses"
    assert (settings.legacy_config_dir() / "salt").is_file()  # left for a person to decide
