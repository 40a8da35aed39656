"""Train the speakers' signalling policies, scored exactly against theory.

Read top to bottom: resolve the config and game; build the batched environment and every
speaker's learner (:class:`~persuaders.train.team.Team`, from the learner registry); then iterate

    rollout (rollout_episodes x steps_per_episode steps of n_envs episodes; each learner acts for its speakers)
    -> each learner updates from its speakers' rollouts (PPO: advantages, clipped epochs)
    -> TensorBoard scalars -> every eval_interval: exact value of the committed schemes
    -> every checkpoint_interval: atomic checkpoint with every random state

and finally write ``summary.json``: the exact outcome of the final schemes beside every analytic
quantity of ``persuaders-bounds GAME --json``.

TensorBoard tags follow CleanRL (``charts/``, ``losses/``) with ``eval/`` for exact values:
``charts/episodic_return/<speaker>``, ``charts/user_utility``, ``charts/SPS``,
``losses/<speaker>/<statistic>`` (PPO: policy_loss, value_loss, entropy, approx_kl, clipfrac,
explained_variance, log_std), ``eval/user_value`` with ``eval/no_information``,
``eval/full_information``, ``eval/competition_bound``, ``eval/<speaker>/value`` with
``eval/<speaker>/single_sender``, and every ``exploitability_interval`` iterations
``eval/exploitability`` (and its certified ``eval/exploitability_upper``) and ``eval/<speaker>/best_gain``.

A run killed at any moment resumes from its last checkpoint (``--resume RUN_DIR``) and ends with
the same ``summary.json`` as an uninterrupted run: iterations begin with fresh episodes, and the
checkpoint holds the learners, optimisers, the environment's and torch's random states.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter
from tqdm.auto import tqdm

from persuaders.agents.base import Rollout
from persuaders.envs.game.profiles import read_config
from persuaders.envs.game.users import LogitUser
from persuaders.envs.game.validation import SpecError
from persuaders.envs.payoff.engine import EnumerationTooLarge, check_enumerable
from persuaders.envs.payoff.exact import evaluate
from persuaders.envs.persuasion.batched import BatchedPersuasionEnv
from persuaders.eval.theory import analytic_quantities
from persuaders.train.checkpoint import load_checkpoint, save_checkpoint
from persuaders.train.config import RunConfig, validate_config
from persuaders.train.rundir import (
    CHECKPOINT,
    CONFIG,
    SUMMARY,
    TENSORBOARD,
    TIMING,
    RunLock,
    check_boundary,
    claim,
    prepare_run_dir,
    resume_changes,
    write_json,
    write_yaml,
)
from persuaders.train.summary import committed_schemes, make_summary, profile_exploitability
from persuaders.train.team import Team

__all__ = ["train", "collect_rollout", "update_learners"]


def _obs_tensor(obs: np.ndarray, shared: bool) -> torch.Tensor:
    """The environment's observations as a tensor ``[N, 1 or k, D]``: one block when they are shared."""
    return torch.as_tensor(np.array(obs[:, :1]) if shared else obs)


class _Logger:
    """TensorBoard scalars of a run (the tags in the module docstring)."""

    def __init__(self, run_dir: Path, cfg: RunConfig, resume: bool, global_step: int, speakers: tuple[str, ...] = ()):
        self.speakers = speakers
        tb = run_dir / TENSORBOARD
        before = set(tb.rglob("events.out.tfevents.*")) if tb.is_dir() else set()
        self.writer = SummaryWriter(str(tb), purge_step=global_step if resume else None)
        claim(run_dir, *(set(tb.rglob("events.out.tfevents.*")) - before))  # the run's own event file
        if not resume:
            table = "\n".join(f"|{k}|{v}|" for k, v in _flat(cfg.to_dict()).items())
            self.writer.add_text("hyperparameters", "|param|value|\n|-|-|\n" + table)

    def iteration(self, buf: Any, stats: dict[str, dict[str, float]], episodes: int, step: int, seconds: float) -> None:
        """The rollout's returns and user utility, the learners' statistics and the steps per second."""
        w = self.writer
        for i, name in enumerate(self.speakers):
            w.add_scalar(f"charts/episodic_return/{name}", float(buf.rewards[:, :, i].sum(0).mean()) / episodes, step)
        if buf.user_utility:
            w.add_scalar("charts/user_utility", float(np.mean(buf.user_utility)), step)
        for name, st in stats.items():
            for key, v in st.items():
                w.add_scalar(f"losses/{name}/{key}", v, step)
        w.add_scalar("charts/SPS", step / max(seconds, 1e-9), step)

    def exact(self, result: dict[str, Any], theory: dict[str, Any], step: int) -> None:
        w = self.writer
        w.add_scalar("eval/user_value", result["user_value"], step)
        for key in ("no_information", "full_information", "competition_bound"):
            if theory.get(key) is not None:
                w.add_scalar(f"eval/{key}", theory[key], step)
        for name, v in result["speaker_values"].items():
            w.add_scalar(f"eval/{name}/value", v, step)
            single = theory["single_sender"][name]["sender_value"]
            if single is not None:
                w.add_scalar(f"eval/{name}/single_sender", single, step)

    def exploitability(self, ex: dict[str, Any], step: int) -> None:
        if "exploitability" in ex:
            self.writer.add_scalar("eval/exploitability", ex["exploitability"], step)
            if ex.get("upper") is not None:
                self.writer.add_scalar("eval/exploitability_upper", ex["upper"], step)
            for name, g in ex["gain"].items():
                self.writer.add_scalar(f"eval/{name}/best_gain", g, step)


