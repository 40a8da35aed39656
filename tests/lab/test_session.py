"""The lab's project and its data: oTree's bots play whole sessions (every treatment, several
participants) and the export's likelihood columns are checked against the factorisation computed
directly (tests/lab/helpers.py). Skipped when oTree (the ``lab`` extra) is not installed."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from persuaders.envs.game import load_game
from persuaders.lab.cli import main as lab_main
from persuaders.lab.design import read_design
from tests.lab.helpers import GAME, create, direct_likelihood, read_csv, run_bots, write_game_and_schemes

pytest.importorskip("otree")


def test_create_refuses_an_existing_folder_and_names_bad_fields(tmp_path, capsys):
    out = tmp_path / "lab"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    assert lab_main(["create", "--game", "kg", "--profile", "full_revelation", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: out:") and err.count("\n") == 1
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt"]
    fresh = str(tmp_path / "other")
    for argv, field in [
        (["--profile", "full_revelation", "--speakers", "nobody"], "speakers"),
        (["--profile", "full_revelation", "--show-schemes", "maybe"], "show-schemes"),
        (["--profile", "babble"], "profile"),
        (["--profile", "full_revelation", "--trials", "0"], "trials"),
    ]:
        assert lab_main(["create", "--game", "kg", *argv, "--out", fresh]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {field}:") and err.count("\n") == 1, err
    assert not (tmp_path / "other").exists()


def test_export_refuses_a_folder_without_data(tmp_path, capsys):
    create(tmp_path / "lab", "--game", "kg", "--profile", "full_revelation")
    assert lab_main(["export", str(tmp_path / "lab"), "--out", str(tmp_path / "c.csv")]) == 2
    assert capsys.readouterr().err.startswith("error: data:")


@pytest.mark.slow
def test_bots_play_every_treatment_and_the_export_is_exact(tmp_path):
    """Two rounds, two noisy speakers, four treatments (both speakers or one; schemes shown or not),
    eight bot participants of three trials: every decision is exported once, with the trial's
    stored schemes and messages and the likelihood of the factorisation."""
    gpath, spath = write_game_and_schemes(tmp_path)
    project = tmp_path / "lab"
    create(
        project,
        "--game",
        str(gpath),
        "--schemes",
        str(spath),
        "--trials",
        "3",
        "--speakers",
        "all",
        "--speakers",
        "cautious",
        "--show-schemes",
        "both",
    )
    design = read_design(project)
    assert [t.name for t in design.treatments] == ["all__shown", "all__hidden", "cautious__shown", "cautious__hidden"]
    export = run_bots(project, 8, LAB_SEED="3", LAB_BOT_RATIONALITY="10")
    assert (
        lab_main(["export", str(project), "--data", str(export / "persuade.csv"), "--out", str(tmp_path / "a.csv")])
        == 0
    )
    assert (
        lab_main(
            ["export", str(project), "--data", str(export / "all_apps_wide.csv"), "--out", str(tmp_path / "w.csv")]
        )
        == 0
    )
    rows = read_csv(tmp_path / "a.csv")
    assert rows == read_csv(tmp_path / "w.csv")
    assert len(rows) == 8 * 3 and len({(r["participant"], r["trial"]) for r in rows}) == 24
    per_treatment = Counter(r["treatment"] for r in rows if r["trial"] == "1")
    assert per_treatment == {t.name: 2 for t in design.treatments}  # random but balanced
    game = load_game(GAME)
    raw = {r["participant.code"] + r["subsession.round_number"]: r for r in read_csv(export / "persuade.csv")}
    for r in rows:
        stored = raw[r["participant"] + r["trial"]]
        messages = json.loads(stored["player.messages"])
        assert json.loads(r["messages"]) == messages
        cautious_only = r["treatment"].startswith("cautious")
        assert r["show_schemes"] == ("1" if r["treatment"].endswith("__shown") else "0")
        assert r["speakers"] == ("cautious" if cautious_only else "cautious,bold")
        assert all((m[1] < 0) == cautious_only and m[0] >= 0 for m in messages)
        schemes = json.loads(stored["player.schemes"])
        assert sorted(schemes) == (["cautious"] if cautious_only else ["bold", "cautious"])
        lik = direct_likelihood(GAME, schemes, int(stored["player.user_signal"]), messages)
        got = np.array([float(r[f"likelihood_{y}"]) for y in game.states])
        np.testing.assert_allclose(got, lik, rtol=1e-12, atol=0)
        assert [float(r[f"prior_{y}"]) for y in game.states] == pytest.approx(list(game.prior))
        a, y = game.actions.index(r["action"]), game.states.index(r["state"])
        assert float(r["points"]) == pytest.approx(10 * game.user.utility[a, y])


def test_create_from_a_run_directory_keeps_its_committed_schemes(tmp_path):
    """A run directory (summary.json with the schemes beside config.yaml) gives the design its schemes."""
    run = tmp_path / "kg__seed0"
    run.mkdir()
    scheme = [[4 / 7, 3 / 7], [0.0, 1.0]]
    (run / "summary.json").write_text(json.dumps({"game": "kg", "schemes": {"prosecutor": scheme}}))
    (run / "config.yaml").write_text("game: kg\n")
    create(tmp_path / "lab", "--game", "kg", "--run", str(run), "--trials", "4")
    design = read_design(tmp_path / "lab")
    assert design.trials == 4 and design.game.name == "kg"
    np.testing.assert_array_equal(design.schemes[0], [scheme])


def test_a_round_page_receives_only_the_rounds_revealed_so_far(tmp_path):
    from persuaders.lab.pages import transcript

    gpath, spath = write_game_and_schemes(tmp_path)
    create(tmp_path / "lab", "--game", str(gpath), "--schemes", str(spath), "--speakers", "bold")
    design = read_design(tmp_path / "lab")
    (bold_only,) = design.treatments
    messages = [[-1, 2], [-1, 0]]
    first = transcript(design, bold_only, messages, 0)
    assert first == [{"round": 1, "said": [{"speaker": "bold", "message": "C", "sep": ""}]}]
    assert [r["round"] for r in transcript(design, bold_only, messages, 1)] == [1, 2]


def test_the_bots_choose_by_grether_weights_and_a_logit(tmp_path):
    """kg with "B" from the scheme [[4/7, 3/7], [0, 1]]: L = (3/7, 1); with alpha 0.5, beta 2 the
    weighted belief in guilt is sqrt(.3) / (sqrt(.3) + sqrt(.7) (3/7)^2), and a logit of
    rationality 5 convicts with probability 1 / (1 + exp(-5 (2 p - 1)))."""
    from persuaders.lab.pages import bot_choice

    (tmp_path / "s.yaml").write_text("prosecutor: [[0.5714285714285714, 0.42857142857142855], [0, 1]]\n")
    create(tmp_path / "lab", "--game", "kg", "--schemes", str(tmp_path / "s.yaml"))
    design = read_design(tmp_path / "lab")
    p = np.sqrt(0.3) / (np.sqrt(0.3) + np.sqrt(0.7) * (3 / 7) ** 2)
    convict = 1 / (1 + np.exp(-5 * (2 * p - 1)))
    rng = np.random.default_rng(0)
    n = 4000
    hits = sum(bot_choice(design, 0, [[1]], 5.0, rng, alpha=0.5, beta=2.0) for _ in range(n))
    assert abs(hits / n - convict) < 4 * np.sqrt(convict * (1 - convict) / n)
    bayes = sum(bot_choice(design, 0, [[1]], 5.0, rng) for _ in range(n))  # posterior 1/2: a coin
    assert abs(bayes / n - 0.5) < 4 * np.sqrt(0.25 / n)
