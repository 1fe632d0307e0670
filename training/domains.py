"""The two kinds of retrain: improve this model (same domain) or adapt it to a new domain (a new lineage).

*Improve* (no --domain, or a domain the base model is already for): the new version must not get worse
anywhere — the replay validation part gates it, distillation from the base applies to every frame, and it
keeps the base's domains.
*Adapt* (--domain NAME the base is not for: a new organ, or a scanner kept apart): a new lineage for NAME
alone. Its gate is NAME's held-out corrections; what happens to the old domains (replay) is measured and
reported, not gating; distillation applies to the replay frames only (the new frames must be free to move
away from the base's answers). Its bundle says which domains it is for (`training.domains`, the card).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

IMPROVE, ADAPT = "improve", "adapt"


@dataclass(frozen=True)
class RetrainKind:
    mode: str  # IMPROVE or ADAPT
    domain: str  # what this retrain trains on (the catalogue's "domain" of the new version)
    domains: list[str]  # what the new version is for
    lineage: str  # the domain whose line of versions it continues or starts

    @property
    def replay_gates(self) -> bool:
        return self.mode == IMPROVE

    def describe(self) -> str:
        if self.mode == IMPROVE:
            return f"improve this model ({', '.join(self.domains)}): must not get worse on its replay data"
        return f"adapt to a new domain ({self.domain}): a new lineage, old domains reported, not gating"


def base_domains(training: dict[str, Any]) -> list[str]:
    """What a bundle is for: its recorded domains, else the domain or data folder it was trained on."""
    domains = training.get("domains")
    if isinstance(domains, list) and domains and all(isinstance(d, str) and d for d in domains):
        return list(domains)
    data = training.get("data") if isinstance(training.get("data"), dict) else {}
    for value in (training.get("domain"), data.get("folder")):
        if isinstance(value, str) and value:  # finetune on several folders records "a, b, c"
            return [part.strip() for part in value.split(",") if part.strip()]
    return ["unknown"]


def retrain_kind(training: dict[str, Any], domain: str | None) -> RetrainKind:
    """Improve when `domain` is None or one the base is for; otherwise adapt to `domain`."""
    known = base_domains(training)
    lineage = str(training.get("lineage") or known[0])
    if domain is None or domain.strip() in known:
        chosen = known[0] if domain is None else domain.strip()
        return RetrainKind(IMPROVE, chosen, known, lineage)
    name = domain.strip()
    return RetrainKind(ADAPT, name, [name], name)


def domain_name(text: str) -> str:
    """argparse type for --domain: a short, printable name (it is shown next to the version)."""
    import argparse

    name = text.strip()
    if not name or len(name) > 40 or not name.isprintable():
        raise argparse.ArgumentTypeError("a domain is a short printable name (1–40 characters)")
    return name


CARD = """# {version}

Retrained by c5desk from **{parent}** ({mode}).

## Intended use and limits
{intended}

## Retraining
- **For domains**: {domains}
- **Lineage**: {lineage}{lineage_note}
- **Corrections**: {n_train} trained on, {n_hold} held out for the gate ({data})
- **Gate**: {verdict}{overridden}
{reasons}

"""
INTENDED = {
    IMPROVE: "As {parent}'s (its card follows), for the same domain(s): {domains}. Not a medical device;"
    " every output is a suggestion for a clinician to check.",
    ADAPT: "For **{domains}** only: adapted from {parent}, a model for another domain, whose intended use"
    " does not carry over; its card follows for provenance. Validated only on the held-out corrections"
    " (Retraining, below). Not a medical device; every output is a suggestion for a clinician to check.",
}


def card_text(
    version: str, parent: str, kind: RetrainKind, gate: dict, counts: tuple[int, int], data: str
) -> str:
    note = "" if kind.mode == IMPROVE else f" (new; started from {parent}, whose domains were only reported)"
    reasons = "\n".join(f"  - {r}" for r in gate.get("reasons", []))
    return CARD.format(
        version=version,
        parent=parent,
        mode=kind.describe(),
        intended=INTENDED[kind.mode].format(parent=parent, domains=", ".join(kind.domains)),
        domains=", ".join(kind.domains),
        lineage=kind.lineage,
        lineage_note=note,
        n_train=counts[0],
        n_hold=counts[1],
        data=data,
        verdict=gate.get("verdict", "?"),
        overridden=" — GATE OVERRIDDEN (published anyway)" if gate.get("overridden") else "",
        reasons=reasons,
    )


def with_base_card(text: str, base_card: str | None, parent: str) -> str:
    """The base's card follows, headings one level down, so its intended use and limits stay with the
    version (the app shows a card's "Intended use" section first)."""
    if not base_card:
        return text
    demoted = "\n".join("#" + line if line.startswith("#") else line for line in base_card.splitlines())
    return f"{text}\n## The card of {parent}, the model this version was retrained from\n\n{demoted}\n"


def write_card(staging: Path, text: str) -> None:
    (staging / "MODEL_CARD.md").write_text(text, encoding="utf-8")
