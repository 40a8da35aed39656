"""Train one speaker with stable-baselines3's PPO on the Gymnasium single-speaker view.

``persuaders-sb3 --config configs/train/NAME.yaml [--set key=value ...] [--out DIR]``
(or ``persuaders-sb3``)

The config is the native trainer's: exactly one speaker must have learner ``ppo`` (the one SB3
trains, with the config's ``ppo`` hyperparameters); the others play fixed learners
(``babbling``, ``full_revelation``, ``fixed``). SB3 logs to TensorBoard under the run directory,
and the run ends with the same ``summary.json`` as :mod:`persuaders.train.loop`: the exact outcome
of SB3's deterministic policy beside the theory. With a
``target`` in the config, training stops once the learner's exact value is within ``tol`` of it
(checked every ``eval_interval`` x 2048 steps).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from persuaders.agents.base import LearnerSpec
from persuaders.agents.ppo import PPOConfig
from persuaders.compat import run_command
from persuaders.envs.game.validation import SpecError
from persuaders.envs.payoff.exact import evaluate
from persuaders.envs.persuasion.single_speaker import SingleSpeakerEnv
from persuaders.train.config import RunConfig
from persuaders.train.rundir import CONFIG, SUMMARY, RunLock, prepare_run_dir, write_json, write_yaml
from persuaders.train.summary import make_summary


def _require_sb3() -> None:
    try:
        import stable_baselines3  # noqa: F401
    except ImportError:
        raise SystemExit("stable-baselines3 is not installed: pip install -e '.[sb3]'") from None


def train_sb3(
    cfg: RunConfig, run_dir: str | Path, progress: bool = True, n_steps: int = 256, overwrite: bool = False
) -> dict[str, Any]:
    """Train the config's single PPO speaker with SB3; write and return ``summary.json``.

    Like :func:`persuaders.train.loop.train`, a non-empty ``run_dir`` is refused unless ``overwrite``
    (which removes only a previous run's files), and a lock keeps a second process out."""
    _require_sb3()
    with RunLock(Path(run_dir)):
        prepare_run_dir(Path(run_dir), overwrite)
        return _train_sb3(cfg, Path(run_dir), progress, n_steps)


def _train_sb3(cfg: RunConfig, run_dir: Path, progress: bool, n_steps: int) -> dict[str, Any]:
    from stable_baselines3.common.callbacks import BaseCallback

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_yaml(run_dir / CONFIG, cfg.to_dict())
    torch.set_num_threads(cfg.threads)
    game = cfg.resolved_game
    learning = [n for n in game.speaker_names if cfg.speaker_learner(n).name == "ppo"]
    if len(learning) != 1:
        raise SpecError(
            "speakers",
            f"train.sb3 trains exactly one speaker; learners 'ppo': {learning or 'none'}; set the others' learner",
        )
    speaker = learning[0]
    others = fixed_schemes(cfg, exclude=speaker)
    # The PettingZoo environment's flat logits on the [-1, 1] box SB3 recommends (logits = 10 * action);
    # SB3 clips every action it sends, and every deterministic action it predicts, to that box.
    env = SingleSpeakerEnv(
        game,
        speaker,
        others,
        protocol=cfg.resolved_protocol,
        reward_mode=cfg.reward_mode,
        action_format="flat",
        unit_box=True,
    )
    model = _ppo_model(cfg, speaker, env, n_steps, run_dir)

    def profile() -> dict[str, Any]:
        def scheme(obs: np.ndarray) -> np.ndarray:
            action, _ = model.predict(obs.astype(np.float32), deterministic=True)
            return np.stack([env.scheme_from_action(a) for a in np.atleast_2d(action)])

        return {**others, speaker: scheme}

    reached: dict[str, Any] | None = None
    target = cfg.target
    check_every = cfg.eval_interval * n_steps

    class TargetStop(BaseCallback):
        def _on_step(self) -> bool:
            nonlocal reached
            if target is None or self.num_timesteps % check_every:
                return True
            values = evaluate(game, profile(), protocol=cfg.resolved_protocol).speaker_values
            self.logger.record(f"eval/{speaker}/value", values[target.speaker])
            if target.reached(values):
                reached = {"global_step": int(self.num_timesteps)}
                return False
            return True

    model.learn(
        total_timesteps=cfg.total_steps,
        callback=TargetStop(),
        # SB3's bar draws with rich on stdout: only on a terminal, never in a log or a pipe
        progress_bar=progress and sys.stdout.isatty() and _has_rich(),
        tb_log_name="sb3_ppo",
    )
    model.save(run_dir / "sb3_model.zip")
    summary = make_summary(cfg, profile(), int(model.num_timesteps), reached)
    summary["trainer"] = "stable-baselines3"
    write_json(run_dir / SUMMARY, summary)
    return summary


def _ppo_model(cfg: RunConfig, speaker: str, env: SingleSpeakerEnv, n_steps: int, run_dir: Path) -> Any:
    """SB3's PPO on the single-speaker view, with the speaker's hyperparameters of the config
    (a minibatch of ``n_steps // num_minibatches`` samples, SB3's name ``batch_size``)."""
    from stable_baselines3 import PPO

    p = cfg.speaker_learner(speaker).hyperparameters
    assert isinstance(p, PPOConfig), f"learner 'ppo' has hyperparameters {type(p).__name__}, not PPOConfig"
    return PPO(
        "MlpPolicy",
        env,
        learning_rate=p.learning_rate,
        n_steps=n_steps,
        batch_size=max(1, n_steps // p.num_minibatches),
        n_epochs=p.update_epochs,
        gamma=p.gamma,
        gae_lambda=p.gae_lambda,
        clip_range=p.clip_coef,
        ent_coef=p.ent_coef,
        vf_coef=p.vf_coef,
        max_grad_norm=p.max_grad_norm,
        normalize_advantage=p.norm_adv,
        target_kl=p.target_kl,
        policy_kwargs={"net_arch": list(p.hidden_sizes), "log_std_init": p.init_log_std},
        seed=cfg.seed,
        device="cpu",
        tensorboard_log=str(run_dir / "tb"),
        verbose=0,
    )


def fixed_schemes(cfg: RunConfig, exclude: str) -> dict[str, np.ndarray]:
    """The committed schemes ``[R, X_i, M]`` of every speaker of the config's game but ``exclude``;
    each must play a fixed learner."""
    game = cfg.resolved_game
    out: dict[str, np.ndarray] = {}
    for i, s in enumerate(game.speakers):
        if s.name == exclude:
            continue
        plays = cfg.speaker_learner(s.name)
        if plays.cls.learns:
            raise SpecError(
                f"speakers.{s.name}.learner", f"train.sb3 needs the other speakers fixed, got learner '{plays.name}'"
            )
        spec = LearnerSpec(
            game=game,
            speakers=(i,),
            obs_size=0,
            action_shape=(s.n_signals, game.messages),
            state_size=0,
            n_envs=1,
            protocol=cfg.resolved_protocol,
            options=plays.options,
        )
        scheme = plays.cls(spec, plays.hyperparameters).commitment(i)
        assert scheme is not None, f"learner '{plays.name}' learns nothing yet commits to no fixed scheme"
        out[s.name] = scheme
    return out


def _has_rich() -> bool:
    try:
        import rich  # noqa: F401
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(run_command("persuaders.train.sb3", "persuaders.cli.sb3"))
