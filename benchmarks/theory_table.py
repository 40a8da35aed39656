"""PPO against theory: every bundled training config, its learned outcome beside the predictions.

    python benchmarks/theory_table.py [--seed 0] [--configs configs/train/*.yaml]

Trains each config with its full budget and prints a Markdown table: the user's exact utility
under the learned schemes beside her no-information and full-information values and the
competition (or best-AI) bound; each speaker's exact value beside its single-sender optimum; and
the profile's exploitability (the largest gain from a unilateral deviation: 0 at an equilibrium).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from persuaders.train.config import load_config
from persuaders.train.loop import train
from persuaders.train.summary import exploitability_label

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--configs", nargs="*", default=sorted(str(p) for p in (ROOT / "configs" / "train").glob("*.yaml"))
    )
    args = parser.parse_args()
    print(
        "| config | protocol | user learned | no info | full info | bound "
        "| speaker: learned / single-sender optimum | exploitability | s |"
    )
    print("|---|---|---:|---:|---:|---:|---|---:|---:|")
    for path in args.configs:
        cfg = load_config(path, [f"seed={args.seed}"])
        t = time.perf_counter()
        s = train(cfg, tempfile.mkdtemp(), progress=False)
        b = s["bounds"]
        bound = b["best_ai_bound"] if s["protocol"] == "best_ai" else b["competition_bound"]
        spk = "; ".join(
            f"{n}: {v:.4f} / {b['single_sender'][n]['sender_value']:.4f}" for n, v in s["speaker_values"].items()
        )
        ex = s["exploitability"]
        exs = f"{ex['exploitability']:.4f}" + exploitability_label(ex) if "exploitability" in ex else "n/a"
        print(
            f"| {Path(path).stem} | {s['protocol']} | {s['user_value']:.4f} | {b['no_information']:.4f} "
            f"| {b['full_information']:.4f} | "
            f"{'n/a' if bound is None else f'{bound:.4f}'} | {spk} | {exs} | {time.perf_counter() - t:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
