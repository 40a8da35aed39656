"""Sweep files: validation and the plan of trials (see :mod:`persuaders.train.sweep`)."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from persuaders.envs.game.catalog import game_in_file, path_in_file
from persuaders.envs.game.limits import check_entries
from persuaders.envs.game.safe_yaml import read_yaml_mapping
from persuaders.envs.game.validation import SpecError, as_int, check_keys, is_number
from persuaders.train.config import RunConfig, validate_config

__all__ = [
    "SWEEP_KEYS",
    "DISTRIBUTIONS",
    "load_sweep",
    "validate_sweep",
    "sample",
    "expand",
    "config_hash",
    "plan_hash",
    "is_replicate",
]

SWEEP_KEYS = ("name", "base", "grid", "random", "num_samples", "seed")
DISTRIBUTIONS = ("uniform", "loguniform", "choice", "randint")
KEY_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$")


# ---------------------------------------------------------------------------------- sweep file
def load_sweep(path: str | Path) -> dict[str, Any]:
    """Read and validate a sweep file; returns ``{name, base, grid, random, num_samples, seed, trials}``.

    ``trials`` is the plan: one entry per trial with its ``id``, swept ``params``, validated
    training ``config`` (a :class:`~persuaders.train.config.RunConfig`) and run-directory name
    ``dir`` (relative to the sweep directory).
    """
    p = Path(path)
    return validate_sweep(read_yaml_mapping(p, "config"), default_name=p.stem, relative_to=p.parent)


def validate_sweep(raw: dict[str, Any], default_name: str = "sweep", relative_to: str | Path = ".") -> dict[str, Any]:
    """Check every key of a sweep mapping and expand it into its plan of validated trials."""
    check_keys(raw, "", SWEEP_KEYS, ["base"])
    name = raw.get("name", default_name)
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise SpecError("name", f"expected a name of letters, digits, '_', '-' or '.', got {name!r}")
    base = _load_base(raw["base"], Path(relative_to))
    grid = _validate_grid(raw.get("grid") or {})
    if "game" in grid:  # game files named in the sweep file stay inside its folder
        grid["game"] = [game_in_file(v, Path(relative_to), "the sweep file", "grid.game") for v in grid["game"]]
    random = _validate_random(raw.get("random") or {})
    if not grid and not random:
        raise SpecError("grid", "a sweep needs at least one key under grid: or random:")
    both = sorted(set(grid) & set(random))
    if both:
        raise SpecError(f"random.{both[0]}", "is also under grid: sweep each key in one place")
    num_samples = as_int(raw.get("num_samples", 1), "num_samples", minimum=1)
    seed = as_int(raw.get("seed", 0), "seed", minimum=0)
    if num_samples > 1 and not random:
        raise SpecError(
            "num_samples", "repeating a grid without random: keys would train identical runs; sweep seed instead"
        )
    combos = num_samples * math.prod(len(values) for values in grid.values())
    check_entries(combos, "grid", "the sweep (num_samples x the grid's combinations)", "games")
    sweep = {"name": name, "base": base, "grid": grid, "random": random, "num_samples": num_samples, "seed": seed}
    sweep["trials"] = expand(sweep)
    return sweep


def _load_base(base: Any, relative_to: Path) -> dict[str, Any]:
    """The sweep's base config: a mapping, or a config file named relative to the sweep file's folder
    (and inside it); a game file either names is resolved the same way (docs/trust.md)."""
    if isinstance(base, dict):
        out = copy.deepcopy(base)
        folder, named_in = relative_to, "the sweep's base"
    elif not isinstance(base, str) or not base:
        raise SpecError("base", f"expected a training config path or a mapping of training-config keys, got {base!r}")
    else:
        path = path_in_file(base, relative_to, "base", "the sweep file")
        out = read_yaml_mapping(path, "base")
        folder, named_in = path.parent, str(path)
    if "game" in out:
        out["game"] = game_in_file(out["game"], folder, named_in, "base.game")
    return out


def _check_key(section: str, key: Any) -> str:
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        raise SpecError(f"{section}.{key}", "expected a dotted training-config key such as ppo.learning_rate")
    return key


def _validate_grid(grid: Any) -> dict[str, list[Any]]:
    if not isinstance(grid, dict):
        raise SpecError("grid", f"expected a mapping of dotted key -> list of values, got {type(grid).__name__}")
    out = {}
    for raw, values in grid.items():
        key = _check_key("grid", raw)
        if not isinstance(values, list) or not values:
            raise SpecError(f"grid.{key}", f"expected a non-empty list of values, got {values!r}")
        seen = [json.dumps(v, sort_keys=True, default=str) for v in values]
        if len(set(seen)) != len(seen):
            raise SpecError(f"grid.{key}", f"duplicate values in {values!r}")
        out[key] = list(values)
    return out


def _validate_random(random: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(random, dict):
        raise SpecError(
            "random", f"expected a mapping of dotted key -> {{distribution: arguments}}, got {type(random).__name__}"
        )
    out = {}
    for raw, dist in random.items():
        key = _check_key("random", raw)
        field = f"random.{key}"
        if not isinstance(dist, dict) or len(dist) != 1:
            raise SpecError(field, f"expected one of {{{', '.join(d + ': ...' for d in DISTRIBUTIONS)}}}, got {dist!r}")
        check_keys(dist, field, DISTRIBUTIONS)
        kind, args = next(iter(dist.items()))
        f = f"{field}.{kind}"
        if kind == "choice":
            if not isinstance(args, list) or not args:
                raise SpecError(f, f"expected a non-empty list of values, got {args!r}")
        else:
            if not (isinstance(args, list) and len(args) == 2 and all(is_number(a) for a in args)):
                raise SpecError(f, f"expected [low, high], two numbers, got {args!r}")
            lo, hi = args
            if kind == "randint":
                if not all(isinstance(a, int) and not isinstance(a, bool) for a in args):
                    raise SpecError(f, f"expected two integers, got {args!r}")
                if lo > hi:
                    raise SpecError(f, f"low must be <= high, got {args!r}")
            elif not lo < hi:
                raise SpecError(f, f"low must be < high, got {args!r}")
            if kind == "loguniform" and lo <= 0:
                raise SpecError(f, f"bounds must be > 0, got {args!r}")
        out[key] = {kind: copy.deepcopy(args)}
    return out


def sample(dist: dict[str, Any], rng: np.random.Generator) -> Any:
    """One draw of a ``random:`` distribution (floats rounded to 6 significant digits)."""
    kind, args = next(iter(dist.items()))
    if kind == "choice":
        return copy.deepcopy(args[int(rng.integers(len(args)))])
    if kind == "randint":
        return int(rng.integers(args[0], args[1] + 1))
    lo, hi = float(args[0]), float(args[1])
    x = rng.uniform(lo, hi) if kind == "uniform" else math.exp(rng.uniform(math.log(lo), math.log(hi)))
    return float(f"{x:.6g}")


def expand(sweep: dict[str, Any]) -> list[dict[str, Any]]:
    """The plan: Tune's order (num_samples repeats of the grid), every config validated."""
    rng = np.random.default_rng(sweep["seed"])
    grid, random = sweep["grid"], sweep["random"]
    trials: list[dict[str, Any]] = []
    seen: dict[str, int] = {}  # config hash -> the first trial with it
    for _ in range(sweep["num_samples"]):
        for combo in itertools.product(*grid.values()):
            params = dict(zip(grid, combo, strict=True))
            params.update({key: sample(dist, rng) for key, dist in random.items()})
            raw = copy.deepcopy(sweep["base"])
            for key, value in params.items():
                _set(raw, key, value, "grid" if key in grid else "random")
            try:
                cfg = dataclasses.replace(validate_config(raw), threads=1)
                _check_game(cfg)
            except SpecError as exc:
                raise _blame(exc, params, grid) from None
            digest = config_hash(cfg.to_dict())
            if digest in seen:
                raise SpecError("grid", f"trials {seen[digest]} and {len(trials)} would train the same config {params}")
            seen[digest] = len(trials)
            slug = _slug(params)
            trials.append(
                {
                    "id": f"{len(trials):03d}",
                    "params": params,
                    "config": cfg,
                    "dir": f"{slug}__{digest[:8]}" if slug else digest[:8],
                }
            )
    return trials


