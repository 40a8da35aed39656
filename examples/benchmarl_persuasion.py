"""Train persuasion_v0 speakers with BenchMARL (MAPPO or IPPO) as a custom task, then score them exactly.

``python examples/benchmarl_persuasion.py [--game hull_pair_logit] [--algorithm mappo] [--iterations 20] [--seed 0]``

BenchMARL 1.5.2 needs ``torchrl>=0.10,<0.12`` and torchvision, so it gets an environment of its
own (``.ci/libraries`` builds it)::

    python3 -m venv /tmp/venv-benchmarl && . /tmp/venv-benchmarl/bin/activate
    pip install torch==2.14.1 torchvision==0.29.1 && pip install benchmarl==1.5.2 && pip install -e .

(tested with benchmarl 1.5.2, torchrl 0.11.1, tensordict 0.11.0, torch 2.14.1, pettingzoo 1.27.0).

What it shows
    * a BenchMARL task for persuasion_v0, the "custom task" mechanism of BenchMARL: a
      :class:`benchmarl.environments.TaskClass` (:class:`PersuasionClass`: how to build the
      TorchRL environment and read its specs) and a :class:`benchmarl.environments.Task` enum
      (:class:`PersuasionTask`: one member per bundled game; ``get_task(config=...)`` takes any
      game name, YAML path or ``random:...`` in ``config["game"]``). BenchMARL's own PettingZoo
      task builds PettingZoo's bundled environments by name (TorchRL's ``PettingZooEnv``), so a
      third-party environment goes through TorchRL's ``PettingZooWrapper`` here;
    * the environment made with ``action_format="flat"`` (BenchMARL's continuous policies act on
      a flat vector in a bounded box: the ±10 logit box, through a ``TanhNormal``), wrapped with
      ``group_map=MarlGroupMapType.ONE_GROUP_PER_AGENT`` (every speaker is its own group, with its
      own policy: speakers may have different numbers of signals) and ``return_state=True`` (the
      environment's global ``state()`` becomes BenchMARL's ``state``, which MAPPO's centralised
      critic reads; IPPO's critics read each speaker's own observation);
    * BenchMARL's :class:`~benchmarl.experiment.Experiment` with its MAPPO (or IPPO) and MLP
      configs, on CPU, without loggers or checkpoints (its folder goes to a temporary
      directory unless ``--save-folder`` is given);
    * exact scoring: a speaker's policy is its group policy's deterministic action
      (``ExplorationType.DETERMINISTIC``: the TanhNormal's mode in the box) at its observation;
      :func:`persuaders.train.scoring.score_env` takes the softmax of the flat logits row by row and
      evaluates the profile exactly (:func:`persuaders.envs.payoff.evaluate`), printed beside
      :func:`persuaders.eval.theory.analytic_quantities`.

``--iterations`` counts BenchMARL iterations of ``--frames-per-batch`` environment steps each.

Measured on 2 cores with seed 0 on hull_pair_logit (full information 0.600, no information 0.539):
see the README's table of libraries.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from persuaders.envs import persuasion_v0
from persuaders.envs.game import Game, load_game, protocols
from persuaders.train.scoring import format_learned_result, learned_result, persuasion_env, score_env

try:
    from benchmarl.environments import Task, TaskClass
except ImportError:  # main() says what to install
    Task, TaskClass = object, object  # type: ignore[assignment,misc]


# ---------------------------------------------------------------------------------- the task
def make_env(config: dict[str, Any], seed: int | None = 0, device: Any = "cpu"):
    """persuasion_v0 (flat actions) through TorchRL's ``PettingZooWrapper``: one group per speaker,
    with the global state."""
    from torchrl.envs import PettingZooWrapper
    from torchrl.envs.utils import MarlGroupMapType

    par = persuasion_env(
        config["game"],
        protocol=config.get("protocol", "simultaneous"),
        reward_mode=config.get("reward_mode", "expect_all"),
        action_format="flat",
    )
    with warnings.catch_warnings():
        # TorchRL notes the PettingZoo version it tested its wrapper with
        warnings.filterwarnings("ignore", message="PettingZoo in TorchRL is tested", category=UserWarning)
        return PettingZooWrapper(
            par,
            group_map=MarlGroupMapType.ONE_GROUP_PER_AGENT,
            return_state=True,
            categorical_actions=True,
            seed=seed,
            device=device,
        )


class PersuasionClass(TaskClass):
    """BenchMARL's task class for persuasion_v0. ``config``: ``game`` (any name :func:`load_game`
    takes; default the task's name in lower case), ``protocol``, ``reward_mode``."""

    def __init__(self, name: str, config: dict[str, Any]):
        config = dict(config or {})
        config.setdefault("game", name.lower())
        config.setdefault("protocol", "simultaneous")
        config.setdefault("reward_mode", "expect_all")
        super().__init__(name, config)

    def get_env_fun(self, num_envs: int, continuous_actions: bool, seed: int | None, device: Any) -> Callable:
        config = copy.deepcopy(self.config)
        return lambda: make_env(config, seed=seed, device=device)

    def supports_continuous_actions(self) -> bool:
        return True

    def supports_discrete_actions(self) -> bool:
        return False

    def has_render(self, env) -> bool:
        return False

    def max_steps(self, env) -> int:
        return load_game(self.config["game"]).rounds

    def group_map(self, env) -> dict[str, list[str]]:
        return env.group_map

    def state_spec(self, env):
        from torchrl.data import Composite

        return Composite({"state": env.observation_spec["state"].clone()})

    def action_mask_spec(self, env):
        return None

    def _group_entries(self, env, keep: str):
        spec = env.observation_spec.clone()
        for group in self.group_map(env):
            for key in list(spec[group].keys()):
                if key != keep:
                    del spec[group][key]
        if "state" in spec.keys():  # noqa: SIM118  (a TorchRL Composite spec: its keys() is the mapping view)
            del spec["state"]
        return spec

    def observation_spec(self, env):
        return self._group_entries(env, "observation")

    def info_spec(self, env):
        return self._group_entries(env, "info")

    def action_spec(self, env):
        return env.full_action_spec

    @staticmethod
    def env_name() -> str:
        return "persuasion"


