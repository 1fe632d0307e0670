"""The window's remembered settings: a JSON file in c5desk.settings.config_dir() (gui.json).

Only keys that differ from the defaults are written (the file stays readable and new defaults reach old
users); unknown keys and values of the wrong type are dropped on load, so a hand-edited or older file can
never break start-up. Writes are atomic (temp file + fsync + rename).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from c5desk import settings
from c5desk.fsio import write_atomic

FILE_NAME = "gui.json"
MAX_RECENT = 10

DEFAULTS: dict[str, Any] = {
    "theme": "dark",  # reading rooms are dim
    "geometry": "",  # base64 of QMainWindow.saveGeometry()
    "window_state": "",
    "recent": [],
    "store_folder": "",  # "" = the user's data folder's dataset/
    "device": "auto",
    "brush_radius": 8,
    "small_island_px": 50,
    "smooth_radius": 2,
    "mask_opacity": 0.35,
    "heat_opacity": 0.45,
    "show_contour": True,
    "show_mask": True,
    "show_heat": False,
    "autosave_s": 3,
    # the DICOM node (File → DICOM node…), checked by c5desk.node when used, not here (importing it loads
    # pynetdicom: not at start-up); "C5DESK" is its DEFAULT_AE_TITLE
    "node_ae_title": "C5DESK",
    "node_port": 11112,
    "node_allowed": [],  # calling AE titles that may send; empty: any
    "node_forward": "",  # "AE@HOST:PORT" to forward results to; "": none
    "node_keep_identity": False,
    "node_bind": "0.0.0.0",  # no field in the dialog: every interface, unless set here (tests: loopback)
}
STRING_LISTS = ("recent", "node_allowed")


def default_store_folder() -> Path:
    return settings.user_data_folder("dataset")


class Prefs:
    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else settings.config_file(FILE_NAME)
        self._values: dict[str, Any] = dict(DEFAULTS)
        self._values.update(_read(self.path))

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in DEFAULTS:
            raise KeyError(f"unknown setting {key!r}")
        self._values[key] = value

    def store_folder(self) -> Path:
        return Path(self["store_folder"]) if self["store_folder"] else default_store_folder()

    def add_recent(self, path: str | Path) -> list[str]:
        text = str(Path(path).resolve())
        recent = [text] + [p for p in self["recent"] if p != text]
        self["recent"] = recent[:MAX_RECENT]
        return self["recent"]

    def save(self) -> None:
        changed = {k: v for k, v in self._values.items() if v != DEFAULTS[k]}
        data = json.dumps(changed, indent=1, sort_keys=True).encode("utf-8")
        with contextlib.suppress(OSError):  # settings are a convenience: never fail the app over them
            write_atomic(self.path, data)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    kept = {}
    for key, value in data.items():
        default = DEFAULTS.get(key)
        if key in DEFAULTS and _same_kind(value, default):
            kept[key] = value
    for key in STRING_LISTS:
        if key in kept:
            kept[key] = [item for item in kept[key] if isinstance(item, str)]
    if "recent" in kept:
        kept["recent"] = kept["recent"][:MAX_RECENT]
    return kept


def _same_kind(value: object, default: object) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, type(default))
