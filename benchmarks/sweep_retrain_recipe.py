"""Choose the retrain recipe by measurement: learning rate, which layers adapt, how long — judged ONLY on the
retrain's own held-out corrections and its replay part (the gate's numbers), never on a test split.

    python benchmarks/sweep_retrain_recipe.py --site breast_lesions_usg --n 100 [--base DIR] [--json OUT]

N corrections are taken as bench_learning_loop takes them (whole cases of the site's train split, seed 0);
each variant runs `python -m training retrain` in a fresh process with the same corrections and the same
held-out quarter, and the line printed is the gate's: held-out corrections Dice (candidate − base, 95 %
bootstrap interval), replay Dice likewise, and the wall and CPU minutes. The default recipe is the reference
row of the same run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_learning_loop import SHIPPED, corrections_folder, pick_rows
from bench_learning_loop import retrain as run_retrain

from c5desk.settings import data_root

VARIANTS = {
    "default (lr 5e-4, encoder 0.3x, auto steps: at most 200)": [],
    "300 steps (the cap before 2026-11-30)": ["--steps", "300"],
    "600 steps": ["--steps", "600"],
    "lr 1.5e-3": ["--lr", "1.5e-3"],
    "lr 1.5e-4": ["--lr", "1.5e-4"],
    "encoder frozen (0x)": ["--encoder-lr-scale", "0"],
    "encoder full (1x)": ["--encoder-lr-scale", "1"],
    "stronger distillation (3)": ["--distill", "3"],
}


def gate_numbers(verdict: dict) -> dict[str, object]:
    """Dice differences on the held-out corrections and on replay, with their intervals."""
    found: dict[str, object] = {"accepted": verdict["accepted"]}
    for check in verdict["gate"]["checks"]:
        if check["metric"] == "dice" and check["part"] in ("corrections", "replay"):
            found[check["part"]] = (check["difference"], check["interval"])
    return found


def line(name: str, numbers: dict, minutes: float, cpu: float) -> str:
    def cell(part: str) -> str:
        difference, interval = numbers.get(part, (None, None))  # type: ignore[misc]
        if difference is None:
            return "–"
        return f"{difference:+.3f} [{interval[0]:+.3f}, {interval[1]:+.3f}]"

    gate = "passed" if numbers["accepted"] else "refused"
    return f"| {name} | {cell('corrections')} | {cell('replay')} | {minutes:.1f} / {cpu:.1f} | {gate} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", default="breast_lesions_usg")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--base", type=Path, default=SHIPPED)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="*", help="run only the variants whose names start with these")
    parser.add_argument("--json", type=Path, help="append every run as a JSON line here")
    args = parser.parse_args()
    args.domain, args.retrain_args = None, []
    site = data_root() / args.site
    print("| variant | held-out corrections ΔDice [95 %] | replay ΔDice [95 %] | min wall / CPU | gate |")
    print("|---|---|---|---|---|")
    for name, extra in VARIANTS.items():
        if args.only and not any(name.startswith(prefix) for prefix in args.only):
            continue
        with tempfile.TemporaryDirectory(prefix="c5sweep-") as temp:
            work = Path(temp)
            corrections = corrections_folder(site, pick_rows(site, args.n, args.seed), work / "corrections")
            verdict, seconds, cpu = run_retrain(corrections, work, args, extra)
        numbers = gate_numbers(verdict)
        print(line(name, numbers, seconds / 60, cpu / 60), flush=True)
        if args.json:
            with args.json.open("a", encoding="utf-8") as stream:
                record = {"variant": name, "args": extra, "site": args.site, "n": args.n, **numbers}
                stream.write(json.dumps({**record, "minutes": seconds / 60, "cpu_minutes": cpu / 60}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
