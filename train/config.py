"""Training configs: YAML files under ``configs/train``, validated like game files.

Layout (every key optional except ``game``; defaults in :data:`DEFAULTS`)::

    game: kg_logit              # bundled name, YAML path, or random:k=3,seed=0,...
    rationality: null           # override the user's lam (a number or inf)
    protocol: simultaneous      # or best_ai, or any registered protocol
    n_eval: exact               # best_ai evaluation conversations: exact or an integer
    reward_mode: expect_all     # sample, expect_action or expect_all
    seed: 0
    total_steps: 100000         # environment steps (rounds x episodes) over the run
    n_envs: 1024                # parallel episodes
    rollout_episodes: 1         # episodes per environment per iteration
    eval_interval: 10           # iterations between exact evaluations (TensorBoard eval/*)
    checkpoint_interval: 25     # iterations between checkpoints
    exploitability_interval: 50 # iterations between exploitability logs (0: only at the end)
    target: null                # optional early stop: {speaker: NAME, value: X, tol: Y}
    rationality_schedule: null  # a homotopy: logit users with lam rising from start to end over the first
                                # `until` of training, then the game's own user: {start: 10, end: 1000, until: 0.6}
    share_parameters: false     # one network for all speakers of a shareable learner (with an id one-hot)
    threads: 1                  # torch threads
    learner: ppo                # every speaker's learner unless speakers: says otherwise
    ppo: {learning_rate: ..., ...}   # a learner's hyperparameters, under its name (agents.ppo.PPOConfig)
    speakers:                   # per speaker name: its learner (and that learner's speaker options)
      prosecutor: {learner: ppo}           # or full_revelation, babbling, fixed (+ path)

Learners come from the registry of :mod:`persuaders.agents`; a config may hold a section for
any registered learner. ``--set key=value`` overrides any key (dotted for nested ones:
``ppo.learning_rate=1e-3``, ``speakers.defence.learner=babbling``); values are parsed as YAML.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from pathlib import Path
from typing import Any

import yaml

from persuaders.agents.base import learner_class, learners
from persuaders.envs.game.profiles import read_config
from persuaders.envs.game.protocols import REWARD_MODES, protocols, resolve_protocol
from persuaders.envs.game.validation import SpecError, as_choice, as_float, as_int, check_keys

__all__ = ["DEFAULTS", "load_config", "apply_override", "validate_config", "speaker_learner", "scheduled_rationality"]

DEFAULTS: dict[str, Any] = {
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


def load_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Read a config file, apply ``key=value`` overrides, validate, and fill defaults."""
    raw = read_config(path, "config") if path is not None else {}
    for item in overrides:
        apply_override(raw, item)
    return validate_config(raw)


def apply_override(cfg: dict[str, Any], item: str) -> None:
    """Apply one ``dotted.key=value`` override in place (value parsed as a YAML scalar)."""
    if "=" not in item:
        raise SpecError("--set", f"expected key=value, got {item!r}")
    key, text = item.split("=", 1)
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        value = text
    parts = key.strip().split(".")
    if not all(parts):
        raise SpecError("--set", f"expected a dotted key, got {key!r}")
    node = cfg
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise SpecError(key, "cannot set a sub-key of a non-mapping")
    node[parts[-1]] = value


def scheduled_rationality(schedule: dict[str, float], fraction: float) -> float:
    """The logit rationality of a homotopy at ``fraction`` of training, geometric from ``start`` to
    ``end`` at ``until`` (``lam = start (end / start)^min(1, fraction / until)``); after ``until``
    training faces the game's own user."""
    x = min(1.0, fraction / schedule["until"])
    return float(schedule["start"] * (schedule["end"] / schedule["start"]) ** x)


def speaker_learner(cfg: dict[str, Any], name: str) -> str:
    """The learner name of speaker ``name`` in a validated config."""
    out: str = cfg["speakers"].get(name, {}).get("learner", cfg["learner"])
    return out


def validate_config(raw: dict[str, Any]) -> dict[str, Any]:
    """Check every key and value; return the resolved config with defaults filled in.

    The resolved config holds a hyperparameter section (all fields) for every learner it uses.
    """
    names = learners()
    check_keys(raw, "", tuple(DEFAULTS) + names, ["game"])
    cfg = copy.deepcopy(DEFAULTS)
    cfg.update(copy.deepcopy(raw))
    if not isinstance(cfg["game"], str) or not cfg["game"]:
        raise SpecError("game", f"expected a bundled game name, a YAML path or random:..., got {cfg['game']!r}")
    if cfg["rationality"] is not None:
        lam = as_float(cfg["rationality"], "rationality", exclusive_minimum=0.0, allow_inf=True)
        cfg["rationality"] = "inf" if math.isinf(lam) else lam
    as_choice(cfg["protocol"], "protocol", protocols())
    as_choice(cfg["reward_mode"], "reward_mode", REWARD_MODES)
    if cfg["n_eval"] != "exact":
        cfg["n_eval"] = as_int(cfg["n_eval"], "n_eval", minimum=1)
    resolve_protocol(cfg["protocol"], cfg["n_eval"])
    for key, minimum in [
        ("seed", 0),
        ("total_steps", 1),
        ("n_envs", 1),
        ("rollout_episodes", 1),
        ("eval_interval", 1),
        ("checkpoint_interval", 1),
        ("exploitability_interval", 0),
        ("threads", 1),
    ]:
        cfg[key] = as_int(cfg[key], key, minimum=minimum)
    if not isinstance(cfg["share_parameters"], bool):
        raise SpecError("share_parameters", f"expected true or false, got {cfg['share_parameters']!r}")
    if cfg["target"] is not None:
        t = check_keys(cfg["target"], "target", ("speaker", "value", "tol"), ("speaker", "value", "tol"))
        as_float(t["value"], "target.value")
        as_float(t["tol"], "target.tol", exclusive_minimum=0.0)
    if cfg["rationality_schedule"] is not None:
        r = check_keys(cfg["rationality_schedule"], "rationality_schedule", ("start", "end", "until"), ("start", "end"))
        start = as_float(r["start"], "rationality_schedule.start", exclusive_minimum=0.0)
        end = as_float(r["end"], "rationality_schedule.end", minimum=start)
        until = as_float(r.get("until", 1.0), "rationality_schedule.until", exclusive_minimum=0.0, maximum=1.0)
        cfg["rationality_schedule"] = {"start": start, "end": end, "until": until}
    learner_class(cfg["learner"], "learner")
    check_keys(cfg["speakers"], "speakers", allowed=list(cfg["speakers"]) if isinstance(cfg["speakers"], dict) else [])
    speakers: dict[str, Any] = cfg["speakers"]  # a mapping (checked), completed in place
    used = {cfg["learner"]}
    for name, given in speakers.items():
        spec = {} if given is None else given
        speakers[name] = spec
        where = f"speakers.{name}"
        check_keys(spec, where, ("learner", *(o for n in names for o in learner_class(n).speaker_options)))
        cls = learner_class(spec.get("learner", cfg["learner"]), f"{where}.learner")
        # A speaker option of another learner is allowed and unused (a sweep may switch learners).
        cls.check_speaker_options({k: v for k, v in spec.items() if k != "learner"}, where)
        used.add(cls.name)
    for name in names:
        config_class = learner_class(name).config_class
        if name in cfg or (name in used and dataclasses.fields(config_class)):
            cfg[name] = config_class.from_mapping(cfg.get(name) or {}, name).to_dict()
    return cfg
