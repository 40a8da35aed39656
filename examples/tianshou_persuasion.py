"""Train persuasion_v0 speakers with Tianshou's PPO, each in a single-agent view of the game, then score them exactly.

``python examples/tianshou_persuasion.py [--game hull_pair_logit] [--iterations 30] [--seed 0]``
(needs Tianshou: ``pip install -e '.[tianshou]'``; tested with tianshou 2.0.1, gymnasium 1.2.2,
pettingzoo 1.27.0, torch 2.13.0).

Why not Tianshou's own PettingZoo integration. ``tianshou.env.PettingZooEnv`` with its
multi-agent algorithms cannot train persuasion_v0: on continuous (``Box``) actions
``MultiAgentPolicy.forward`` (``tianshou/algorithm/multiagent/marl.py``) reads ``obs_next`` from the
collector's action batch, which has none, and the first ``Collector.collect`` fails with
``AttributeError: 'dict' object has no attribute 'obs_next'`` (only discrete-action games, whose
observations carry an action mask, pass; upstream thu-ml/tianshou#1244 and #792); the wrapper is
turn-based, so in a simultaneous round it would credit the payoff to the last speaker only
(PettingZoo's ``parallel_to_aec`` pays everyone on the last turn) and it needs every speaker to have
the same spaces.

What it shows instead
    * each speaker learns in its own Gymnasium environment,
      :class:`~persuaders.envs.persuasion.single_speaker.SingleSpeakerEnv` with
      ``action_format="flat"``: the observation and the ±10 box of flat scheme logits of the
      PettingZoo environment, one Gymnasium step per round. The other speakers act inside it by
      their *current* policies (the mean of their actors, read at every step through
      :func:`persuaders.train.scoring.policy_scheme`), so every speaker plays against the others as
      they learn: independent PPO, with the payoff of each round credited to every speaker;
    * per speaker, Tianshou's parts: an MLP (``Net``) under a ``ContinuousActorProbabilistic``
      (a Gaussian over the logits with a state-independent scale, unbounded: the environment takes
      any finite logits, so ``ProbabilisticActorPolicy`` neither bounds nor rescales the actions),
      a ``ContinuousCritic``, the ``PPO`` algorithm (``gamma = 1``: episodes are ``rounds`` steps
      long and paid at the end), a ``Collector`` over a ``DummyVectorEnv`` of ``--num-envs`` copies;
    * the loop (Tianshou's ``OnPolicyTrainer`` trains one algorithm; here every speaker's trains in
      step): each iteration, every speaker collects ``--steps-per-collect`` steps against the
      others' current policies, then each runs ``PPO.update`` over its buffer (``--epochs`` passes
      in minibatches of ``--batch-size``) and clears it;
    * exact scoring: a speaker's policy is its actor's mean at its observation;
      :func:`persuaders.train.scoring.score_env` takes the softmax of the flat logits row by row
      and evaluates the profile exactly (:func:`persuaders.envs.payoff.evaluate`) before and after
      training, printed beside :func:`persuaders.eval.theory.analytic_quantities`.

``--steps-per-collect`` counts each speaker's environment steps (rounds) per iteration.

Measured on 2 cores with seed 0 on hull_pair_logit (full information 0.600, no information 0.539):
see the README's table of libraries.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np

from persuaders.envs import persuasion_v0
from persuaders.envs.game import Game, load_game, protocols
from persuaders.envs.persuasion.single_speaker import SingleSpeakerEnv
from persuaders.train.scoring import format_learned_result, learned_result, persuasion_env, policy_scheme, score_env

#: The environment every speaker's view is made with: flat logits (a Gaussian over a flat Box).
ENV_OPTIONS = {"action_format": "flat"}


# ---------------------------------------------------------------------------------- agents
def make_algorithm(env: SingleSpeakerEnv, hidden: int = 64, lr: float = 3e-3):
    """Tianshou PPO for one speaker's view: Gaussian actor (unbounded mean, state-independent scale
    starting at 1, the mean starting near 0: the uniform scheme) and an MLP critic."""
    import torch
    from tianshou.algorithm import PPO
    from tianshou.algorithm.modelfree.reinforce import ProbabilisticActorPolicy
    from tianshou.algorithm.optim import AdamOptimizerFactory
    from tianshou.utils.net.common import Net
    from tianshou.utils.net.continuous import ContinuousActorProbabilistic, ContinuousCritic
    from torch import nn
    from torch.distributions import Independent, Normal

    obs_dim = env.observation_space.shape[0]
    act_dim = int(np.prod(env.action_space.shape))
    actor = ContinuousActorProbabilistic(
        preprocess_net=Net(state_shape=obs_dim, hidden_sizes=[hidden, hidden], activation=nn.Tanh),
        action_shape=act_dim,
        unbounded=True,
    )
    with torch.no_grad():
        actor.mu.model[-1].weight.mul_(0.01)
        actor.mu.model[-1].bias.zero_()
    critic = ContinuousCritic(
        preprocess_net=Net(state_shape=obs_dim, hidden_sizes=[hidden, hidden], activation=nn.Tanh)
    )
    policy = ProbabilisticActorPolicy(
        actor=actor,
        dist_fn=lambda loc_scale: Independent(Normal(*loc_scale), 1),
        action_space=env.action_space,
        observation_space=env.observation_space,
        action_scaling=False,
        action_bound_method=None,
        deterministic_eval=True,
    )
    return PPO(
        policy=policy,
        critic=critic,
        optim=AdamOptimizerFactory(lr=lr),
        eps_clip=0.2,
        vf_coef=0.5,
        ent_coef=0.0,
        max_grad_norm=0.5,
        gae_lambda=0.95,
        gamma=1.0,
        advantage_normalization=True,
    )


def actor_policy(algorithm: Any):
    """The speaker's policy on the environment, ``obs [B, D] -> logits [B, X * M]``: its actor's mean."""
    import torch

    actor = algorithm.policy.actor

    def policy(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            (mean, _), _ = actor(torch.as_tensor(obs, dtype=torch.float32))
        return mean.double().numpy()

    return policy


# ---------------------------------------------------------------------------------- training
def make_views(game: Game, algorithms: dict[str, Any], protocol: str, reward_mode: str, num_envs: int, seed: int):
    """Every speaker's vector of single-speaker views (``DummyVectorEnv``), the others acting in each
    by their current policies; speaker ``k``'s copy ``j`` seeded with ``seed + k * num_envs + j``."""
    from tianshou.env import DummyVectorEnv

    others = {
        s.name: policy_scheme(game, i, actor_policy(algorithms[s.name]), **ENV_OPTIONS)
        for i, s in enumerate(game.speakers)
    }
    views = {}
    for k, name in enumerate(game.speaker_names):
        rivals = {n: f for n, f in others.items() if n != name}
        make = lambda name=name, rivals=rivals: SingleSpeakerEnv(
            game, name, rivals, protocol=protocol, reward_mode=reward_mode, **ENV_OPTIONS
        )
        vec = DummyVectorEnv([make] * num_envs)
        vec.seed(seed + k * num_envs)
        views[name] = vec
    return views


