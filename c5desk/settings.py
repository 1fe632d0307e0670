"""Locations and switches that users and CI may override through environment variables.

Per-user folders follow each OS's conventions (platformdirs), e.g. on Linux / macOS / Windows:
  config   settings (gui.json), the de-identification salt: ~/.config/c5desk,
           ~/Library/Application Support/c5desk, %LOCALAPPDATA%\\c5desk
  data     the default dataset store, the user's model versions: ~/.local/share/c5desk, as config, as config
  cache    exported ONNX graphs, the CPU engine choice, training checkpoints: ~/.cache/c5desk,
           ~/Library/Caches/c5desk, %LOCALAPPDATA%\\c5desk\\Cache
  logs     c5desk.log: ~/.local/state/c5desk/log, ~/Library/Logs/c5desk, %LOCALAPPDATA%\\c5desk\\Logs
Overrides: $C5DESK_CONFIG, $C5DESK_CACHE, $C5DESK_USER_DATA, $C5DESK_LOGS. A configuration moved with
$C5DESK_CONFIG takes the data and logs with it (its data/ and logs/) unless those are set too: the tests, the
installer's check and the scripts relocate one folder and expect everything of the user's to follow.

Until version 0.1 everything lived in $XDG_CONFIG_HOME/c5desk (~/.config/c5desk on every OS). On first use
the salt and settings move to the config folder and the dataset and models to the data folder: moved, never
recreated — a new salt would change every de-identified id in the existing datasets.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import platformdirs

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESOURCES = PROJECT_ROOT / "resources"
APP_NAME = "c5desk"
CONFIG_ITEMS = ("salt", "gui.json")  # what moves from the old folder to the config folder
DATA_ITEMS = ("dataset", "models")  # ... and to the data folder

# Nothing in c5desk may reach a model hub; timm would otherwise try when asked for weights.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Model devices a user may name (torch-free here, so the lean ONNX Runtime build can offer them).
DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")

log = logging.getLogger(__name__)
_migrated: set[Path] = set()


def data_root() -> Path:
    """Where the shared datasets live (BUS-BRA, ISIC 2017): $C5DESK_DATA, else ../shared/data."""
    configured = os.environ.get("C5DESK_DATA")
    return Path(configured) if configured else PROJECT_ROOT.parent / "shared" / "data"


def platform_dirs() -> platformdirs.PlatformDirsABC:
    """This OS's conventions (the tests substitute another OS's)."""
    return platformdirs.PlatformDirs(APP_NAME, appauthor=False)


def config_dir() -> Path:
    """Per-user settings and the de-identification salt ($C5DESK_CONFIG, else the OS's config folder)."""
    configured = os.environ.get("C5DESK_CONFIG")
    if configured:
        return Path(configured)
    _migrate_once()
    return Path(platform_dirs().user_config_dir)


def user_data_dir() -> Path:
    """The user's datasets and models ($C5DESK_USER_DATA, else beside a moved config, else the OS's)."""
    return _folder("C5DESK_USER_DATA", "data", lambda: platform_dirs().user_data_dir)


def log_dir() -> Path:
    """Where c5desk.log is written ($C5DESK_LOGS, else beside a moved config, else the OS's log folder)."""
    return _folder("C5DESK_LOGS", "logs", lambda: platform_dirs().user_log_dir)


def cache_dir() -> Path:
    """Per-user cache for derived files such as exported ONNX graphs ($C5DESK_CACHE, else the OS's)."""
    configured = os.environ.get("C5DESK_CACHE")
    return Path(configured) if configured else Path(platform_dirs().user_cache_dir)


def config_file(name: str) -> Path:
    """<config>/<name>; the old <config 0.1>/<name> while a move to the config folder could not be made."""
    return _moved_or_legacy(config_dir() / name, name)


def user_data_folder(name: str) -> Path:
    """<data>/<name>; the old <config>/<name> while a move to the data folder could not be made."""
    return _moved_or_legacy(user_data_dir() / name, name)


def _moved_or_legacy(path: Path, name: str) -> Path:
    legacy = legacy_config_dir() / name
    if not os.environ.get("C5DESK_CONFIG") and not path.exists() and legacy.exists():
        return legacy
    return path


def legacy_config_dir() -> Path:
    """Where version 0.1 kept everything, on every OS."""
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / APP_NAME


def _folder(variable: str, beside_config: str, default) -> Path:
    configured = os.environ.get(variable)
    if configured:
        return Path(configured)
    moved_config = os.environ.get("C5DESK_CONFIG")
    if moved_config:
        return Path(moved_config) / beside_config
    _migrate_once()
    return Path(default())


def _migrate_once() -> None:
    legacy = legacy_config_dir()
    if legacy in _migrated:
        return
    _migrated.add(legacy)
    dirs = platform_dirs()
    migrate_legacy_folders(legacy, Path(dirs.user_config_dir), Path(dirs.user_data_dir))


def migrate_legacy_folders(legacy: Path, config: Path, data: Path) -> list[str]:
    """Move version 0.1's files from `legacy` to the config and data folders; returns what was moved.

    Nothing is overwritten: an item already at its new place stays, and so does the old one (logged).
    """
    moved = []
    items = [(name, config) for name in CONFIG_ITEMS] + [(name, data) for name in DATA_ITEMS]
    for name, target in items:
        source, destination = legacy / name, target / name
        if not source.exists() or source.resolve() == destination.resolve():
            continue
        if destination.exists():
            log.warning("%s exists in both the old and the new folder; the new one is used", name)
            continue
        if _move(source, destination):
            moved.append(name)
            log.info("moved %s from the 0.1 folder to %s", name, target)
    return moved


def _move(source: Path, destination: Path) -> bool:
    """Rename; across file systems copy a file (then remove the original) but leave a folder in place."""
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, destination)
        return True
    except FileNotFoundError:
        return False  # another process moved it first
    except OSError as exc:
        if source.is_dir():
            log.warning("cannot move %s to %s (%s); it is used where it is", source, destination, exc)
            return False
    from c5desk.fsio import atomic_path  # a copy as safe as any other write of user data

    try:
        with atomic_path(destination) as temporary:
            shutil.copy2(source, temporary)
        source.unlink()
    except OSError as exc:
        log.warning("cannot move %s to %s (%s); it is used where it is", source, destination, exc)
        return destination.exists()
    return True
