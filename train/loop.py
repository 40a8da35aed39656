"""Train the speakers' signalling policies with independent PPO, scored exactly against theory.

Read top to bottom: resolve the config and game; build the batched environment, one learner per
learning speaker (or one shared network) and the fixed speakers; then iterate

    rollout (rollout_episodes x rounds steps of n_envs episodes)
    -> generalised advantage estimates per speaker -> PPO update per learner
    -> TensorBoard scalars -> every eval_interval: exact value of the committed (mean) schemes
    -> every checkpoint_interval: atomic checkpoint with every RNG state

and finally write ``summary.json``: the exact outcome of the final schemes beside every analytic
quantity of ``python -m eval.bounds GAME --json``.

TensorBoard tags follow CleanRL (``charts/``, ``losses/``) with ``eval/`` for exact values:
``charts/episodic_return/<speaker>``, ``charts/user_utility``, ``charts/SPS``,
``losses/<speaker>/{policy_loss,value_loss,entropy,approx_kl,clipfrac,explained_variance}``,
``eval/user_value`` with ``eval/no_information``, ``eval/full_information``,
``eval/competition_bound``, ``eval/<speaker>/value`` with ``eval/<speaker>/single_sender``, and
every ``exploitability_interval`` iterations ``eval/exploitability`` and ``eval/<speaker>/best_gain``
(each speaker's best unilateral gain against the committed schemes).

A run killed at any moment resumes from its last checkpoint (``--resume RUN_DIR``) and ends with
the same ``summary.json`` as an uninterrupted run: iterations begin with fresh episodes, and the
checkpoint holds the learners, optimisers, the environment's and torch's random states.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from tqdm.auto import tqdm

from agents.fixed import FixedSpeaker
from agents.ppo import PPOConfig, PPOLearner, gae, to_logits
from envs.batched import BatchedPersuasionEnv
from envs.conversation import BeliefState, ObservationLayout, heard_speakers
from envs.game import Game, load_game
from envs.validation import SpecError
from eval.exact import evaluate
from eval.tables import format_rows, outcome_rows
from eval.theory import analytic_quantities

CHECKPOINT = "checkpoint.pt"
SUMMARY = "summary.json"
CONFIG = "config.yaml"


# ---------------------------------------------------------------------------------- files
def atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same directory, then rename: never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    atomic_write(path, lambda fh: fh.write((json.dumps(data, indent=2) + "\n").encode()))


def clear_run_dir(run_dir: Path) -> None:
    """Remove a previous run's artifacts (only the files a run writes) before a fresh run there."""
    import shutil

    if (run_dir / "tb").is_dir():
        shutil.rmtree(run_dir / "tb")
    for name in (CHECKPOINT, SUMMARY, CONFIG, "timing.json"):
        (run_dir / name).unlink(missing_ok=True)


def resolve_game(cfg: dict) -> Game:
    """The config's game, with the user's rationality overridden if ``rationality`` is set."""
    game = load_game(cfg["game"])
    if cfg.get("rationality") is not None:
        game = game.replace(rationality=cfg["rationality"])
    unknown = [n for n in cfg["speakers"] if n not in game.speaker_names]
    if unknown:
        raise SpecError(f"speakers.{unknown[0]}", f"no such speaker in game '{game.name}'; speakers are {', '.join(game.speaker_names)}")
    return game


# ---------------------------------------------------------------------------------- speakers
def fixed_speakers(game: Game, cfg: dict) -> dict[int, FixedSpeaker]:
    """The config's non-learning speakers (learner full_revelation, babbling or fixed), by index."""
    out = {}
    for i, name in enumerate(game.speaker_names):
        spec = cfg["speakers"].get(name, {"learner": "ppo"})
        if spec["learner"] != "ppo":
            out[i] = FixedSpeaker(game, i, spec["learner"], spec.get("path"))
    return out


