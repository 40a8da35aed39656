"""Game files: bundled games load, round-trip, and every bad input names its field."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import yaml

from persuaders.envs.game import Game, SpecError, bundled_games, load_game, random_game

KG = {
    "name": "kg",
    "states": ["innocent", "guilty"],
    "prior": [0.7, 0.3],
    "actions": ["acquit", "convict"],
    "user": {"name": "judge", "utility": [[1, 0], [0, 1]], "rationality": "inf", "observation": None},
    "speakers": [{"name": "prosecutor", "utility": [[0, 0], [1, 1]], "observation": None}],
    "messages": 2,
    "rounds": 1,
    "visibility": "public",
}


def with_change(path: str, value):
    d = copy.deepcopy(KG)
    node = d
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[int(key)] if key.isdigit() else node[key]
    last = keys[-1]
    if value is DELETE:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return d


DELETE = object()


def test_bundled_games_load_and_round_trip():
    names = bundled_games()
    for required in ["kg", "kg_logit", "hull_pair", "prosecutor_defence", "kg_witness", "hull_pair_private"]:
        assert required in names
    for name in names:
        g = load_game(name)
        again = Game.from_dict(yaml.safe_load(g.to_yaml()))
        assert again.name == g.name
        np.testing.assert_array_equal(again.prior, g.prior)
        np.testing.assert_array_equal(again.user.utility, g.user.utility)
        assert again.user.model.rationality == g.user.model.rationality
        for a, b in zip(again.speakers, g.speakers, strict=True):
            np.testing.assert_array_equal(a.observation, b.observation)
        for a, b in zip(again.user.conversation, g.user.conversation, strict=True):
            np.testing.assert_array_equal(a, b)


def test_kg_contents():
    g = load_game("kg")
    assert math.isinf(g.user.model.rationality)
    np.testing.assert_allclose(g.prior, [0.7, 0.3])
    np.testing.assert_array_equal(g.speakers[0].observation, np.eye(2))
    assert g.user.n_signals == 1 and g.user_message_counts == (1,)
    assert load_game("kg_logit").user.model.rationality == 10
    witness = load_game("kg_witness")
    assert witness.user.n_signals == 2 and witness.user_message_counts == (2, 1)
    assert load_game("hull_pair_private").visibility == "private"


def test_load_from_path_and_mapping(tmp_path):
    p = tmp_path / "g.yaml"
    p.write_text(yaml.safe_dump(KG))
    assert load_game(str(p)).name == "kg"
    assert load_game(KG).speaker_names == ("prosecutor",)


@pytest.mark.parametrize(
    "path,value,field,words",
    [
        ("prior", [0.7, 0.4], "prior", "sum to 1"),
        ("prior", [1.2, -0.2], "prior", "nonnegative"),
        ("prior", [0.5, 0.25, 0.25], "prior", "shape"),
        ("prior", [0.5, float("nan")], "prior", "finite"),
        ("user.utility", [[1, 0, 0], [0, 1, 0]], "user.utility", "shape 2x2"),
        ("user.utility", [[1, 0], [0, 1], [1, 1]], "user.utility", "shape 2x2"),
        ("user.utility", [[1, float("nan")], [0, 1]], "user.utility", "finite"),
        ("user.utility", [[1, float("inf")], [0, 1]], "user.utility", "finite"),
        ("user.utility", [[1, "x"], [0, 1]], "user.utility", "numbers"),
        ("user.utility", [[1, 0], [0]], "user.utility", "shape"),
        ("speakers.0.utility", [[0, 0]], "speakers[0].utility", "shape 2x2"),
        ("speakers.0.utility", [[0, float("nan")], [1, 1]], "speakers[0].utility", "finite"),
        ("speakers.0.observation", [[0.5, 0.6], [0, 1]], "speakers[0].observation", "sum to 1"),
        ("speakers.0.observation", [[1.5, -0.5], [0, 1]], "speakers[0].observation", "nonnegative"),
        ("speakers.0.observation", [[1, 0]], "speakers[0].observation", "shape 2x?"),
        ("user.observation", [[0.5, 0.4], [0.5, 0.5]], "user.observation", "sum to 1"),
        ("user.rationality", 0, "user.rationality", "> 0"),
        ("user.rationality", -3, "user.rationality", "> 0"),
        ("user.rationality", "fast", "user.rationality", "number or inf"),
        ("user.rationality", float("nan"), "user.rationality", "finite"),
        ("messages", 0, "messages", ">= 1"),
        ("messages", 1.5, "messages", "integer"),
        ("rounds", 0, "rounds", ">= 1"),
        ("visibility", "secret", "visibility", "public, private"),
        ("states", ["a", "a"], "states", "duplicate"),
        ("actions", ["acquit", "acquit"], "actions", "duplicate"),
        ("speakers", [], "speakers", "non-empty"),
        ("speakers.0.name", "judge", "user.name", "distinct"),
        ("user.conversation", "shout", "user.conversation", "silent, reveal"),
        ("user.conversation", [[[1]], [[1]]], "user.conversation", "one channel"),
        ("user.conversation", [[[0.5, 0.6]]], "user.conversation[0]", "sum to 1"),
        ("name", DELETE, "name", "missing"),
        ("prior", DELETE, "prior", "missing"),
        ("user.utility", DELETE, "user.utility", "missing"),
        ("speakers.0.name", DELETE, "speakers[0].name", "missing"),
        ("colour", "blue", "colour", "allowed keys are: name, description, states"),
        ("user.mood", 1, "user.mood", "allowed keys are: name, utility, model, rationality"),
        ("speakers.0.budget", 1, "speakers[0].budget", "allowed keys are: name, utility, observation"),
    ],
)
def test_bad_input_names_the_field(path, value, field, words):
    with pytest.raises(SpecError) as err:
        Game.from_dict(with_change(path, value))
    msg = str(err.value)
    assert msg.startswith(field + ":"), msg
    assert words in msg, msg


def test_duplicate_speaker_names():
    d = copy.deepcopy(KG)
    d["speakers"] = [d["speakers"][0], copy.deepcopy(d["speakers"][0])]
    with pytest.raises(SpecError, match=r"^speakers: duplicate speaker names: prosecutor"):
        Game.from_dict(d)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(SpecError, match="neither a bundled game"):
        load_game("no_such_game")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_game(str(bad))


@pytest.mark.parametrize("text", ["?\n", "1: 2\n", "null: x\n"])
def test_keys_that_are_not_text_are_named(tmp_path, text):
    path = tmp_path / "odd.yaml"
    path.write_text(text)
    with pytest.raises(SpecError, match=r"^game: .* has a key that is not text"):
        load_game(str(path))


def test_inf_spellings():
    for spelling in ["inf", ".inf", float("inf")]:
        assert math.isinf(Game.from_dict(with_change("user.rationality", spelling)).user.model.rationality)
    assert math.isinf(yaml.safe_load("x: .inf")["x"])


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("k", [1, 3, 6])
def test_random_games_control_the_hull_distance(seed, k):
    """Check eps with an LP written here (independent of eval.theory)."""
    from scipy.optimize import linprog

    def sup_distance(game, simplex):
        us = game.speaker_utilities.reshape(game.n_speakers, -1).T  # [n, k]
        u = game.user.utility.ravel()
        n, kk = us.shape
        # variables w (k), c, t: minimise t
        cost = np.r_[np.zeros(kk + 1), 1.0]
        a_ub = np.block([[us, np.ones((n, 1)), -np.ones((n, 1))], [-us, -np.ones((n, 1)), -np.ones((n, 1))]])
        b_ub = np.r_[u, -u]
        a_eq = np.r_[np.ones(kk), 0, 0][None] if simplex else None
        res = linprog(
            cost,
            a_ub,
            b_ub,
            a_eq,
            [1.0] if simplex else None,
            bounds=[(0, None)] * kk + [(None, None), (0, None)],
            method="highs",
        )
        return res.fun

    inside = random_game(k, 3, 2, seed=seed, regime="inside")
    assert sup_distance(inside, True) < 1e-9
    assert np.all((inside.user.utility >= 0) & (inside.user.utility <= 1))
    outside = random_game(k, 3, 2, seed=seed, regime="outside", epsilon=0.25)
    assert sup_distance(outside, False) >= 0.25 - 1e-9
    assert sup_distance(outside, True) >= 0.25 - 1e-9
    assert np.all((outside.user.utility >= 0) & (outside.user.utility <= 1))
    # Seeded: the same seed gives the same game.
    np.testing.assert_array_equal(random_game(k, 3, 2, seed=seed).user.utility, inside.user.utility)


def test_random_game_from_string():
    g = load_game("random:k=3,states=3,actions=2,seed=4,regime=outside,epsilon=0.2,rationality=10")
    assert g.n_speakers == 3 and g.n_states == 3 and g.user.model.rationality == 10
    with pytest.raises(SpecError, match="unknown random game option 'colour'"):
        load_game("random:k=2,colour=red")
    with pytest.raises(SpecError, match="epsilon"):
        random_game(2, 2, 2, regime="outside", epsilon=0.9)
