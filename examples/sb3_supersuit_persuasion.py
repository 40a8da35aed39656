"""Train persuasion_v0 speakers with one shared stable-baselines3 PPO policy through SuperSuit, then score them exactly.

``python examples/sb3_supersuit_persuasion.py [--game hull_pair_logit] [--timesteps 49152] [--seed 0]``
(needs SuperSuit and stable-baselines3: ``pip install supersuit stable-baselines3``; tested with
SuperSuit 3.11.0, stable-baselines3 2.9.2, pettingzoo 1.27.0, gymnasium 1.2.2, torch 2.13.0).

What it shows
    * the PettingZoo ``ParallelEnv`` made with ``action_format="flat"`` (each speaker's action is
      its ``X * M`` scheme logits row by row: SB3's Gaussian policy wants a flat ``Box``) and
      ``agent_id=True`` (a one-hot of the speaker's index appended to its observation, so that one
      shared policy can tell the speakers apart);
    * SuperSuit's ``pettingzoo_env_to_vec_env_v1`` (every speaker becomes one sub-environment of a
      vector environment: all speakers must share one observation and one action space, so the game's
      speakers must have the same number of signals) and ``concat_vec_envs_v1(...,
      base_class="stable_baselines3")`` (``copies`` copies of it side by side), then SB3's
      ``VecMonitor`` for episode statistics;
    * SB3's ``PPO`` with one ``MlpPolicy`` shared by every speaker (parameter sharing: each speaker's
      transitions are the samples of its own sub-environment);
    * exact scoring: the shared policy's deterministic action (``predict(..., deterministic=True)``:
      the Gaussian's mean, clipped to the ±10 box as SB3 clips every action it sends to the
      environment) is every speaker's policy on the environment it trained on;
      :func:`persuaders.train.scoring.score_env` appends each speaker's id, takes the softmax of the
      flat logits row by row and evaluates the profile exactly (:func:`persuaders.envs.payoff.evaluate`),
      printed beside :func:`persuaders.eval.theory.analytic_quantities`.

``--timesteps`` counts SB3's timesteps: one per speaker per environment step (with two speakers
and one-round games, two timesteps are one episode).

Measured on 2 cores with seed 0 on hull_pair_logit (full information 0.600, no information 0.539):
see the README's table of libraries.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from typing import Any

import numpy as np

from persuaders.envs import persuasion_v0
from persuaders.envs.game import Game, load_game, protocols
from persuaders.train.scoring import format_learned_result, learned_result, persuasion_env, score_env


# ---------------------------------------------------------------------------------- environment
def make_vec_env(
    game: Game | str = "hull_pair_logit",
    copies: int = 8,
    protocol: str = "simultaneous",
    reward_mode: str = "expect_all",
):
    """persuasion_v0 (flat actions, agent ids) as an SB3 ``VecEnv`` of ``copies * k`` sub-environments."""
    import supersuit as ss
    from stable_baselines3.common.vec_env import VecMonitor

    par = persuasion_env(game, protocol=protocol, reward_mode=reward_mode, action_format="flat", agent_id=True)
    shapes = {a: par.action_space(a).shape for a in par.possible_agents}
    if len(set(shapes.values())) > 1:
        raise ValueError(
            f"SuperSuit's vector environment needs one action space for every speaker; got {shapes} "
            "(the speakers' numbers of signals differ)"
        )
    vec = ss.pettingzoo_env_to_vec_env_v1(par)
    with warnings.catch_warnings():
        # SB3 asks the sub-environments for `render_mode` and SuperSuit's wrapper answers for the whole
        # vector; persuasion_v0 here has none, which is what SB3 then assumes.
        warnings.filterwarnings("ignore", message="The `render_mode` attribute is not defined", category=UserWarning)
        vec = ss.concat_vec_envs_v1(vec, copies, num_cpus=0, base_class="stable_baselines3")
        return VecMonitor(vec)


def seed_vec_env(env, seed: int) -> None:
    """Seed every copy's persuasion_v0 (copy ``i`` with ``seed + i``).

    SuperSuit's SB3 wrapper forwards SB3's ``VecEnv.seed`` (which ``PPO(seed=...)`` calls) to its
    ``ConcatVecEnv``, which has no ``seed`` method (AttributeError, SuperSuit 3.11.0), and its
    ``reset(seed=...)`` goes through the same call. So PPO is built without ``seed`` (the example
    seeds torch, numpy and the action space itself) and the copies are seeded by resetting the
    ``ConcatVecEnv`` under the wrappers once with a seed: SB3's later resets pass none, and each
    persuasion_v0 keeps its seeded random state.
    """
    inner = env
    while not hasattr(inner, "vec_envs"):  # VecMonitor -> SB3VecEnvWrapper -> ConcatVecEnv
        inner = inner.venv
    inner.reset(seed=seed)


# ---------------------------------------------------------------------------------- scoring
def shared_policies(model: Any, game: Game) -> dict[str, Any]:
    """Every speaker's policy on the environment: the shared policy's deterministic action."""

    def act(obs: np.ndarray) -> np.ndarray:
        action, _ = model.predict(obs, deterministic=True)
        return action

    return dict.fromkeys(game.speaker_names, act)


# ---------------------------------------------------------------------------------- training
def train_and_score(
    game: str = "hull_pair_logit",
    timesteps: int = 49152,
    copies: int = 8,
    n_steps: int = 32,
    batch_size: int = 128,
    epochs: int = 4,
    lr: float = 3e-3,
    seed: int = 0,
    protocol: str = "simultaneous",
    reward_mode: str = "expect_all",
    threads: int | None = 1,
    verbose: bool = True,
) -> dict:
    """One shared SB3 PPO policy for every speaker for ``timesteps`` SB3 timesteps; exact scores before and after.

    Returns ``{"game", "library", "timesteps", "episodes", "initial", "user_value", "speaker_values",
    "schemes", "theory", "seconds"}``. ``threads`` sets torch's intra-op threads for the run
    (default 1: the networks are tiny; None keeps torch's setting).
    """
    import torch

    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _train_and_score(
            game, timesteps, copies, n_steps, batch_size, epochs, lr, seed, protocol, reward_mode, verbose
        )
    finally:
        torch.set_num_threads(previous)


def _train_and_score(game, timesteps, copies, n_steps, batch_size, epochs, lr, seed, protocol, reward_mode, verbose):
    import stable_baselines3
    import supersuit
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.utils import set_random_seed

    start = time.perf_counter()
    g = load_game(game)
    env = make_vec_env(g, copies=copies, protocol=protocol, reward_mode=reward_mode)
    seed_vec_env(env, seed)
    set_random_seed(seed)
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=n_steps,
        batch_size=batch_size,
        n_epochs=epochs,
        learning_rate=lr,
        gamma=1.0,
        gae_lambda=0.95,
        ent_coef=0.0,
        vf_coef=0.5,
        clip_range=0.2,
        max_grad_norm=0.5,
        policy_kwargs={"net_arch": [64, 64], "activation_fn": torch.nn.Tanh},
        device="cpu",
        verbose=1 if verbose else 0,
    )
    model.action_space.seed(seed)
    trained_on = persuasion_env(g, protocol=protocol, action_format="flat", agent_id=True)
    initial = score_env(trained_on, shared_policies(model, g), seed)
    model.learn(total_timesteps=timesteps)
    final = score_env(trained_on, shared_policies(model, g), seed)
    env.close()
    return {
        "game": g.name,
        "library": {"supersuit": supersuit.__version__, "stable_baselines3": stable_baselines3.__version__},
        "timesteps": int(model.num_timesteps),
        "episodes": int(model.num_timesteps) // g.n_speakers // g.rounds,
        **learned_result(g, initial, final),
        "seconds": time.perf_counter() - start,
    }


def format_result(res: dict) -> str:
    """The exact outcome before and after training, beside the theory."""
    title = (
        f"SuperSuit + SB3 PPO (one shared policy) on {res['game']}, {res['timesteps']} timesteps, "
        f"scored exactly ({res['seconds']:.1f} s):"
    )
    return format_learned_result(title, res)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--game", default="hull_pair_logit", help="bundled game, YAML path or random:... (default hull_pair_logit)"
    )
    parser.add_argument("--protocol", default="simultaneous", choices=list(protocols()))
    parser.add_argument("--reward-mode", default="expect_all", choices=list(persuasion_v0.REWARD_MODES))
    parser.add_argument("--timesteps", type=int, default=49152, help="SB3 timesteps (one per speaker per step)")
    parser.add_argument("--copies", type=int, default=8, help="copies of the environment in the vector environment")
    parser.add_argument("--n-steps", type=int, default=32, help="PPO rollout length per sub-environment")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    try:
        import stable_baselines3  # noqa: F401
        import supersuit  # noqa: F401
    except ImportError:
        print(
            "this example needs SuperSuit and stable-baselines3: pip install supersuit stable-baselines3",
            file=sys.stderr,
        )
        return 2
    res = train_and_score(
        args.game,
        timesteps=args.timesteps,
        copies=args.copies,
        n_steps=args.n_steps,
        batch_size=args.batch_size,
        epochs=args.epochs,
        lr=args.lr,
        seed=args.seed,
        protocol=args.protocol,
        reward_mode=args.reward_mode,
        verbose=not args.json,
    )
    print(json.dumps(res, indent=2) if args.json else format_result(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