class Speakers:
    """The learning and fixed speakers of one run, and the map from speakers to learners."""

    def __init__(self, game: Game, cfg: dict, obs_size: int, action_shape: tuple[int, int]):
        self.game = game
        self.fixed = fixed_speakers(game, cfg)
        learning = [i for i in range(game.n_speakers) if i not in self.fixed]
        self.learning = learning
        ppo = PPOConfig(**cfg["ppo"])
        if cfg["share_parameters"] and len(learning) > 1:
            shared = PPOLearner(obs_size, action_shape, ppo, n_agents=len(learning))
            self.learners = {i: shared for i in learning}
            self.agent_id = {i: j for j, i in enumerate(learning)}
        else:
            self.learners = {i: PPOLearner(obs_size, action_shape, ppo) for i in learning}
            self.agent_id = {i: 0 for i in learning}

    def unique_learners(self) -> list[PPOLearner]:
        seen: list[PPOLearner] = []
        for learner in self.learners.values():
            if all(learner is not s for s in seen):
                seen.append(learner)
        return seen

    def profile(self) -> dict[str, Any]:
        """Each speaker's committed scheme: the learner's mean as a function of its observation."""
        out: dict[str, Any] = {}
        for i, name in enumerate(self.game.speaker_names):
            if i in self.fixed:
                out[name] = self.fixed[i].schemes
            else:
                x = self.game.speakers[i].n_signals
                learner, aid = self.learners[i], self.agent_id[i]
                out[name] = lambda obs, learner=learner, aid=aid, x=x: learner.scheme(obs, aid)[:, :x, :]
        return out

    def state_dict(self) -> list[dict]:
        return [l.state_dict() for l in self.unique_learners()]

    def load_state_dict(self, states: list[dict]) -> None:
        for learner, state in zip(self.unique_learners(), states):
            learner.load_state_dict(state)


def committed_schemes(game: Game, profile: dict[str, Any], protocol: str) -> dict[str, list]:
    """The final schemes ``[R][X][M]`` per speaker.

    Exact for open-loop commitments (one round with a silent user, ``best_ai``, fixed speakers).
    A learned multi-round scheme depends on the history: round ``t``'s entry is then the scheme
    on the path where the user and every speaker said message 0 in every earlier round (the
    whole policy is in the checkpoint).
    """
    layout = ObservationLayout.for_game(game)
    names = game.speaker_names
    out: dict[str, list] = {n: [] for n in names}
    belief = BeliefState(game, 1)
    user = -np.ones((1, game.rounds), dtype=np.int64)
    said = -np.ones((1, game.rounds, game.n_speakers), dtype=np.int64)
    for t in range(game.rounds):
        belief.update(0, game.user.conversation[t], np.array([0]))
        user[0, t] = 0
        schemes = []
        for i, name in enumerate(names):
            if protocol == "best_ai":
                obs = layout.encode(np.array([t]), game.prior[None], -np.ones_like(user), -np.ones((1, game.rounds, layout.n_heard), dtype=np.int64))
            else:
                obs = layout.encode(np.array([t]), belief.speaker_belief(i), user, said[:, :, list(heard_speakers(game, i))])
            scheme = profile[name]
            schemes.append(scheme[t] if isinstance(scheme, np.ndarray) else scheme(obs)[0])
            out[name].append(np.asarray(schemes[-1], dtype=float).tolist())
        for i, scheme in enumerate(schemes):
            belief.update(i + 1, scheme, np.array([0]))
            said[0, t, i] = 0
    return out


