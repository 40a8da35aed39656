"""The typed training config: its documentation page, the resolved dict it writes, what it resolves."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from persuaders.agents import Babbling, PPOConfig, PPOLearner
from persuaders.envs.game import SpecError
from persuaders.envs.game.protocols import BestAI, Simultaneous
from persuaders.train.config import RationalitySchedule, RunConfig, Target, load_config, validate_config

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "config.md"
BUNDLED = sorted((ROOT / "configs" / "train").glob("*.yaml"))

#: The defaults the reference page documents, written out here so that a changed default fails a test.
DOCUMENTED_DEFAULTS = {
    "game": None,
    "rationality": None,
    "protocol": "simultaneous",
    "n_eval": "exact",
    "reward_mode": "expect_all",
    "seed": 0,
    "total_steps": 100_000,
    "n_envs": 1024,
    "rollout_episodes": 1,
    "eval_interval": 10,
    "checkpoint_interval": 25,
    "exploitability_interval": 50,
    "target": None,
    "rationality_schedule": None,
    "share_parameters": False,
    "threads": 1,
    "learner": "ppo",
    "speakers": {},
}
PPO_DEFAULTS = {
    "learning_rate": 0.005,
    "anneal_lr": True,
    "gamma": 1.0,
    "gae_lambda": 0.95,
    "update_epochs": 2,
    "num_minibatches": 2,
    "clip_coef": 0.2,
    "clip_vloss": False,
    "ent_coef": 0.0,
    "vf_coef": 0.5,
    "max_grad_norm": 0.5,
    "norm_adv": True,
    "target_kl": None,
    "hidden_sizes": [64, 64],
    "init_log_std": 0.0,
    "final_log_std": None,
    "log_std_anneal_start": 0.0,
}


def _page_rows(text: str) -> dict[str, list[str]]:
    """The cells of every table row on the page, by the row's first (key) cell."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            key = re.sub(r"^\[`(.*)`\]\(#.*\)$|^`(.*)`$", lambda m: m.group(1) or m.group(2), cells[0])
            rows.setdefault(key, cells[1:])
    return rows


# ---------------------------------------------------------------------------------- the reference page
def test_every_key_is_documented_on_the_reference_page():
    page = PAGE.read_text()
    rows = _page_rows(page)
    fields = [f for f in dataclasses.fields(RunConfig) if f.init]
    assert [f.name for f in fields][:-1] == list(DOCUMENTED_DEFAULTS)  # the file's keys, then the sections
    for f in fields:
        key = f.metadata.get("key") or f.name
        assert len(f.metadata.get("help") or "") > 10, f"{f.name} has no documentation"
        assert f.metadata.get("allowed") or f.metadata.get("choices"), f"{f.name} does not say its allowed values"
        assert re.search(rf"^## `{re.escape(key)}`", page, re.M), f"{key} has no section on {PAGE.name}"
        assert f.metadata["help"] in page and key in rows, key
    for nested in (Target, RationalitySchedule):
        for f in dataclasses.fields(nested):
            assert f.metadata.get("help") and f.metadata.get("allowed"), f"{nested.__name__}.{f.name}"
            assert f"| `{f.name}` | {f.metadata['help']} |" in page
    for key, value in DOCUMENTED_DEFAULTS.items():  # the page's defaults are the ones written out above
        cell = rows[key][0]
        assert cell == "required" if key == "game" else yaml.safe_load(cell.strip("`")) == value, (key, cell)
    for key, value in PPO_DEFAULTS.items():
        assert yaml.safe_load(rows[key][1].strip("`")) == value, key


def test_the_reference_page_is_generated_from_the_fields():
    # A fresh interpreter: only the built-in learners and protocols are registered there.
    code = "from persuaders.train.config import config_reference_markdown as m; print(m(), end='')"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert res.stdout == PAGE.read_text(), (
        f'docs/config.md is stale; regenerate it: python -c "{code}" > docs/config.md'
    )


