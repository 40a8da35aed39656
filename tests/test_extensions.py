"""Extension points, used from outside the package: a user model, a protocol and a learner.

Each toy is defined here, registered through the public registries, and then a game, the
environments, an exact evaluation and a short training run use it without any library file
knowing about it. Expected values are computed by hand from the definitions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

from persuaders.agents import Learner, LearnerConfig, register_learner
from persuaders.envs import persuasion_v0
from persuaders.envs.game import Game, SelectionProtocol, UserModel, load_game, register_protocol, register_user_model
from persuaders.envs.game.schemes import babbling_scheme, full_revelation_scheme, scheme_to_logits
from persuaders.envs.game.validation import SpecError, as_float
from persuaders.envs.payoff import evaluate
from persuaders.envs.persuasion.batched import BatchedPersuasionEnv
from persuaders.eval.theory import analytic_quantities
from persuaders.train.config import load_config
from persuaders.train.loop import train


# ---------------------------------------------------------------------------------- a user model
@register_user_model
class EpsilonGreedyUser(UserModel):
    """With probability 1 - epsilon the best response (ties split), else a uniform action."""

    name = "toy_epsilon_greedy"
    parameters = ("epsilon",)

    def __init__(self, epsilon: float):
        self.epsilon = epsilon

    @classmethod
    def from_fields(cls, fields: Any, where: str = "user") -> EpsilonGreedyUser:
        return cls(as_float(fields.get("epsilon", 0.1), f"{where}.epsilon", minimum=0.0, maximum=1.0))

    def fields(self) -> dict[str, Any]:
        return {"epsilon": self.epsilon}

    def respond(self, eu: np.ndarray) -> np.ndarray:
        best = (eu >= eu.max(axis=-1, keepdims=True) - 1e-9).astype(float)
        best /= best.sum(axis=-1, keepdims=True)
        return (1 - self.epsilon) * best + self.epsilon / eu.shape[-1]


def kg_with(user_extra: dict[str, Any]) -> Game:
    d = load_game("kg").to_dict()
    d["user"] = {k: v for k, v in d["user"].items() if k not in ("model", "rationality")} | user_extra
    return Game.from_dict(d)


def test_a_game_file_selects_the_toy_user_model_by_name():
    g = kg_with({"model": "toy_epsilon_greedy", "epsilon": 0.2})
    assert isinstance(g.user.model, EpsilonGreedyUser) and g.user.model.epsilon == 0.2
    with pytest.raises(SpecError, match=r"user\.epsilon"):
        kg_with({"model": "toy_epsilon_greedy", "epsilon": 2})
    with pytest.raises(SpecError, match=r"user\.model.*toy_epsilon_greedy"):  # the error lists it
        kg_with({"model": "no_such_model"})
    again = Game.from_dict(g.to_dict())
    assert again.user.model == g.user.model


def test_exact_evaluation_and_environment_with_the_toy_user():
    # kg, full revelation: the judge is right w.p. 1 - eps/2 = 0.9 whatever the state.
    g = kg_with({"model": "toy_epsilon_greedy", "epsilon": 0.2})
    out = evaluate(g, {"prosecutor": full_revelation_scheme(g, 0)})
    assert out.user_value == pytest.approx(0.9, abs=1e-12)
    assert out.speaker_values["prosecutor"] == pytest.approx(0.3 * 0.9 + 0.7 * 0.1, abs=1e-12)
    # Babbling: at the prior (0.7, 0.3) acquittal is best, played w.p. 0.9.
    out = evaluate(g, {"prosecutor": babbling_scheme(g, 0)})
    assert out.user_value == pytest.approx(0.9 * 0.7 + 0.1 * 0.3, abs=1e-12)
    # The PettingZoo environment's exact-expectation rewards agree.
    env = persuasion_v0.parallel_env(g, reward_mode="expect_all")
    env.reset(seed=0)
    _, rewards, _, _, _ = env.step({"prosecutor": scheme_to_logits(babbling_scheme(g, 0)[0])})
    assert rewards["prosecutor"] == pytest.approx(0.1, abs=1e-12)


def test_bounds_say_what_is_unavailable_for_the_toy_user():
    g = kg_with({"model": "toy_epsilon_greedy", "epsilon": 0.2})
    q = analytic_quantities(g)
    assert q["no_information"] == pytest.approx(0.66, abs=1e-10)
    assert q["full_information"] == pytest.approx(0.9, abs=1e-10)
    single = q["single_sender"]["prosecutor"]
    assert single["sender_value"] is None and "toy_epsilon_greedy" in str(single)


# ---------------------------------------------------------------------------------- a protocol
@register_protocol
class RandomSpeaker(SelectionProtocol):
    """The user deploys a speaker chosen uniformly at random, with no evaluation."""

    name = "toy_random_speaker"

    def selection_probabilities(self, user_utility: np.ndarray, solo: np.ndarray) -> np.ndarray:
        return np.full(len(solo), 1.0 / len(solo))

    def select(self, rng: np.random.Generator, evaluation: Any, n_envs: int, k: int) -> tuple[np.ndarray, None]:
        return rng.integers(k, size=n_envs), None


def test_exact_evaluation_under_the_toy_protocol():
    # hull_pair: the prosecution reveals (user 0.6 alone), the defence babbles (user 0.54 alone).
    g = load_game("hull_pair")
    profile = {"prosecution": full_revelation_scheme(g, 0), "defence": babbling_scheme(g, 1)}
    out = evaluate(g, profile, protocol="toy_random_speaker")
    assert out.selection == {"prosecution": 0.5, "defence": 0.5}
    assert out.user_value == pytest.approx(0.5 * 0.6 + 0.5 * 0.54, abs=1e-12)


def test_environments_run_the_toy_protocol():
    g = load_game("hull_pair")
    logits = np.stack([scheme_to_logits(full_revelation_scheme(g, 0)[0]), scheme_to_logits(babbling_scheme(g, 1)[0])])
    env = BatchedPersuasionEnv(g, 20_000, protocol="toy_random_speaker", seed=1)
    env.reset()
    _, _, done, info = env.step(np.broadcast_to(logits, (20_000, *logits.shape)))
    assert done and abs(info["selected"].mean() - 0.5) < 0.02
    assert info["user_expected_utility"].mean() == pytest.approx(0.57, abs=0.01)
    par = persuasion_v0.parallel_env("hull_pair", protocol="toy_random_speaker")
    par.reset(seed=0)
    _, _, _, _, infos = par.step({"prosecution": logits[0], "defence": logits[1]})
    assert infos["prosecution"]["selected"] in (0, 1) and par.outcome["selected"] in g.speaker_names


# ---------------------------------------------------------------------------------- a learner
@dataclass
class ChooserConfig(LearnerConfig):
    explore_iterations: int = 2


@register_learner
class Chooser(Learner):
    """A two-armed bandit over schemes: babbling, then full revelation, then the better of the two."""

    name = "toy_chooser"
    config_class = ChooserConfig

    def __init__(self, spec: Any, config: ChooserConfig):
        super().__init__(spec, config)
        (self.i,) = spec.speakers
        g = spec.game
        self.arms = [babbling_scheme(g, self.i)[0], full_revelation_scheme(g, self.i)[0]]
        self.totals = torch.zeros(2, dtype=torch.float64)
        self.counts = torch.zeros(2, dtype=torch.float64)
        self.updates = 0

    def arm(self) -> int:
        if self.updates < self.config.explore_iterations:
            return self.updates % 2
        return int(torch.argmax(self.totals / self.counts.clamp(min=1)))

    def _padded(self, scheme: np.ndarray) -> np.ndarray:
        out = np.full(self.spec.action_shape, 1.0 / self.spec.action_shape[1])
        out[: scheme.shape[0]] = scheme
        return out

    def act(self, obs: torch.Tensor, speaker: int, state: torch.Tensor | None = None) -> tuple[np.ndarray, dict]:
        logits = scheme_to_logits(self._padded(self.arms[self.arm()]))
        return np.broadcast_to(logits, (obs.shape[0], *logits.shape)), {}

    def scheme(self, obs: np.ndarray, speaker: int) -> np.ndarray:
        return np.broadcast_to(self._padded(self.arms[self.arm()]), (len(obs), *self.spec.action_shape))

    def update(self, rollouts: list) -> dict[str, float]:
        a = self.arm()
        self.totals[a] += float(rollouts[0].rewards.sum(0).mean())
        self.counts[a] += 1
        self.updates += 1
        return {"arm": float(a)}

    def state_dict(self) -> dict[str, Any]:
        return {"totals": self.totals, "counts": self.counts, "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.totals, self.counts, self.updates = state["totals"], state["counts"], state["updates"]


def test_a_short_training_with_the_toy_learner(tmp_path):
    # kg_logit (lam = 10): revealing earns the prosecutor 0.3 sigma(10) + 0.7 sigma(-10) (at a point
    # mass the EU gap is 1), babbling only sigma(-10 (0.7 - 0.3)): the chooser must settle on revealing.
    cfg = load_config(
        None,
        [
            "game=kg_logit",
            "learner=toy_chooser",
            "total_steps=8192",
            "n_envs=1024",
            "eval_interval=1",
            "exploitability_interval=0",
            "toy_chooser.explore_iterations=2",
        ],
    )
    assert cfg.to_dict()["toy_chooser"] == {"explore_iterations": 2}
    summary = train(cfg, tmp_path / "run", progress=False)

    def sigma(z: float) -> float:
        return 1 / (1 + math.exp(-z))

    assert summary["speaker_values"]["prosecutor"] == pytest.approx(0.3 * sigma(10) + 0.7 * sigma(-10), abs=1e-12)
    assert summary["schemes"]["prosecutor"][0] == [[1.0, 0.0], [0.0, 1.0]]
    with pytest.raises(SpecError, match=r"toy_chooser\.explore_iterations"):
        load_config(None, ["game=kg_logit", "learner=toy_chooser", "toy_chooser.explore_iterations=fast"])


def test_a_short_training_under_the_toy_protocol_and_user(tmp_path):
    path = tmp_path / "kg_toy.yaml"
    path.write_text(kg_with({"model": "toy_epsilon_greedy", "epsilon": 0.2}).to_yaml())
    cfg = load_config(
        None,
        [f"game={path}", "protocol=toy_random_speaker", "total_steps=4096", "n_envs=512", "exploitability_interval=0"],
    )
    summary = train(cfg, tmp_path / "run", progress=False)
    assert summary["protocol"] == "toy_random_speaker"
    assert summary["selection"] == {"prosecutor": 1.0}
    assert 0.0 <= summary["user_value"] <= 1.0
