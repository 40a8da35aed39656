"""``persuaders-sweep --config configs/sweeps/NAME.yaml [--address ADDR [--auth-token-file F]]
[--out DIR] [--workers N]``.

A grid or random search over training-config keys, each point an ordinary training run
(:func:`persuaders.train.loop.train`) executed as a Ray Tune trial, then one table and a few plots of the
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

Keys are training-config keys (:mod:`persuaders.train.config`, dotted for nested ones: ``ppo.gamma``,
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
Ray's own ``RAY_AUTH_MODE=token`` with ``RAY_AUTH_TOKEN`` or ``RAY_AUTH_TOKEN_PATH``. A trial
that raises is recorded as errored and the others go on (``max_failures=0``, no fail-fast); the
table is written in every case.

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

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from persuaders.compat import run_command
from persuaders.envs.game.profiles import read_json
from persuaders.envs.game.validation import SpecError
from persuaders.train.loop import train
from persuaders.train.rundir import CHECKPOINT, CONFIG, SUMMARY, write_json
from persuaders.train.sweep_plan import load_sweep, plan_hash
from persuaders.train.sweep_report import (
    collect_rows,
    trial_metrics,
    write_results,
)

__all__ = ["load_sweep", "run_sweep", "make_trainable", "use_auth_token", "write_results"]

INSTALL_HINT = (
    "persuaders-sweep needs Ray Tune: pip install 'competing-persuaders[ray]'   "
    "(or: pip install 'ray[tune,rllib]==2.60.0')"
)
PLAN = "plan.json"


# ---------------------------------------------------------------------------------- trials
def make_trainable(trials: dict[str, dict[str, Any]], sweep_dir: str) -> Callable[[dict[str, Any]], None]:
    """The Tune function trainable: one ordinary training run per plan entry."""

    def persuasion_trial(config: dict[str, Any]) -> None:
        from ray import tune  # Ray is optional (the [ray] extra): imported only where a trial runs

        trial = trials[config["trial"]]
        run_dir = Path(sweep_dir) / "trials" / trial["dir"]
        summary_file = run_dir / SUMMARY
        reused = summary_file.exists()
        t0 = time.perf_counter()
        if reused:
            summary = read_json(summary_file, "summary")
        else:
            resume = (run_dir / CHECKPOINT).exists() and (run_dir / CONFIG).exists()
            # The trial directory is the sweep's own: a trial that stopped before its first
            # checkpoint starts again there (overwrite removes only its earlier run files).
            summary = train(trial["config"], run_dir, resume=resume, progress=False, overwrite=not resume)
        tune.report(trial_metrics(summary, reused, time.perf_counter() - t0, str(run_dir)))

    return persuasion_trial


# ---------------------------------------------------------------------------------- running
AUTH_HINT = (
    "if the cluster uses token authentication (RAY_AUTH_MODE=token, the default of clusters started "
    "where a token exists), pass its token with --auth-token-file PATH (the head node's ~/.ray/auth_token, "
    "from `ray get-auth-token`) or set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN"
)


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
        from ray._raylet import AuthenticationTokenLoader, Config  # type: ignore[attr-defined]  # compiled, no stubs

        Config.initialize("")
        AuthenticationTokenLoader.instance().reset_cache()


def run_sweep(
    sweep: dict[str, Any],
    out: str | Path,
    address: str | None = None,
    workers: int | None = None,
    verbose: int = 1,
    auth_token_file: str | Path | None = None,
) -> tuple[list[dict[str, Any]], int]:
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
    write_json(
        out / PLAN,
        {
            "name": sweep["name"],
            "grid": sweep["grid"],
            "random": sweep["random"],
            "num_samples": sweep["num_samples"],
            "seed": sweep["seed"],
            "trials": [{**t, "config": t["config"].to_dict()} for t in trials],
        },
    )
    started = False
    if not ray.is_initialized():
        if address:
            try:
                ray.init(address=address, log_to_driver=False)
            except (ConnectionError, ray.exceptions.AuthenticationError) as exc:
                hint = "" if auth_token_file is not None else f"; {AUTH_HINT}"
                raise SpecError("--address", f"cannot join the Ray cluster at {address}: {exc}{hint}") from None
        else:
            ray.init(
                address="local", num_cpus=workers or os.cpu_count() or 1, include_dashboard=False, log_to_driver=False
            )
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
                    name=exp_name,
                    storage_path=str(storage),
                    verbose=verbose,
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


# ---------------------------------------------------------------------------------- command line


if __name__ == "__main__":
    sys.exit(run_command("persuaders.train.sweep", "persuaders.cli.sweep"))
