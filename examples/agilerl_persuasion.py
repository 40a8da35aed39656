"""Train persuasion_v0 speakers with AgileRL's IPPO and its own on-policy training loop, then score them exactly.

``python examples/agilerl_persuasion.py [--game hull_pair_logit] [--steps 32768] [--num-envs 1] [--seed 0]``

AgileRL needs an environment of its own (it pins ``pettingzoo<1.27`` and ``tensordict==0.13.0``;
``.ci/libraries`` builds it)::

    python3 -m venv /tmp/venv-agilerl && . /tmp/venv-agilerl/bin/activate
    pip install torch==2.13.0 && pip install agilerl==2.58.0 peft==0.21.0 transformers==5.14.1
    pip install -e .

(tested with agilerl 2.58.0, pettingzoo 1.26.1, gymnasium 1.4.0, tensordict 0.13.0, torch
2.13.0). AgileRL 2.58.0 imports ``peft`` (and through it ``transformers``) whenever
``agilerl.algorithms`` is imported, but declares them only in its ``llm`` extras: without them
``from agilerl.algorithms import IPPO`` fails with ``ModuleNotFoundError: No module named 'peft'``;
the versions are those of its ``cpu-llm`` extra.

What it shows
    * the PettingZoo ``ParallelEnv`` made with ``action_format="flat"`` (AgileRL's
      ``StochasticActor`` is a diagonal Gaussian over a flat ``Box``) and ``agent_id=True`` (the
      speaker's one-hot id appended to its observation: AgileRL gives speakers whose names share
      a prefix before ``_<suffix>`` one shared policy, e.g. the ``ai0``... of random games do not,
      but ``speaker_0``, ``speaker_1`` would, and the id then tells them apart);
    * :class:`agilerl.algorithms.IPPO` (one actor and one critic per speaker: independent PPO) on
      AgileRL's vectorised environment (``PzDummyVecEnv``, or ``AsyncPettingZooVecEnv`` with
      ``--num-envs`` above 1), trained by AgileRL's on-policy loop (``IPPO.get_action``,
      ``IPPO.learn``) written out in :func:`rollout_and_learn`: AgileRL's packaged loop,
      ``train_multi_agent_on_policy``, loses the episode boundaries (see there) and does not learn
      on this environment;
    * exact scoring: a speaker's policy is its actor's deterministic action (the Gaussian's mean,
      clipped to the ±10 box as AgileRL's loop clips every action it sends to the environment) at
      its observation; :func:`persuaders.train.scoring.score_env` appends each speaker's id, takes
      the softmax of the flat logits row by row and evaluates the profile exactly
      (:func:`persuaders.envs.payoff.evaluate`), printed beside :func:`persuaders.eval.theory.analytic_quantities`.

``--steps`` counts environment steps, summed over the copies (as AgileRL's ``max_steps``: one step
is one round of every speaker; a one-round game's step is one episode).

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
from persuaders.train.scoring import format_learned_result, learned_result, persuasion_env, score_env

#: The environment AgileRL trains on: flat logits (its StochasticActor's Gaussian is over a flat Box)
#: and the speaker's id appended to its observation.
ENV_OPTIONS = {"action_format": "flat", "agent_id": True}


def make_ippo(
    env: persuasion_v0.PersuasionEnv,
    hidden: int = 64,
    lr: float = 3e-3,
    learn_step: int = 512,
    batch_size: int = 128,
    epochs: int = 4,
):
    """AgileRL IPPO for the environment's speakers: MLP actor and critic, gamma = 1 (episodes are
    ``rounds`` steps long and paid at the end), unit initial exploration noise, no entropy bonus."""
    from agilerl.algorithms import IPPO

    agents = list(env.possible_agents)
    return IPPO(
        observation_spaces=[env.observation_space(a) for a in agents],
        action_spaces=[env.action_space(a) for a in agents],
        agent_ids=agents,
        net_config={"encoder_config": {"hidden_size": [hidden]}, "head_config": {"hidden_size": [hidden]}},
        batch_size=batch_size,
        lr=lr,
        learn_step=learn_step,
        gamma=1.0,
        gae_lambda=0.95,
        action_std_init=0.0,
        clip_coef=0.2,
        ent_coef=0.0,
        vf_coef=0.5,
        max_grad_norm=0.5,
        update_epochs=epochs,
    )


# ---------------------------------------------------------------------------------- scoring
def actor_policy(algo: Any, name: str):
    """Speaker ``name``'s policy on the environment, ``obs [B, D] -> logits [B, X * M]``: its actor's
    mean action, clipped to the box as the training loop clips the actions it sends."""
    import torch

    actor = algo.actors[name if name in algo.actors else algo.get_group_id(name)]
    space = algo.possible_action_spaces[name]

    def policy(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            mean = actor.head_net.wrapped(actor.extract_features(torch.as_tensor(obs, device=algo.device)))
        return np.clip(mean.cpu().double().numpy(), space.low, space.high)

    return policy


def actor_policies(algo: Any, game: Game) -> dict[str, Any]:
    return {name: actor_policy(algo, name) for name in game.speaker_names}


# ---------------------------------------------------------------------------------- training
def train_and_score(
    game: str = "hull_pair_logit",
    steps: int = 32768,
    learn_step: int = 512,
    num_envs: int = 1,
    batch_size: int = 128,
    epochs: int = 4,
    lr: float = 3e-3,
    seed: int = 0,
    protocol: str = "simultaneous",
    reward_mode: str = "expect_all",
    threads: int | None = 1,
    verbose: bool = True,
) -> dict:
    """IPPO for every speaker for ``steps`` environment steps; exact scores before and after.

    ``num_envs`` copies of the environment step together (AgileRL's ``PzDummyVecEnv`` for one,
    its ``AsyncPettingZooVecEnv`` for more). Returns ``{"game", "library", "steps", "num_envs",
    "history", "initial", "user_value", "speaker_values", "schemes", "theory", "seconds"}``:
    ``history`` holds each PPO update's mean sampled episode return per speaker, the rest is
    exact. ``threads`` sets torch's intra-op threads (default 1; None keeps torch's setting).
    """
    import torch

    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _train_and_score(
            game, steps, learn_step, num_envs, batch_size, epochs, lr, seed, protocol, reward_mode, verbose
        )
    finally:
        torch.set_num_threads(previous)


def make_vec_env(game: Game, protocol: str, reward_mode: str, seed: int, num_envs: int):
    """AgileRL's vectorised PettingZoo environment: ``PzDummyVecEnv`` for one copy, its
    ``AsyncPettingZooVecEnv`` (worker processes) for more; copy ``i`` seeded with ``seed + i``."""
    from agilerl.vector import AsyncPettingZooVecEnv, PzDummyVecEnv

    options = dict(protocol=protocol, reward_mode=reward_mode, **ENV_OPTIONS)
    if num_envs == 1:  # reset once with the seed: AgileRL's loop resets without one
        return PzDummyVecEnv(persuasion_env(game, seed=seed, **options))
    vec = AsyncPettingZooVecEnv([lambda: persuasion_env(game, **options)] * num_envs)
    vec.reset(seed=seed)
    return vec


def rollout_and_learn(algo: Any, vec_env: Any, steps: int, verbose: bool = True) -> list[dict[str, float]]:
    """AgileRL's on-policy multi-agent loop (``IPPO.get_action`` on a batch of every copy's
    observations, ``IPPO.learn`` every ``learn_step`` environment steps) with episode boundaries
    kept: ``dones[t]`` is 1 when observation ``t`` is the first of a new episode (CleanRL's
    convention, which ``IPPO.learn``'s advantage estimate reads).

    AgileRL's own ``train_multi_agent_on_policy`` (2.58.0, ``agilerl/training/
    train_multi_agent_on_policy.py`` lines 356-359) sets every ``done`` back to 0 as soon as an
    episode ends, so that the advantage estimate bootstraps across episodes: with one-round games
    (every step ends an episode) and ``gamma = 1`` the speakers then do not learn at all (32768
    steps on hull_pair_logit left the judge at the babbling value 0.538). Returns, per PPO update,
    the mean sampled return of the episodes that ended in it, per speaker.
    """
    from gymnasium import spaces

    n = vec_env.num_envs
    agents = list(algo.agent_ids)
    history: list[dict[str, float]] = []
    algo.set_training_mode(True)
    obs, info = vec_env.reset()
    done = {a: np.zeros(n) for a in agents}
    returns = {a: np.zeros(n) for a in agents}
    taken = 0
    while taken < steps:
        buf = {k: {a: [] for a in agents} for k in ("states", "actions", "log_probs", "rewards", "dones", "values")}
        ended = {a: [] for a in agents}
        for _ in range(-(algo.learn_step // -n)):
            action, log_prob, _, value = algo.get_action(obs=obs, infos=info)
            clipped = {}
            for a, act in action.items():
                space = algo.possible_action_spaces[a]
                clipped[a] = np.clip(act, space.low, space.high) if isinstance(space, spaces.Box) else act
            next_obs, reward, term, trunc, info = vec_env.step(clipped)
            for a in obs:
                buf["states"][a].append(obs[a])
                buf["actions"][a].append(action[a])
                buf["log_probs"][a].append(log_prob[a])
                buf["rewards"][a].append(reward[a])
                buf["values"][a].append(value[a])
                buf["dones"][a].append(done[a])
            done = {a: np.logical_or(term[a], trunc[a]).astype(float) for a in term}
            for a in agents:
                returns[a] += np.nan_to_num(np.asarray(reward[a], dtype=float).ravel())
                ended[a] += returns[a][done[a] > 0].tolist()
                returns[a][done[a] > 0] = 0.0
            obs = next_obs
            taken += n
        algo.learn(
            (buf["states"], buf["actions"], buf["log_probs"], buf["rewards"], buf["dones"], buf["values"], obs, done)
        )
        history.append({a: float(np.mean(v)) if v else float("nan") for a, v in ended.items()})
        if verbose:
            print(
                f"steps {taken}/{steps}: mean episode return "
                + ", ".join(f"{a} {r:.4f}" for a, r in history[-1].items()),
                flush=True,
            )
    return history


def _train_and_score(game, steps, learn_step, num_envs, batch_size, epochs, lr, seed, protocol, reward_mode, verbose):
    import agilerl  # noqa: F401
    import torch

    start = time.perf_counter()
    torch.manual_seed(seed)
    np.random.seed(seed)  # noqa: NPY002  (AgileRL draws from numpy's global generator)
    g = load_game(game)
    vec_env = make_vec_env(g, protocol, reward_mode, seed, num_envs)
    try:
        trained_on = persuasion_env(g, protocol=protocol, reward_mode=reward_mode, **ENV_OPTIONS)
        algo = make_ippo(trained_on, lr=lr, learn_step=learn_step, batch_size=batch_size, epochs=epochs)
        initial = score_env(trained_on, actor_policies(algo, g), seed)
        history = rollout_and_learn(algo, vec_env, steps, verbose=verbose)
    finally:
        vec_env.close()
    final = score_env(trained_on, actor_policies(algo, g), seed)
    return {
        "game": g.name,
        "library": {"agilerl": _version("agilerl")},
        "steps": len(history) * -(learn_step // -num_envs) * num_envs,
        "num_envs": num_envs,
        "history": history,
        **learned_result(g, initial, final),
        "seconds": time.perf_counter() - start,
    }


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def format_result(res: dict) -> str:
    """The exact outcome before and after training, beside the theory."""
    title = f"AgileRL IPPO on {res['game']}, {res['steps']} steps, scored exactly ({res['seconds']:.1f} s):"
    return format_learned_result(title, res)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--game", default="hull_pair_logit", help="bundled game, YAML path or random:... (default hull_pair_logit)"
    )
    parser.add_argument("--protocol", default="simultaneous", choices=list(protocols()))
    parser.add_argument("--reward-mode", default="expect_all", choices=list(persuasion_v0.REWARD_MODES))
    parser.add_argument("--steps", type=int, default=32768, help="environment steps (AgileRL's max_steps)")
    parser.add_argument("--learn-step", type=int, default=512, help="environment steps per PPO update")
    parser.add_argument(
        "--num-envs", type=int, default=1, help="copies of the environment (more than one: worker processes)"
    )
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    try:
        from agilerl.algorithms import IPPO  # noqa: F401
    except ImportError as e:
        print(
            f"this example needs AgileRL in an environment of its own (see the module docstring): {e}", file=sys.stderr
        )
        return 2
    res = train_and_score(
        args.game,
        steps=args.steps,
        learn_step=args.learn_step,
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
