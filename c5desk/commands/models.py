"""`c5desk models`: the installed model bundles — version, where it came from, what it was trained on, when,
its key metrics — with the active one (the one used when none is named) marked.

    c5desk models [--json]            the list
    c5desk models --default           print the active bundle's folder (for scripts: --model "$(...)")
    c5desk models --activate VERSION  make an installed version the active one
    c5desk models --rollback          activate the active version's parent (else the one active before)
    c5desk models --register FOLDER   add a bundle folder kept elsewhere to the catalogue

Reads model.json files only: no torch, so it answers at once.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from c5desk.errors import ModelError
from c5desk.model.catalog import Catalog, Entry
from c5desk.model.metrics_view import (
    OVERRIDDEN,
    gate_overridden,
    gate_report,
    gate_text,
    listing_with_active,
    measured_on,
    metrics_text,
)

NOTHING_TO_ROLL_BACK = "nothing to roll back to: the active model has no installed parent or predecessor"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--default", action="store_true", help="print the active (default) bundle's folder")
    what.add_argument("--activate", metavar="VERSION", help="make an installed version the active model")
    what.add_argument("--rollback", action="store_true", help="activate the active version's parent")
    what.add_argument("--register", metavar="FOLDER", type=Path, help="add a bundle folder to the catalogue")
    parser.add_argument("--json", action="store_true", help="print the list as JSON")


def run(args: argparse.Namespace) -> int:
    catalog = Catalog()
    if args.default:
        print(catalog.active().folder)
        return 0
    if args.activate or args.rollback:
        version = args.activate or catalog.rollback_target()
        if version is None:
            raise ModelError(NOTHING_TO_ROLL_BACK)
        entry = catalog.activate(version)
        print(f"active model: {entry.version} ({entry.folder})")
        return 0
    if args.register is not None:
        entry = catalog.register(args.register)
        print(f"registered {entry.version} ({entry.folder})")
        return 0
    listing, active = listing_with_active(catalog)
    if args.json:
        rows = [_as_dict(entry, entry.version == active) for entry in listing.entries.values()]
        print(json.dumps(rows, indent=2))
    else:
        print(format_table(list(listing.entries.values()), active))
    for problem in listing.problems:
        print(f"skipped: {problem}")
    return 0


def _as_dict(entry: Entry, active: bool) -> dict[str, object]:
    return {
        "version": entry.version,
        "active": active,
        "origin": entry.origin,
        "domain": entry.domain,
        "created": entry.created,
        "parent": entry.parent,
        "metrics": entry.key_metrics(),
        "measured_on": measured_on(entry),
        "gate": gate_text(entry) or None,
        "gate_verdict": (gate_report(entry) or {}).get("verdict"),
        "gate_overridden": gate_overridden(entry),
        "folder": str(entry.folder),
    }


def format_table(entries: list[Entry], active: str | None) -> str:
    if not entries:
        return "no model bundles are installed (c5desk never scores with untrained weights)"
    rows = [("", "VERSION", "FROM", "TRAINED ON", "CREATED", "KEY METRICS")]
    for entry in entries:
        mark = "*" if entry.version == active else ""
        created = entry.created.replace("T", " ")[:16]
        described = "; ".join(filter(None, [metrics_text(entry), gate_text(entry)]))
        rows.append((mark, entry.version, entry.origin, entry.domain, created, described))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)), row[-1]]) for row in rows]
    footer = [f"* active: used when no --model is given ({active})" if active else "no active model"]
    if any(gate_overridden(entry) for entry in entries):  # never let a forced bundle look like a passed one
        footer.append(f"{OVERRIDDEN}: published although the retrain gate failed (--publish-anyway)")
    return "\n".join([*(line.rstrip() for line in lines), *footer])