# ---------------------------------------------------------------------------------- the resolved dict
@pytest.mark.parametrize("path", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_to_dict_is_the_resolved_config_of_a_bundled_file(path):
    """The file's keys over the documented defaults, in the defaults' order; the schedule's
    numbers as floats (``until`` 1 when absent); a complete ``ppo`` section after them."""
    raw = yaml.safe_load(path.read_text())
    expected = {**DOCUMENTED_DEFAULTS, **{k: v for k, v in raw.items() if k != "ppo"}}
    if expected["rationality_schedule"] is not None:
        s = expected["rationality_schedule"]
        until = float(s.get("until", 1.0))
        expected["rationality_schedule"] = {"start": float(s["start"]), "end": float(s["end"]), "until": until}
    expected["ppo"] = {**PPO_DEFAULTS, **raw.get("ppo", {})}
    got = load_config(path).to_dict()
    assert got == expected
    # config.yaml byte for byte: the same keys in the same order, the same scalars.
    assert yaml.safe_dump(got, sort_keys=False) == yaml.safe_dump(expected, sort_keys=False)
    assert validate_config(got) == load_config(path)  # a run's config.yaml loads back to the same config


def test_to_dict_keeps_a_target_as_written_and_fills_the_sections_used():
    cfg = load_config(
        None,
        [
            "game=hull_pair",
            "target={value: 1, speaker: defence, tol: 0.5}",
            "rationality=inf",
            "speakers.defence.learner=mappo",
            "babbling={}",
        ],
    )
    d = cfg.to_dict()
    assert list(d["target"].items()) == [("value", 1), ("speaker", "defence"), ("tol", 0.5)]
    assert d["rationality"] == "inf" and cfg.rationality == float("inf")
    # Sections: those given first, then those of the learners used (ppo, the default, and mappo).
    assert list(d)[list(d).index("speakers") + 1 :] == ["babbling", "ppo", "mappo"]
    assert d["babbling"] == {} and d["ppo"] == d["mappo"] == PPO_DEFAULTS


# ---------------------------------------------------------------------------------- resolved objects
def test_the_config_holds_the_resolved_game_protocol_and_learners():
    cfg = load_config(
        None,
        [
            "game=hull_pair",
            "protocol=best_ai",
            "n_eval=3",
            "rationality=7",
            "ppo.learning_rate=0.001",
            "speakers.defence.learner=babbling",
        ],
    )
    assert cfg.resolved_protocol == BestAI(n_eval=3)
    assert cfg.resolved_game.speaker_names == ("prosecution", "defence")
    assert cfg.resolved_game.user.model.lam == 7.0
    assert cfg.resolved_game is cfg.resolved_game  # loaded once
    defence, prosecution = cfg.speaker_learner("defence"), cfg.speaker_learner("prosecution")
    assert (defence.name, defence.cls, defence.options) == ("babbling", Babbling, {})
    assert (prosecution.name, prosecution.cls) == ("ppo", PPOLearner)
    assert isinstance(prosecution.hyperparameters, PPOConfig) and prosecution.hyperparameters.learning_rate == 0.001
    assert prosecution.hyperparameters is not cfg.hyperparameters["ppo"]  # each learner gets its own copy
    assert load_config(None, ["game=kg"]).resolved_protocol == Simultaneous()


def test_a_config_built_in_python_is_the_config_of_the_file():
    cfg = RunConfig(game="kg", seed=3, n_eval=2, target={"speaker": "prosecutor", "value": 0.5, "tol": 0.1})
    assert cfg == load_config(
        None, ["game=kg", "seed=3", "n_eval=2", "target={speaker: prosecutor, value: 0.5, tol: 0.1}"]
    )
    assert isinstance(cfg.target, Target) and cfg.target.reached({"prosecutor": 0.45})
    assert not cfg.target.reached({"prosecutor": 0.35})
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.seed = 4  # type: ignore[misc]
    with pytest.raises(SpecError, match=r"^n_envs: must be >= 1"):
        dataclasses.replace(cfg, n_envs=0)  # a changed copy is validated again
    with pytest.raises(SpecError, match=r"^target\.speaker: no such speaker in game 'kg'"):
        _ = load_config(None, ["game=kg", "target={speaker: judge, value: 0.5, tol: 0.1}"]).resolved_game
