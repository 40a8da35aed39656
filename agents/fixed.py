"""Fixed (non-learning) speakers: full revelation, babbling, or any schemes from a file.

A fixed speaker commits to open-loop schemes ``pi[t, x, m]`` (one per round), whatever it
observes. Learners can be trained against them, and the exact evaluator scores them directly.

* ``learner: full_revelation``: the signal spelled out in base ``M`` over the rounds;
* ``learner: babbling``: uniform messages, no information;
* ``learner: fixed`` with ``path: FILE``: a schemes file (YAML or JSON) ``{speaker name: [[...]]}``
  with a ``[X][M]`` scheme used every round or ``[R][X][M]`` one per round (a ``summary.json``
  works too).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from persuaders.agents.base import Learner, LearnerConfig, LearnerSpec, register_learner
from persuaders.envs.game.observations import ObservationLayout
from persuaders.envs.game.schemes import babbling_scheme, full_revelation_scheme, load_schemes_file, scheme_to_logits
from persuaders.envs.game.validation import SpecError

__all__ = ["FixedLearner", "FullRevelation", "Babbling", "FixedSchemes"]


class FixedLearner(Learner):
    """A speaker that plays fixed open-loop schemes ``[R, X_i, M]`` (subclasses say which)."""

    learns = False

    def __init__(self, spec: LearnerSpec, config: LearnerConfig):
        super().__init__(spec, config)
        if len(spec.speakers) != 1:
            raise ValueError(f"learner '{self.name}' controls one speaker, got {len(spec.speakers)}")
        self.index = spec.speakers[0]
        self.schemes = self.make_schemes(spec)
        x_i = spec.game.speakers[self.index].n_signals
        self.logits = np.zeros((spec.game.rounds, *spec.action_shape))
        self.logits[:, :x_i] = scheme_to_logits(self.schemes)
        padded = np.full((spec.game.rounds, *spec.action_shape), 1.0 / spec.action_shape[1])
        padded[:, :x_i] = self.schemes
        self._padded = padded
        self.layout = ObservationLayout.for_game(spec.game)

    def make_schemes(self, spec: LearnerSpec) -> np.ndarray:
        raise NotImplementedError

    def act(
        self, obs: torch.Tensor, speaker: int, state: torch.Tensor | None = None
    ) -> tuple[np.ndarray, dict[str, torch.Tensor]]:
        rnd = int(self.layout.round_of(np.asarray(obs[:1]))[0])  # every episode is at the same round
        return np.broadcast_to(self.logits[rnd], (obs.shape[0], *self.logits.shape[1:])), {}

    def scheme(self, obs: np.ndarray, speaker: int) -> np.ndarray:
        out: np.ndarray = self._padded[self.layout.round_of(obs)]
        return out

    def commitment(self, speaker: int) -> np.ndarray:
        return self.schemes


@register_learner
class FullRevelation(FixedLearner):
    """Round ``t`` sends digit ``t`` of the signal in base ``M`` (needs ``M^R >= X_i``)."""

    name = "full_revelation"

    def make_schemes(self, spec: LearnerSpec) -> np.ndarray:
        try:
            return full_revelation_scheme(spec.game, self.index)
        except ValueError as exc:
            raise SpecError(f"speakers.{spec.game.speakers[self.index].name}.learner", str(exc)) from None


@register_learner
class Babbling(FixedLearner):
    """Uniform messages whatever the signal."""

    name = "babbling"

    def make_schemes(self, spec: LearnerSpec) -> np.ndarray:
        return babbling_scheme(spec.game, self.index)


@register_learner
class FixedSchemes(FixedLearner):
    """Schemes read from ``path`` (a schemes file or a ``summary.json``)."""

    name = "fixed"
    speaker_options: ClassVar[tuple[str, ...]] = ("path",)

    @classmethod
    def check_speaker_options(cls, options: dict[str, Any], where: str) -> None:
        if not options.get("path") or not isinstance(options["path"], str):
            raise SpecError(f"{where}.path", "learner 'fixed' needs the path of a schemes file")

    def make_schemes(self, spec: LearnerSpec) -> np.ndarray:
        name = spec.game.speakers[self.index].name
        path = spec.options.get("path")
        if not path:
            raise SpecError(f"speakers.{name}.path", "learner 'fixed' needs the path of a schemes file")
        try:
            loaded = load_schemes_file(spec.game, path)
        except SpecError as exc:
            raise SpecError(f"speakers.{name}.path", exc.message) from None
        if name not in loaded:
            raise SpecError(f"speakers.{name}.path", f"{path}: no scheme for speaker '{name}'")
        return np.asarray(loaded[name])

    def state_dict(self) -> dict[str, Any]:
        return {"schemes": torch.as_tensor(self.schemes)}
