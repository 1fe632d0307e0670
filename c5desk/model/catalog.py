"""The model catalogue: which bundles are installed, which one is active, and how to roll back.

Bundles live in three places:
  - shipped with the app (resources/models, read-only; resources/models/DEFAULT names the default one);
  - the user's models folder (<data>/models): versions retrained here, which `training retrain` writes;
  - anywhere else, registered by path (Model → Choose model bundle…, `c5desk models --register`,
    `training retrain --out ELSEWHERE`).
Which version is active, the activations so far (for rollback) and the registered paths are kept in
<data>/models/catalog.json, changed under a lock and written atomically. $C5DESK_MODEL names a bundle
folder that overrides the choice (installer checks, scripted runs).

This is the only place that decides which model to use: the CLI (`score`, `--self-test`, `models`), the
app's model loading and its Versions and Retrain dialogs all ask here. A dataset store records which
versions its predictions and annotations came from and their lineage (`record_lineage`), not which one is
active. No torch here: listing reads only each bundle's model.json.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from c5desk import settings
from c5desk.errors import BundleError, ModelError
from c5desk.fsio import is_hidden, locked, write_text_atomic
from c5desk.model.bundle import SPEC_FILE, WEIGHTS_FILE, BundleSpec, read_spec
from c5desk.model.catalog_entry import Entry

if TYPE_CHECKING:
    from c5desk.store import ModelVersion, Store

SHIPPED_MODELS = settings.RESOURCES / "models"
STATE_FILE = "catalog.json"
STATE_FORMAT = 1
MODEL_ENV = "C5DESK_MODEL"
NO_MODEL = (
    "no trained model is installed (resources/models is empty); pass --model BUNDLE or train one — "
    "c5desk never scores with untrained weights"
)


def user_models_dir() -> Path:
    """Where model versions trained or chosen in the app are kept (the shipped ones stay in resources)."""
    return settings.user_data_folder("models")


def bundle_folders(root: Path) -> list[Path]:
    """Finished bundle folders under root (model.json + weights); hidden staging folders are not bundles."""
    if not root.is_dir():
        return []
    return sorted(
        p
        for p in root.iterdir()
        if not is_hidden(p) and (p / SPEC_FILE).is_file() and (p / WEIGHTS_FILE).is_file()
    )


@dataclass(frozen=True)
class Listing:
    entries: dict[str, Entry]  # by version, oldest first
    problems: list[str]  # one line per unreadable bundle or conflicting version


class Catalog:
    def __init__(self, user_dir: str | Path | None = None, shipped_dir: str | Path | None = None) -> None:
        self.user_dir = Path(user_dir) if user_dir is not None else user_models_dir()
        self.shipped_dir = Path(shipped_dir) if shipped_dir is not None else SHIPPED_MODELS

    # ---- what is there ---------------------------------------------------------------------------------
    def scan(self) -> Listing:
        """Every readable bundle: the user's, registered, then shipped ones (the first of a version wins)."""
        found: dict[str, Entry] = {}
        problems: list[str] = []
        state = self._state()
        candidates = [(f, "user") for f in bundle_folders(self.user_dir)]
        candidates += [(Path(p), "registered") for p in state["registered"].values()]
        candidates += [(f, "shipped") for f in bundle_folders(self.shipped_dir)]
        for folder, origin in candidates:
            try:
                spec = read_spec(folder)
            except BundleError as exc:
                problems.append(f"{folder.name}: {exc}")
                continue
            known = found.get(spec.version)
            if known is None:
                found[spec.version] = Entry(spec.version, folder, spec, origin)
            elif known.spec.weights_sha256 != spec.weights_sha256:
                problems.append(f"{folder}: version {spec.version} is already {known.folder} (other weights)")
        ordered = sorted(found.values(), key=lambda e: (e.spec.created, e.version))
        return Listing({e.version: e for e in ordered}, problems)

    def get(self, version: str, listing: Listing | None = None) -> Entry:
        entry = (listing or self.scan()).entries.get(version)
        if entry is None:
            raise ModelError(f"model version {version!r} is not installed (see `c5desk models`)")
        return entry

    # ---- which one is used -----------------------------------------------------------------------------
    def active_version(self) -> str | None:
        """The version the user activated (None: the shipped default applies)."""
        return self._state()["active"]

    def active(self) -> Entry:
        """The bundle to use when none is named: $C5DESK_MODEL, else the activated version (while it is
        installed), else the shipped default (DEFAULT, else the only shipped bundle)."""
        configured = os.environ.get(MODEL_ENV)
        if configured:
            spec = read_spec(configured)
            return Entry(spec.version, Path(configured), spec, "override")
        listing = self.scan()
        chosen = self.active_version()
        if chosen in listing.entries:
            return listing.entries[chosen]
        return self.shipped_default()

    def shipped_default(self) -> Entry:
        pointer = self.shipped_dir / "DEFAULT"
        if pointer.is_file():
            folder = self.shipped_dir / pointer.read_text(encoding="utf-8").strip()
        else:
            shipped = bundle_folders(self.shipped_dir)
            if len(shipped) != 1:
                raise ModelError(NO_MODEL)
            folder = shipped[0]
        spec = read_spec(folder)
        return Entry(spec.version, folder, spec, "shipped")

    # ---- changing it -----------------------------------------------------------------------------------
    def activate(self, version: str, store: Store | None = None) -> Entry:
        """Make an installed version the active one (rolling back is activating an earlier one).

        With `store`, the version's lineage is recorded there and the activation is logged in its audit.
        """
        listing = self.scan()
        entry = self.get(version, listing)
        with self._changing() as state:
            previous = state["active"]
            state["active"] = version
            state["history"].append({"version": version, "time_utc": _now()})
        if store is not None:
            record_lineage(store, entry.spec, listing)
            store.log_action(
                "activate_model",
                before={"active": previous},
                after={"active": version},
                model_version=version,
            )
        return entry

    def register(self, folder: str | Path) -> Entry:
        """Add a bundle folder to the catalogue (a folder inside the user's models folder is found anyway)."""
        folder = Path(folder).resolve()
        spec = read_spec(folder)
        if not (folder / WEIGHTS_FILE).is_file():
            raise BundleError(f"bundle {folder} has no {WEIGHTS_FILE}")
        if folder.parent != self.user_dir.resolve():
            with self._changing() as state:
                state["registered"][spec.version] = str(folder)
        return self.get(spec.version)

    def discard(self, version: str) -> str:
        """Remove a version that is not active: its files when they are in the user's models folder, else
        only its registration. Returns what was done, for the user."""
        entry = self.get(version)
        if entry.origin == "shipped":
            raise ModelError(f"{version} came with the app and cannot be discarded")
        if version == self.active_version():
            raise ModelError(f"{version} is the active model; activate another one first")
        with self._changing() as state:
            state["registered"].pop(version, None)
        if entry.origin == "user":
            try:
                shutil.rmtree(entry.folder)
            except OSError as exc:
                raise ModelError(f"cannot delete {entry.folder}: {exc.strerror or exc}") from exc
            return f"{version} discarded; its files were deleted"
        return f"{version} removed from the catalogue; its folder {entry.folder} was left in place"

    def rollback_target(self) -> str | None:
        """The active version's parent when installed, else the version active before it."""
        listing = self.scan()
        active = self.active_version()
        if active not in listing.entries:
            return None
        parent = listing.entries[active].parent
        if parent in listing.entries:
            return parent
        earlier = [item["version"] for item in self._state()["history"][:-1]]
        for version in reversed(earlier):
            if version != active and version in listing.entries:
                return version
        return None

    # ---- the state file --------------------------------------------------------------------------------
    @contextmanager
    def _changing(self) -> Iterator[dict[str, Any]]:
        """The state to change in the block, read and written back under a lock between processes."""
        try:
            with locked(self.user_dir / f".{STATE_FILE}.lock"):
                state = self._state()
                yield state
                self._write_state(state)
        except OSError as exc:
            raise ModelError(f"cannot save the model choice in {self.user_dir}: {exc}") from exc

    def _state(self) -> dict[str, Any]:
        """catalog.json, or an empty state when absent or unreadable (a damaged file never blocks the app)."""
        empty: dict[str, Any] = {
            "format_version": STATE_FORMAT,
            "active": None,
            "history": [],
            "registered": {},
        }
        try:
            data = json.loads((self.user_dir / STATE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return empty
        if not isinstance(data, dict) or data.get("format_version") != STATE_FORMAT:
            return empty
        state = dict(empty)
        if isinstance(data.get("active"), str):
            state["active"] = data["active"]
        history = data.get("history")
        if isinstance(history, list):
            state["history"] = [
                h for h in history if isinstance(h, dict) and isinstance(h.get("version"), str)
            ]
        registered = data.get("registered")
        if isinstance(registered, dict):
            state["registered"] = {k: v for k, v in registered.items() if isinstance(v, str)}
        return state

    def _write_state(self, state: dict[str, Any]) -> None:
        write_text_atomic(self.user_dir / STATE_FILE, json.dumps(state, indent=1) + "\n")


def default_bundle() -> Path:
    """The folder of the bundle to use when none is named (see Catalog.active)."""
    return Catalog().active().folder


def record_lineage(
    store: Store, spec: BundleSpec, listing: Listing | None = None, metrics: dict[str, Any] | None = None
) -> ModelVersion:
    """Register `spec`'s version in a dataset store (with `metrics`, else its spec's), first the ancestors
    found in `listing`, so that the store can name every version its predictions came from with its parent.

    A parent that is neither registered nor installed is left out (the store needs every recorded parent to
    exist); the bundle itself still names it.
    """
    registered = {v.id: v for v in store.model_versions()}
    if spec.version in registered:
        return registered[spec.version]
    known = listing.entries if listing is not None else {}
    chain, seen = [spec], {spec.version}
    while chain[-1].parent and chain[-1].parent not in registered and chain[-1].parent in known:
        parent = known[chain[-1].parent].spec
        if parent.version in seen:  # a cycle in hand-edited specs: stop rather than loop
            break
        seen.add(parent.version)
        chain.append(parent)
    result = None
    for item in reversed(chain):
        parent_id = item.parent if item.parent in registered else None
        values = metrics if item is spec and metrics is not None else dict(item.metrics)
        result = store.register_model_version(item.version, parent=parent_id, metrics=values)
        registered[result.id] = result
    assert result is not None
    return result


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
