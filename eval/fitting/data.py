"""The choice-data contract: one row per decision, read, validated and written (docs/fitting.md).

Columns (CSV, or Parquet when pandas with a Parquet engine is installed):

* ``participant``: who decided (any text; decisions are clustered by it);
* ``action``: the action she took, one of the game's action names;
* ``likelihood_<state>`` for every state of the game: the probability of everything she heard
  (her own signal and every message, over all rounds) in that state under the committed schemes.
  Only ratios matter; at least one must be positive;
* optional ``prior_<state>`` for every state: the prior she was told for this decision (else the
  game's prior). Only ratios matter.

Her Bayesian posterior is ``p(y) ∝ prior(y) L(y)``. Rows are numbered from 1 (the first decision,
the line after the header); every error names the row and the column.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from persuaders.envs.game.spec import Game

__all__ = ["ChoiceData", "DataError", "read_choices", "choices_from_rows", "write_choices"]


class DataError(ValueError):
    """Bad choice data: the message names the row (when there is one) and the column."""


@dataclass(frozen=True)
class ChoiceData:
    """Validated decisions: ``participant`` ``[N]`` (text), ``action`` ``[N]`` (indices into the
    game's actions), ``prior`` ``[N, Y]`` and ``likelihood`` ``[N, Y]`` (each row normalised to sum
    1; ``prior * likelihood`` has a positive entry in every row)."""

    participant: np.ndarray
    action: np.ndarray
    prior: np.ndarray
    likelihood: np.ndarray

    def __len__(self) -> int:
        return len(self.action)

    def subset(self, rows: np.ndarray) -> ChoiceData:
        """The decisions at ``rows`` (indices, repeats allowed: a bootstrap sample)."""
        return ChoiceData(self.participant[rows], self.action[rows], self.prior[rows], self.likelihood[rows])

    def participants(self) -> list[str]:
        """The participants in order of first appearance."""
        return list(dict.fromkeys(self.participant.tolist()))


def _read_table(path: Path) -> tuple[list[str], list[list[Any]]]:
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            import pandas as pd

            frame = pd.read_parquet(path)
        except ImportError:
            raise DataError(f"{path}: reading Parquet needs pandas and pyarrow (pip install pandas pyarrow)") from None
        except Exception as exc:  # a corrupt file: whatever the engine raises
            raise DataError(f"{path}: cannot read Parquet ({exc})") from None
        return [str(c) for c in frame.columns], frame.astype(object).values.tolist()
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read CSV ({exc})") from None
    if not rows:
        raise DataError(f"{path}: empty file (expected a header row)")
    return [c.strip() for c in rows[0]], [r for r in rows[1:] if any(cell.strip() for cell in r)]


def _number(value: Any, row: int, column: str, what: str = "a finite number >= 0") -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise DataError(f"row {row}, column {column}: expected {what}, got {value!r}") from None
    if not (math.isfinite(x) and x >= 0):
        raise DataError(f"row {row}, column {column}: expected {what}, got {value!r}")
    return x


def choices_from_rows(game: Game, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> ChoiceData:
    """Validate a table (``header`` and ``rows``) against ``game`` (module docstring)."""
    index = {name: j for j, name in enumerate(header)}
    lik_cols = [f"likelihood_{s}" for s in game.states]
    prior_cols = [f"prior_{s}" for s in game.states]
    for col in ("participant", "action", *lik_cols):
        if col not in index:
            raise DataError(f"column {col}: missing (needed: participant, action, {', '.join(lik_cols)})")
    has_prior = any(c in index for c in prior_cols)
    if has_prior:
        for col in prior_cols:
            if col not in index:
                raise DataError(f"column {col}: missing (give a prior_<state> column for every state or none)")
    if not rows:
        raise DataError("column action: no decisions in the file")
    actions = {a: i for i, a in enumerate(game.actions)}
    n, n_y = len(rows), game.n_states
    part, act = np.empty(n, dtype=object), np.empty(n, dtype=np.int64)
    lik, prior = np.empty((n, n_y)), np.broadcast_to(game.prior, (n, n_y)).copy()
    for r, cells in enumerate(rows):
        row = r + 1
        if len(cells) < len(header):
            raise DataError(f"row {row}: {len(cells)} cells for {len(header)} columns")
        part[r] = str(cells[index["participant"]]).strip()
        if not part[r]:
            raise DataError(f"row {row}, column participant: empty")
        a = str(cells[index["action"]]).strip()
        if a not in actions:
            raise DataError(
                f"row {row}, column action: unknown action {a!r} (the game's actions: {', '.join(game.actions)})"
            )
        act[r] = actions[a]
        lik[r] = [_number(cells[index[c]], row, c) for c in lik_cols]
        if lik[r].sum() <= 0:
            raise DataError(f"row {row}, columns {', '.join(lik_cols)}: every likelihood is zero")
        if has_prior:
            prior[r] = [_number(cells[index[c]], row, c) for c in prior_cols]
            if (prior[r] * lik[r]).sum() <= 0:
                raise DataError(
                    f"row {row}, columns {', '.join(prior_cols)}: prior x likelihood is zero in every state"
                )
    lik /= lik.sum(axis=1, keepdims=True)
    prior /= prior.sum(axis=1, keepdims=True)
    return ChoiceData(part, act, prior, lik)


def read_choices(path: str | Path, game: Game) -> ChoiceData:
    """Read and validate a CSV or Parquet file of decisions (module docstring)."""
    header, rows = _read_table(Path(path))
    return choices_from_rows(game, header, rows)


def write_choices(path: str | Path, game: Game, data: ChoiceData, *, digits: int = 12) -> None:
    """Write ``data`` as a CSV file of the contract (``participant``, ``action``, ``likelihood_<state>``;
    ``prior_<state>`` too when some row's prior differs from the game's)."""
    with_prior = bool(np.abs(data.prior - game.prior).max() > 1e-12)
    header = ["participant", "action", *(f"likelihood_{s}" for s in game.states)]
    if with_prior:
        header += [f"prior_{s}" for s in game.states]
    with Path(path).open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in range(len(data)):
            cells = [data.participant[r], game.actions[data.action[r]]]
            cells += [f"{x:.{digits}g}" for x in data.likelihood[r]]
            if with_prior:
                cells += [f"{x:.{digits}g}" for x in data.prior[r]]
            w.writerow(cells)