def _set(raw: dict[str, Any], key: str, value: Any, section: str) -> None:
    """Set a dotted key of a raw training config; ``game.<option>`` edits a random:... game string."""
    parts = key.split(".")
    if parts[0] == "game" and len(parts) == 2:
        game = raw.get("game")
        if not (isinstance(game, str) and game.startswith("random:")):
            raise SpecError(
                f"{section}.{key}",
                f"game options can be swept only for a random:... base game; the base game is {game!r}",
            )
        body = [p for p in game.split(":", 1)[1].split(",") if p.strip()]
        opts = {p.split("=", 1)[0].strip(): p for p in body}
        text = f"{parts[1]}={value}"
        if parts[1] in opts:
            body[body.index(opts[parts[1]])] = text
        else:
            body.append(text)
        raw["game"] = "random:" + ",".join(body)
        return
    node = raw
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise SpecError(f"{section}.{key}", f"cannot set a sub-key of the non-mapping '{part}'")
    node[parts[-1]] = copy.deepcopy(value)


def _check_game(cfg: RunConfig) -> None:
    """The game loads and the config's speakers exist in it (cheap; nothing is solved)."""
    _ = cfg.resolved_game


def _blame(exc: SpecError, params: dict[str, Any], grid: dict[str, Any]) -> SpecError:
    """Name the swept key (``grid.KEY`` / ``random.KEY``) a trial-config error comes from, else ``base.FIELD``."""
    msg = str(exc)[len(exc.field) + 2 :] if str(exc).startswith(exc.field + ":") else str(exc)
    culprits = [k for k in params if exc.field == k or exc.field.startswith(k + ".") or k.startswith(exc.field + ".")]
    if len(culprits) > 1:  # e.g. several game options: prefer the one the message names
        culprits = [k for k in culprits if f"'{k.split('.')[-1]}'" in msg] or culprits
    if culprits:
        k = culprits[0]
        return SpecError(f"{'grid' if k in grid else 'random'}.{k}", f"{msg} (with {k}={params[k]!r})")
    return SpecError(f"base.{exc.field}", msg)


def config_hash(cfg: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()


def _slug(params: dict[str, Any]) -> str:
    parts = []
    for key, value in params.items():
        v = f"{value:.4g}" if isinstance(value, float) else str(value)
        parts.append(f"{key}={v}")
    s = re.sub(r"[^A-Za-z0-9_.=,+-]", "_", ",".join(parts))
    return s[:100]


def plan_hash(trials: list[dict[str, Any]]) -> str:
    return hashlib.sha1(json.dumps([[t["id"], t["dir"]] for t in trials]).encode()).hexdigest()[:8]


def is_replicate(key: str) -> bool:
    """Seed-like keys (``seed``, ``game.seed``): replicates, averaged over in the plots."""
    return key.split(".")[-1] == "seed"
