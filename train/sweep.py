"""``python -m train.sweep --config configs/sweeps/NAME.yaml [--address ADDR [--auth-token-file F]] [--out DIR] [--workers N]``.

A grid or random search over training-config keys, each point an ordinary training run
(:func:`train.ppo.train`) executed as a Ray Tune trial, then one table and a few plots of the
exact outcomes against the theory.

Sweep file (validated like training configs: an unknown key or a wrong type is an error that
names the key, and the command exits with status 2)::

    name: kg_tuning                # optional; default the file's stem
    base: configs/train/kg_logit.yaml   # a training config path, or a mapping of its keys
    grid:                          # dotted key -> list of values (the cross product is run)
      ppo.update_epochs: [2, 4]
      seed: [0, 1]
    random:                        # dotted key -> one distribution, drawn num_samples times
      ppo.ent_coef: {uniform: [0.0, 0.01]}
      ppo.learning_rate: {loguniform: [1.0e-4, 1.0e-2]}
      n_envs: {choice: [256, 512, 1024]}
      rollout_episodes: {randint: [1, 4]}    # integers lo..hi inclusive
    num_samples: 1                 # Tune's meaning: the grid is repeated num_samples times,
                                   # each repeat with fresh random draws
    seed: 0                        # seed of the random draws

Keys are training-config keys (:mod:`train.config`, dotted for nested ones: ``ppo.gamma``,
``speakers.defence.learner``) or, when the base game is a ``random:...`` string,
``game.<option>`` for any of its options (``k``, ``states``, ``actions``, ``seed``, ``regime``,
``epsilon``, ``rationality``, ``messages``, ``rounds``, ``visibility``): the sweep then varies the
game itself, e.g. the number of competing speakers (``game.k: [1, 2, 3]``; see
``configs/sweeps/competition_ppo.yaml``).

The random draws are made here, from ``seed``, before anything runs: the list of trials (the
*plan*, ``plan.json``) is fixed by the sweep file, every trial config is validated up front, and
each trial trains in its own run directory ``DIR/trials/<swept values>__<config hash>`` with
``threads: 1`` and no progress bar. The trials are handed to Tune as one grid over the plan.

Execution. Without ``--address`` a local Ray instance is started with ``--workers`` CPUs
(default: every core), one trial per CPU; with ``--address`` the command joins that cluster
as it is (every node must have this package installed) and ``--workers``, if given, caps the
number of concurrent trials. A cluster with token authentication (``RAY_AUTH_MODE=token``) needs
its token: ``--auth-token-file PATH`` (a copy of the head node's ``~/.ray/auth_token``), or
Ray's own ``RAY_AUTH_MODE=token`` with ``RAY_AUTH_TOKEN`` or ``RAY_AUTH_TOKEN_PATH``. A trial that raises is recorded as errored and the others go on
(``max_failures=0``, no fail-fast); the table is written in every case.

Resuming. Run the same command again after an interruption (Ctrl+C, a crash, a lost machine):
the Tune experiment in ``DIR/tune/`` is restored (``Tuner.restore`` with
``resume_unfinished=True, restart_errored=True``), so finished trials are not run again and
unfinished or errored ones are; a trial whose run directory already holds ``summary.json``
reports it without training, and one with a training checkpoint resumes from it
(``train(..., resume=True)``). A changed sweep file gives a new plan and a new Tune experiment,
but trials whose config is unchanged still reuse their run directories.

Outputs in ``DIR`` (default ``sweeps/<name>``): ``results.csv`` and ``results.md`` (one row per
trial: the swept values, the user's exact value, no-information and full-information values,
the competition bound ``full information - 2 eps``, the hull distance, the exploitability and
the status), and for each swept key ``plot_<key>.png``: the user's exact utility and the
exploitability against that key, with the theory's lines (full information, competition bound;
no information faintly), one colour per combination of the other swept grid keys. Keys named
``seed`` or ``*.seed`` are replicates: averaged over (points show each trial) rather than used
to split groups, and not plotted against when another key is swept.

Exit status: 0 when every trial finished, 1 when some errored or were interrupted, 2 for a bad
sweep file, a missing Ray installation (``pip install -e '.[ray]'``) or an unreachable
``--address``.

Ctrl+C: Tune saves the experiment state and stops; trials still running get about ten seconds to
finish before they are killed (their training checkpoints remain), and the table marks them
``unfinished``. A second Ctrl+C skips the wait.
"""

