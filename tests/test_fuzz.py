"""Fuzzed game files, configs and options: every input ends in a clear error or a valid result.

"Clear error" means a :class:`SpecError` (a ``ValueError`` naming the field); no other exception
may escape, and a valid game must get its analytic quantities and an exact evaluation.
"""

from __future__ import annotations

import copy
import importlib
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
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
from tests.commands import ROOT
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
    event("error")


@pytest.mark.slow
@settings(max_examples=examples(60), **SETTINGS)
@given(mutated_games())
def test_fuzzed_games_written_as_yaml_files(tmp_path_factory, d):
    path = tmp_path_factory.mktemp("g") / "game.yaml"
    try:
        path.write_text(yaml.safe_dump(d))
    except (ValueError, yaml.YAMLError):  # nan/inf keys and the like that YAML cannot represent
        event("not writable as YAML")
        return
    try:
        game = load_game(str(path))
    except SpecError:
        event("error")
        return
    event("valid game")
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
    try:
        load_config(None, ["game=kg", *overrides])
    except SpecError:
        event("error")
        return
    event("valid config")


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
        event("error")
        return
    event("valid environment")
    env.reset(seed=0)
    while env.agents:
        env.step({a: np.zeros(env.action_space(a).shape) for a in env.agents})


# ---------------------------------------------------------------------------------- untrusted files
# Files and options someone else wrote (docs/trust.md): each case ends in one "error: FIELD ..." line
# with exit status 2, and no file outside the run folder (or the given file's folder) changes.
def _snapshot(root: Path, skip: Path | None = None) -> dict[str, tuple[int, bytes]]:
    """Every file under ``root`` (symlinks not followed; ``skip`` left out): mode and content."""
    out = {}
    for p in sorted(root.rglob("*")):
        if skip is not None and (p == skip or skip in p.parents):
            continue
        if p.is_symlink():
            out[p.relative_to(root).as_posix()] = (0, os.readlink(p).encode())
        elif p.is_file():
            out[p.relative_to(root).as_posix()] = (p.stat().st_mode, p.read_bytes())
    return out


def _nest(depth: int) -> str:
    return "messages: " + "[" * depth + "1" + "]" * depth + "\n"


def _alias_bomb(levels: int = 9) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


KG = (ROOT / "configs" / "games" / "kg.yaml").read_text()


def _fake_run(run: Path, extra: list[str]) -> None:
    """A run folder as a previous run leaves it, with ``extra`` entries added to its manifest."""
    run.mkdir()
    (run / "config.yaml").write_text("game: kg_logit\n")
    (run / "summary.json").write_text("{}\n")
    (run / "checkpoint.pt").write_bytes(b"x")
    (run / ".run_files.json").write_text(
        json.dumps({"files": ["config.yaml", "summary.json", "checkpoint.pt", *extra]})
    )


def _train_case(setup: Callable[[Path], list[str]]) -> Callable[[Path], tuple[Callable[..., int], list[str]]]:
    from persuaders.cli.train import main

    return lambda tmp: (main, setup(tmp))


def _run_tampered(tmp: Path, entry: Callable[[Path], str], link: bool = False) -> list[str]:
    _fake_run(tmp / "run", [entry(tmp)])
    if link:
        (tmp / "run" / "out").symlink_to(tmp)
    return ["--config", "kg_logit", "--set", "total_steps=2048", "--out", str(tmp / "run"), "--overwrite"]


def _symlinked_summary(tmp: Path) -> list[str]:
    _fake_run(tmp / "run", [])
    (tmp / "run" / "summary.json").unlink()
    (tmp / "run" / "summary.json").symlink_to(tmp / "outside.txt")
    return ["--config", "kg_logit", "--out", str(tmp / "run"), "--overwrite", "--no-progress"]


def _deep_manifest(tmp: Path) -> list[str]:
    """A manifest nested 100,000 levels deep: read as no manifest, so nothing is the library's to delete."""
    _fake_run(tmp / "run", [])
    (tmp / "run" / ".run_files.json").write_text("[" * 100_000 + "]" * 100_000)
    return ["--config", "kg_logit", "--out", str(tmp / "run"), "--overwrite", "--no-progress"]


