"""The learner interface: what every speaker's learning algorithm provides, and its registry.

A learner controls one speaker, or several that share its parameters. Each round it maps a batch
of observations to scheme logits (:meth:`Learner.act`), after each rollout it updates from what
happened (:meth:`Learner.update`), and at any time it says which scheme it commits to at an
observation (:meth:`Learner.scheme`: what the exact evaluator scores). The training loop of
:mod:`persuaders.train.loop` is written against this interface only, so a new algorithm is one
subclass registered with :func:`register_learner` and selected in a training config by name::

    learner: my_learner              # every speaker, or per speaker:
    speakers: {prosecutor: {learner: my_learner}}
    my_learner: {step_size: 0.1}     # its hyperparameters, validated by its config class

Hyperparameters are a dataclass (:attr:`Learner.config_class`) whose :meth:`LearnerConfig.from_mapping`
validates a config section and names a bad key (``ppo.learning_rate: must be > 0``).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch

from persuaders.envs.game.protocols import Protocol
from persuaders.envs.game.registry import Registry
from persuaders.envs.game.spec import Game
from persuaders.envs.game.users import UserModel
from persuaders.envs.game.validation import SpecError, as_float, as_int, check_keys

__all__ = [
    "LearnerConfig",
    "LearnerSpec",
    "Rollout",
    "Learner",
    "register_learner",
    "learner_class",
    "learners",
]

C = TypeVar("C", bound="LearnerConfig")


@dataclass
class LearnerConfig:
    """Hyperparameters of a learner. Subclass it as a dataclass; fields must have defaults.

    :meth:`from_mapping` checks the keys and the types of the annotations (``float``, ``int``,
    ``bool``, ``str``, ``list[int]``, optional ``X | None``); override :meth:`check` for ranges.
    """

    @classmethod
    def from_mapping(cls: type[C], raw: Any, where: str) -> C:
        names = [f.name for f in dataclasses.fields(cls)]
        check_keys(raw if raw is not None else {}, where, names)
        values: dict[str, Any] = {}
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if raw and f.name in raw:
                values[f.name] = _coerce(raw[f.name], hints[f.name], f"{where}.{f.name}")
        out = cls(**values)
        out.check(where)
        return out

    def check(self, where: str) -> None:
        """Range checks beyond the types (raise :class:`SpecError` naming ``where.key``)."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _coerce(value: Any, hint: Any, field_name: str) -> Any:
    """``value`` checked against a type annotation (a :class:`SpecError` names the field)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        rest = [a for a in args if a is not type(None)]
        return _coerce(value, rest[0], field_name) if len(rest) == 1 else value
    if hint is bool:
        if not isinstance(value, bool):
            raise SpecError(field_name, f"expected true or false, got {value!r}")
        return value
    if hint is int:
        return as_int(value, field_name)
    if hint is float:
        return as_float(value, field_name, allow_inf=True)
    if hint is str:
        if not isinstance(value, str):
            raise SpecError(field_name, f"expected a string, got {value!r}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise SpecError(field_name, f"expected a list, got {value!r}")
        return [_coerce(v, args[0], f"{field_name}[{j}]") for j, v in enumerate(value)] if args else list(value)
    return value


@dataclass
class LearnerSpec:
    """What a learner is built for: the game, its speakers, sizes and the protocol.

    ``speakers`` are the indices of the speakers it controls (several when parameters are
    shared); ``obs_size`` is the observation size; ``action_shape`` ``(X_max, M)`` the logits of
    one speaker; ``state_size`` the global state size (for centralised critics); ``n_envs`` the
    number of parallel episodes; ``options`` the speaker-level keys of the config (e.g. ``path``);
    ``generator`` the random generator for minibatch shuffling, shared by the run's learners (and
    saved in its checkpoints) so that a resumed run repeats an uninterrupted one exactly.
    """

    game: Game
    speakers: tuple[int, ...]
    obs_size: int
    action_shape: tuple[int, int]
    state_size: int
    n_envs: int
    protocol: Protocol
    options: dict[str, Any] = field(default_factory=dict)
    generator: torch.Generator = field(default_factory=torch.Generator)


@dataclass
class Rollout:
    """One rollout of ``T`` steps of ``N`` episodes, for one of the learner's speakers.

    ``obs`` ``[T, N, D]``, ``rewards`` ``[T, N]``, ``dones`` ``[T, N]`` (the episode ended at that
    step), ``next_obs`` ``[N, D]`` (after the last step), ``extras`` what :meth:`Learner.act`
    returned for this speaker at each step, stacked (``[T, N, ...]``), and ``states`` /
    ``next_state`` the global state (``[T, N, S]`` / ``[N, S]``) when the learner asks for it.
    """

    speaker: int
    obs: torch.Tensor
    rewards: torch.Tensor
    dones: torch.Tensor
    next_obs: torch.Tensor
    extras: dict[str, torch.Tensor]
    states: torch.Tensor | None = None
    next_state: torch.Tensor | None = None


L = TypeVar("L", bound="Learner")


class Learner(ABC):
    """A speaker's learning algorithm (see the module docstring).

    Class attributes: :attr:`name` (the config's ``learner:``), :attr:`config_class`,
    :attr:`learns` (False for fixed speakers: the loop then skips their update),
    :attr:`shareable` (one instance may serve several speakers), :attr:`uses_state` (its rollouts
    carry the global state), :attr:`speaker_options` (speaker-level config keys it accepts).
    """

    name: ClassVar[str] = ""
    config_class: ClassVar[type[LearnerConfig]] = LearnerConfig
    learns: ClassVar[bool] = True
    shareable: ClassVar[bool] = False
    uses_state: ClassVar[bool] = False
    speaker_options: ClassVar[tuple[str, ...]] = ()

    def __init__(self, spec: LearnerSpec, config: LearnerConfig):
        self.spec = spec
        self.config = config

    @classmethod  # noqa: B027  (an optional hook: a no-op unless overridden)
    def check_speaker_options(cls, options: dict[str, Any], where: str) -> None:
        """Validate a speaker's options in a config (``where`` is ``speakers.NAME``)."""

    @abstractmethod
    def act(
        self, obs: torch.Tensor, speaker: int, state: torch.Tensor | None = None
    ) -> tuple[np.ndarray, dict[str, torch.Tensor]]:
        """Scheme logits ``[N, X_max, M]`` (float64 numpy) for speaker ``speaker`` at observations
        ``[N, D]``, and what :meth:`update` will need of this step (tensors with a leading ``N``)."""

    @abstractmethod
    def scheme(self, obs: np.ndarray, speaker: int) -> np.ndarray:
        """The scheme ``[B, X_max, M]`` (probabilities) the speaker commits to at observations ``[B, D]``."""

    def update(self, rollouts: list[Rollout]) -> dict[str, float]:
        """Learn from one rollout per controlled speaker; return statistics for ``losses/`` tags."""
        return {}

    def commitment(self, speaker: int) -> np.ndarray | None:
        """A fixed open-loop scheme ``[R, X_i, M]`` if the speaker plays one whatever it observes, else None."""
        return None

    def set_progress(self, fraction: float) -> None:  # noqa: B027  (an optional hook: a no-op unless overridden)
        """Training has done ``fraction`` of its iterations (for schedules such as an annealed step size)."""

    def set_user_model(self, model: UserModel | None) -> None:  # noqa: B027  (an optional hook: a no-op unless overridden)
        """The user the environment now simulates (a rationality homotopy), or None for the game's own."""

    def attach(self, profile: Callable[[], dict[str, Any]]) -> None:  # noqa: B027  (an optional hook: a no-op unless overridden)
        """Receive the team's current profile (every speaker's committed rule), for learners that
        use the other speakers' schemes (the exact-gradient learner)."""

    def state_dict(self) -> dict[str, Any]:
        """Tensors and plain data that restore the learner (checkpoints load with ``weights_only=True``)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:  # noqa: B027  (an optional hook: a no-op unless overridden)
        """Restore :meth:`state_dict`."""


# ---------------------------------------------------------------------------------- registry
def _check_learner_class(cls: type[Learner]) -> None:
    if not (isinstance(cls.config_class, type) and issubclass(cls.config_class, LearnerConfig)):
        raise TypeError(f"register_learner: {cls.__name__}.config_class must subclass LearnerConfig")


_REGISTRY: Registry[type[Learner]] = Registry("learner", Learner, _check_learner_class)


def register_learner(cls: type[L], *, replace: bool = False) -> type[L]:
    """Register a :class:`Learner` subclass under its :attr:`~Learner.name` (a decorator)."""
    _REGISTRY.register(cls, replace=replace)
    return cls


def learners() -> tuple[str, ...]:
    """Names of the registered learners."""
    return _REGISTRY.names()


def learner_class(name: Any, where: str = "learner") -> type[Learner]:
    """The registered learner called ``name`` (a :class:`SpecError` naming ``where`` lists the others)."""
    return _REGISTRY.get(name, where)
