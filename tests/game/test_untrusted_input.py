"""The game layer's defences against files someone else wrote: the one YAML reader, size limits,
paths named inside files, seeds and real-valued arrays (docs/trust.md)."""

from __future__ import annotations

import numpy as np
import pytest

from persuaders.envs.game import Game, SpecError, load_game
from persuaders.envs.game.catalog import path_in_file
from persuaders.envs.game.limits import Limits, game_entries, limits, lp_size
from persuaders.envs.game.random_games import random_game
from persuaders.envs.game.safe_yaml import parse_json, parse_yaml, read_yaml
from persuaders.envs.game.validation import MAX_SEED, as_real_array, as_seed
from tests.commands import ROOT

ROOT_GAMES = ROOT / "configs" / "games"


# ---------------------------------------------------------------------------------- the YAML reader
@pytest.mark.parametrize(
    ("text", "value"),
    [("1e-3", 0.001), ("5E+2", 500.0), ("-2e4", -20000.0), ("1.5e-3", 0.0015), ("1e", "1e"), ("e5", "e5"), ("7", 7)],
)
def test_exponent_numbers_are_numbers_as_in_yaml_1_2(text, value):
    got = parse_yaml(f"x: {text}", "t.yaml", "f")["x"]
    assert got == value and type(got) is type(value)


def test_duplicate_keys_are_named_with_both_lines():
    with pytest.raises(SpecError, match=r"^game: t\.yaml: line 4: duplicate key 'b' \(first given on line 2\)$"):
        parse_yaml("a: 1\nb:\n  c: 1\nb: 2\n", "t.yaml", "game")
    with pytest.raises(SpecError, match=r"line 3: duplicate key 'c'"):
        parse_yaml("b:\n  c: 1\n  c: 2\n", "t.yaml", "game")


def test_aliases_are_refused_and_anchors_alone_are_harmless():
    assert parse_yaml("a: &x 1\nb: 2\n", "t.yaml", "f") == {"a": 1, "b": 2}
    with pytest.raises(SpecError, match=r"^f: t\.yaml: line 2: alias \*x is not allowed"):
        parse_yaml("a: &x [1, 2]\nb: *x\n", "t.yaml", "f")


def test_nesting_is_counted_in_nodes_and_refused_past_the_limit():
    """``m: [[...[1]...]]`` with ``d`` brackets nests ``d + 2`` nodes (mapping, d lists, scalar)."""
    depth = limits.yaml_depth
    assert parse_yaml("m: " + "[" * (depth - 2) + "1" + "]" * (depth - 2), "t", "f") is not None
    with pytest.raises(SpecError, match=f"nesting deeper than {depth} levels"):
        parse_yaml("m: " + "[" * (depth - 1) + "1" + "]" * (depth - 1), "t", "f")
    with pytest.raises(SpecError, match=r"nesting deeper"):  # no RecursionError
        parse_yaml("[" * 5000 + "]" * 5000, "t", "f")


def test_oversized_files_are_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "g.yaml"
    path.write_text("a: " + "x" * 146 + "\n")  # 150 bytes
    monkeypatch.setattr(limits, "yaml_bytes", 100)
    with pytest.raises(SpecError, match=r"^game: .*g\.yaml is 150 bytes, larger than the limit of 100"):
        read_yaml(path, "game")
    monkeypatch.setattr(limits, "yaml_bytes", 150)
    assert read_yaml(path, "game") == {"a": "x" * 146}


def test_json_duplicate_keys_and_deep_nesting_are_named():
    with pytest.raises(SpecError, match=r"^summary: s\.json: duplicate key 'a'$"):
        parse_json('{"a": 1, "a": 2}', "s.json", "summary")
    with pytest.raises(SpecError, match=r"^summary: s.json is nested too deeply$"):
        parse_json("[" * 100_000 + "]" * 100_000, "s.json", "summary")


def test_a_game_file_with_a_duplicate_key_is_refused(tmp_path):
    text = (ROOT_GAMES / "kg.yaml").read_text()
    (tmp_path / "g.yaml").write_text(text + "messages: 3\n")
    with pytest.raises(SpecError, match=r"duplicate key 'messages'"):
        load_game(str(tmp_path / "g.yaml"))


# ---------------------------------------------------------------------------------- size limits
def test_the_entries_of_a_game_follow_the_stated_formula():
    """kg: Y=2, A=2, one speaker seeing the state (X=2), M=2, R=1, a silent user (X0=Z=1):
    2 * (2 * 2 + 1 + 2) + 1 * (2 * 2 + 1 * 1) = 19 entries."""
    assert game_entries(2, 2, [2], 2, 1) == 19
    kg = load_game("kg")
    assert (kg.n_states, kg.n_actions, kg.n_speakers, kg.messages, kg.rounds) == (2, 2, 1, 2, 1)