def _symlinked_lock(tmp: Path) -> list[str]:
    (tmp / "run").mkdir()
    (tmp / "run" / ".lock").symlink_to(tmp / "outside.txt")
    return ["--config", "kg_logit", "--out", str(tmp / "run"), "--no-progress"]


def _write(name: str, text: str) -> Callable[[Path], str]:
    def make(tmp: Path) -> str:
        (tmp / "given").mkdir(exist_ok=True)
        (tmp / "given" / name).write_text(text)
        return str(tmp / "given" / name)

    return make


def _cmd(module: str, *argv: str | Callable[[Path], str]) -> Callable[[Path], tuple[Callable[..., int], list[str]]]:
    def build(tmp: Path) -> tuple[Callable[..., int], list[str]]:
        main = importlib.import_module(f"persuaders.cli.{module}").main
        return main, [a(tmp) if callable(a) else a for a in argv]

    return build


def _summary(tmp: Path, drop: str = "speaker_values", text: str | None = None) -> str:
    (tmp / "run").mkdir()
    summary = {"game": "kg", "protocol": "simultaneous", "user_value": 0.5, "speaker_values": {"p": 0.1}}
    summary.update({"schemes": {}, "bounds": {"single_sender": {"p": {}}}})
    summary.pop(drop, None)
    (tmp / "run" / "summary.json").write_text(text if text is not None else json.dumps(summary))
    return str(tmp / "run")


def _linked(tmp: Path, name: str) -> str:
    """A run folder whose ``name`` is a symlink to a folder or file outside it."""
    run = Path(_summary(tmp, drop=""))
    target = tmp / "outside.txt"
    if name != "tb":
        (run / name).unlink(missing_ok=True)
    else:
        target = tmp / "elsewhere"
        target.mkdir()
    (run / name).symlink_to(target)
    return str(run)


