"""Fuzzed game files, configs and options: every input ends in a clear error or a valid result.

"Clear error" means a :class:`SpecError` (a ``ValueError`` naming the field); no other exception
may escape, and a valid game must get its analytic quantities and an exact evaluation.
"""

from __future__ import annotations

import contextlib
import copy
import math
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from persuaders.envs import persuasion_v0
from persuaders.envs.game import Game, SpecError, load_game
from persuaders.envs.game.schemes import babbling_scheme
from persuaders.envs.payoff import evaluate
from persuaders.envs.payoff.engine import EnumerationTooLarge
from persuaders.eval.theory import analytic_quantities
from persuaders.train.config import load_config, validate_config
from tests.hypothesis_profiles import examples

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
BASES = {
    name: load_game(name).to_dict() for name in ("kg", "kg_logit", "hull_pair_private", "noisy_advisors", "kg_witness")
}

ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 5),
    st.sampled_from([0.0, -1.0, 1e300, -1e300, math.nan, math.inf, 0.5, 1e-320]),
    st.text(max_size=6),
    st.sampled_from(["inf", "silent", "reveal", "public", "private", "logit", "best_response"]),
    st.lists(st.floats(-2, 2, allow_nan=False), max_size=4),
    st.lists(st.lists(st.integers(-1, 2), max_size=3), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a node of a nested mapping/list."""
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _plausible(draw: Any, d: dict) -> None:
    """A change that often keeps the game valid: sizes, protocols of speech, users, channels."""
    n_y = len(d["states"]) if isinstance(d.get("states"), list) else 2
    kind = draw(st.sampled_from(["messages", "rounds", "visibility", "user", "channel", "speakers", "utility"]))
    if kind in ("messages", "rounds"):
        d[kind] = draw(st.integers(1, 3))
    elif kind == "visibility":
        d["visibility"] = draw(st.sampled_from(["public", "private"]))
    elif kind == "user":
        d["user"].pop("model", None)
        d["user"].pop("rationality", None)
        d["user"].update(
            draw(
                st.sampled_from(
                    [
                        {"rationality": "inf"},
                        {"rationality": 0.5},
                        {"model": "logit", "rationality": 30},
                        {"model": "best_response"},
                    ]
                )
            )
        )
        d["user"]["conversation"] = draw(st.sampled_from(["silent", "reveal", None]))
    elif kind == "channel":
        rows = np.random.default_rng(draw(st.integers(0, 99))).dirichlet(np.ones(draw(st.integers(1, 3))), size=n_y)
        target = d["user"] if draw(st.booleans()) else d["speakers"][0]
        target["observation"] = rows.tolist()
    elif kind == "speakers":
        if draw(st.booleans()) and len(d["speakers"]) > 1:
            d["speakers"].pop()
        else:
            new = copy.deepcopy(d["speakers"][0])
            new["name"] = f"extra{len(d['speakers'])}"
            d["speakers"].append(new)
    else:
        u = np.asarray(d["speakers"][0]["utility"], dtype=float)
        d["speakers"][0]["utility"] = (u + draw(st.floats(-1, 1))).tolist()


def _mutate(draw: Any, d: dict, values: Any, new_keys: list[str]) -> None:
    """Replace, delete or add one node of a nested mapping (in place)."""
    path = draw(st.sampled_from(_paths(d)))
    parent = d
    for key in path[:-1]:
        parent = parent[key]
    action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
    if action == "replace":
        parent[path[-1]] = draw(values)
    elif action == "delete":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[draw(st.sampled_from(new_keys))] = draw(values)
    else:
        parent.append(draw(values))


@st.composite
def mutated_games(draw: Any) -> dict:
    d = copy.deepcopy(BASES[draw(st.sampled_from(sorted(BASES)))])
    for _ in range(draw(st.integers(0, 2))):
        _plausible(draw, d)
    for _ in range(draw(st.integers(0, 2))):
        _mutate(draw, d, ODD_VALUES, ["colour", "rationality", "model", "epsilon", "observation"])
    return d


def _use(game: Game) -> None:
    """A valid game must get its analytic quantities and an exact evaluation (or refuse by size)."""
    try:
        q = analytic_quantities(game)
    except EnumerationTooLarge:
        return
    assert 0 <= len(q["single_sender"]) == game.n_speakers
    try:
        out = evaluate(game, [babbling_scheme(game, i) for i in range(game.n_speakers)])
    except EnumerationTooLarge:
        return
    assert math.isfinite(out.user_value)


@pytest.mark.slow
@settings(max_examples=examples(250), **SETTINGS)
@given(mutated_games())
def test_fuzzed_game_files_give_a_clear_error_or_a_valid_game(d):
    try:
        game = Game.from_dict(d)
    except SpecError as exc:
        event(f"error: {exc.field.split('[')[0]}")
        return
    event("valid game")
    _use(game)


@settings(max_examples=examples(150), **SETTINGS)
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_fuzzed_bytes_as_a_game_file_give_a_clear_error(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("g") / "game.yaml"
    path.write_bytes(content)
    with pytest.raises(SpecError, match="^game"):
        load_game(str(path))


@pytest.mark.slow
@settings(max_examples=examples(60), **SETTINGS)
@given(mutated_games())
def test_fuzzed_games_written_as_yaml_files(tmp_path_factory, d):
    path = tmp_path_factory.mktemp("g") / "game.yaml"
    try:
        path.write_text(yaml.safe_dump(d))
    except (ValueError, yaml.YAMLError):  # nan/inf keys and the like that YAML cannot represent
        return
    try:
        game = load_game(str(path))
    except SpecError:
        return
    _use(game)


CONFIG_BASE = {
    "game": "kg_logit",
    "total_steps": 4096,
    "n_envs": 256,
    "ppo": {"learning_rate": 0.005},
    "speakers": {"prosecutor": {"learner": "ppo"}},
    "target": {"speaker": "prosecutor", "value": 0.44, "tol": 0.01},
}


@st.composite
def mutated_configs(draw: Any) -> dict:
    d = copy.deepcopy(CONFIG_BASE)
    values = st.one_of(ODD_VALUES, st.sampled_from(["best_ai", "babbling", "fixed", "sample", "exact"]))
    for _ in range(draw(st.integers(1, 3))):
        _mutate(
            draw, d, values, ["protocol", "n_eval", "reward_mode", "learner", "seed", "rationality", "colour", "path"]
        )
    return d


@settings(max_examples=examples(300), **SETTINGS)
@given(mutated_configs())
def test_fuzzed_training_configs_give_a_clear_error_or_a_valid_config(d):
    try:
        cfg = validate_config(d)
    except SpecError as exc:
        event(f"error: {exc.field}")
        return
    event("valid config")
    assert cfg.game and cfg.n_envs >= 1 and cfg.total_steps >= 1
    assert validate_config(cfg.to_dict()) == cfg  # the resolved config is itself valid


@settings(max_examples=examples(150), **SETTINGS)
@given(st.lists(st.text(alphabet="abcdefgnprstuvx_.=0123456789-[]{} ", max_size=24), max_size=4))
def test_fuzzed_overrides_give_a_clear_error_or_a_valid_config(overrides):
    with contextlib.suppress(SpecError):
        load_config(None, ["game=kg", *overrides])


@settings(max_examples=examples(120), **SETTINGS)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "protocol": st.one_of(ODD_VALUES, st.sampled_from(["simultaneous", "best_ai"])),
            "n_eval": st.one_of(ODD_VALUES, st.sampled_from(["exact", 3])),
            "reward_mode": st.one_of(ODD_VALUES, st.sampled_from(["sample", "expect_all"])),
            "render_mode": st.one_of(ODD_VALUES, st.sampled_from(["ansi", "human"])),
            "action_format": st.one_of(ODD_VALUES, st.sampled_from(["matrix", "flat"])),
            "agent_id": ODD_VALUES,
        },
    )
)
def test_fuzzed_environment_options_give_a_clear_error_or_an_environment(options):
    try:
        env = persuasion_v0.parallel_env("hull_pair_private", **options)
    except ValueError as exc:  # SpecError included: the message names the option
        assert any(key in str(exc) for key in options), (options, str(exc))
        return
    env.reset(seed=0)
    while env.agents:
        env.step({a: np.zeros(env.action_space(a).shape) for a in env.agents})
