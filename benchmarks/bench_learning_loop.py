"""Learning curve of the retrain loop: from the shipped model, N corrections of a new site or a new organ.

For each site and N: take N frames of the site's *train* split (whole patients/cases, seeded), run
`python -m training retrain` on them in a fresh process (as the app does; --publish-anyway so the candidate
can be scored even when the gate refuses it, the gate's own verdict is reported), then score base and
candidate on the site's *test* split and on BUS-BRA test (overall and per scanner) at model resolution
(no test-time flip; the same per-frame Dice as the gate). Prints one line per run and a Markdown table.

    python benchmarks/bench_learning_loop.py --site breast_lesions_usg --n 25 100
    python benchmarks/bench_learning_loop.py --site hc18 --domain fetal_head --n 25 100
    python benchmarks/bench_learning_loop.py --site bus_uclm --n 100 --json out.json -- --distill 0
    python benchmarks/bench_learning_loop.py --site breast_lesions_usg --n 25 --mean-teacher

Arguments after `--` go to `retrain` unchanged (recipe variants). Test splits are only evaluated on.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from c5desk.settings import PROJECT_ROOT, data_root
from training.data import load_labelled
from training.gate import frame_scores
from training.retrain import base_model

SHIPPED = PROJECT_ROOT / "resources" / "models" / "c5net_tiny-busbra-v1"


def pick_rows(site: Path, n: int, seed: int) -> list[dict[str, str]]:
    """N train rows of whole groups (patients) in a seeded order; lesion frames and lesion-free alike."""
    with (site / "labels.csv").open(newline="", encoding="utf-8") as stream:
        rows = [r for r in csv.DictReader(stream) if r["split"] == "train"]
    groups = sorted({r["group"] for r in rows})
    order = np.random.default_rng(seed).permutation(len(groups))
    picked: list[dict[str, str]] = []
    for g in order:
        members = [r for r in rows if r["group"] == groups[g]]
        picked.extend(members[: n - len(picked)])
        if len(picked) >= n:
            break
    return picked


def organ_rows(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """A new organ's masks outline the organ (HC18: the fetal head), not a lesion, and its rows say "normal"
    (no lesion), which a labelled folder refuses with a mask: train the mask with the class unknown."""
    return [{**r, "label": "unsure"} if r["label"] == "normal" else r for r in rows]


def corrections_folder(site: Path, rows: list[dict[str, str]], target: Path) -> Path:
    """A labelled folder of the picked rows: labels.csv here, images and masks linked from the site."""
    target.mkdir(parents=True)
    for sub in ("images", "masks"):
        (target / sub).symlink_to(site / sub)
    columns = ["image", "mask", "label", "split", "group"]
    with (target / "labels.csv").open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return target


def test_sets(site: Path, size: int, organ: bool, work: Path) -> dict:
    busbra = data_root() / "busbra"
    if organ:  # scored through a view of its test rows relabelled as corrections are (organ_rows)
        with (site / "labels.csv").open(newline="", encoding="utf-8") as stream:
            rows = [r for r in csv.DictReader(stream) if r["split"] == "test"]
        site = corrections_folder(site, organ_rows(rows), work / "test-view")
    with (busbra / "labels.csv").open(newline="", encoding="utf-8") as stream:
        devices = np.array([r["device"] for r in csv.DictReader(stream) if r["split"] == "test"])
    return {
        "site": load_labelled(site, size, splits=["test"]),
        "busbra": load_labelled(busbra, size, splits=["test"]),
        "devices": devices,
    }


def score(bundle: Path, sets: dict) -> dict[str, float]:
    model, _ = base_model(bundle)
    out = {"site": float(frame_scores(model, sets["site"], "cpu").dice.mean())}
    dice = frame_scores(model, sets["busbra"], "cpu").dice
    out["busbra"] = float(dice.mean())
    for device in sorted(set(sets["devices"])):
        out[f"busbra · {device}"] = float(dice[sets["devices"] == device].mean())
    return out


def unlabelled_rest(site: Path, picked: list[dict[str, str]], target: Path) -> list[str]:
    """The site's other *train* images, without labels, for the mean teacher (--mean-teacher)."""
    taken = {r["image"] for r in picked}
    with (site / "labels.csv").open(newline="", encoding="utf-8") as stream:
        rest = [
            r["image"] for r in csv.DictReader(stream) if r["split"] == "train" and r["image"] not in taken
        ]
    target.mkdir(parents=True)
    for name in sorted(set(rest)):
        shutil.copy(site / name, target / Path(name).name)
    return ["--unlabelled", str(target), "--consistency", "1"]


