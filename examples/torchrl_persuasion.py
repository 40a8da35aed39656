"""Train persuasion_v0 speakers with TorchRL's PPO, one policy per speaker, then score them exactly.

``python examples/torchrl_persuasion.py [--game hull_pair_logit] [--iterations 12] [--frames-per-batch 512] [--seed 0]``
(needs TorchRL: ``pip install -e '.[torchrl]'``; tested with torchrl 0.14.1, tensordict 0.14.3, torch 2.13.0).

What it shows
    * the PettingZoo ``ParallelEnv`` :mod:`envs.persuasion_v0` wrapped by TorchRL's
      :class:`torchrl.envs.PettingZooWrapper` (the wrapper sees a ``ParallelEnv`` instance and runs
      it in parallel mode: every live speaker acts each step). ``group_map`` is
      ``MarlGroupMapType.ONE_GROUP_PER_AGENT``, so every speaker is its own group: its
      observation is ``(speaker, "observation")`` of shape ``[1, D]``, its action
      ``(speaker, "action")`` and its reward ``(speaker, "reward")`` ``[1, 1]``. (TorchRL's default
      for parallel environments would also give one group per speaker here, because speaker names
      do not end in ``_<int>``; it is spelled out so that it does not depend on the names.)
      TorchRL's ``PettingZooEnv`` builds PettingZoo's own bundled tasks by name, so a third-party
      environment goes through ``PettingZooWrapper``.
    * per speaker: a :class:`~torchrl.modules.ProbabilisticActor` (an MLP of the observation giving
      the mean and scale of an :class:`~torchrl.modules.IndependentNormal` over the action), a
      :class:`~torchrl.modules.ValueOperator` critic and a :class:`~torchrl.objectives.ClipPPOLoss`
      with generalised advantage estimation (``gamma = 1``: episodes are ``rounds`` steps long and
      paid at the end), each with its own optimiser: independent PPO, as :mod:`agents.ppo`;
    * rollouts from TorchRL's collector with the joint policy (every speaker's actor in sequence);
    * exact scoring: a speaker's policy on persuasion_v0 is its actor's deterministic action (the
      Gaussian's mean) at its observation, as logits with the zero column appended;
      :func:`persuaders.train.scoring.score_env` takes their softmax and evaluates the profile
      exactly (:func:`persuaders.envs.payoff.evaluate`) before and after training, printed beside
      :func:`persuaders.eval.theory.analytic_quantities`.

Measured on 2 cores with seed 0 on hull_pair_logit (full information 0.600): the default 12
iterations (about 30 s) leave the judge at the babbling value 0.539; 60 iterations (about 2.5
minutes) take her to 0.580.

The action (:class:`FlatSchemeLogits`): a speaker's action in persuasion_v0 is a ``[signal,
message]`` matrix of logits whose row softmax is its scheme. Softmax ignores a shift of each row, so,
as in :mod:`agents.ppo`, the policy acts on the identified log-ratios ``z[x, m] = logit[x, m] -
logit[x, M-1]`` (``m < M - 1``), a flat vector of size ``X * (M - 1)``; the wrapper appends the zero
column before calling the environment. Its box is unbounded (any finite logits are legal), so the
Gaussian's samples are always inside the action spec.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo.utils import BaseParallelWrapper

from persuaders.envs import persuasion_v0
from persuaders.envs.game import Game, load_game, protocols
from persuaders.train.scoring import format_learned_result, learned_result, persuasion_env, score_env

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------------- environment
class FlatSchemeLogits(BaseParallelWrapper):
    """persuasion_v0 with flat log-ratio actions ``Box(X * (M - 1))`` (see the module docstring)."""

    def __init__(self, env: persuasion_v0.PersuasionEnv):
        super().__init__(env)
        game = env.unwrapped.game
        self.shapes = {s.name: (s.n_signals, game.messages) for s in game.speakers}
        self._flat_spaces = {
            name: spaces.Box(-np.inf, np.inf, (x * (m - 1),), np.float32) for name, (x, m) in self.shapes.items()
        }

    def action_space(self, agent: str) -> spaces.Box:
        return self._flat_spaces[agent]

    def step(self, actions: dict[str, Any]):
        return super().step({a: to_logits(z, self.shapes[a]) for a, z in actions.items()})


def to_logits(z: Any, shape: tuple[int, int]) -> np.ndarray:
    """Scheme logits ``[..., X, M]`` from flat log-ratios ``[..., X * (M - 1)]`` (last logit of each row 0)."""
    x, m = shape
    z = np.asarray(z, dtype=np.float64)
    z = z.reshape((*z.shape[:-1], x, m - 1))
    return np.concatenate([z, np.zeros((*z.shape[:-1], 1))], axis=-1)


def make_env(
    game: Game | str = "hull_pair_logit",
    protocol: str = "simultaneous",
    reward_mode: str = "expect_all",
    seed: int | None = 0,
    flat: bool = True,
):
    """persuasion_v0 as a TorchRL environment, one group per speaker.

    ``flat=False`` wraps the raw environment (actions are ``[X, M]`` logit matrices in the ±10 box).
    """
    from torchrl.envs import PettingZooWrapper
    from torchrl.envs.utils import MarlGroupMapType

    par = persuasion_env(game, protocol=protocol, reward_mode=reward_mode)
    with warnings.catch_warnings():
        # TorchRL notes that its wrapper is tested with PettingZoo 1.24.3; this project pins 1.27,
        # with which the wrapper's specs, resets and steps are checked in tests/envs/test_torchrl.py.
        warnings.filterwarnings("ignore", message="PettingZoo in TorchRL is tested", category=UserWarning)
        return PettingZooWrapper(
            FlatSchemeLogits(par) if flat else par,
            group_map=MarlGroupMapType.ONE_GROUP_PER_AGENT,
            return_state=False,
            seed=seed,
        )


# ---------------------------------------------------------------------------------- agents
def make_agent(env, group: str, hidden: int = 64):
    """``(actor, critic)`` for one speaker group: Gaussian actor over its flat action, MLP critic."""
    import torch
    from tensordict.nn import NormalParamExtractor, TensorDictModule
    from torch import nn
    from torchrl.envs.utils import ExplorationType
    from torchrl.modules import MLP, IndependentNormal, ProbabilisticActor, ValueOperator

    obs_dim = env.observation_spec[group, "observation"].shape[-1]
    act_dim = env.full_action_spec[group, "action"].shape[-1]
    net = MLP(in_features=obs_dim, out_features=2 * act_dim, num_cells=[hidden, hidden], activation_class=nn.Tanh)
    with torch.no_grad():  # start near the uniform scheme (z = 0) with unit exploration noise
        net[-1].weight.mul_(0.01)
        net[-1].bias.zero_()
    actor = ProbabilisticActor(
        TensorDictModule(
            nn.Sequential(net, NormalParamExtractor()),
            in_keys=[(group, "observation")],
            out_keys=[(group, "loc"), (group, "scale")],
        ),
        in_keys=[(group, "loc"), (group, "scale")],
        out_keys=[(group, "action")],
        spec=env.full_action_spec[group, "action"],
        distribution_class=IndependentNormal,
        return_log_prob=True,
        log_prob_key=(group, "action_log_prob"),
        default_interaction_type=ExplorationType.RANDOM,
    )
    critic = ValueOperator(
        MLP(in_features=obs_dim, out_features=1, num_cells=[hidden, hidden], activation_class=nn.Tanh),
        in_keys=[(group, "observation")],
        out_keys=[(group, "state_value")],
    )
    return actor, critic


def make_loss(actor, critic, group: str, clip_epsilon: float = 0.2):
    """Clipped PPO for one group, its keys pointing into the group's sub-tensordict; GAE with gamma = 1."""
    from torchrl.objectives import ClipPPOLoss, ValueEstimators

    loss = ClipPPOLoss(
        actor,
        critic,
        clip_epsilon=clip_epsilon,
        entropy_bonus=False,
        critic_coeff=0.5,
        loss_critic_type="l2",
        normalize_advantage=True,
    )
    loss.set_keys(
        action=(group, "action"),
        sample_log_prob=(group, "action_log_prob"),
        value=(group, "state_value"),
        reward=(group, "reward"),
        done=(group, "done"),
        terminated=(group, "terminated"),
        advantage=(group, "advantage"),
        value_target=(group, "value_target"),
    )
    loss.make_value_estimator(ValueEstimators.GAE, gamma=1.0, lmbda=0.95)
    return loss