class PersuasionTask(Task):
    """persuasion_v0's bundled games as BenchMARL tasks (``PersuasionTask.HULL_PAIR_LOGIT.get_task()``)."""

    KG_LOGIT = None
    HULL_PAIR_LOGIT = None
    HULL_PAIR_PRIVATE = None
    KG_WITNESS = None
    NOISY_ADVISORS = None
    PROSECUTOR_DEFENCE = None

    @staticmethod
    def associated_class():
        return PersuasionClass

    def get_task(self, config: dict[str, Any] | None = None) -> PersuasionClass:
        # No YAML under benchmarl/conf/task for a third-party task: the config is given here.
        return PersuasionClass(name=self.name, config=config or {})


def make_task(game: str, protocol: str = "simultaneous", reward_mode: str = "expect_all") -> PersuasionClass:
    """The BenchMARL task of ``game``: the enum member of a bundled game, else a task named after it."""
    config = {"game": game, "protocol": protocol, "reward_mode": reward_mode}
    member = PersuasionTask.__members__.get(str(game).upper())
    return member.get_task(config) if member is not None else PersuasionClass("CUSTOM", config)


# ---------------------------------------------------------------------------------- scoring
def group_policy(group_policy: Any, group: str):
    """The speaker's policy on the environment, ``obs [B, D] -> logits [B, X * M]``: its group
    policy's deterministic action."""
    import torch
    from tensordict import TensorDict
    from torchrl.envs.utils import ExplorationType, set_exploration_type

    def policy(obs: np.ndarray) -> np.ndarray:
        obs_t = torch.as_tensor(obs)[:, None, :]  # [B, 1 agent, D]
        td = TensorDict(
            {group: TensorDict({"observation": obs_t}, batch_size=obs_t.shape[:2])}, batch_size=obs_t.shape[:1]
        )
        with torch.no_grad(), set_exploration_type(ExplorationType.DETERMINISTIC):
            return group_policy(td).get((group, "action"))[:, 0].double().numpy()

    return policy