UNTRUSTED = {
    # tampered manifests and run folders
    "manifest-relative-escape": ("run_files", _train_case(lambda t: _run_tampered(t, lambda t: "../outside.txt"))),
    "manifest-absolute": ("run_files", _train_case(lambda t: _run_tampered(t, lambda t: str(t / "outside.txt")))),
    "manifest-symlink-out": ("run_files", _train_case(lambda t: _run_tampered(t, lambda t: "out/outside.txt", True))),
    "manifest-deep-json": ("--out", _train_case(_deep_manifest)),
    "summary-symlinked-out": ("summary.json", _train_case(_symlinked_summary)),
    "lock-symlinked-out": (".lock", _train_case(_symlinked_lock)),
    "resume-without-checkpoint": (
        "--resume",
        _train_case(lambda t: ["--resume", str(Path(_write("config.yaml", "game: kg_logit\n")(t)).parent)]),
    ),
    "resume-with-config": ("--config", _train_case(lambda t: ["--resume", str(t), "--config", "kg_logit"])),
    "resume-with-out": ("--out", _train_case(lambda t: ["--resume", str(t), "--out", str(t / "x")])),
    "out-is-a-file": ("--out", _train_case(lambda t: ["--config", "kg_logit", "--out", str(t / "outside.txt")])),
    # values where they enter
    "seed-1e300": ("seed", _cmd("train", "--config", "kg_logit", "--set", "seed=1.0e+300")),
    "minibatches-over-batch": (
        "ppo.num_minibatches",
        _cmd("train", "--config", "kg_logit", "--set", "ppo.num_minibatches=100000"),
    ),
    "target-unknown-speaker": (
        "target.speaker",
        _cmd("train", "--config", "kg_logit", "--set", "target={speaker: judge, value: 1, tol: 0.1}"),
    ),
    "set-alias-bomb": (
        "seed",
        _cmd("train", "--config", "kg_logit", "--set", "seed=" + _alias_bomb().replace("\n", "\n")),
    ),
    "config-duplicate-key": ("config", _cmd("train", "--config", _write("c.yaml", "game: kg\nseed: 1\nseed: 2\n"))),
    "config-deep": ("config", _cmd("train", "--config", _write("c.yaml", "game: kg\nppo: " + "[" * 5000 + "]" * 5000))),
    "config-game-escapes": ("game", _cmd("train", "--config", _write("c.yaml", "game: ../outside.yaml\n"))),
    "config-game-absolute": ("game", _cmd("train", "--config", _write("c.yaml", "game: /etc/hostname.yaml\n"))),
    # sizes
    "rounds-1e9": ("rounds", _cmd("bounds", _write("g.yaml", KG.replace("rounds: 1", "rounds: 1000000000")))),
    "random-states-1e5": ("states", _cmd("bounds", "random:k=2,states=100000")),
    "competition-states-1e5": ("states", _cmd("experiment", "competition", "--states", "100000", "--games", "1")),
    "grid-1e9": ("grid", _cmd("dynamics", "kg_logit", "--grid", "1000000000", "--no-progress")),
    "grid-negative": ("grid", _cmd("dynamics", "kg_logit", "--grid", "-5", "--no-progress")),
    # YAML that expands
    "game-alias-bomb": ("game", _cmd("bounds", _write("g.yaml", _alias_bomb()))),
    "game-deep-5000": ("game", _cmd("bounds", _write("g.yaml", _nest(5000)))),
    "game-deep-block": (
        "game",
        _cmd("bounds", _write("g.yaml", "x:\n" + "".join("  " * i + "- \n" for i in range(1, 60)))),
    ),
    "game-duplicate-key": ("game", _cmd("bounds", _write("g.yaml", KG + "rounds: 2\n"))),
    "competition-config-list": (
        "config",
        _cmd("experiment", "competition", "--config", _write("c.yaml", "- 1\n- 2\n")),
    ),
    "competition-config-alias": (
        "config",
        _cmd("experiment", "competition", "--config", _write("c.yaml", _alias_bomb())),
    ),
    # non-finite and out-of-range options
    "tol-nan": ("tol", _cmd("dynamics", "kg_logit", "--tol", "nan", "--no-progress")),
    "tol-negative": ("tol", _cmd("dynamics", "kg_logit", "--tol=-1", "--no-progress")),
    "tol-inf": ("tol", _cmd("dynamics", "kg_logit", "--tol", "inf", "--no-progress")),
    "tolerance-nan": ("tolerance", _cmd("dynamics", "kg_logit", "--tolerance", "nan", "--no-progress")),
    "max-passes-0": ("max_passes", _cmd("dynamics", "kg_logit", "--max-passes", "0", "--no-progress")),
    "max-passes-negative": ("max_passes", _cmd("dynamics", "kg_logit", "--max-passes=-1", "--no-progress")),
    "n-eval-text": (
        "--n-eval",
        _cmd("exploitability", _write("s.yaml", "prosecutor: [[1, 0], [0, 1]]\n"), "--game", "kg", "--n-eval", "abc"),
    ),
    "report-no-speaker-values": ("speaker_values", _cmd("report", _summary)),
    "report-tb-symlinked-out": ("tb", _cmd("report", lambda t: _linked(t, "tb"))),
    "profile-symlinked-out": ("profile", _cmd("exploitability", lambda t: _linked(t, "summary.json"))),
    "report-duplicate-key": ("summary", _cmd("report", lambda t: _summary(t, text='{"game": "kg", "game": "x"}'))),
    "hull-seed-negative": ("--seed", _cmd("hull", "--seed", "-1")),
}


