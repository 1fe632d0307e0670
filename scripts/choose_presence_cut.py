"""Choose a model-v2 bundle's presence cut (model.json's presence_threshold) on its validation part only.

    python scripts/choose_presence_cut.py BUNDLE --data FOLDER [FOLDER ...] [--min-found 0.95]

The validation part is the finetune's own (the `train` rows of every folder, 15 % of the groups held out with
seed 0, as `python -m training finetune` splits them); the test split is never read. For each candidate cut
it prints, per site, the share of lesion frames still given an outline (P(lesion) >= cut, both flip views
averaged as the app does) and the share of lesion-free frames given one. The rule (c5desk.inference.presence):
the highest cut that keeps at least --min-found of EVERY site's lesion frames found, because a lesion hidden
by "no lesion found" is worse than a false outline the clinician deletes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from c5desk.errors import C5Error
from c5desk.inference.preprocess import InputSpec
from c5desk.model.bundle import load_bundle
from training.data import group_split
from training.recipes import target_rows

CUTS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.5)


@torch.no_grad()
def presence_and_outline(
    model: torch.nn.Module, images: np.ndarray, spec: InputSpec
) -> tuple[np.ndarray, ...]:
    """P(lesion) (mean of the two flip views) and whether the automatic mask outlines anything, per frame."""
    present, outlined = [], []
    for start in range(0, len(images), 32):
        x = torch.from_numpy(np.stack([spec.normalise(i) for i in images[start : start + 32]]))
        views = torch.cat([x, torch.flip(x, dims=[-1])])
        features = model.encode(views)
        p = torch.sigmoid(model.lesion_present(features).float()).reshape(-1)
        present.append(((p[: len(x)] + p[len(x) :]) / 2).numpy())
        outlined.append((torch.sigmoid(model.segment(features)[: len(x)]) > 0.5).flatten(1).any(1).numpy())
    return np.concatenate(present), np.concatenate(outlined)


def table(present: np.ndarray, outlined: np.ndarray, lesion: np.ndarray, sites: np.ndarray) -> dict:
    """{site: {cut: (lesion frames found, lesion-free frames outlined)}}, shares (None with no such frame)."""
    out = {}
    for site in np.unique(sites):
        here = sites == site
        rows = {}
        for cut in CUTS:
            found = present >= cut
            hit = float(found[here & lesion].mean()) if (here & lesion).any() else None
            false = float((found & outlined)[here & ~lesion].mean()) if (here & ~lesion).any() else None
            rows[cut] = (hit, false)
        counts = {"lesion_frames": int((here & lesion).sum()), "free_frames": int((here & ~lesion).sum())}
        out[str(site)] = {**counts, "cuts": rows}
    return out


def chosen_cut(report: dict, min_found: float) -> float | None:
    keeping = [
        cut
        for cut in CUTS
        if all(s["cuts"][cut][0] is None or s["cuts"][cut][0] >= min_found for s in report.values())
    ]
    return max(keeping) if keeping else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="the finetune's labelled folders")
    parser.add_argument("--min-found", type=float, default=0.95)
    parser.add_argument("--val-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    try:
        model, spec = load_bundle(args.bundle)
        if getattr(model, "presence", None) is None:
            raise C5Error(f"{spec.version} has no lesion-present output")
        rows = target_rows(argparse.Namespace(data=args.data, split=["train"], size=spec.input_size))
    except C5Error as exc:
        print(f"choose_presence_cut: {exc}")
        return 1
    val = rows.subset(group_split(rows, args.val_fraction, args.seed)[1])
    present, outlined = presence_and_outline(model.eval(), val.images, InputSpec.of(spec))
    lesion = val.masks.reshape(len(val), -1).any(1)
    report = table(present, outlined, lesion, np.array([g.split(":")[0] for g in val.groups]))
    for site, entry in report.items():
        print(f"{site}: {entry['lesion_frames']} lesion frames, {entry['free_frames']} lesion-free")
        for cut, (hit, false) in entry["cuts"].items():
            print(f"  cut {cut:.2f}: lesion frames found {_share(hit)}, lesion-free outlined {_share(false)}")
    cut = chosen_cut(report, args.min_found)
    print(
        f"chosen: {cut} (the highest cut keeping >= {args.min_found:.0%} of every site's lesion frames found)"
    )
    if args.json:
        args.json.write_text(json.dumps({"version": spec.version, "chosen": cut, "sites": report}, indent=1))
    return 0


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    raise SystemExit(main())
