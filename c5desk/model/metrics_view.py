"""How a model version is described to people: its headline metrics with the data they were measured on,
which version is active, and its model card. `c5desk models`, Model → Versions… and Help → Model card all
read them here, so the terminal and the app never disagree. No torch: only model.json and text files."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from c5desk.errors import C5Error
from c5desk.model.catalog import Catalog, Listing
from c5desk.model.catalog_entry import TEST_METRICS, Entry

CARD_FILE = "MODEL_CARD.md"
PRETTY = {"dice": "Dice", "auc": "AUC"}
OVERRIDDEN = "GATE OVERRIDDEN"  # published although the retrain gate failed
INTENDED_HEADING = re.compile(r"^#{2,6}\s+intended use", re.IGNORECASE)
HEADING = re.compile(r"^#{1,6}\s")


def active_version(catalog: Catalog) -> str | None:
    """The version used when none is named; None when nothing is installed (the listing says so)."""
    try:
        return catalog.active().version
    except C5Error:
        return None


def listing_with_active(catalog: Catalog) -> tuple[Listing, str | None]:
    """The catalogue's listing, plus the active entry when it is not among them ($C5DESK_MODEL names a
    folder outside the catalogue): the model in use must always be listed, and marked."""
    listing = catalog.scan()
    try:
        active = catalog.active()
    except C5Error:
        return listing, None
    if active.version not in listing.entries:
        listing = Listing({**listing.entries, active.version: active}, listing.problems)
    return listing, active.version


def measured_on(entry: Entry) -> str:
    """Which data the key metrics come from, in words: "the test split (383 frames)"."""
    names = list(entry.key_metrics())
    source = names[0].split(" ", 1)[0] if names else ""
    if source == "test":
        data = _read_json(entry.folder / TEST_METRICS)
        split, count = data.get("split") or "test", data.get("n")
        return f"the {split} split" + (f" ({count} frames)" if isinstance(count, int) else "")
    if source == "validation":
        count = _nested(entry.spec.training, "data", "val")
        return "the validation part" + (f" ({count} frames)" if isinstance(count, int) else "")
    if source == "corrections":
        count = _nested(entry.spec.training, "corrections", "held_out")
        return "held-out corrections" + (f" ({count} frames)" if isinstance(count, int) else "")
    return ""


def metrics_text(entry: Entry) -> str:
    """ "Dice 0.834, AUC 0.871 on the test split (383 frames)", or "—" without measured metrics."""
    values = entry.key_metrics()
    if not values:
        return "—"
    shown = ", ".join(f"{PRETTY.get(n.split()[-1], n)} {v:.3f}" for n, v in values.items())
    where = measured_on(entry)
    return f"{shown} on {where}" if where else shown


def gate_report(entry: Entry) -> dict | None:
    """The retrain gate's report stored in model.json (training.gate), or None: not retrained, or retrained
    before the gate kept its verdict."""
    gate = entry.spec.metrics.get("gate")
    return gate if isinstance(gate, dict) and gate.get("verdict") in ("passed", "failed") else None


def gate_overridden(entry: Entry) -> bool:
    """Published although the gate failed (training retrain --publish-anyway)."""
    gate = gate_report(entry)
    return gate is not None and gate.get("overridden") is True


def gate_text(entry: Entry) -> str:
    """ "gate passed: corrections Dice +0.040 [+0.010, +0.070]; replay Dice −0.003 [−0.010, +0.004]";
    "GATE OVERRIDDEN (gate failed: …)" for a bundle published regardless; "" without a gate report."""
    gate = gate_report(entry)
    if gate is None:
        return ""
    checks = gate.get("checks")
    checks = checks if isinstance(checks, list) else []
    # per-scanner and not-gating replay parts are reported in the report, not in this one line
    judged = [_check_text(c) for c in checks if _is_judged(c) and c.get("status") != "reported"]
    text = f"gate {gate['verdict']}: " + ("; ".join(judged) or "nothing judged")
    return f"{OVERRIDDEN} ({text})" if gate_overridden(entry) else text


def _is_judged(check: object) -> bool:
    """A check with a difference and an interval (model.json is a file anyone could have edited)."""
    if not isinstance(check, dict) or not isinstance(check.get("interval"), list):
        return False
    values = [check.get("difference"), *check["interval"]]
    return len(values) == 3 and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _check_text(check: dict) -> str:
    low, high = check["interval"]
    name = f"{check.get('part', '?')} {PRETTY.get(check.get('metric'), check.get('metric'))}"
    numbers = f"{check['difference']:+.3f} [{low:+.3f}, {high:+.3f}]"
    return f"{name} {numbers.replace('-', '−')}"


@dataclass(frozen=True)
class Card:
    markdown: str  # the card with its intended use first, or a note that there is none
    found: bool
    source: str | None  # the version whose card it is (an ancestor's for a retrained model)


def model_card(entry: Entry, listing: Listing | None = None) -> Card:
    """The entry's MODEL_CARD.md, intended use first; a retrained version without its own card shows its
    nearest installed ancestor's card, saying so; none at all is said too."""
    seen, current = set(), entry
    while current is not None and current.version not in seen:
        seen.add(current.version)
        text = _read_text(current.folder / CARD_FILE)
        if text is not None:
            body = intended_use_first(text)
            if current is not entry:
                body = (
                    f"> **{entry.version} has no model card of its own.** It was retrained from "
                    f"{current.version}; that model's card follows. Its intended use applies to it too.\n\n"
                    + body
                )
            return Card(body, True, current.version)
        parent = current.parent
        current = listing.entries.get(parent) if listing is not None and parent else None
    note = (
        f"# {entry.version}\n\n**This model bundle has no model card** ({CARD_FILE} is missing from "
        f"{entry.folder}), so its intended use and limits are not documented. Ask whoever trained it, and "
        "check every outline and score against your own reading."
    )
    return Card(note, False, None)


def intended_use_first(text: str) -> str:
    """The card with its "Intended use" section moved just below the title (unchanged without one)."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if INTENDED_HEADING.match(line)), None)
    if start is None:
        return text
    end = next((i for i in range(start + 1, len(lines)) if HEADING.match(lines[i])), len(lines))
    section, rest = lines[start:end], lines[:start] + lines[end:]
    title = 1 if rest and rest[0].startswith("# ") else 0
    ordered = [*rest[:title], "", *section, "", *rest[title:]]
    return "\n".join(ordered).strip() + "\n"


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _nested(source: object, *keys: str) -> object:
    for key in keys:
        source = source.get(key) if isinstance(source, dict) else None
    return source


def training_domains(training: object) -> str:
    """What a bundle is for: training.domains (retrain --domain), else its domain or data folder; ""."""
    if not isinstance(training, dict):
        return ""
    domains = training.get("domains")
    if isinstance(domains, list) and domains and all(isinstance(d, str) and d for d in domains):
        return ", ".join(domains)
    data = training.get("data") if isinstance(training.get("data"), dict) else {}
    value = training.get("domain") or data.get("folder")
    return value if isinstance(value, str) else ""