def experiment_policies(experiment: Any, game: Game) -> dict[str, Any]:
    return {name: group_policy(experiment.group_policies[name], name) for name in game.speaker_names}


# ---------------------------------------------------------------------------------- training
def make_experiment(
    game: str = "hull_pair_logit",
    algorithm: str = "mappo",
    iterations: int = 20,
    frames_per_batch: int = 1024,
    n_envs: int = 8,
    minibatch_size: int = 256,
    minibatch_iters: int = 4,
    lr: float = 3e-3,
    hidden: int = 64,
    seed: int = 0,
    protocol: str = "simultaneous",
    reward_mode: str = "expect_all",
    save_folder: str | None = None,
):
    """A BenchMARL :class:`~benchmarl.experiment.Experiment` of ``algorithm`` (``mappo`` or ``ippo``) on the game."""
    import torch
    from benchmarl.algorithms import IppoConfig, MappoConfig
    from benchmarl.experiment import Experiment, ExperimentConfig
    from benchmarl.models.mlp import MlpConfig

    config = ExperimentConfig.get_from_yaml()
    config.sampling_device = config.train_device = config.buffer_device = "cpu"
    config.gamma = 1.0  # episodes are `rounds` steps long and paid at the end
    config.lr = lr
    config.max_n_iters, config.max_n_frames = iterations, None
    config.on_policy_collected_frames_per_batch = frames_per_batch
    config.on_policy_n_envs_per_worker = n_envs
    config.on_policy_minibatch_size = minibatch_size
    config.on_policy_n_minibatch_iters = minibatch_iters
    config.evaluation = False
    config.render = False
    config.loggers = []
    config.create_json = False
    config.checkpoint_interval = 0
    config.checkpoint_at_end = False
    config.save_folder = save_folder
    algo = {"mappo": MappoConfig, "ippo": IppoConfig}[algorithm].get_from_yaml()
    model = MlpConfig(num_cells=[hidden, hidden], layer_class=torch.nn.Linear, activation_class=torch.nn.Tanh)
    return Experiment(
        task=make_task(game, protocol, reward_mode),
        algorithm_config=algo,
        model_config=model,
        critic_model_config=copy.deepcopy(model),
        seed=seed,
        config=config,
    )


def train_and_score(
    game: str = "hull_pair_logit",
    algorithm: str = "mappo",
    iterations: int = 20,
    frames_per_batch: int = 1024,
    n_envs: int = 8,
    minibatch_size: int = 256,
    minibatch_iters: int = 4,
    lr: float = 3e-3,
    seed: int = 0,
    protocol: str = "simultaneous",
    reward_mode: str = "expect_all",
    save_folder: str | None = None,
    threads: int | None = 1,
    verbose: bool = True,
) -> dict:
    """Train every speaker with BenchMARL for ``iterations`` iterations; exact scores before and after.

    Returns ``{"game", "library", "algorithm", "groups", "frames", "initial", "user_value",
    "speaker_values", "schemes", "theory", "seconds"}`` (exact values). ``threads`` sets torch's
    intra-op threads (default 1; None keeps torch's setting).
    """
    import torch

    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        with tempfile.TemporaryDirectory(prefix="benchmarl_persuasion_") as tmp:
            return _train_and_score(
                game,
                algorithm,
                iterations,
                frames_per_batch,
                n_envs,
                minibatch_size,
                minibatch_iters,
                lr,
                seed,
                protocol,
                reward_mode,
                save_folder or tmp,
                verbose,
            )
    finally:
        torch.set_num_threads(previous)


