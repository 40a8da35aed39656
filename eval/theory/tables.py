"""Plain-text tables of an outcome beside the theory, shared by the command lines and examples."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["Row", "outcome_rows", "format_rows", "format_schemes"]

Row = tuple[str, "float | None"]


def outcome_rows(bounds: Mapping[str, Any], user: Sequence[Row], speakers: Mapping[str, Sequence[Row]]) -> list[Row]:
    """Rows: the user's values given in ``user``, then her no-information, full-information and
    Bayes-optimal values, the competition bound and the hull distance (from ``bounds``, the
    :func:`persuaders.eval.theory.analytic_quantities` mapping); then, per speaker, its rows (labels are
    suffixed to its name) and its single-sender optimum."""
    rows: list[Row] = list(user)
    for key, label in [
        ("no_information", "user: no information"),
        ("full_information", "user: full information"),
        ("bayes_optimal", "user: Bayes-optimal (OPT)"),
        ("competition_bound", "user: competition bound (fi - 2 eps)"),
    ]:
        rows.append((label, bounds.get(key)))
    rows.append(("hull distance eps", bounds["hull"]["epsilon"]))
    for name, own in speakers.items():
        rows += [(f"{name}: {label}", v) for label, v in own]
        rows.append((f"{name}: single-sender optimum", bounds["single_sender"][name]["sender_value"]))
    return rows


def format_rows(title: str, rows: Sequence[Row], width: int = 40) -> str:
    """``title`` and an aligned two-column table (``n/a`` for a missing value)."""
    lines = [title, "", f"  {'quantity':<{width}}{'value':>10}"]
    lines += [f"  {label:<{width}}{'n/a' if v is None else f'{v:.6f}':>10}" for label, v in rows]
    return "\n".join(lines)


def format_schemes(schemes: Mapping[str, Sequence[Any]]) -> str:
    """Each speaker's committed scheme at the first observation, rounded to 3 decimals."""
    lines = ["  committed schemes at the first observation [signal][message]:"]
    lines += [f"    {name}: {np.round(np.asarray(s), 3).tolist()}" for name, s in schemes.items()]
    return "\n".join(lines)