class _Buffers:
    """One rollout: observations (one block per episode when shared), rewards, dones, and what
    each speaker's learner returned when acting (its ``extras``)."""

    def __init__(self, T: int, env: BatchedPersuasionEnv, with_state: bool):
        n, k = env.n_envs, env.n_speakers
        self.obs = torch.zeros((T, n, 1 if env.shared_observation else k, env.obs_size))
        self.states = torch.zeros((T, n, env.state_size)) if with_state else None
        self.rewards = torch.zeros((T, n, k))
        self.dones = torch.zeros((T, n))
        self.extras: list[list[dict[str, torch.Tensor]]] = [[] for _ in range(k)]
        self.user_utility: list[float] = []


def collect_rollout(env: BatchedPersuasionEnv, team: Team, obs: np.ndarray, T: int) -> tuple[_Buffers, np.ndarray]:
    """``T`` steps of every episode: each speaker's learner acts on its observation, the environment steps."""
    k = env.n_speakers
    buf = _Buffers(T, env, team.uses_state())
    for t in range(T):
        o = _obs_tensor(obs, env.shared_observation)
        s = torch.as_tensor(env.state()) if buf.states is not None else None
        logits = np.zeros((env.n_envs, k, *env.action_shape), dtype=np.float64)
        for i in range(k):
            logits[:, i], ex = team.by_speaker[i].act(o[:, 0 if env.shared_observation else i], i, s)
            buf.extras[i].append(ex)
        buf.obs[t] = o
        if buf.states is not None and s is not None:  # both or neither: the critic reads the state
            buf.states[t] = s
        obs, rewards, done, info = env.step(logits)
        buf.rewards[t] = torch.as_tensor(rewards, dtype=torch.float32)
        buf.dones[t] = float(done)
        if done:
            buf.user_utility.append(float(info["user_utility"].mean()))
    return buf, obs


def update_learners(
    env: BatchedPersuasionEnv, team: Team, buf: _Buffers, obs: np.ndarray
) -> dict[str, dict[str, float]]:
    """Each learner learns from the rollouts of the speakers it plays; returns statistics by speaker."""
    o_next = _obs_tensor(obs, env.shared_observation)
    s_next = torch.as_tensor(env.state()) if buf.states is not None else None
    stats: dict[str, dict[str, float]] = {}
    for learner in team.learning:
        rollouts = []
        for i in learner.spec.speakers:
            v = 0 if env.shared_observation else i
            extras = {key: torch.stack([e[key] for e in buf.extras[i]]) for key in buf.extras[i][0]}
            rollouts.append(
                Rollout(
                    speaker=i,
                    obs=buf.obs[:, :, v],
                    rewards=buf.rewards[:, :, i],
                    dones=buf.dones,
                    next_obs=o_next[:, v],
                    extras=extras,
                    states=buf.states,
                    next_state=s_next,
                )
            )
        s = learner.update(rollouts)
        for i in learner.spec.speakers:
            stats[env.game.speaker_names[i]] = s
    return stats


def train(
    cfg: RunConfig, run_dir: str | Path, resume: bool = False, progress: bool = True, overwrite: bool = False
) -> dict[str, Any]:
    """Run (or resume) training in ``run_dir``; returns the summary written to ``summary.json``.

    A fresh run refuses a non-empty ``run_dir`` unless ``overwrite`` (which removes only a previous
    run's own files); ``resume`` continues from the last checkpoint, refusing any changed setting
    but those of :data:`~persuaders.train.rundir.RESUMABLE_KEYS` (recorded in ``summary.json``). A
    lock keeps a second process out of ``run_dir``. Everything that can be checked (the config,
    the game's size for exact evaluation, the theory) is checked before anything is written.
    ``progress`` shows a progress bar on stderr when stderr is a terminal (never in a log or a pipe).
    """
    run_dir = Path(run_dir)
    torch.set_num_threads(cfg.threads)
    game = cfg.resolved_game
    env = BatchedPersuasionEnv(
        game, cfg.n_envs, protocol=cfg.resolved_protocol, reward_mode=cfg.reward_mode, seed=cfg.seed
    )
    try:
        check_enumerable(game, joint=env.joint)
    except EnumerationTooLarge as exc:
        raise SpecError("game", f"{exc} (training scores every evaluation exactly)") from None
    theory = analytic_quantities(game)
    with RunLock(run_dir):
        changes: dict[str, Any] = {}
        if resume:
            check_boundary(run_dir)
            if not (run_dir / CHECKPOINT).is_file():
                raise SpecError(
                    "--resume", f"{run_dir} holds no {CHECKPOINT}: nothing to resume (start a new run with --out)"
                )
            saved = validate_config(read_config(run_dir / CONFIG, "--resume"))
            changes = resume_changes(saved.to_dict(), cfg.to_dict())
        else:
            prepare_run_dir(run_dir, overwrite)
        return _run(cfg, run_dir, env, theory, resume, changes, progress)


