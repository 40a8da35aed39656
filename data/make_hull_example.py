"""Write ``data/hull_example.csv``: a small, synthetic table of utilities for the hull experiment.

The table is synthetic. It is made only to exercise the CSV loader and the command
``persuaders-experiment hull --csv data/hull_example.csv``; it is not MovieLens, ETHICS or
any other real data, and no language model produced it. It imitates the shape of the paper's
second experiment (docs/science.md, "Experiments"): many "personas" that score the same items, obtained by
rephrasing one prompt, and a ground-truth human utility.

Construction (seeded, deterministic):

* 40 items (``item_01`` .. ``item_40``), each with a shared base preference
  ``base ~ Uniform(0.1, 0.9)``.
* 30 persona columns ``persona_01`` .. ``persona_30``:
  ``clip(base + 0.15 * N(0, 1) + persona_shift, 0, 1)``, where ``persona_shift ~ N(0, 0.05)``
  is one number per persona (a general leniency or harshness) and the Gaussian noise is drawn
  independently for every (persona, item) cell.
* 4 of those personas (``persona_27`` .. ``persona_30``) are biased: they add ``+0.35`` to the
  first 10 items (a favoured category), before clipping.
* The ``user`` column: ``clip(base + 0.05 * N(0, 1), 0, 1)``, the base preference with a little
  noise of its own, so that no combination of personas fits it exactly.

Values are rounded to 4 decimals. Run ``python data/make_hull_example.py [--out PATH] [--seed N]``
(defaults: ``data/hull_example.csv`` next to this script, seed 2509).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

N_ITEMS = 40
N_PERSONAS = 30
N_BIASED = 4
N_FAVOURED_ITEMS = 10
PERSONA_NOISE = 0.15
PERSONA_SHIFT = 0.05
BIAS = 0.35
USER_NOISE = 0.05


def make_table(seed: int = 2509) -> tuple[list[str], list[str], np.ndarray]:
    """(item labels, column names, values [items, columns]); the last column is ``user``."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.1, 0.9, size=N_ITEMS)
    shift = rng.normal(0.0, PERSONA_SHIFT, size=(N_PERSONAS, 1))
    personas = base[None, :] + shift + PERSONA_NOISE * rng.normal(size=(N_PERSONAS, N_ITEMS))
    personas[N_PERSONAS - N_BIASED :, :N_FAVOURED_ITEMS] += BIAS
    personas = np.clip(personas, 0.0, 1.0)
    user = np.clip(base + USER_NOISE * rng.normal(size=N_ITEMS), 0.0, 1.0)
    values = np.column_stack([personas.T, user])
    items = [f"item_{j + 1:02d}" for j in range(N_ITEMS)]
    columns = [f"persona_{i + 1:02d}" for i in range(N_PERSONAS)] + ["user"]
    return items, columns, np.round(values, 4)


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the synthetic example table of utilities.")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "hull_example.csv"))
    parser.add_argument("--seed", type=int, default=2509)
    args = parser.parse_args()
    items, columns, values = make_table(args.seed)
    with open(args.out, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["item", *columns])
        for label, row in zip(items, values, strict=True):
            writer.writerow([label] + [f"{v:.4f}" for v in row])
    print(f"wrote {args.out}: {len(items)} items, {len(columns) - 1} personas and a user column")


if __name__ == "__main__":
    main()
