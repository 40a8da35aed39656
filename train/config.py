"""Training configs: YAML files under ``configs/train``, validated like game files.

Layout (every key optional except ``game``; defaults in :data:`DEFAULTS`)::

    game: kg_logit              # bundled name, YAML path, or random:k=3,seed=0,...
    rationality: null           # override the user's lam (a number or inf)
    protocol: simultaneous      # or best_ai
    n_eval: exact               # best_ai evaluation conversations: exact or an integer
    reward_mode: expect_all     # sample, expect_action or expect_all
    seed: 0
    total_steps: 100000         # environment steps (rounds x episodes) over the run
    n_envs: 1024                # parallel episodes
    rollout_episodes: 1         # episodes per environment per PPO iteration
    eval_interval: 10           # iterations between exact evaluations (TensorBoard eval/*)
    checkpoint_interval: 25     # iterations between checkpoints
    exploitability_interval: 50 # iterations between exploitability logs (0: only at the end)
    target: null                # optional early stop: {speaker: NAME, value: X, tol: Y}
    share_parameters: false     # one network for all learning speakers (with an id one-hot)
    threads: 1                  # torch threads
    ppo: {learning_rate: ..., ...}   # see agents.ppo.PPOConfig
    speakers:                   # learner per speaker name; default ppo
      prosecutor: {learner: ppo}           # or full_revelation, babbling, fixed (+ path)

``--set key=value`` overrides any key (dotted for nested ones: ``ppo.learning_rate=1e-3``,
``speakers.defence.learner=babbling``); values are parsed as YAML scalars.
"""

from __future__ import annotations

import copy
import math
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from agents.ppo import PPOConfig
from envs.protocols import PROTOCOLS, REWARD_MODES
from envs.validation import SpecError, as_choice, as_float, as_int, check_keys, read_yaml_mapping

LEARNERS = ("ppo", "full_revelation", "babbling", "fixed")

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
    "share_parameters": False,
    "threads": 1,
    "ppo": {},
    "speakers": {},
}
PPO_KEYS = tuple(f.name for f in fields(PPOConfig))


def load_config(path: str | Path | None, overrides: list[str] = ()) -> dict[str, Any]:
    """Read a config file, apply ``key=value`` overrides, validate, and fill defaults."""
    raw = read_yaml_mapping(path, "config") if path is not None else {}
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
    node = cfg
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise SpecError(key, "cannot set a sub-key of a non-mapping")
    node[parts[-1]] = value


def validate_config(raw: dict[str, Any]) -> dict[str, Any]:
    """Check every key and value; return the resolved config with defaults filled in."""
    check_keys(raw, "", DEFAULTS.keys(), ["game"])
    cfg = copy.deepcopy(DEFAULTS)
    cfg.update(copy.deepcopy(raw))
    if not isinstance(cfg["game"], str) or not cfg["game"]:
        raise SpecError("game", f"expected a bundled game name, a YAML path or random:..., got {cfg['game']!r}")
    if cfg["rationality"] is not None:
        lam = as_float(cfg["rationality"], "rationality", exclusive_minimum=0.0, allow_inf=True)
        cfg["rationality"] = "inf" if math.isinf(lam) else lam
    as_choice(cfg["protocol"], "protocol", PROTOCOLS)
    as_choice(cfg["reward_mode"], "reward_mode", REWARD_MODES)
    if cfg["n_eval"] != "exact":
        cfg["n_eval"] = as_int(cfg["n_eval"], "n_eval", minimum=1)
    for key, minimum in [("seed", 0), ("total_steps", 1), ("n_envs", 1), ("rollout_episodes", 1),
                         ("eval_interval", 1), ("checkpoint_interval", 1), ("exploitability_interval", 0), ("threads", 1)]:
        cfg[key] = as_int(cfg[key], key, minimum=minimum)
    if not isinstance(cfg["share_parameters"], bool):
        raise SpecError("share_parameters", f"expected true or false, got {cfg['share_parameters']!r}")
    if cfg["target"] is not None:
        t = check_keys(cfg["target"], "target", ("speaker", "value", "tol"), ("speaker", "value", "tol"))
        as_float(t["value"], "target.value")
        as_float(t["tol"], "target.tol", exclusive_minimum=0.0)
    cfg["ppo"] = validate_ppo(cfg["ppo"])
    speakers = check_keys(cfg["speakers"], "speakers", allowed=_any_key(cfg["speakers"]))
    for name, spec in speakers.items():
        check_keys(spec, f"speakers.{name}", ("learner", "path"), ("learner",))
        as_choice(spec["learner"], f"speakers.{name}.learner", LEARNERS)
        if spec["learner"] == "fixed" and not spec.get("path"):
            raise SpecError(f"speakers.{name}.path", "learner 'fixed' needs the path of a schemes file")
    return cfg


def _any_key(d: Any) -> list[str]:
    return list(d) if isinstance(d, dict) else []


def validate_ppo(raw: Any) -> dict[str, Any]:
    """PPO hyperparameters: unknown keys, wrong types and bad ranges name the key."""
    check_keys(raw, "ppo", PPO_KEYS)
    out = PPOConfig().to_dict()
    out.update(raw)
    f = "ppo."
    out["learning_rate"] = as_float(out["learning_rate"], f + "learning_rate", exclusive_minimum=0.0)
    out["gamma"] = as_float(out["gamma"], f + "gamma", minimum=0.0, maximum=1.0)
    out["gae_lambda"] = as_float(out["gae_lambda"], f + "gae_lambda", minimum=0.0, maximum=1.0)
    out["update_epochs"] = as_int(out["update_epochs"], f + "update_epochs", minimum=1)
    out["num_minibatches"] = as_int(out["num_minibatches"], f + "num_minibatches", minimum=1)
    out["clip_coef"] = as_float(out["clip_coef"], f + "clip_coef", exclusive_minimum=0.0)
    out["ent_coef"] = as_float(out["ent_coef"], f + "ent_coef")
    out["vf_coef"] = as_float(out["vf_coef"], f + "vf_coef", minimum=0.0)
    out["max_grad_norm"] = as_float(out["max_grad_norm"], f + "max_grad_norm", exclusive_minimum=0.0)
    out["init_log_std"] = as_float(out["init_log_std"], f + "init_log_std")
    if out["target_kl"] is not None:
        out["target_kl"] = as_float(out["target_kl"], f + "target_kl", exclusive_minimum=0.0)
    for key in ("anneal_lr", "norm_adv", "clip_vloss"):
        if not isinstance(out[key], bool):
            raise SpecError(f + key, f"expected true or false, got {out[key]!r}")
    hs = out["hidden_sizes"]
    if not isinstance(hs, list) or not hs or not all(isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in hs):
        raise SpecError(f + "hidden_sizes", f"expected a non-empty list of positive integers, got {hs!r}")
    return out