def _train_and_score(
    game,
    algorithm,
    iterations,
    frames_per_batch,
    n_envs,
    minibatch_size,
    minibatch_iters,
    lr,
    seed,
    protocol,
    reward_mode,
    save_folder,
    verbose,
):
    import contextlib
    import io
    from importlib.metadata import version

    start = time.perf_counter()
    g = load_game(game)
    trained_on = persuasion_env(g, protocol=protocol, reward_mode=reward_mode, action_format="flat")
    torchrl_log = logging.getLogger("torchrl")  # its INFO lines go to stdout
    level = torchrl_log.level
    if not verbose:
        torchrl_log.setLevel(logging.WARNING)
    quiet = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO())
    try:
        with quiet:
            experiment = make_experiment(
                game,
                algorithm,
                iterations=iterations,
                frames_per_batch=frames_per_batch,
                n_envs=n_envs,
                minibatch_size=minibatch_size,
                minibatch_iters=minibatch_iters,
                lr=lr,
                seed=seed,
                protocol=protocol,
                reward_mode=reward_mode,
                save_folder=save_folder,
            )
            initial = score_env(trained_on, experiment_policies(experiment, g), seed)
            experiment.run()
    finally:
        torchrl_log.setLevel(level)
    final = score_env(trained_on, experiment_policies(experiment, g), seed)
    return {
        "game": g.name,
        "library": {name: version(name) for name in ("benchmarl", "torchrl", "tensordict")},
        "algorithm": algorithm,
        "groups": {grp: list(names) for grp, names in experiment.group_map.items()},
        "frames": int(experiment.total_frames),
        **learned_result(g, initial, final),
        "seconds": time.perf_counter() - start,
    }


def format_result(res: dict) -> str:
    """The exact outcome before and after training, beside the theory."""
    title = (
        f"BenchMARL {res['algorithm'].upper()} on {res['game']} (groups {res['groups']}), {res['frames']} frames, "
        f"scored exactly ({res['seconds']:.1f} s):"
    )
    return format_learned_result(title, res)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--game", default="hull_pair_logit", help="bundled game, YAML path or random:... (default hull_pair_logit)"
    )
    parser.add_argument("--algorithm", default="mappo", choices=["mappo", "ippo"])
    parser.add_argument("--protocol", default="simultaneous", choices=list(protocols()))
    parser.add_argument("--reward-mode", default="expect_all", choices=list(persuasion_v0.REWARD_MODES))
    parser.add_argument("--iterations", type=int, default=20, help="BenchMARL iterations")
    parser.add_argument("--frames-per-batch", type=int, default=1024, help="environment steps per iteration")
    parser.add_argument("--n-envs", type=int, default=8, help="copies of the environment (a TorchRL SerialEnv)")
    parser.add_argument("--minibatch-size", type=int, default=256, help="PPO minibatch size")
    parser.add_argument(
        "--minibatch-iters",
        type=int,
        default=4,
        help="passes over the batch per iteration (BenchMARL's on_policy_n_minibatch_iters)",
    )
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-folder", default=None, help="BenchMARL's experiment folder (default: a temporary one)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    try:
        import benchmarl  # noqa: F401
    except ImportError:
        print("this example needs BenchMARL in an environment of its own (see the module docstring)", file=sys.stderr)
        return 2
    res = train_and_score(
        args.game,
        algorithm=args.algorithm,
        iterations=args.iterations,
        frames_per_batch=args.frames_per_batch,
        n_envs=args.n_envs,
        minibatch_size=args.minibatch_size,
        minibatch_iters=args.minibatch_iters,
        lr=args.lr,
        seed=args.seed,
        protocol=args.protocol,
        reward_mode=args.reward_mode,
        save_folder=args.save_folder,
        verbose=not args.json,
    )
    print(json.dumps(res, indent=2) if args.json else format_result(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
