"""Training configs, sweeps, run folders and reports someone else wrote (docs/trust.md): values
checked where they enter, paths confined to the folder of the file that names them."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml

from persuaders.envs.game import SpecError
from persuaders.train.config import Target, load_config
from persuaders.train.loop import train
from persuaders.train.report import check_summary
from persuaders.train.sweep_plan import load_sweep
from tests.commands import ROOT

KG_LOGIT = (ROOT / "configs" / "games" / "kg_logit.yaml").read_text()


def test_the_help_example_learning_rate_is_a_number():
    cfg = load_config(None, ["game=kg_logit", "ppo.learning_rate=1e-3", "ppo.ent_coef=5E-4"])
    ppo = cfg.hyperparameters["ppo"]
    assert ppo.learning_rate == 0.001 and ppo.ent_coef == 0.0005


def test_minibatches_may_fill_but_not_exceed_the_samples_of_an_update():
    """Each speaker's update has at least n_envs x rollout_episodes samples (one per episode)."""
    base = ["game=kg_logit", "n_envs=64", "rollout_episodes=2"]
    assert load_config(None, [*base, "ppo.num_minibatches=128"]).hyperparameters["ppo"].num_minibatches == 128
    with pytest.raises(
        SpecError, match=r"^ppo\.num_minibatches: 129 exceed the 128 samples \(n_envs x rollout_episodes\)$"
    ):
        load_config(None, [*base, "ppo.num_minibatches=129"])


def test_an_alias_in_a_set_value_is_refused_not_expanded():
    with pytest.raises(SpecError, match=r"^seed: --set seed: line 1: alias \*a is not allowed"):
        load_config(None, ["game=kg", "seed=[&a [1, 2], *a]"])


def test_a_game_named_in_a_config_file_is_read_from_its_folder(tmp_path, monkeypatch):
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "g.yaml").write_text(KG_LOGIT)
    (folder / "c.yaml").write_text("game: g.yaml\n")
    monkeypatch.chdir(tmp_path)  # the config's folder, not the working folder, resolves the name
    assert load_config(folder / "c.yaml").resolved_game.name == "kg_logit"
    (tmp_path / "elsewhere.yaml").write_text(KG_LOGIT)
    (folder / "c.yaml").write_text("game: ../elsewhere.yaml\n")
    with pytest.raises(SpecError, match=r"^game: '\.\./elsewhere\.yaml' in .*c\.yaml leaves the folder"):
        load_config(folder / "c.yaml")
    # given on the command line, a path is the user's own
    cfg = load_config(folder / "c.yaml", [f"game={tmp_path / 'elsewhere.yaml'}"])
    assert cfg.resolved_game.name == "kg_logit"


def test_a_sweep_base_stays_in_the_sweep_folder(tmp_path):
    folder = tmp_path / "sweeps"
    folder.mkdir()
    (tmp_path / "base.yaml").write_text("game: kg_logit\n")
    sweep = {"base": "../base.yaml", "grid": {"seed": [0, 1]}}
    (folder / "s.yaml").write_text(yaml.safe_dump(sweep))
    with pytest.raises(SpecError, match=r"^base: '\.\./base\.yaml' in the sweep file leaves the folder"):
        load_sweep(folder / "s.yaml")
    (folder / "base.yaml").write_text("game: kg_logit\n")
    (folder / "s.yaml").write_text(yaml.safe_dump({**sweep, "base": "base.yaml"}))
    assert [t["params"]["seed"] for t in load_sweep(folder / "s.yaml")["trials"]] == [0, 1]
    (folder / "s.yaml").write_text(yaml.safe_dump({"base": {"game": "/etc/g.yaml"}, "grid": {"seed": [0]}}))
    with pytest.raises(SpecError, match=r"^base\.game: '/etc/g\.yaml' in the sweep's base leaves the folder"):
        load_sweep(folder / "s.yaml")


def test_a_sweep_too_large_is_refused_before_its_trials_are_built(tmp_path):
    (tmp_path / "s.yaml").write_text(
        yaml.safe_dump(
            {"base": {"game": "kg_logit"}, "grid": {"seed": list(range(1000)), "n_envs": list(range(1, 201))}}
        )
    )
    with pytest.raises(
        SpecError, match=r"^grid: the sweep .* would hold 200000 games or runs, more than the limit of 100000"
    ):
        load_sweep(tmp_path / "s.yaml")


def test_resume_without_a_checkpoint_is_refused_and_nothing_is_written(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("game: kg_logit\n")
    cfg = load_config(run / "config.yaml", confine_paths=False)
    with pytest.raises(SpecError, match=r"^--resume: .* holds no checkpoint\.pt: nothing to resume"):
        train(cfg, run, resume=True, progress=False)
    assert sorted(os.listdir(run)) == ["config.yaml"]


def test_a_summary_missing_an_entry_is_named(tmp_path):
    good = {
        "game": "kg",
        "protocol": "simultaneous",
        "user_value": 0.5,
        "speaker_values": {"p": 0.25},
        "schemes": {"p": [[1, 0], [0, 1]]},
        "bounds": {"single_sender": {"p": {"sender_value": 1.0}}},
    }
    path = Path("summary.json")
    assert check_summary(json.loads(json.dumps(good)), path) == good
    for key, bad, field in [
        ("speaker_values", None, "summary.speaker_values"),
        ("user_value", "high", "summary.user_value"),
        ("speaker_values", {"p": "x"}, "summary.speaker_values.p"),
        ("bounds", {"single_sender": {}}, "summary.bounds.single_sender.p"),
        ("schemes", [], "summary.schemes"),
    ]:
        summary = {**good, key: bad}
        if bad is None:
            del summary[key]
        with pytest.raises(SpecError, match="^" + re.escape(field) + ": "):
            check_summary(summary, path)


def test_a_target_speaker_missing_from_the_values_is_named():
    target = Target.from_mapping({"speaker": "judge", "value": 1, "tol": 0.1})
    with pytest.raises(SpecError, match=r"^target\.speaker: no such speaker; speakers are prosecutor$"):
        target.reached({"prosecutor": 0.5})
    assert Target.from_mapping({"speaker": "p", "value": 0.5, "tol": 0.1}).reached({"p": 0.55})