def train_and_score(
    game: str = "hull_pair_logit",
    iterations: int = 30,
    steps_per_collect: int = 512,
    num_envs: int = 8,
    batch_size: int = 128,
    epochs: int = 4,
    lr: float = 3e-3,
    seed: int = 0,
    protocol: str = "simultaneous",
    reward_mode: str = "expect_all",
    threads: int | None = 1,
    verbose: bool = True,
) -> dict:
    """PPO for every speaker in its own view for ``iterations`` iterations; exact scores before and after.

    Returns ``{"game", "library", "steps", "history", "initial", "user_value", "speaker_values",
    "schemes", "theory", "seconds"}``: ``steps`` counts each speaker's environment steps,
    ``history`` holds each iteration's mean sampled episode return per speaker, the rest is exact.
    ``threads`` sets torch's intra-op threads (default 1; None keeps torch's setting).
    """
    import torch

    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _train_and_score(
            game, iterations, steps_per_collect, num_envs, batch_size, epochs, lr, seed, protocol, reward_mode, verbose
        )
    finally:
        torch.set_num_threads(previous)


def _train_and_score(
    game, iterations, steps_per_collect, num_envs, batch_size, epochs, lr, seed, protocol, reward_mode, verbose
):
    from importlib.metadata import version

    import torch
    from tianshou.data import Collector, VectorReplayBuffer
    from tianshou.utils.torch_utils import policy_within_training_step

    start = time.perf_counter()
    torch.manual_seed(seed)  # the actors' initial weights and sampled actions
    np.random.seed(seed)  # noqa: NPY002  (Tianshou shuffles its minibatches with numpy's global generator)
    g = load_game(game)
    trained_on = persuasion_env(g, protocol=protocol, reward_mode=reward_mode, **ENV_OPTIONS)
    algorithms = {name: make_algorithm(SingleSpeakerEnv(g, name, **ENV_OPTIONS), lr=lr) for name in g.speaker_names}
    policies = {name: actor_policy(a) for name, a in algorithms.items()}
    initial = score_env(trained_on, policies, seed)
    views = make_views(g, algorithms, protocol, reward_mode, num_envs, seed)
    collectors = {
        name: Collector(algorithms[name], views[name], VectorReplayBuffer(steps_per_collect + num_envs, num_envs))
        for name in g.speaker_names
    }
    for collector in collectors.values():
        collector.reset()
    history = []
    try:
        for it in range(iterations):
            returns = {}
            for name, collector in collectors.items():  # every speaker against the others' current policies
                with policy_within_training_step(algorithms[name].policy):
                    stats = collector.collect(n_step=steps_per_collect)
                returns[name] = float(np.mean(stats.returns)) if stats.n_collected_episodes else float("nan")
            for name, collector in collectors.items():
                with policy_within_training_step(algorithms[name].policy):
                    algorithms[name].update(buffer=collector.buffer, batch_size=batch_size, repeat=epochs)
                collector.reset_buffer(keep_statistics=True)
            history.append(returns)
            if verbose:
                print(
                    f"iteration {it + 1}/{iterations}: mean episode return "
                    + ", ".join(f"{k} {v:.4f}" for k, v in returns.items()),
                    flush=True,
                )
    finally:
        for vec in views.values():
            vec.close()
    final = score_env(trained_on, policies, seed)
    return {
        "game": g.name,
        "library": {"tianshou": version("tianshou")},
        "steps": sum(int(c.collect_step) for c in collectors.values()) // g.n_speakers,
        "history": history,
        **learned_result(g, initial, final),
        "seconds": time.perf_counter() - start,
    }


def format_result(res: dict) -> str:
    """The exact outcome before and after training, beside the theory."""
    title = (
        f"Tianshou PPO (one single-speaker view per speaker) on {res['game']}, {res['steps']} steps per speaker, "
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
    parser.add_argument("--iterations", type=int, default=30, help="collect-and-update iterations")
    parser.add_argument(
        "--steps-per-collect", type=int, default=512, help="environment steps per speaker per iteration"
    )
    parser.add_argument("--num-envs", type=int, default=8, help="copies of each speaker's view")
    parser.add_argument("--batch-size", type=int, default=128, help="PPO minibatch size")
    parser.add_argument("--epochs", type=int, default=4, help="passes over the buffer per update")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    try:
        import tianshou  # noqa: F401
    except ImportError:
        print("this example needs Tianshou: pip install -e '.[tianshou]'", file=sys.stderr)
        return 2
    res = train_and_score(
        args.game,
        iterations=args.iterations,
        steps_per_collect=args.steps_per_collect,
        num_envs=args.num_envs,
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