def test_the_entries_limit_refuses_a_game_before_it_is_built(monkeypatch):
    d = load_game("kg").to_dict()
    monkeypatch.setattr(limits, "entries", 18)
    with pytest.raises(
        SpecError, match=r"^game: the game \(2 states.*would hold 19 entries, more than the limit of 18"
    ):
        Game.from_dict(d)
    monkeypatch.setattr(limits, "entries", 19)
    assert Game.from_dict(d).n_states == 2


def test_rounds_past_the_limit_are_refused_and_the_limit_can_be_raised(monkeypatch):
    d = load_game("kg").to_dict()
    d["rounds"] = 1_000_000_000
    with pytest.raises(
        SpecError, match=r"^rounds: 1000000000 is more than the limit of 1000 rounds \(set PERSUADERS_MAX_ROUNDS"
    ):
        Game.from_dict(d)
    d["rounds"] = limits.rounds + 1
    with pytest.raises(SpecError, match=r"^rounds:"):
        Game.from_dict(d)
    monkeypatch.setattr(limits, "rounds", limits.rounds + 1)
    assert Game.from_dict(d).rounds == limits.rounds


def test_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("PERSUADERS_MAX_STATES", "12")
    monkeypatch.setenv("PERSUADERS_MAX_ENTRIES", "1e9")
    got = Limits.from_environment()
    assert (got.states, got.entries, got.rounds) == (12, 10**9, Limits().rounds)
    monkeypatch.setenv("PERSUADERS_MAX_STATES", "many")
    with pytest.raises(SpecError, match=r"^PERSUADERS_MAX_STATES: expected a positive integer, got 'many'$"):
        load_game("kg")  # a malformed setting is named when a limit is used


def test_random_games_are_refused_before_any_draw(monkeypatch):
    with pytest.raises(SpecError, match=r"^states: 100000 is more than the limit of 10000 states"):
        random_game(2, 100_000)
    with pytest.raises(SpecError, match=r"^game: random game option states:"):
        load_game("random:k=2,states=100000")
    monkeypatch.setattr(limits, "entries", 50)
    # k=2, Y=3, A=2, M=3, R=1: 3 * (2 * 3 + 1 + 6) + 1 * (6 * 3 + 1) = 58 entries
    assert game_entries(3, 2, [3, 3], 3, 1) == 58
    with pytest.raises(SpecError, match=r"would hold 58 entries"):
        random_game(2, 3)
    assert random_game(2, 2).n_states == 2  # 2 * (2 * 3 + 1 + 4) + (4 * 2 + 1) = 31 entries


def test_the_theory_linear_program_is_bounded_by_rows_times_columns(monkeypatch):
    """Obedience LP of a speaker seeing Y states among A actions, silent user (X0 = 1):
    A (A - 1) Y rows over A Y columns."""
    assert lp_size(2, [2]) == 2 * 1 * 2 * (2 * 2)
    assert lp_size(60, [100, 3]) == 60 * 59 * 100 * (60 * 100)
    assert lp_size(10, [2], user_signals=2) == 10 * 9 * 2 * 2 * (10**2 * 2)
    assert lp_size(1000, [2], user_signals=10_000) == float("inf")
    with pytest.raises(SpecError, match=r"linear program .* would hold 2\.12e\+09 rows x columns, more than the limit"):
        random_game(2, 100, 60)
    d = random_game(2, 100, 30).to_dict()  # 30 * 29 * 100 * 3000 = 2.61e8 rows x columns: within the limit
    monkeypatch.setattr(limits, "lp_size", 261_000_000 - 1)
    with pytest.raises(SpecError, match=r"^actions: the theory's linear program \(30 actions"):
        Game.from_dict(d)


# ---------------------------------------------------------------------------------- paths and values
def test_paths_named_in_a_file_stay_in_its_folder(tmp_path):
    folder = tmp_path / "given"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "g.yaml").write_text("")
    assert path_in_file("sub/g.yaml", folder, "game", "c.yaml") == folder / "sub" / "g.yaml"
    (folder / "out").symlink_to(tmp_path)
    for bad in ("../g.yaml", str(tmp_path / "g.yaml"), "sub/../../g.yaml", "out/g.yaml"):
        with pytest.raises(SpecError, match=r"^game: .* in c\.yaml (leaves|leads out of) the folder"):
            path_in_file(bad, folder, "game", "c.yaml")


@pytest.mark.parametrize("bad", [-1, MAX_SEED + 1, 1.0e300, 0.5, True, "3"])
def test_seeds_out_of_range_are_named(bad):
    with pytest.raises(SpecError, match=r"^seed: "):
        as_seed(bad)


def test_seeds_in_range_pass():
    assert (as_seed(0), as_seed(MAX_SEED), as_seed(7.0)) == (0, 2**32 - 1, 7)


def test_complex_arrays_are_refused_not_truncated():
    with pytest.raises(SpecError, match=r"^action: expected real numbers, got complex values$"):
        as_real_array(np.array([1.0, 2.0 + 1e-9j]), "action")
    with pytest.raises(SpecError, match=r"complex"):
        as_real_array([1.0, 1j], "action")
    assert as_real_array([1, 2.5], "action").tolist() == [1.0, 2.5]