def actor_policy(actor, group: str, shape: tuple[int, int]):
    """The speaker's policy on persuasion_v0, ``obs [B, D] -> logits [B, X, M]``: the actor's
    deterministic action (the Gaussian's mean) as log-ratios, with the zero column appended."""
    import torch
    from tensordict import TensorDict
    from torchrl.envs.utils import ExplorationType, set_exploration_type

    def policy(obs: np.ndarray) -> np.ndarray:
        obs_t = torch.as_tensor(obs)[:, None, :]  # [B, 1 agent, D]
        td = TensorDict(
            {group: TensorDict({"observation": obs_t}, batch_size=obs_t.shape[:2])}, batch_size=obs_t.shape[:1]
        )
        with torch.no_grad(), set_exploration_type(ExplorationType.DETERMINISTIC):
            z = actor(td).get((group, "action"))[:, 0]
        return to_logits(z.double().numpy(), shape)

    return policy


def actor_policies(game: Game, actors: dict) -> dict[str, Any]:
    return {s.name: actor_policy(actors[s.name], s.name, (s.n_signals, game.messages)) for s in game.speakers}


# ---------------------------------------------------------------------------------- training
def train_and_score(
    game: str = "hull_pair_logit",
    iterations: int = 12,
    frames_per_batch: int = 512,
    epochs: int = 4,
    minibatches: int = 4,
    lr: float = 3e-3,
    seed: int = 0,
    protocol: str = "simultaneous",
    reward_mode: str = "expect_all",
    threads: int | None = 1,
    verbose: bool = True,
) -> dict:
    """Independent PPO for every speaker for ``iterations`` collector batches; exact scores before and after.

    Returns ``{"game", "groups", "history", "initial", "user_value", "speaker_values", "schemes",
    "theory", "seconds"}``: ``history`` holds each iteration's mean (sampled) episode return per
    speaker, ``initial`` the exact values of the untrained profile, the rest is exact. ``threads``
    sets torch's intra-op threads (default 1: the networks are tiny, and more threads only add
    synchronisation, which stalls badly when the cores are shared with other work; None keeps
    torch's setting).
    """
    import torch

    start = time.perf_counter()
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _train_and_score(
            game, iterations, frames_per_batch, epochs, minibatches, lr, seed, protocol, reward_mode, verbose, start
        )
    finally:
        torch.set_num_threads(previous_threads)


