"""User models fitted to choices (docs/fitting.md): the data contract, the estimates, the command."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from persuaders.cli.fit import main as fit_main
from persuaders.envs.game import GretherUser, LogitUser, ShrinkageUser, load_game, random_game
from persuaders.eval.fitting import DataError, fit_model, read_choices, simulate_choices, write_choices
from persuaders.eval.fitting.estimate import log_likelihood

HEADER = "participant,action,likelihood_innocent,likelihood_guilty\n"


def _csv(tmp_path, body, header=HEADER, name="c.csv"):
    path = tmp_path / name
    path.write_text(header + body, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("body", "header", "expected"),
    [
        ("a,acquit,0.5,0.5\na,hang,0.5,0.5\n", HEADER, "row 2, column action: unknown action 'hang'"),
        ("a,acquit,0.5\n", "participant,action,likelihood_innocent\n", "column likelihood_guilty: missing"),
        ("a,acquit,0.5,0.5\na,acquit,0,0\n", HEADER, "row 2, columns likelihood_innocent, likelihood_guilty"),
        ("a,acquit,-0.5,0.5\n", HEADER, "row 1, column likelihood_innocent: expected a finite number >= 0"),
        ("a,acquit,0.5,nan\n", HEADER, "row 1, column likelihood_guilty: expected a finite number >= 0"),
        ("a,acquit,0.5,0.2\n", HEADER, "column action: 1 decisions cannot identify"),
    ],
)
def test_bad_data_one_line_naming_row_and_column(cli, tmp_path, body, header, expected):
    ran = cli(fit_main, _csv(tmp_path, body, header), "--game", "kg")
    assert ran.returncode == 2
    assert expected in ran.stderr and ran.stderr.count("\n") == 1 and "Traceback" not in ran.stderr


def test_equal_likelihoods_leave_beta_unidentified(tmp_path):
    game = load_game("kg")
    data = read_choices(_csv(tmp_path, "a,acquit,1,1\n" * 5 + "a,convict,2,2\n"), game)
    with pytest.raises(DataError, match="beta is not identified"):
        fit_model("grether", data, game)
    with pytest.raises(DataError, match="shrinkage's w is not identified"):
        fit_model("shrinkage", data, game)


def test_log_likelihood_by_hand(tmp_path):
    # kg: u = identity; prior (0.7, 0.3); decision 1 likelihoods (0.2, 0.8), action convict.
    game = load_game("kg")
    data = read_choices(_csv(tmp_path, "a,convict,0.2,0.8\n"), game)
    p1 = 0.3 * 0.8 / (0.3 * 0.8 + 0.7 * 0.2)
    expect = -math.log1p(math.exp(-4.0 * (p1 - (1 - p1))))
    assert log_likelihood("logit", {"rationality": 4.0}, data, game.user.utility)[0] == pytest.approx(expect, abs=1e-12)
    q = 0.3**0.5 * 0.8**2 / (0.3**0.5 * 0.8**2 + 0.7**0.5 * 0.2**2)
    expect = -math.log1p(math.exp(-4.0 * (2 * q - 1)))
    got = log_likelihood("grether", {"alpha": 0.5, "beta": 2.0, "rationality": 4.0}, data, game.user.utility)[0]
    assert got == pytest.approx(expect, abs=1e-12)
    w = 0.3
    qs = (1 - w) * p1 + w / 2
    expect = -math.log1p(math.exp(-4.0 * (2 * qs - 1)))
    got = log_likelihood("shrinkage", {"w": w, "rationality": 4.0}, data, game.user.utility)[0]
    assert got == pytest.approx(expect, abs=1e-12)


def test_simulated_rows_follow_the_model(tmp_path):
    # Babbling in kg: every posterior is the prior, so P(convict) = softmax at p~ ∝ prior^alpha.
    game = load_game("kg")
    model = GretherUser(6.0, 0.4, 1.0)
    data = simulate_choices(game, model, "babbling", 4000, 4, seed=3)
    assert np.allclose(data.likelihood, 0.5)
    q = 0.3**0.4 / (0.3**0.4 + 0.7**0.4)
    p_convict = 1 / (1 + math.exp(-6.0 * (2 * q - 1)))
    share = float((data.action == 1).mean())
    assert abs(share - p_convict) < 4 * math.sqrt(p_convict * (1 - p_convict) / 4000)
    path = tmp_path / "s.csv"
    write_choices(path, game, data)
    back = read_choices(path, game)
    assert (back.action == data.action).all() and back.participants() == ["p1", "p2", "p3", "p4"]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recovery_grether_covers_and_is_chosen(seed):
    game = load_game("kg")
    truth = {"alpha": 0.6, "beta": 1.5, "rationality": 8.0}
    data = simulate_choices(game, GretherUser(8.0, 0.6, 1.5), "random", 3000, 30, seed=seed)
    fit = fit_model("grether", data, game)
    for k, v in truth.items():
        lo, hi = fit.ci[k]
        assert lo is not None and lo <= v <= hi, (k, fit.ci[k])
    assert fit.bic < fit_model("logit", data, game).bic


@pytest.mark.slow
def test_recovery_logit_is_chosen_and_shrinkage_recovered():
    game = load_game("kg")
    data = simulate_choices(game, LogitUser(6.0), "random", 3000, 30, seed=5)
    logit, grether = fit_model("logit", data, game), fit_model("grether", data, game)
    assert logit.bic < grether.bic
    assert logit.ci["rationality"][0] <= 6.0 <= logit.ci["rationality"][1]
    game3 = random_game(1, 2, 3, seed=7)
    data = simulate_choices(game3, ShrinkageUser(10.0, 0.4), "random", 3000, 30, seed=6)
    fit = fit_model("shrinkage", data, game3)
    assert fit.ci["w"][0] <= 0.4 <= fit.ci["w"][1]
    assert fit.ci["rationality"][0] <= 10.0 <= fit.ci["rationality"][1]


@pytest.mark.slow
def test_command_json_out_by_and_bootstrap(cli, tmp_path):
    data = str(tmp_path / "c.csv")
    ran = cli(
        fit_main,
        "simulate",
        "--game",
        "kg",
        "--model",
        "grether",
        "--set",
        "alpha=0.6",
        "--set",
        "beta=1.5",
        "--set",
        "rationality=8",
        "--decisions",
        "1500",
        "--participants",
        "15",
        "--seed",
        "2",
        "--out",
        data,
    )
    assert ran.returncode == 0, ran.stderr
    out = str(tmp_path / "fitted.yaml")
    ran = cli(fit_main, data, "--game", "kg", "--json", "--out", out, "--bootstrap", "20", "--seed", "1")
    assert ran.returncode == 0, ran.stderr
    res = json.loads(ran.stdout)
    assert set(res) == {"models", "chosen"} and res["chosen"] == "grether"
    for m in res["models"].values():
        assert set(m) == {"params", "se", "ci", "loglik", "aic", "bic"}
        assert m["aic"] == pytest.approx(2 * len(m["params"]) - 2 * m["loglik"])
        assert m["bic"] == pytest.approx(len(m["params"]) * math.log(1500) - 2 * m["loglik"])
        for k, (lo, hi) in m["ci"].items():
            assert lo <= m["params"][k] <= hi
    fitted = load_game(out)
    assert fitted.user.model == GretherUser(**res["models"]["grether"]["params"])
    again = cli(fit_main, data, "--game", "kg", "--out", out)
    assert again.returncode == 2 and "--overwrite" in again.stderr
    ran = cli(fit_main, data, "--game", "kg", "--models", "logit", "--by", "participant", "--json")
    per = json.loads(ran.stdout)["participants"]
    assert len(per) == 15 and all(set(r) == {"models", "chosen"} for r in per.values())


def test_parquet_reads_like_csv(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    game = load_game("kg")
    frame = pd.DataFrame(
        {
            "participant": ["a", "b"],
            "action": ["acquit", "convict"],
            "likelihood_innocent": [0.4, 0.1],
            "likelihood_guilty": [0.6, 0.9],
        }
    )
    frame.to_parquet(tmp_path / "c.parquet")
    data = read_choices(tmp_path / "c.parquet", game)
    assert data.action.tolist() == [0, 1] and data.likelihood[1, 1] == pytest.approx(0.9)
