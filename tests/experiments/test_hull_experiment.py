"""Tests of the convex-hull experiment (persuaders.eval.experiments.hull).

Expected values are worked out by hand here or by independent brute force (enumerating the faces
of the simplex, each solved from its own KKT system), never taken from the code under test.
"""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from persuaders.cli import hull as hull_cli
from persuaders.cli.experiment import main as experiment_main
from persuaders.eval.experiments import hull as hx
from tests.commands import ROOT

EXAMPLE = ROOT / "data" / "hull_example.csv"
TOL = 1e-9


# ----------------------------------------------------------------------- independent references
def brute_simplex_mse(models: np.ndarray, user: np.ndarray) -> float:
    """Exact min over the simplex of mean (w @ models - user)^2: every face, solved by its KKT
    system (a face's minimiser of the affine-constrained problem, kept when it is nonnegative)."""
    k = models.shape[0]
    best = np.inf
    for size in range(1, k + 1):
        for face in itertools.combinations(range(k), size):
            a = models[list(face)].T  # [items, size]
            kkt = np.block([[a.T @ a, np.ones((size, 1))], [np.ones((1, size)), np.zeros((1, 1))]])
            rhs = np.concatenate([a.T @ user, [1.0]])
            w = np.linalg.lstsq(kkt, rhs, rcond=None)[0][:size]
            if np.all(w >= -1e-12):
                best = min(best, float(np.mean((a @ w - user) ** 2)))
    return best


def grid_sup_distance(models: np.ndarray, user: np.ndarray, steps: int = 400) -> float:
    """Sup-norm hull distance of two or three models by brute force over a simplex grid; for each
    weight vector the best offset is the mid-range of the residual."""
    k = models.shape[0]
    best = np.inf
    for idx in itertools.product(range(steps + 1), repeat=k - 1):
        if sum(idx) > steps:
            continue
        w = np.array([*idx, steps - sum(idx)]) / steps
        r = user - w @ models
        best = min(best, (r.max() - r.min()) / 2)
    return best


def random_table(seed: int, k: int = 8, items: int = 12) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.uniform(size=items)
    models = np.clip(base + 0.3 * rng.normal(size=(k, items)), 0, 1)
    user = np.clip(base + 0.1 * rng.normal(size=items), 0, 1)
    return models, user


# ------------------------------------------------------------------------- hand-computed cases
def test_two_models_hand_cases():
    u1, u2 = np.array([0.0, 1.0]), np.array([1.0, 0.0])
    models = np.stack([u1, u2])
    # user [0.5, 0.5] is their average
    fit = hx.sup_fit(models, np.array([0.5, 0.5]))
    assert fit.value == pytest.approx(0.0, abs=TOL)
    np.testing.assert_allclose(fit.weights, [0.5, 0.5], atol=1e-7)
    assert hx.simplex_lsq(models, np.array([0.5, 0.5])).value == pytest.approx(0.0, abs=1e-15)
    # user [1, 1]: the average plus the offset 0.5 fits exactly
    fit = hx.sup_fit(models, np.array([1.0, 1.0]))
    assert fit.value == pytest.approx(0.0, abs=TOL)
    np.testing.assert_allclose(fit.weights, [0.5, 0.5], atol=1e-7)
    assert fit.offset == pytest.approx(0.5, abs=1e-7)
    # ... but the MSE fits have no offset: simplex fit [w2, w1] vs [1, 1] is best at w = (1/2, 1/2),
    # MSE ((1/2)^2 + (1/2)^2) / 2 = 1/4; nonnegative fit w = (1, 1) is exact; single model 1/2.
    user = np.array([1.0, 1.0])
    simp, nonneg = hx.simplex_lsq(models, user), hx.nonneg_lsq(models, user)
    assert simp.value == pytest.approx(0.25, abs=1e-12)
    np.testing.assert_allclose(simp.weights, [0.5, 0.5], atol=1e-9)
    assert nonneg.value == pytest.approx(0.0, abs=1e-15)
    np.testing.assert_allclose(nonneg.weights, [1.0, 1.0], atol=1e-9)
    curves = hx.nested_curves(models, user)
    assert curves["mse_best_single"][1] == pytest.approx(0.5)
    assert curves["mse_average"][1] == pytest.approx(0.25)