from __future__ import annotations

import argparse
import copy
import csv
import hashlib
import itertools
import json
import math
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from envs.validation import SpecError, as_int, check_keys, is_number, read_yaml_mapping

SWEEP_KEYS = ("name", "base", "grid", "random", "num_samples", "seed")
DISTRIBUTIONS = ("uniform", "loguniform", "choice", "randint")
INSTALL_HINT = "train.sweep needs Ray Tune: pip install -e '.[ray]'   (or: pip install 'ray[tune,rllib]==2.60.0')"
RESULTS_CSV, RESULTS_MD, PLAN = "results.csv", "results.md", "plan.json"
KEY_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$")


# ---------------------------------------------------------------------------------- sweep file
def load_sweep(path: str | Path) -> dict[str, Any]:
    """Read and validate a sweep file; returns ``{name, base, grid, random, num_samples, seed, trials}``.

    ``trials`` is the plan: one entry per trial with its ``id``, swept ``params``, validated
    training ``config`` and run-directory name ``dir`` (relative to the sweep directory).
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
    random = _validate_random(raw.get("random") or {})
    if not grid and not random:
        raise SpecError("grid", "a sweep needs at least one key under grid: or random:")
    both = sorted(set(grid) & set(random))
    if both:
        raise SpecError(f"random.{both[0]}", "is also under grid: sweep each key in one place")
    num_samples = as_int(raw.get("num_samples", 1), "num_samples", minimum=1)
    seed = as_int(raw.get("seed", 0), "seed", minimum=0)
    if num_samples > 1 and not random:
        raise SpecError("num_samples", "repeating a grid without random: keys would train identical runs; sweep seed instead")
    sweep = {"name": name, "base": base, "grid": grid, "random": random, "num_samples": num_samples, "seed": seed}
    sweep["trials"] = expand(sweep)
    return sweep


def _load_base(base: Any, relative_to: Path) -> dict[str, Any]:
    if isinstance(base, dict):
        return copy.deepcopy(base)
    if not isinstance(base, str) or not base:
        raise SpecError("base", f"expected a training config path or a mapping of training-config keys, got {base!r}")
    candidates = [Path(base), relative_to / base]
    path = next((c for c in candidates if c.is_file()), Path(base))
    return read_yaml_mapping(path, "base")


def _check_key(section: str, key: Any) -> str:
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        raise SpecError(f"{section}.{key}", "expected a dotted training-config key such as ppo.learning_rate")
    return key


def _validate_grid(grid: Any) -> dict[str, list]:
    if not isinstance(grid, dict):
        raise SpecError("grid", f"expected a mapping of dotted key -> list of values, got {type(grid).__name__}")
    out = {}
    for key, values in grid.items():
        key = _check_key("grid", key)
        if not isinstance(values, list) or not values:
            raise SpecError(f"grid.{key}", f"expected a non-empty list of values, got {values!r}")
        seen = [json.dumps(v, sort_keys=True, default=str) for v in values]
        if len(set(seen)) != len(seen):
            raise SpecError(f"grid.{key}", f"duplicate values in {values!r}")
        out[key] = list(values)
    return out


def _validate_random(random: Any) -> dict[str, dict]:
    if not isinstance(random, dict):
        raise SpecError("random", f"expected a mapping of dotted key -> {{distribution: arguments}}, got {type(random).__name__}")
    out = {}
    for key, dist in random.items():
        key = _check_key("random", key)
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


def sample(dist: dict, rng: np.random.Generator) -> Any:
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
    from train.config import validate_config

    rng = np.random.default_rng(sweep["seed"])
    grid, random = sweep["grid"], sweep["random"]
    trials, seen = [], {}
    for _ in range(sweep["num_samples"]):
        for combo in itertools.product(*grid.values()):
            params = dict(zip(grid, combo))
            params.update({key: sample(dist, rng) for key, dist in random.items()})
            raw = copy.deepcopy(sweep["base"])
            for key, value in params.items():
                _set(raw, key, value, "grid" if key in grid else "random")
            try:
                cfg = validate_config(raw)
                cfg["threads"] = 1
                _check_game(cfg)
            except SpecError as exc:
                raise _blame(exc, params, grid) from None
            digest = config_hash(cfg)
            if digest in seen:
                raise SpecError("grid", f"trials {seen[digest]} and {len(trials)} would train the same config {params}")
            seen[digest] = len(trials)
            slug = _slug(params)
            trials.append({"id": f"{len(trials):03d}", "params": params, "config": cfg,
                           "dir": f"{slug}__{digest[:8]}" if slug else digest[:8]})
    return trials


def _set(raw: dict, key: str, value: Any, section: str) -> None:
    """Set a dotted key of a raw training config; ``game.<option>`` edits a random:... game string."""
    parts = key.split(".")
    if parts[0] == "game" and len(parts) == 2:
        game = raw.get("game")
        if not (isinstance(game, str) and game.startswith("random:")):
            raise SpecError(f"{section}.{key}", f"game options can be swept only for a random:... base game; the base game is {game!r}")
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


def _check_game(cfg: dict) -> None:
    """The game loads and the config's speakers exist in it (cheap; nothing is solved)."""
    from train.ppo import resolve_game

    resolve_game(cfg)