# ---------------------------------------------------------------------------------- training
def train(cfg: dict, run_dir: str | Path, resume: bool = False, progress: bool = True) -> dict:
    """Run (or resume) training in ``run_dir``; returns the summary written to ``summary.json``."""
    run_dir = Path(run_dir)
    torch.set_num_threads(cfg["threads"])
    game = resolve_game(cfg)
    protocol, n_eval = cfg["protocol"], cfg["n_eval"]
    n_envs, R = cfg["n_envs"], game.rounds
    T = cfg["rollout_episodes"] * R  # steps per rollout
    iterations = max(1, cfg["total_steps"] // (n_envs * T))

    env = BatchedPersuasionEnv(game, n_envs, protocol=protocol, n_eval=n_eval, reward_mode=cfg["reward_mode"], seed=cfg["seed"])
    torch.manual_seed(cfg["seed"])
    shuffle = torch.Generator().manual_seed(cfg["seed"] + 1)
    speakers = Speakers(game, cfg, env.obs_size, env.action_shape)
    k, xmax, m = game.n_speakers, env.max_signals, game.messages
    theory = analytic_quantities(game)

    start_iter, global_step, reached = 0, 0, None
    obs = env.reset(seed=cfg["seed"])
    ckpt_path = run_dir / CHECKPOINT
    if resume and ckpt_path.exists():
        ckpt = torch.load(ckpt_path, weights_only=False)
        speakers.load_state_dict(ckpt["learners"])
        env.set_state(ckpt["env"])
        obs = ckpt["obs"]
        torch.set_rng_state(ckpt["torch_rng"])
        shuffle.set_state(ckpt["shuffle_rng"])
        start_iter, global_step, reached = ckpt["iteration"], ckpt["global_step"], ckpt["reached"]
    if not resume:
        clear_run_dir(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(run_dir / CONFIG, lambda fh: fh.write(yaml.safe_dump(cfg, sort_keys=False).encode()))

    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(run_dir / "tb"), purge_step=global_step if resume else None)
    if not resume:
        writer.add_text("hyperparameters", "|param|value|\n|-|-|\n" + "\n".join(f"|{k_}|{v}|" for k_, v in _flat(cfg).items()))

    def exact_eval(step: int) -> dict:
        result = evaluate(game, speakers.profile(), protocol=protocol, n_eval=n_eval)
        writer.add_scalar("eval/user_value", result.user_value, step)
        for key in ("no_information", "full_information", "competition_bound"):
            if theory.get(key) is not None:
                writer.add_scalar(f"eval/{key}", theory[key], step)
        for name, v in result.speaker_values.items():
            writer.add_scalar(f"eval/{name}/value", v, step)
            writer.add_scalar(f"eval/{name}/single_sender", theory["single_sender"][name]["sender_value"], step)
        return result.to_dict()

    def log_exploitability(step: int) -> None:
        ex = profile_exploitability(game, committed_schemes(game, speakers.profile(), protocol), cfg)
        if "exploitability" in ex:
            writer.add_scalar("eval/exploitability", ex["exploitability"], step)
            for name, g in ex["gain"].items():
                writer.add_scalar(f"eval/{name}/best_gain", g, step)

    def view(i: int) -> int:
        """Index of speaker ``i``'s observation in the stored ``[.., 1 or k, D]`` blocks."""
        return 0 if env.shared_observation else i

    learning = speakers.learning
    bar = tqdm(total=iterations, initial=start_iter, disable=not progress, desc=f"{game.name}", dynamic_ncols=True)
    last_eval: dict | None = None
    t0 = time.perf_counter()
    for it in range(start_iter, iterations):
        if reached is not None:
            break
        if cfg["ppo"]["anneal_lr"]:
            for learner in speakers.unique_learners():
                learner.set_learning_rate(cfg["ppo"]["learning_rate"] * (1.0 - it / iterations))
        # ---- rollout
        # Public messages: every speaker sees the same observation, stored once (memory O(k), not O(k^2)).
        buf_obs = torch.zeros((T, n_envs, 1 if env.shared_observation else k, env.obs_size))
        buf_act = torch.zeros((T, n_envs, k, xmax * (m - 1)))
        buf_logp = torch.zeros((T, n_envs, k))
        buf_val = torch.zeros((T, n_envs, k))
        buf_rew = torch.zeros((T, n_envs, k))
        buf_done = torch.zeros((T, n_envs))
        user_utils = []
        for t in range(T):
            o = _obs_tensor(obs, env.shared_observation)
            logits = np.zeros((n_envs, k, xmax, m), dtype=np.float64)
            for i in range(k):
                if i in speakers.fixed:
                    rnd = min(int(obs[0, i, : R + 1].argmax()), R - 1)
                    logits[:, i, : game.speakers[i].n_signals] = speakers.fixed[i].logits[rnd]
                    continue
                ids = torch.full((n_envs,), speakers.agent_id[i], dtype=torch.long)
                action, logp, value = speakers.learners[i].act(o[:, view(i)], ids)
                buf_act[t, :, i], buf_logp[t, :, i], buf_val[t, :, i] = action, logp, value
                logits[:, i] = to_logits(action, (xmax, m)).double().numpy()
            buf_obs[t] = o
            obs, rewards, done, info = env.step(logits)
            buf_rew[t] = torch.as_tensor(rewards, dtype=torch.float32)
            buf_done[t] = float(done)
            if done:
                user_utils.append(info["user_utility"].mean())
        global_step += T * n_envs
        # ---- advantages and updates
        o_next = _obs_tensor(obs, env.shared_observation)
        stats = {}
        by_learner: dict[int, list[int]] = {}
        for i in learning:
            by_learner.setdefault(id(speakers.learners[i]), []).append(i)
        for members in by_learner.values():
            learner = speakers.learners[members[0]]
            batches = []
            for i in members:
                ids = torch.full((n_envs,), speakers.agent_id[i], dtype=torch.long)
                last_value = learner.value(o_next[:, view(i)], ids)
                adv, ret = gae(buf_rew[:, :, i], buf_val[:, :, i], buf_done, last_value,
                               cfg["ppo"]["gamma"], cfg["ppo"]["gae_lambda"])
                batches.append((buf_obs[:, :, view(i)].reshape(T * n_envs, -1), buf_act[:, :, i].reshape(T * n_envs, -1),
                                buf_logp[:, :, i].reshape(-1), adv.reshape(-1), ret.reshape(-1), buf_val[:, :, i].reshape(-1),
                                torch.full((T * n_envs,), speakers.agent_id[i], dtype=torch.long)))
            cat = [torch.cat(parts) for parts in zip(*batches)]
            s = learner.update(*cat, generator=shuffle)
            for i in members:
                stats[game.speaker_names[i]] = s
        # ---- logging
        for i, name in enumerate(game.speaker_names):
            writer.add_scalar(f"charts/episodic_return/{name}", float(buf_rew[:, :, i].sum(0).mean()) / cfg["rollout_episodes"], global_step)
        if user_utils:
            writer.add_scalar("charts/user_utility", float(np.mean(user_utils)), global_step)
        for name, s in stats.items():
            for key, v in s.items():
                writer.add_scalar(f"losses/{name}/{key}", v, global_step)
        writer.add_scalar("charts/SPS", global_step / max(time.perf_counter() - t0, 1e-9), global_step)
        if (it + 1) % cfg["eval_interval"] == 0 or it + 1 == iterations:
            last_eval = exact_eval(global_step)
            bar.set_postfix(_postfix(last_eval))
            target = cfg["target"]
            if target is not None and abs(last_eval["speaker_values"][target["speaker"]] - target["value"]) <= target["tol"]:
                reached = {"iteration": it + 1, "global_step": global_step}
        if cfg["exploitability_interval"] and (it + 1) % cfg["exploitability_interval"] == 0:
            log_exploitability(global_step)
        bar.update(1)
        if (it + 1) % cfg["checkpoint_interval"] == 0 or it + 1 == iterations or reached is not None:
            save_checkpoint(ckpt_path, speakers, env, obs, it + 1, global_step, shuffle, reached)
    bar.close()
    elapsed = time.perf_counter() - t0

    summary = make_summary(game, cfg, speakers.profile(), global_step, reached, theory)
    if "exploitability" in summary["exploitability"]:
        writer.add_scalar("eval/exploitability", summary["exploitability"]["exploitability"], global_step)
    write_json(run_dir / SUMMARY, summary)
    write_json(run_dir / "timing.json", {"seconds_this_session": elapsed, "iterations": iterations})
    writer.close()
    return summary


def make_summary(game: Game, cfg: dict, profile: dict[str, Any], global_step: int, reached: dict | None = None,
                 theory: dict | None = None) -> dict:
    """The exact outcome of ``profile`` beside every analytic quantity (the ``summary.json`` layout)."""
    final = evaluate(game, profile, protocol=cfg["protocol"], n_eval=cfg["n_eval"])
    summary = {
        "game": game.name,
        "protocol": cfg["protocol"],
        "n_eval": cfg["n_eval"],
        "reward_mode": cfg["reward_mode"],
        "seed": cfg["seed"],
        "global_step": global_step,
        "user_value": final.user_value,
        "speaker_values": final.speaker_values,
        "bounds": theory if theory is not None else analytic_quantities(game),
        "schemes": committed_schemes(game, profile, cfg["protocol"]),
        "target_reached": reached,
    }
    summary["exploitability"] = profile_exploitability(game, summary["schemes"], cfg)
    if final.selection:
        summary["selection"] = final.selection
        summary["solo_user_values"] = final.solo_user_values
    return summary


def profile_exploitability(game: Game, schemes: dict[str, list], cfg: dict) -> dict:
    """Each speaker's best unilateral gain against the committed schemes (:mod:`eval.exploitability`).

    Exact (LP or concavification) for one-round games, a numerical lower bound otherwise; a
    multi-round learned policy is assessed through its committed schemes, as open-loop.
    """
    from eval.exploitability import exploitability

    try:
        res = exploitability({n: np.asarray(s) for n, s in schemes.items()}, game, cfg["protocol"], cfg["n_eval"])
    except ValueError as exc:
        return {"error": str(exc)}
    out = res.to_dict()
    out.pop("best_schemes", None)
    return out


def _obs_tensor(obs: np.ndarray, shared: bool) -> torch.Tensor:
    """The environment's observations as a tensor ``[N, 1 or k, D]``: one block when they are shared."""
    return torch.as_tensor(np.array(obs[:, :1]) if shared else obs)


def save_checkpoint(path: Path, speakers: Speakers, env: BatchedPersuasionEnv, obs: np.ndarray, iteration: int,
                    global_step: int, shuffle: torch.Generator, reached: dict | None) -> None:
    state = {
        "learners": speakers.state_dict(),
        "env": env.get_state(),
        "obs": obs,
        "torch_rng": torch.get_rng_state(),
        "shuffle_rng": shuffle.get_state(),
        "iteration": iteration,
        "global_step": global_step,
        "reached": reached,
    }
    atomic_write(path, lambda fh: torch.save(state, fh))


def _postfix(ev: dict) -> dict[str, str]:
    out = {"user": f"{ev['user_value']:.4f}"}
    out.update({n: f"{v:.4f}" for n, v in ev["speaker_values"].items()})
    return out


def _flat(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = v
    return out


def format_outcome(summary: dict) -> str:
    """The learned outcome beside the theory, as a small table."""
    rows = outcome_rows(summary["bounds"], [("user: learned profile", summary["user_value"])],
                        {n: [("learned", v)] for n, v in summary["speaker_values"].items()})
    ex = summary.get("exploitability", {})
    if "exploitability" in ex:
        rows.append(("exploitability" + ("" if all(ex["exact"].values()) else " (lower bound)"), ex["exploitability"]))
    return format_rows(f"Learned outcome on {summary['game']} ({summary['protocol']}), exact:", rows, width=38)
