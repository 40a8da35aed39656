"""From a session's database to the choice-data table that user models are fitted on.

One row per decision, read from oTree's SQLite database (``db.sqlite3``, the default) or from
oTree's own CSV export of the ``persuade`` app (or its all-apps-wide export). Each row carries the
trial's stored schemes and messages, from which the likelihood of everything she heard is computed
exactly, state by state (:func:`persuaders.lab.design.heard_likelihood`):

    likelihood_<y> = O_0[y, x0] prod_{i present} prod_t P(m_i^t | y, earlier messages of i),

so that her exact posterior is ``prior_<y> likelihood_<y>`` normalised. Columns (docs/lab.md,
"Data dictionary"): ``participant``, ``session``, ``trial``, ``treatment``, ``speakers``,
``show_schemes``, ``action``, ``likelihood_<state>``, ``prior_<state>``, ``state``, ``points``,
``messages``. Rows without a choice (a participant who left) are not decisions and are skipped.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from persuaders.envs.game.schemes import check_scheme
from persuaders.envs.game.validation import SpecError
from persuaders.lab.design import Design, heard_likelihood

__all__ = ["DB_FILE", "APP", "read_player_rows", "decision_rows", "write_choices"]

#: oTree's SQLite database in the project folder.
DB_FILE = "db.sqlite3"
#: The oTree app of the lab.
APP = "persuade"
_FIELDS = (
    "treatment",
    "speakers",
    "show_schemes",
    "trial_state",
    "user_signal",
    "messages",
    "schemes",
    "action",
    "points",
)


def _from_sqlite(path: Path) -> Iterator[dict[str, Any]]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        cols = ", ".join(f"p.{f}" for f in _FIELDS)
        query = (
            f"SELECT pt.code, s.code, p.round_number, {cols} FROM {APP}_player p "
            "JOIN otree_participant pt ON p.participant_id = pt.id JOIN otree_session s ON p.session_id = s.id "
            "ORDER BY s.id, pt.id_in_session, p.round_number"
        )
        try:
            rows = con.execute(query).fetchall()
        except sqlite3.DatabaseError as exc:
            raise SpecError("data", f"{path} is not a lab session's oTree database ({exc})") from None
    finally:
        con.close()
    for code, session, rnd, *vals in rows:
        yield {"participant": code, "session": session, "trial": rnd, **dict(zip(_FIELDS, vals, strict=True))}


def _from_csv(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if rows and "player.action" in rows[0]:  # the app's export: one row per participant and trial
        for r in rows:
            yield {
                "participant": r["participant.code"],
                "session": r["session.code"],
                "trial": int(r["subsession.round_number"]),
                **{f: r[f"player.{f}"] for f in _FIELDS},
            }
    elif rows and any(k.startswith(f"{APP}.1.player.") for k in rows[0]):  # all apps wide
        for r in rows:
            n = 1
            while f"{APP}.{n}.player.action" in r:
                yield {
                    "participant": r["participant.code"],
                    "session": r["session.code"],
                    "trial": n,
                    **{f: r[f"{APP}.{n}.player.{f}"] for f in _FIELDS},
                }
                n += 1
    else:
        raise SpecError("data", f"{path}: not an oTree export of the '{APP}' app (no player.action column)")


def read_player_rows(path: str | Path) -> list[dict[str, Any]]:
    """The ``persuade`` app's player rows from a database file or an oTree CSV export."""
    path = Path(path)
    if not path.is_file():
        raise SpecError("data", f"{path} does not exist (run a session first, or pass oTree's CSV export)")
    return list(_from_csv(path) if path.suffix.lower() == ".csv" else _from_sqlite(path))


def _trial_schemes(design: Design, raw: Any) -> list[np.ndarray]:
    stored = json.loads(raw) if isinstance(raw, str) else raw
    g = design.game
    return [
        np.array(check_scheme(g, i, stored[n]), dtype=np.float64) if n in stored else design.schemes[i]
        for i, n in enumerate(g.speaker_names)
    ]


def decision_rows(design: Design, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The choice-data rows (module docstring) of the player rows that hold a choice."""
    g = design.game
    out = []
    for r in rows:
        if r["action"] in (None, ""):
            continue
        schemes = _trial_schemes(design, r["schemes"])
        messages = json.loads(r["messages"])
        lik = heard_likelihood(g, schemes, int(r["user_signal"]), messages)
        row: dict[str, Any] = {
            "participant": r["participant"],
            "session": r["session"],
            "trial": int(r["trial"]),
            "treatment": r["treatment"],
            "speakers": r["speakers"],
            "show_schemes": int(r["show_schemes"] in (1, "1", True, "True")),
            "action": g.actions[int(r["action"])],
        }
        row.update({f"likelihood_{y}": repr(float(v)) for y, v in zip(g.states, lik, strict=True)})
        row.update({f"prior_{y}": repr(float(v)) for y, v in zip(g.states, g.prior, strict=True)})
        row.update(
            {"state": g.states[int(r["trial_state"])], "points": float(r["points"]), "messages": json.dumps(messages)}
        )
        out.append(row)
    out.sort(key=lambda r: (r["session"], r["participant"], r["trial"]))  # the same order from every source
    return out


def write_choices(rows: list[dict[str, Any]], out: str | Path) -> None:
    """Write the choice-data table as CSV; an existing file is not overwritten."""
    out = Path(out)
    if out.exists():
        raise SpecError("out", f"{out} already exists; choose another --out (nothing was overwritten)")
    if not rows:
        raise SpecError("data", "no decisions in the data: no participant has made a choice yet")
    with out.open("x", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
