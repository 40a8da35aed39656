"""The loop of docs/fitting.md on the shipped sample: choices -> fitted game file -> bounds and
training against the fitted user -> her exact welfare, through the command lines."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from persuaders.cli.bounds import main as bounds_main
from persuaders.cli.fit import main as fit_main
from persuaders.cli.train import main as train_main
from persuaders.envs.game import GretherUser, load_game
from tests.commands import ROOT


def _welfare_by_hand(game, scheme):
    """Her exact utility in a one-speaker, one-round game by enumeration (docs/science.md):
    sum_y mu(y) sum_m pi[y, m] sum_a P(a | m) u[a, y], P(a | m) the logit response at the
    Grether belief p~ ∝ mu^(alpha - beta) p^beta."""
    m = game.user.model
    mu, u = game.prior, game.user.utility
    total = 0.0
    for msg in range(scheme.shape[1]):
        joint = mu * scheme[:, msg]
        if joint.sum() == 0:
            continue
        post = joint / joint.sum()
        w = np.where(post > 0, mu ** (m.alpha - m.beta) * post**m.beta, 0.0)
        belief = w / w.sum()
        eu = u @ belief
        q = np.exp(m.lam * (eu - eu.max()))
        q /= q.sum()
        total += float(sum(joint[y] * q @ u[:, y] for y in range(len(mu))))
    return total


@pytest.mark.slow
def test_choices_to_fitted_game_to_trained_welfare(cli, tmp_path):
    fitted = tmp_path / "fitted.yaml"
    ran = cli(fit_main, str(ROOT / "data" / "choices_sample.csv"), "--game", "kg", "--json", "--out", str(fitted))
    assert ran.returncode == 0, ran.stderr
    res = json.loads(ran.stdout)
    game = load_game(str(fitted))
    chosen = res["models"][res["chosen"]]["params"]
    assert res["chosen"] == "grether" and game.user.model == GretherUser(**chosen)
    ran = cli(bounds_main, str(fitted), "--json")
    assert ran.returncode == 0, ran.stderr
    bounds = json.loads(ran.stdout)
    assert bounds["validity"]["single_sender"].startswith("valid")
    run = tmp_path / "run"
    ran = cli(
        train_main,
        "--config",
        "kg_logit",
        "--set",
        f"game={fitted}",
        "--set",
        "total_steps=4096",
        "--set",
        "n_envs=256",
        "--out",
        str(run),
    )
    assert ran.returncode == 0, ran.stderr
    summary = json.loads((run / "summary.json").read_text())
    scheme = np.asarray(summary["schemes"]["prosecutor"], dtype=np.float64).reshape(2, 2)
    assert summary["user_value"] == pytest.approx(_welfare_by_hand(game, scheme), abs=1e-9)
    # no scheme gives the prosecutor more than its single-sender optimum
    assert summary["speaker_values"]["prosecutor"] <= bounds["single_sender"]["prosecutor"]["sender_value"] + 1e-6
    assert math.isfinite(summary["user_value"])