def _train_and_score(
    game, iterations, frames_per_batch, epochs, minibatches, lr, seed, protocol, reward_mode, verbose, start
) -> dict:
    import torch
    from tensordict.nn import TensorDictSequential

    try:
        from torchrl.collectors import Collector
    except ImportError:  # torchrl < 0.14
        from torchrl.collectors import SyncDataCollector as Collector

    torch.manual_seed(seed)
    g = load_game(game)
    env = make_env(g, protocol=protocol, reward_mode=reward_mode, seed=seed)
    groups = list(env.group_map)
    group_map = {grp: list(names) for grp, names in env.group_map.items()}
    agents = {grp: make_agent(env, grp) for grp in groups}
    actors = {grp: a for grp, (a, _) in agents.items()}
    losses = {grp: make_loss(a, c, grp) for grp, (a, c) in agents.items()}
    optims = {grp: torch.optim.Adam(losses[grp].parameters(), lr=lr) for grp in groups}
    trained_on = persuasion_env(g, protocol=protocol)  # under FlatSchemeLogits: logit matrices
    initial = score_env(trained_on, actor_policies(g, actors))

    options = {}
    if "auto_register_policy_transforms" in inspect.signature(Collector.__init__).parameters:
        options["auto_register_policy_transforms"] = False  # the policy is memoryless: no InitTracker needed
    collector = Collector(
        env,
        TensorDictSequential(*actors.values()),
        frames_per_batch=frames_per_batch,
        total_frames=frames_per_batch * iterations,
        **options,
    )
    history = []
    try:
        for it, data in enumerate(collector):
            done = data.get(("next", "done"))
            n_done = max(int(done.sum()), 1)
            returns = {grp: float(data.get(("next", grp, "reward")).sum()) / n_done for grp in groups}
            history.append(returns)
            for grp in groups:
                loss = losses[grp]
                with torch.no_grad():
                    loss.value_estimator(
                        data, params=loss.critic_network_params, target_params=loss.target_critic_network_params
                    )
                flat = data.reshape(-1)
                size = max(1, flat.numel() // minibatches)
                for _ in range(epochs):
                    perm = torch.randperm(flat.numel())
                    for lo in range(0, flat.numel(), size):
                        out = loss(flat[perm[lo : lo + size]])
                        total = out["loss_objective"] + out["loss_critic"]
                        optims[grp].zero_grad()
                        total.backward()
                        torch.nn.utils.clip_grad_norm_(loss.parameters(), 0.5)
                        optims[grp].step()
            collector.update_policy_weights_()
            if verbose:
                print(
                    f"iteration {it + 1}/{iterations}: mean episode return "
                    + ", ".join(f"{k} {v:.4f}" for k, v in returns.items()),
                    flush=True,
                )
    finally:
        collector.shutdown()
        env.close()
    final = score_env(trained_on, actor_policies(g, actors))
    return {
        "game": g.name,
        "groups": group_map,
        "history": history,
        **learned_result(g, initial, final),
        "seconds": time.perf_counter() - start,
    }


def format_result(res: dict) -> str:
    """The exact outcome before and after training, beside the theory."""
    title = f"TorchRL PPO on {res['game']} (groups {res['groups']}), scored exactly ({res['seconds']:.1f} s):"
    return format_learned_result(title, res)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--game", default="hull_pair_logit", help="bundled game, YAML path or random:... (default hull_pair_logit)"
    )
    parser.add_argument("--protocol", default="simultaneous", choices=list(protocols()))
    parser.add_argument("--reward-mode", default="expect_all", choices=list(persuasion_v0.REWARD_MODES))
    parser.add_argument("--iterations", type=int, default=12, help="collector batches (PPO iterations)")
    parser.add_argument("--frames-per-batch", type=int, default=512, help="environment steps per iteration")
    parser.add_argument("--epochs", type=int, default=4, help="PPO epochs per iteration")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    try:
        import torchrl  # noqa: F401
    except ImportError:
        print("this example needs TorchRL: pip install -e '.[torchrl]'", file=sys.stderr)
        return 2
    res = train_and_score(
        args.game,
        iterations=args.iterations,
        frames_per_batch=args.frames_per_batch,
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