def retrain(
    corrections: Path, work: Path, args: argparse.Namespace, extra: list[str]
) -> tuple[dict, float, float]:
    """The verdict event, wall seconds and CPU seconds (user + system) of one retrain process."""
    env = dict(os.environ, C5DESK_CONFIG=str(work / "config"), C5DESK_CACHE=str(work / "cache"))
    command = [
        sys.executable, "-m", "training", "retrain", "--base", str(args.base), "--data", str(corrections),
        "--out", str(work / "models"), "--progress", "quiet", "--threads", str(args.threads),
        "--version", "candidate", "--publish-anyway", "--seed", str(args.seed),
        *(["--domain", args.domain] if args.domain else []), *extra, *args.retrain_args,
    ]  # fmt: skip
    started, cpu = time.monotonic(), cpu_seconds()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=PROJECT_ROOT)
    seconds, cpu = time.monotonic() - started, cpu_seconds() - cpu
    if done.returncode != 0:
        raise SystemExit(f"retrain failed ({done.returncode}):\n{done.stderr[-3000:]}")
    verdict = next(json.loads(line) for line in done.stdout.splitlines() if '"verdict"' in line)
    return verdict, seconds, cpu


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_run(site: Path, n: int, sets: dict, base_scores: dict, args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="c5bench-") as temp:
        work = Path(temp)
        rows = pick_rows(site, n, args.seed)
        rows = organ_rows(rows) if args.domain else rows
        corrections = corrections_folder(site, rows, work / "corrections")
        extra = unlabelled_rest(site, rows, work / "unlabelled") if args.mean_teacher else []
        verdict, seconds, cpu = retrain(corrections, work, args, extra)
        after = score(work / "models" / "candidate", sets)
    row = {
        "site": site.name, "n": n, "domain": args.domain or "", "minutes": round(seconds / 60, 2),
        "cpu_minutes": round(cpu / 60, 2),
        "accepted": verdict["accepted"], "reasons": verdict["reasons"],
        "base": base_scores, "candidate": after, "retrain_args": args.retrain_args,
        "mean_teacher": args.mean_teacher,
    }  # fmt: skip
    print(json.dumps(row), flush=True)
    return row


def table(rows: list[dict]) -> str:
    lines = [
        "| site | N | site test Dice (base → new) | BUS-BRA test Dice (base → new) | worst scanner Δ"
        " | min/retrain (wall, CPU) | gate |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        b, c = r["base"], r["candidate"]
        worst = min((c[k] - b[k], k.split(" · ")[1]) for k in b if k.startswith("busbra · "))
        lines.append(
            f"| {r['site']}{' (' + r['domain'] + ')' if r['domain'] else ''} | {r['n']} "
            f"| {b['site']:.3f} → {c['site']:.3f} | {b['busbra']:.3f} → {c['busbra']:.3f} "
            f"| {worst[0]:+.3f} ({worst[1]}) | {r['minutes']:.1f}, {r['cpu_minutes']:.1f} "
            f"| {'passed' if r['accepted'] else 'refused'} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", default="breast_lesions_usg", help="folder under the data root")
    parser.add_argument("--n", type=int, nargs="+", default=[10, 25, 50, 100])
    parser.add_argument("--domain", help="passed to retrain --domain (a new organ: e.g. fetal_head)")
    parser.add_argument("--base", type=Path, default=SHIPPED)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--mean-teacher", action="store_true", help="the site's other train images as unlabelled frames"
    )
    parser.add_argument("--json", type=Path, help="append every run as a JSON line here")
    parser.add_argument("retrain_args", nargs=argparse.REMAINDER, help="after --: extra retrain arguments")
    args = parser.parse_args()
    args.retrain_args = [a for a in args.retrain_args if a != "--"]
    torch.set_num_threads(args.threads)
    site = data_root() / args.site
    _, spec = base_model(args.base)
    with tempfile.TemporaryDirectory(prefix="c5bench-view-") as view:
        sets = test_sets(site, spec.input_size, bool(args.domain), Path(view))
    base_scores = score(args.base, sets)
    print(json.dumps({"base": base_scores}), flush=True)
    rows = []
    for n in args.n:
        rows.append(one_run(site, n, sets, base_scores, args))
        if args.json:
            with args.json.open("a", encoding="utf-8") as stream:
                stream.write(json.dumps(rows[-1]) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