def _blame(exc: SpecError, params: dict, grid: dict) -> SpecError:
    """Name the swept key (``grid.KEY`` / ``random.KEY``) a trial-config error comes from, else ``base.FIELD``."""
    msg = str(exc)[len(exc.field) + 2:] if str(exc).startswith(exc.field + ":") else str(exc)
    culprits = [k for k in params if exc.field == k or exc.field.startswith(k + ".") or k.startswith(exc.field + ".")]
    if len(culprits) > 1:  # e.g. several game options: prefer the one the message names
        culprits = [k for k in culprits if f"'{k.split('.')[-1]}'" in msg] or culprits
    if culprits:
        k = culprits[0]
        return SpecError(f"{'grid' if k in grid else 'random'}.{k}", f"{msg} (with {k}={params[k]!r})")
    return SpecError(f"base.{exc.field}", msg)


def config_hash(cfg: dict) -> str:
    return hashlib.sha1(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()


def _slug(params: dict) -> str:
    parts = []
    for key, value in params.items():
        v = f"{value:.4g}" if isinstance(value, float) else str(value)
        parts.append(f"{key}={v}")
    s = re.sub(r"[^A-Za-z0-9_.=,+-]", "_", ",".join(parts))
    return s[:100]


def plan_hash(trials: list[dict]) -> str:
    return hashlib.sha1(json.dumps([[t["id"], t["dir"]] for t in trials]).encode()).hexdigest()[:8]


def is_replicate(key: str) -> bool:
    """Seed-like keys (``seed``, ``game.seed``): replicates, averaged over in the plots."""
    return key.split(".")[-1] == "seed"


# ---------------------------------------------------------------------------------- trials
def make_trainable(trials: dict[str, dict], sweep_dir: str):
    """The Tune function trainable: one ordinary training run per plan entry."""

    def persuasion_trial(config: dict) -> None:
        from ray import tune

        from train.ppo import CHECKPOINT, CONFIG, SUMMARY, train

        trial = trials[config["trial"]]
        run_dir = Path(sweep_dir) / "trials" / trial["dir"]
        summary_file = run_dir / SUMMARY
        reused = summary_file.exists()
        t0 = time.perf_counter()
        if reused:
            summary = json.loads(summary_file.read_text())
        else:
            resume = (run_dir / CHECKPOINT).exists() and (run_dir / CONFIG).exists()
            summary = train(copy.deepcopy(trial["config"]), run_dir, resume=resume, progress=False)
        tune.report(trial_metrics(summary, reused, time.perf_counter() - t0, str(run_dir)))

    return persuasion_trial


def trial_metrics(summary: dict, reused: bool, seconds: float, run_dir: str) -> dict[str, Any]:
    """What a trial reports to Tune: exact values, analytic bounds and exploitability."""
    b = summary["bounds"]
    ex = summary.get("exploitability", {})
    nan = float("nan")
    return {
        "user_value": summary["user_value"],
        "speaker_values": dict(summary["speaker_values"]),
        "no_information": b["no_information"],
        "full_information": b["full_information"],
        "bayes_optimal": b.get("bayes_optimal", nan),
        "competition_bound": nan if b.get("competition_bound") is None else b["competition_bound"],
        "epsilon": b["hull"]["epsilon"],
        "single_sender": {n: v["sender_value"] for n, v in b["single_sender"].items()},
        "exploitability": ex.get("exploitability", nan),
        "gain": dict(ex.get("gain", {})),
        "global_step": summary.get("global_step", 0),
        "reused": reused,
        "seconds": seconds,
        "run_dir": run_dir,
    }


# ---------------------------------------------------------------------------------- running
AUTH_HINT = ("if the cluster uses token authentication (RAY_AUTH_MODE=token, the default of clusters started "
             "where a token exists), pass its token with --auth-token-file PATH (the head node's ~/.ray/auth_token, "
             "from `ray get-auth-token`) or set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN")


def use_auth_token(path: str | Path) -> None:
    """Make this process (and Ray's workers it starts) present the token in ``path`` to a cluster.

    Ray reads ``RAY_AUTH_MODE`` and ``RAY_AUTH_TOKEN_PATH`` when it connects; with an explicit
    ``--address`` it never turns token mode on by itself, so a cluster that requires a token
    refuses the connection unless both are set.
    """
    path = Path(path).expanduser()
    try:
        token = path.read_text().strip()
    except OSError as exc:
        raise SpecError("--auth-token-file", f"cannot read {path}: {exc.strerror or exc}") from None
    if not token:
        raise SpecError("--auth-token-file", f"{path} is empty; expected a Ray authentication token")
    os.environ["RAY_AUTH_MODE"] = "token"
    os.environ["RAY_AUTH_TOKEN_PATH"] = str(path.resolve())
    if "ray" in sys.modules:  # Ray read its config at import: refresh it as Ray's own token setup does
        from ray._raylet import AuthenticationTokenLoader, Config

        Config.initialize("")
        AuthenticationTokenLoader.instance().reset_cache()


def run_sweep(sweep: dict[str, Any], out: str | Path, address: str | None = None, workers: int | None = None,
              verbose: int = 1, auth_token_file: str | Path | None = None) -> tuple[list[dict], int]:
    """Run (or resume) the sweep's trials with Ray Tune; write the table and plots; return (rows, exit status)."""
    if auth_token_file is not None:
        if not address:
            raise SpecError("--auth-token-file", "only applies with --address (a local instance needs no token)")
        use_auth_token(auth_token_file)
    import ray
    from ray import tune

    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    trials = sweep["trials"]
    by_id = {t["id"]: t for t in trials}
    from train.ppo import write_json

    write_json(out / PLAN, {"name": sweep["name"], "grid": sweep["grid"], "random": sweep["random"],
                            "num_samples": sweep["num_samples"], "seed": sweep["seed"], "trials": trials})
    started = False
    if not ray.is_initialized():
        if address:
            try:
                ray.init(address=address, log_to_driver=False)
            except (ConnectionError, ray.exceptions.AuthenticationError) as exc:
                hint = "" if auth_token_file is not None else f"; {AUTH_HINT}"
                raise SpecError("--address", f"cannot join the Ray cluster at {address}: {exc}{hint}") from None
        else:
            ray.init(address="local", num_cpus=workers or os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
            started = True
    storage = out / "tune"
    exp_name = f"{sweep['name']}-{plan_hash(trials)}"
    exp_dir = storage / exp_name
    trainable = make_trainable(by_id, str(out))
    error = None
    results = None
    try:
        if tune.Tuner.can_restore(str(exp_dir)):
            print(f"resuming the Tune experiment {exp_dir}", flush=True)
            tuner = tune.Tuner.restore(str(exp_dir), trainable=trainable, resume_unfinished=True, restart_errored=True)
        else:
            tuner = tune.Tuner(
                trainable,
                param_space={"trial": tune.grid_search([t["id"] for t in trials])},
                tune_config=tune.TuneConfig(num_samples=1, max_concurrent_trials=workers if address else None),
                run_config=tune.RunConfig(
                    name=exp_name, storage_path=str(storage), verbose=verbose,
                    failure_config=tune.FailureConfig(max_failures=0, fail_fast=False),
                ),
            )
        results = tuner.fit()
    except KeyboardInterrupt:  # a second Ctrl+C: Tune saved its state at the first
        error = "interrupted"
        print("interrupted: run the same command again to resume", file=sys.stderr)
    except Exception as exc:  # the table is written whatever happened to the Tune run
        error = f"{type(exc).__name__}: {exc}"
        print(f"error: the Tune run failed: {error}", file=sys.stderr)
    finally:
        rows = collect_rows(trials, out, results)
        write_results(sweep, rows, out)
        if started:
            ray.shutdown()
    status = 0 if error is None and all(r["status"].startswith("ok") for r in rows) else 1
    return rows, status


def _error_text(err: Any) -> str:
    cause = getattr(err, "cause", None) or err
    lines = [s for s in str(cause).strip().splitlines() if s.strip()]
    text = f"{type(cause).__name__}: {lines[-1] if lines else ''}"
    return text.replace("|", "/")[:200]


def collect_rows(trials: list[dict], out: Path, results: Any) -> list[dict]:
    """One row per trial, from its ``summary.json`` and Tune's record of it."""
    tune_result = {}
    if results is not None:
        for r in results:
            tid = (r.config or {}).get("trial")
            if tid is not None:
                tune_result[tid] = r
    rows = []
    for t in trials:
        run_dir = out / "trials" / t["dir"]
        row: dict[str, Any] = {"trial": t["id"], "params": t["params"], "run_dir": str(run_dir.relative_to(out)),
                               "game": str(t["config"]["game"])}
        summary_file = run_dir / "summary.json"
        r = tune_result.get(t["id"])
        summary = json.loads(summary_file.read_text()) if summary_file.exists() else None
        if r is not None and r.error is not None:
            row["status"] = "error: " + _error_text(r.error)
        elif summary is not None:
            reused = bool(r is not None and (r.metrics or {}).get("reused"))
            row["status"] = "ok (reused)" if reused else "ok"
        else:
            row["status"] = "unfinished"
        if summary is not None:
            m = trial_metrics(summary, False, 0.0, "")
            row.update({k: m[k] for k in ("user_value", "no_information", "full_information", "competition_bound",
                                          "epsilon", "exploitability")})
            row["game"] = summary["game"]
            row["speaker_values"] = summary["speaker_values"]
            ex = summary.get("exploitability", {})
            row["exploitability_exact"] = all(ex.get("exact", {}).values()) if "exact" in ex else None
            timing = run_dir / "timing.json"
            if timing.exists():
                row["seconds"] = json.loads(timing.read_text()).get("seconds_this_session")
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------- outputs
VALUE_COLUMNS = [("user_value", "user"), ("no_information", "no-info"), ("full_information", "full-info"),
                 ("competition_bound", "comp. bound"), ("epsilon", "eps"), ("exploitability", "exploitability")]


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        text = f"{v:.{digits}f}"
        return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.0000"
    return str(v)


def write_results(sweep: dict, rows: list[dict], out: Path) -> None:
    """``results.csv``, ``results.md`` and ``plot_<key>.png`` in ``out``."""
    keys = list(sweep["grid"]) + list(sweep["random"])
    with open(out / RESULTS_CSV, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["trial", *keys, "game", *(c for c, _ in VALUE_COLUMNS), "exploitability_exact", "status",
                    "speaker_values", "seconds", "run_dir"])
        for r in rows:
            w.writerow([r["trial"], *(_csv_value(r["params"][k]) for k in keys), r["game"],
                        *(_csv_value(r.get(c)) for c, _ in VALUE_COLUMNS), _csv_value(r.get("exploitability_exact")),
                        r["status"], ";".join(f"{n}={v:.6g}" for n, v in r.get("speaker_values", {}).items()),
                        _csv_value(r.get("seconds")), r["run_dir"]])
    (out / RESULTS_MD).write_text(markdown_table(sweep, rows))
    try:
        plot_results(sweep, rows, out)
    except Exception as exc:  # plots are a convenience: never lose the table for them
        print(f"warning: plots not written: {type(exc).__name__}: {exc}", file=sys.stderr)


def _csv_value(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "nan" if math.isnan(v) else repr(v)
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    return str(v)


def markdown_table(sweep: dict, rows: list[dict]) -> str:
    keys = list(sweep["grid"]) + list(sweep["random"])
    head = ["trial", *keys, *(label for _, label in VALUE_COLUMNS), "status"]
    lines = [f"# Sweep {sweep['name']}: exact outcomes against theory", "",
             "user = the user's exact expected utility under the learned (committed) schemes; "
             "comp. bound = full information - 2 eps (blank when its premises fail); "
             "exploitability = the largest unilateral gain of a speaker (a lower bound for multi-round games).", "",
             "| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in rows:
        cells = [r["trial"], *(_fmt(r["params"][k]) for k in keys), *(_fmt(r.get(c)) for c, _ in VALUE_COLUMNS), r["status"]]
        lines.append("| " + " | ".join(cells) + " |")
    n_ok = sum(r["status"].startswith("ok") for r in rows)
    lines += ["", f"{n_ok} of {len(rows)} trials finished."]
    return "\n".join(lines) + "\n"


#: Theory lines of the utility plots: column -> (style, line width, alpha, legend label).
THEORY_STYLES = {"full_information": ("--", 1.5, 1.0, "full information"),
                 "competition_bound": (":", 2.0, 1.0, "competition bound (fi - 2 eps)"),
                 "no_information": ("-.", 1.0, 0.4, "no information")}
THEORY_MARKERS = {"full_information": ("_", 2.0, 1.0, "full information"),
                  "competition_bound": ("v", 1.0, 1.0, "competition bound (fi - 2 eps)"),
                  "no_information": ("x", 1.0, 0.4, "no information")}


def _mean(xs: list[float]) -> float:
    xs = [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return float(np.mean(xs)) if xs else float("nan")


def plot_results(sweep: dict, rows: list[dict], out: Path) -> list[Path]:
    """For each swept key: user utility and exploitability against it, with the theory's lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid, random = sweep["grid"], sweep["random"]
    keys = list(grid) + list(random)
    main_keys = [k for k in keys if not is_replicate(k)] or keys
    done = [r for r in rows if "user_value" in r]
    written: list[Path] = []
    if not done:  # nothing finished yet: no points to plot
        return written
    for key in main_keys:
        group_keys = [k for k in grid if k != key and not is_replicate(k)]
        values = [r["params"][key] for r in done]
        numeric = all(is_number(v) for v in values)
        order = grid[key] if key in grid else sorted({json.dumps(v, default=str) for v in values})
        if numeric:
            xpos = {json.dumps(v, default=str): float(v) for v in values}
        else:
            xpos = {json.dumps(v, default=str): float(i) for i, v in enumerate(order if key in grid else [json.loads(o) for o in order])}
        groups: dict[tuple, list[dict]] = {}
        for r in done:
            groups.setdefault(tuple(json.dumps(r["params"][g], default=str) for g in group_keys), []).append(r)
        # Categorical keys get markers only (a line between categories means nothing).
        styles = THEORY_STYLES if numeric else THEORY_MARKERS
        fig, (ax_u, ax_e) = plt.subplots(1, 2, figsize=(11, 4.2))
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for gi, (gval, members) in enumerate(sorted(groups.items())):
            colour = colours[gi % len(colours)]
            label = ", ".join(f"{k.split('.')[-1]}={json.loads(v)}" for k, v in zip(group_keys, gval)) or "trials"
            xs = np.array([xpos[json.dumps(r["params"][key], default=str)] for r in members])
            ax_u.scatter(xs, [r["user_value"] for r in members], color=colour, alpha=0.45, s=18)
            ax_e.scatter(xs, [r["exploitability"] for r in members], color=colour, alpha=0.45, s=18)
            ux = np.unique(xs)
            at = {x: [r for r, xr in zip(members, xs) if xr == x] for x in ux}

            def line(ax, col, style, lw=1.5, alpha=1.0, lab=None):
                ys = [_mean([r.get(col) for r in at[x]]) for x in ux]
                ax.plot(ux, ys, style, color=colour, lw=lw, alpha=alpha, label=lab, markersize=14 if style == "_" else 6)

            if key in grid:
                line(ax_u, "user_value", "o-" if numeric else "o", lab=label)
                line(ax_e, "exploitability", "o-" if numeric else "o", lab=label)
            else:
                ax_u.plot([], [], "o", color=colour, label=label)
            for col, (style, lw, alpha, _) in styles.items():
                line(ax_u, col, style, lw=lw, alpha=alpha)
        for col, (style, lw, alpha, lab) in styles.items():
            ax_u.plot([], [], style, color="k", lw=lw, alpha=alpha, label=lab, markersize=14 if style == "_" else 6)
        ax_e.axhline(0.0, color="k", lw=0.8)
        for ax, title in ((ax_u, "user's exact utility"), (ax_e, "exploitability (best unilateral gain)")):
            ax.set_xlabel(key)
            ax.set_title(title)
            if not numeric:
                labels = order if key in grid else [json.loads(o) for o in order]
                ax.set_xticks([xpos[json.dumps(v, default=str)] for v in labels if json.dumps(v, default=str) in xpos])
                ax.set_xticklabels([str(v) for v in labels if json.dumps(v, default=str) in xpos])
            elif key in random and "loguniform" in random[key]:
                ax.set_xscale("log")
            elif key in grid:
                ax.set_xticks(sorted({float(v) for v in values}))
        reps = [k for k in keys if is_replicate(k) and k != key]
        note = f" (lines: mean over {', '.join(reps)})" if reps and key in grid else ""
        fig.suptitle(f"{sweep['name']}: against {key}{note}", fontsize=10)
        ax_u.legend(fontsize=7, loc="best")
        fig.tight_layout()
        path = out / f"plot_{re.sub(r'[^A-Za-z0-9_.-]', '_', key)}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


# ---------------------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.sweep", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="sweep file (YAML); see configs/sweeps/")
    parser.add_argument("--address", help="join this Ray cluster (e.g. auto or HOST:PORT) instead of starting a local one")
    parser.add_argument("--auth-token-file", help="with --address: the cluster's authentication token "
                        "(the head node's ~/.ray/auth_token), for clusters with RAY_AUTH_MODE=token")
    parser.add_argument("--out", help="sweep directory (default sweeps/<name>)")
    parser.add_argument("--workers", type=int, help="CPUs of the local Ray instance (default: every core); "
                        "with --address, the largest number of concurrent trials")
    args = parser.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        print("error: --workers: must be >= 1", file=sys.stderr)
        return 2
    try:
        sweep = load_sweep(args.config)
    except (SpecError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        import ray  # noqa: F401
        from ray import tune  # noqa: F401
    except ImportError:
        print(f"error: {INSTALL_HINT}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path("sweeps") / sweep["name"]
    print(f"sweep {sweep['name']}: {len(sweep['trials'])} trials -> {out}", flush=True)
    t0 = time.perf_counter()
    try:
        rows, status = run_sweep(sweep, out, address=args.address, workers=args.workers,
                                 auth_token_file=args.auth_token_file)
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print()
    print(markdown_table(sweep, rows))
    print(f"wall time {time.perf_counter() - t0:.1f} s; table: {out / RESULTS_MD}, {out / RESULTS_CSV}")
    if any(r["status"] == "unfinished" for r in rows):
        print("some trials are unfinished: run the same command again to resume them", file=sys.stderr)
    return status


if __name__ == "__main__":
    # Run through the importable module so that Ray pickles the trainable by reference.
    from train import sweep as _sweep

    sys.exit(_sweep.main())