@pytest.mark.parametrize("case", sorted(UNTRUSTED))
def test_untrusted_input_ends_in_one_named_error_and_touches_nothing_outside(case, tmp_path, cli):
    field, build = UNTRUSTED[case]
    (tmp_path / "outside.txt").write_text("mine\n")
    (tmp_path / "outside.yaml").write_text(KG)
    main, argv = build(tmp_path)
    siblings = _snapshot(tmp_path.parent, skip=tmp_path)
    before = _snapshot(tmp_path, skip=tmp_path / "run")
    res = cli(main, *argv)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert field in lines[0], lines[0]
    assert _snapshot(tmp_path, skip=tmp_path / "run") == before
    if case in ("manifest-deep-json", "manifest-relative-escape", "manifest-absolute", "manifest-symlink-out"):
        assert (tmp_path / "run" / "config.yaml").read_text() == "game: kg_logit\n"  # nothing deleted inside either
    assert _snapshot(tmp_path.parent, skip=tmp_path) == siblings
    assert (tmp_path / "outside.txt").read_text() == "mine\n"


ENTRIES = st.one_of(
    st.sampled_from(["config.yaml", "summary.json", "tb/events.1", "notes/../config.yaml", "./summary.json"]),
    st.sampled_from(["../outside.txt", "../../x", "/etc/hostname", "link/outside.txt", "tb/../../outside.txt", ""]),
    st.text(alphabet="ab./\\-~\x00", min_size=0, max_size=8),
    st.one_of(st.none(), st.integers(), st.lists(st.just("a"), max_size=1)),
)


@settings(max_examples=examples(120), **SETTINGS)
@given(
    st.one_of(
        st.lists(st.sampled_from(["config.yaml", "summary.json", "tb/events.1"]), max_size=4),
        st.lists(ENTRIES, max_size=5),
    )
)
def test_fuzzed_manifests_delete_only_inside_the_run_folder(tmp_path_factory, entries):
    """Any manifest: --overwrite removes only listed files inside the folder, or refuses and removes nothing."""
    from persuaders.train.rundir import prepare_run_dir

    root = tmp_path_factory.mktemp("m")
    (root / "outside.txt").write_text("mine\n")
    run = root / "run"
    (run / "tb").mkdir(parents=True)
    for name in ("config.yaml", "summary.json", "tb/events.1", "notes.txt"):
        (run / name).write_text(name)
    (run / "link").symlink_to(root)
    (run / ".run_files.json").write_text(json.dumps({"files": entries}))
    outside = _snapshot(root, skip=run)
    inside = _snapshot(run)
    try:
        prepare_run_dir(run, overwrite=True)
    except SpecError as exc:
        event(f"error: {exc.field}")
        if exc.field == ".run_files.json":  # an entry that leaves the folder: nothing removed
            assert _snapshot(run) == inside
        else:  # a file the new run would write was not listed: it is kept, the listed ones went
            assert exc.field == "--out"
            assert any(
                str(run / n) in exc.message and (run / n).read_text() == n for n in ("config.yaml", "summary.json")
            )
        assert (run / "notes.txt").read_text() == "notes.txt"
    else:
        event("cleaned")
        assert (run / "notes.txt").read_text() == "notes.txt"  # never listed: kept
        assert not any((run / e).exists() for e in entries)  # every listed file is gone
    assert _snapshot(root, skip=run) == outside


YAML_PIECES = st.sampled_from(["&a ", "*a", "[", "]", "{", "}", "- ", "k: ", "k: ", "\n  ", "\n", "1e-3", ", ", "<<: "])


@settings(max_examples=examples(100), **SETTINGS)
@given(st.lists(YAML_PIECES, max_size=40), st.sampled_from([0, 1, 31, 32, 33, 200]))
def test_fuzzed_yaml_never_expands_or_raises_anything_but_a_named_error(pieces, depth):
    """Anchors, aliases, merges and nesting in any order: data or one SpecError naming the field."""
    from persuaders.envs.game.safe_yaml import parse_yaml

    text = "[" * depth + "".join(pieces) + "]" * depth
    try:
        data = parse_yaml(text, "fuzz.yaml", "game")
    except SpecError as exc:
        assert exc.field == "game" and "\n" not in str(exc)
        event("error")
        return
    event("data")
    assert len(repr(data)) <= 10 * len(text) + 20  # no alias expansion: the data is as large as the text
