"""The convex-hull experiment's input: a table of utilities over items, from a CSV file or synthetic.

``U[i, j]`` is model ``i``'s utility for item ``j`` and ``u[j]`` the user's (docs/science.md,
"Experiments"). :func:`load_utilities` reads a CSV (one row per item, one column per model and a
user column) and names the column and line of any fault; :func:`synthetic_utilities` draws a
seeded table: a shared base utility plus Gaussian noise, clipped to [0, 1].
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "DEFAULT_ITEMS",
    "DEFAULT_NOISE",
    "DEFAULT_USER_NOISE",
    "TableError",
    "UtilityTable",
    "load_utilities",
    "synthetic_utilities",
]

DEFAULT_ITEMS = 40
DEFAULT_NOISE = 0.2
DEFAULT_USER_NOISE = 0.0


class TableError(ValueError):
    """An invalid table of utilities; the message names the file, column and line at fault."""


@dataclass(frozen=True)
class UtilityTable:
    """``models[i, j]``: model ``i``'s utility for item ``j``; ``user[j]``: the user's."""

    models: np.ndarray
    user: np.ndarray
    model_names: tuple[str, ...]
    item_labels: tuple[str, ...]
    source: str

    @property
    def n_models(self) -> int:
        return int(self.models.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.user.shape[0])


def load_utilities(
    path: str | os.PathLike[str], user_column: str = "user", item_column: str | None = "item"
) -> UtilityTable:
    """Read a CSV table of utilities: one row per item, one column per model, and the user's column.

    The header names the columns. ``user_column`` holds the user's utility; ``item_column``, if
    the header has it, holds item labels (any text) and is not a model; every other column is a
    model. Every model and user entry must be a finite number. Blank lines are skipped.

    Raises :class:`TableError` naming the column and line (the header is line 1) when the user's
    column is missing, an entry is empty, not a number, NaN or infinite, a row has the wrong
    number of fields, column names are empty or repeated, there are no data rows, or there is no
    model column.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            lines = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise TableError(f"{path}: cannot read the table: {exc}") from exc
    numbered = [(i + 1, row) for i, row in enumerate(lines) if any(cell.strip() for cell in row)]
    if not numbered:
        raise TableError(f"{path}: the file is empty; expected a header row naming the columns")
    _, header = numbered[0]
    header = [h.strip() for h in header]
    for j, name in enumerate(header):
        if not name:
            raise TableError(f"{path}: column {j + 1} of the header has no name")
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise TableError(f"{path}: column {name!r} appears more than once in the header")
        seen.add(name)
    if user_column not in header:
        raise TableError(
            f"{path}: no user column {user_column!r}; the columns are {', '.join(map(repr, header))} "
            f"(choose the user's column with --user-column)"
        )
    label_j = header.index(item_column) if item_column and item_column in header else None
    model_js = [j for j, name in enumerate(header) if name != user_column and j != label_j]
    if not model_js:
        raise TableError(
            f"{path}: no model column: the table needs at least 1 model column besides the user's "
            f"column {user_column!r}" + (f" and the item column {item_column!r}" if label_j is not None else "")
        )
    user_j = header.index(user_column)
    rows = numbered[1:]
    if not rows:
        raise TableError(f"{path}: no data rows after the header")
    values = np.empty((len(rows), len(header)))
    labels = []
    for r, (line, row) in enumerate(rows):
        if len(row) != len(header):
            raise TableError(f"{path}: line {line} has {len(row)} fields but the header has {len(header)}")
        label = row[label_j].strip() if label_j is not None else f"row {r + 1}"
        labels.append(label)
        where = f"line {line}" + (f" (item {label!r})" if label_j is not None else "")
        for j in [user_j, *model_js]:
            cell = row[j].strip()
            if not cell:
                raise TableError(f"{path}: column {header[j]!r}, {where}: empty entry")
            try:
                v = float(cell)
            except ValueError:
                raise TableError(f"{path}: column {header[j]!r}, {where}: {cell!r} is not a number") from None
            if not math.isfinite(v):
                raise TableError(f"{path}: column {header[j]!r}, {where}: {cell!r} is not finite (NaN or infinite)")
            values[r, j] = v
    return UtilityTable(
        models=np.ascontiguousarray(values[:, model_js].T),
        user=values[:, user_j].copy(),
        model_names=tuple(header[j] for j in model_js),
        item_labels=tuple(labels),
        source=str(path),
    )


def synthetic_utilities(
    n_models: int,
    n_items: int = DEFAULT_ITEMS,
    noise: float = DEFAULT_NOISE,
    user_noise: float = DEFAULT_USER_NOISE,
    rng: np.random.Generator | int | None = 0,
) -> UtilityTable:
    """Seeded synthetic table: a base utility ``b ~ Uniform(0, 1)`` per item,
    models ``clip(b + noise * N(0, 1), 0, 1)`` (independent noise per model and item) and the user
    ``clip(b + user_noise * N(0, 1), 0, 1)``."""
    if n_models < 1 or n_items < 1:
        raise ValueError(f"need at least one model and one item, got {n_models} models and {n_items} items")
    if not (noise >= 0 and user_noise >= 0):
        raise ValueError(f"noise levels must be >= 0, got noise {noise} and user noise {user_noise}")
    rng = np.random.default_rng(rng)
    base = rng.uniform(0.0, 1.0, size=n_items)
    models = np.clip(base[None, :] + noise * rng.normal(size=(n_models, n_items)), 0.0, 1.0)
    user = np.clip(base + user_noise * rng.normal(size=n_items), 0.0, 1.0)
    return UtilityTable(
        models=models,
        user=user,
        model_names=tuple(f"model_{i + 1:02d}" for i in range(n_models)),
        item_labels=tuple(f"item_{j + 1:02d}" for j in range(n_items)),
        source=f"synthetic (noise {noise:g}, user noise {user_noise:g})",
    )