def _run(
    cfg: RunConfig,
    run_dir: Path,
    env: BatchedPersuasionEnv,
    theory: dict[str, Any],
    resume: bool,
    changes: dict[str, Any],
    progress: bool,
) -> dict[str, Any]:
    """The training loop (see the module docstring), in a locked and prepared run directory."""
    # long: the training loop, read top to bottom (rollout, update, evaluation, checkpoint)
    game = cfg.resolved_game
    n_envs = cfg.n_envs
    T = cfg.rollout_episodes * env.steps_per_episode  # steps per rollout (rounds, or thread nodes under best_ai)
    iterations = max(1, cfg.total_steps // (n_envs * T))
    torch.manual_seed(cfg.seed)
    shuffle = torch.Generator().manual_seed(cfg.seed + 1)
    team = Team(cfg, env, shuffle)

    start_iter, global_step, reached, resumed, history = 0, 0, None, [], []
    obs = env.reset(seed=cfg.seed)
    ckpt_path = run_dir / CHECKPOINT
    if resume and ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path)
        team.load_state_dict(ckpt["learners"])
        env.set_state(ckpt["env"])
        obs = ckpt["obs"]
        torch.set_rng_state(ckpt["torch_rng"])
        shuffle.set_state(ckpt["shuffle_rng"])
        start_iter, global_step, reached = ckpt["iteration"], ckpt["global_step"], ckpt["reached"]
        resumed = list(ckpt["resumed"])
        history = list(ckpt["history"])
    if changes:
        resumed.append({"iteration": start_iter, "changed": changes})
    if not resume or changes:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_yaml(run_dir / CONFIG, cfg.to_dict())  # a resumed run's config.yaml says what it now runs with
        claim(run_dir, run_dir / CONFIG)
    log = _Logger(run_dir, cfg, resume, global_step, game.speaker_names)

    bar = tqdm(
        total=iterations,
        initial=start_iter,
        disable=None if progress else True,
        desc=f"{game.name}",
        dynamic_ncols=True,
    )
    t0 = time.perf_counter()
    claimed = False
    for it in range(start_iter, iterations):
        if reached is not None:
            break
        team.set_progress(it / iterations)
        schedule = cfg.rationality_schedule
        if schedule is not None:  # the homotopy: logit users ever closer to the game's, then the game's
            fraction = it / iterations
            current = LogitUser(schedule.rationality(fraction)) if fraction < schedule.until else None
            env.set_user_model(current if current is not None else game.user.model)
            team.set_user_model(current)
        buf, obs = collect_rollout(env, team, obs, T)
        global_step += T * n_envs
        stats = update_learners(env, team, buf, obs)
        log.iteration(buf, stats, cfg.rollout_episodes, global_step, time.perf_counter() - t0)
        if (it + 1) % cfg.eval_interval == 0 or it + 1 == iterations:
            result = evaluate(game, team.profile(), protocol=cfg.resolved_protocol).to_dict()
            log.exact(result, theory, global_step)
            history.append({"step": global_step, "user_value": result["user_value"], **result["speaker_values"]})
            bar.set_postfix(
                {"user": f"{result['user_value']:.4f}", **{n: f"{v:.4f}" for n, v in result["speaker_values"].items()}}
            )
            if cfg.target is not None and cfg.target.reached(result["speaker_values"]):
                reached = {"iteration": it + 1, "global_step": global_step}
        if cfg.exploitability_interval and (it + 1) % cfg.exploitability_interval == 0:
            schemes = committed_schemes(game, team.profile(), cfg.resolved_protocol)
            log.exploitability(
                profile_exploitability(game, schemes, cfg.resolved_protocol, team.profile()), global_step
            )
        bar.update(1)
        if (it + 1) % cfg.checkpoint_interval == 0 or it + 1 == iterations or reached is not None:
            save_checkpoint(
                ckpt_path,
                learners=team.state_dict(),
                env_state=env.get_state(),
                obs=obs,
                shuffle=shuffle,
                iteration=it + 1,
                global_step=global_step,
                reached=reached,
                resumed=resumed,
                history=history,
            )
            if not claimed:
                claim(run_dir, ckpt_path)
                claimed = True
    bar.close()
    elapsed = time.perf_counter() - t0

    summary = make_summary(cfg, team.profile(), global_step, reached, theory)
    summary["history"] = history  # the exact values at every evaluation (step, user_value, each speaker's)
    if resumed:
        summary["resumed"] = resumed
    log.exploitability(summary["exploitability"], global_step)
    write_json(run_dir / SUMMARY, summary)
    write_json(run_dir / TIMING, {"seconds_this_session": elapsed, "iterations": iterations})
    claim(run_dir, run_dir / SUMMARY, run_dir / TIMING, ckpt_path)
    log.writer.close()
    return summary


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = v
    return out