def test_three_items_hand_case_hull_and_cone_differ():
    """u1 = [0,1,0], u2 = [1,0,0], user = [0,0,1]. Residual errors (w2+c, w1+c, c-1).
    Hull: max(|w2+c|, |w1+c|) >= 1/2 + c, so eps = min_c max(1/2 + c, 1 - c) = 3/4 at c = 1/4.
    Cone: e1 - e3 = w2 + 1 >= 1, so eps >= 1/2, reached by w = 0, c = 1/2."""
    models = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    user = np.array([0.0, 0.0, 1.0])
    hull, cone = hx.sup_fit(models, user), hx.sup_fit(models, user, cone=True)
    assert hull.value == pytest.approx(0.75, abs=TOL)
    assert hull.offset == pytest.approx(0.25, abs=1e-7)
    np.testing.assert_allclose(hull.weights, [0.5, 0.5], atol=1e-7)
    assert cone.value == pytest.approx(0.5, abs=TOL)
    assert hull.value == pytest.approx(grid_sup_distance(models, user), abs=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_lp_matches_grid_brute_force(seed):
    models, user = random_table(seed, k=3, items=7)
    assert hx.sup_fit(models, user).value == pytest.approx(grid_sup_distance(models, user, steps=300), abs=2e-3)
    # the LP can only be below the grid's minimum (the grid points are feasible)
    assert hx.sup_fit(models, user).value <= grid_sup_distance(models, user, steps=300) + TOL


@pytest.mark.parametrize("seed", range(6))
def test_simplex_lsq_matches_face_enumeration(seed):
    rng = np.random.default_rng(seed)
    k, items = (5, 9) if seed < 4 else (7, 4)  # the last two have more models than items
    models = rng.uniform(size=(k, items))
    user = rng.uniform(size=items)
    assert hx.simplex_lsq(models, user).value == pytest.approx(brute_simplex_mse(models, user), abs=1e-12)


# ------------------------------------------------------------------------------ theory checks
@pytest.mark.parametrize("seed", range(3))
def test_orderings_nested_monotone_and_ordered(seed):
    models, user = random_table(seed, k=10, items=14)
    order = np.random.default_rng(seed + 10).permutation(10)
    c = hx.nested_curves(models, user, order)
    for m in hx.METRICS:
        if m == "mse_average":  # the average of nested sets need not improve
            continue
        assert np.all(np.diff(c[m]) <= 0.0), m
    assert np.all(c["eps_cone"] <= c["eps_hull"])
    assert np.all(c["mse_nonneg"] <= c["mse_simplex"])
    assert np.all(c["mse_simplex"] <= c["mse_average"])
    assert np.all(c["mse_simplex"] <= c["mse_best_single"])
    # at n = 1 the simplex is one point: the fit is that model
    assert c["mse_simplex"][0] == c["mse_best_single"][0] == c["mse_average"][0]


@pytest.mark.parametrize("seed", range(3))
def test_raw_solvers_respect_theory_within_tolerance(seed):
    """The solvers alone, without the nested candidates, already satisfy the orderings up to
    solver tolerance."""
    models, user = random_table(seed, k=9, items=15)
    prev = {}
    for n in range(1, 10):
        sub = models[:n]
        vals = {
            "hull": hx.sup_fit(sub, user).value,
            "cone": hx.sup_fit(sub, user, cone=True).value,
            "simplex": hx.simplex_lsq(sub, user).value,
            "nonneg": hx.nonneg_lsq(sub, user).value,
        }
        assert vals["cone"] <= vals["hull"] + TOL
        assert vals["nonneg"] <= vals["simplex"] + 1e-12
        assert vals["simplex"] <= hx.mse(sub.mean(axis=0), user) + 1e-12
        assert vals["simplex"] <= min(hx.mse(m, user) for m in sub) + 1e-12
        for key, v in vals.items():
            if key in prev:
                assert v <= prev[key] + TOL, (key, n)
        prev = vals


def test_exact_convex_combination_reached_once_support_is_in():
    rng = np.random.default_rng(7)
    models = rng.uniform(size=(8, 20))
    user = 0.3 * models[2] + 0.7 * models[5]
    order = np.array([4, 2, 0, 7, 5, 1, 3, 6])  # the support {2, 5} is complete at n = 5
    c = hx.nested_curves(models, user, order)
    for m in ("eps_hull", "eps_cone"):
        assert np.all(c[m][4:] <= 1e-8), m
        assert np.all(c[m][:4] > 1e-3), m
    for m in ("mse_simplex", "mse_nonneg"):
        assert np.all(c[m][4:] <= 1e-14), m
        assert np.all(c[m][:4] > 1e-5), m
    fit = hx.simplex_lsq(models[order[:5]], user)
    np.testing.assert_allclose(fit.weights, [0, 0.3, 0, 0, 0.7], atol=1e-10)


def test_run_experiment_and_summary_shapes():
    table = hx.synthetic_utilities(6, n_items=10, noise=0.2, rng=1)
    raw = hx.run_experiment(table, 4, 3, rng=0)
    assert set(raw) == set(hx.METRICS)
    assert all(v.shape == (3, 4) for v in raw.values())
    s = hx.summarise(raw)
    for m in hx.METRICS:
        assert np.all(s[m]["lo"] <= s[m]["mean"] + 1e-15) and np.all(s[m]["mean"] <= s[m]["hi"] + 1e-15)
    assert np.all((table.models >= 0) & (table.models <= 1))
    # all models, every ordering: the same set, the same values
    full = hx.run_experiment(table, 6, 3, rng=2)
    assert np.ptp(full["eps_hull"][:, -1]) < 1e-8
    assert np.ptp(full["mse_simplex"][:, -1]) < 1e-12


# ------------------------------------------------------------------------------------ CSV loader
def _write(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def test_loader_reads_the_shipped_example():
    t = hx.load_utilities(EXAMPLE)
    assert t.models.shape == (30, 40) and t.user.shape == (40,)
    assert t.model_names[0] == "persona_01" and t.item_labels[0] == "item_01"
    assert np.all((t.models >= 0) & (t.models <= 1))


def test_loader_custom_user_column_and_no_item_column(tmp_path):
    p = _write(tmp_path / "t.csv", [["a", "b", "truth"], ["0.1", "0.2", "0.3"], ["1", "0", "0.5"]])
    t = hx.load_utilities(p, user_column="truth")
    np.testing.assert_array_equal(t.models, [[0.1, 1.0], [0.2, 0.0]])
    np.testing.assert_array_equal(t.user, [0.3, 0.5])
    assert t.model_names == ("a", "b")


@pytest.mark.parametrize(
    "rows, user_column, expected",
    [
        ([["item", "a", "b"], ["x", "0.1", "0.2"]], "user", ["no user column 'user'", "--user-column"]),
        (
            [["item", "a", "user"], ["x", "0.1", "oops"]],
            "user",
            ["column 'user'", "line 2", "item 'x'", "'oops' is not a number"],
        ),
        (
            [["item", "a", "user"], ["x", "0.1", "0.2"], ["y", "nan", "0.2"]],
            "user",
            ["column 'a'", "line 3", "item 'y'", "not finite"],
        ),
        ([["a", "user"], ["0.1", "0.2"], ["", "0.2"]], "user", ["column 'a'", "line 3", "empty entry"]),
        ([["item", "user"], ["x", "0.2"]], "user", ["no model column", "at least 1 model"]),
        ([["a", "user"], ["0.1", "0.2", "0.3"]], "user", ["line 2 has 3 fields", "header has 2"]),
        ([["a", "a", "user"], ["0.1", "0.2", "0.3"]], "user", ["'a' appears more than once"]),
        ([["a", "user"]], "user", ["no data rows"]),
        ([], "user", ["empty"]),
        ([["a", "user"], ["0.1", "inf"]], "user", ["column 'user'", "line 2", "not finite"]),
    ],
)
def test_loader_errors_name_the_fault(tmp_path, rows, user_column, expected):
    p = _write(tmp_path / "bad.csv", rows)
    with pytest.raises(hx.TableError) as err:
        hx.load_utilities(p, user_column=user_column)
    for text in expected:
        assert text in str(err.value)


def test_cli_bad_table_exits_2_without_traceback(tmp_path, cli):
    p = _write(tmp_path / "bad.csv", [["item", "a", "user"], ["x", "0.1", "abc"]])
    res = cli(experiment_main, "hull", "--csv", str(p), "--out", str(tmp_path / "o"))
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert "column 'user'" in res.stderr and "line 2" in res.stderr
    assert not (tmp_path / "o").exists()


def test_cli_input_errors_in_process(tmp_path, capsys):
    missing = _write(tmp_path / "m.csv", [["a", "b"], ["0.1", "0.2"]])
    assert hull_cli.main(["--csv", str(missing), "--out", str(tmp_path / "o")]) == 2
    assert "no user column 'user'" in capsys.readouterr().err
    assert hull_cli.main(["--csv", str(EXAMPLE), "--models", "31", "--out", str(tmp_path / "o")]) == 2
    assert "only 30 model columns" in capsys.readouterr().err
    assert hull_cli.main(["--csv", str(EXAMPLE), "--noise", "0.1", "--out", str(tmp_path / "o")]) == 2
    assert "--synthetic" in capsys.readouterr().err
    assert hull_cli.main(["--models", "0", "--out", str(tmp_path / "o")]) == 2


# ------------------------------------------------------------------------------------- command
@pytest.mark.slow
def test_command_on_example_writes_all_outputs(tmp_path, capsys):
    out = tmp_path / "res"
    assert (
        hull_cli.main(["--csv", str(EXAMPLE), "--models", "4", "--orderings", "3", "--seed", "1", "--out", str(out)])
        == 0
    )
    printed = capsys.readouterr().out
    assert "eps_hull" in printed and "mse_simplex" in printed
    for name in ("results.csv", "results.json", "hull_experiment.png"):
        assert (out / name).stat().st_size > 0, name
    with open(out / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 * len(hx.METRICS)
    assert set(rows[0]) == {"n", "metric", "mean", "lo", "hi"}
    assert all(float(r["lo"]) <= float(r["mean"]) + 1e-12 <= float(r["hi"]) + 2e-12 for r in rows)
    rec = json.loads((out / "results.json").read_text())
    assert rec["n"] == [1, 2, 3, 4]
    assert np.array(rec["per_ordering"]["eps_hull"]).shape == (3, 4)
    assert (out / "hull_experiment.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_command_synthetic_tiny(tmp_path, capsys):
    out = tmp_path / "syn"
    assert (
        hull_cli.main(
            ["--synthetic", "--models", "3", "--orderings", "2", "--items", "6", "--noise", "0.1", "--out", str(out)]
        )
        == 0
    )
    rec = json.loads((out / "results.json").read_text())
    assert rec["config"]["synthetic"]["noise"] == 0.1
    assert len(rec["summary"]["mse_nonneg"]["mean"]) == 3


def test_command_figure_option_and_dataset_only_options(tmp_path, capsys):
    out, fig = tmp_path / "syn", tmp_path / "figs" / "synthetic.png"
    assert (
        hull_cli.main(
            [
                "--synthetic",
                "--models",
                "2",
                "--orderings",
                "2",
                "--items",
                "5",
                "--out",
                str(out),
                "--figure",
                str(fig),
            ]
        )
        == 0
    )
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not (out / "hull_experiment.png").exists()
    assert (out / "results.csv").stat().st_size > 0
    capsys.readouterr()
    assert hull_cli.main(["--csv", str(EXAMPLE), "--bootstrap", "10", "--out", str(tmp_path / "o")]) == 2
    assert "--bootstrap apply only to --dataset" in capsys.readouterr().err
