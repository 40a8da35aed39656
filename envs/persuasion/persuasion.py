"""PettingZoo environment: competing AI speakers persuade a user who acts on what she learns.

The game is described in docs/science.md. Each agent is an AI speaker; its action in a round is
a matrix of logits ``[own signal, message]`` whose row-wise softmax is its signalling scheme for
that round (the committed rule), never a message. The environment samples the messages, updates
the exact factorised belief, lets the user speak by her fixed channel, and after the last round
the user acts by her user model at her posterior. The simulation is
:class:`~persuaders.envs.persuasion.batched.BatchedPersuasionEnv` with one episode, so the PettingZoo and the
batched environments share every line of it.

Module pattern (as PettingZoo's own environments)::

    from persuaders.envs import persuasion_v0
    par = persuasion_v0.parallel_env(game="hull_pair", protocol="simultaneous")
    aec = persuasion_v0.env(game="kg")            # AEC, with OrderEnforcingWrapper

or, through the registry, ``pettingzoo.make("parallel", "persuasion_v0", game="kg")``.

Options
    ``protocol``       ``simultaneous`` (default), ``best_ai``, or any registered protocol.
    ``n_eval``         ``"exact"`` (default) or an integer >= 1: how ``best_ai`` scores a speaker.
    ``reward_mode``    ``sample``, ``expect_action`` (default) or ``expect_all``.
    ``render_mode``    None, ``ansi`` (render returns the transcript) or ``human`` (prints it).
    ``action_format``  ``matrix`` (default; a ``[X_i, M]`` Box) or ``flat`` (a 1-D Box of the
                       same ``X_i * M`` logits, row by row, for libraries that assume flat actions).
    ``agent_id``       False (default) or True: append a one-hot of the speaker's index to its
                       observation, so that one shared policy can tell the speakers apart.

Observation of speaker i: the encoding of :mod:`persuaders.envs.game.observations` (the round, the
belief it holds, the user's messages and the messages of the speakers it hears). Its private
signal is never observed. Under a selection protocol (``best_ai``) each speaker commits to a rule
on its solo thread with the user (docs/science.md, "Protocols"): the episode's steps walk the nodes of
that thread (:mod:`persuaders.envs.persuasion.selection`; ``sim.steps_per_episode`` of them, one for a
one-round game with a silent user), and at each the speaker sees its private-thread observation
(the round, the user's messages, its own earlier messages on that thread and the belief they
imply) and gives its scheme there; then the user evaluates, selects and deploys.

Infos have the same keys and types at every step (:data:`INFO_KEYS`): ``round`` (rounds played;
under ``best_ai`` the 1-based round of the thread node just committed),
``message`` (the speaker's message in the round just played, -1 when it said none), ``ended``
(False until the last step) and the outcome, meaningful once ``ended`` is True (until then -1 for
indices and 0.0 for numbers): ``state``, ``user_action``, ``user_utility``,
``user_expected_utility``, ``selected`` (the deployed speaker's index under a selection protocol,
-1 otherwise) and ``score`` (the speaker's evaluation score, when the protocol scores). The full
record of a finished episode (names, posterior, transcript, payoffs) is :attr:`PersuasionEnv.outcome`.

Global state (``state()``, ``state_space``; for centralised critics as in MAPPO): what no single
party knows, ``[state y one-hot | user's signal one-hot | each speaker's signal one-hot | public
record]`` (:meth:`BatchedPersuasionEnv.state`).

Actions outside the box bounds (±10) are legal: any finite logits are accepted. The environment
pickles and deep-copies with its episode (the simulator's arrays and random state).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import logger, spaces
from gymnasium.utils import EzPickle
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils import wrappers
from pettingzoo.utils.conversions import parallel_to_aec

from persuaders.envs.game.catalog import load_game
from persuaders.envs.game.protocols import REWARD_MODES, Protocol, resolve_protocol
from persuaders.envs.game.spec import Game
from persuaders.envs.game.validation import SpecError, as_real_array, as_seed
from persuaders.envs.persuasion.batched import BatchedPersuasionEnv
from persuaders.envs.persuasion.transcript import Transcript

__all__ = [
    "ACTION_FORMATS",
    "LOGIT_BOUND",
    "INFO_KEYS",
    "RENDER_MODES",
    "REWARD_MODES",
    "PersuasionEnv",
    "env",
    "parallel_env",
    "raw_env",
]

RENDER_MODES = ("ansi", "human")
ACTION_FORMATS = ("matrix", "flat")
#: Logit bound of the action box; values beyond it are still accepted.
LOGIT_BOUND = 10.0
#: The keys of every info dict, at every step.
INFO_KEYS = (
    "round",
    "message",
    "ended",
    "state",
    "user_action",
    "user_utility",
    "user_expected_utility",
    "selected",
    "score",
)


class PersuasionEnv(ParallelEnv, EzPickle):  # type: ignore[misc]  # PettingZoo ships no type information
    """Parallel PettingZoo environment of one persuasion game (see the module docstring)."""

    metadata: ClassVar[dict[str, Any]] = {
        "name": "persuasion_v0",
        "render_modes": list(RENDER_MODES),
        "is_parallelizable": True,
    }

    def __init__(
        self,
        game: Game | str | Any,
        protocol: Protocol | str = "simultaneous",
        n_eval: int | str | None = None,
        reward_mode: str = "expect_action",
        render_mode: str | None = None,
        action_format: str = "matrix",
        agent_id: bool = False,
    ):
        EzPickle.__init__(
            self,
            game,
            protocol=protocol,
            n_eval=n_eval,
            reward_mode=reward_mode,
            render_mode=render_mode,
            action_format=action_format,
            agent_id=agent_id,
        )
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode: expected None or one of {', '.join(RENDER_MODES)}, got {render_mode!r}")
        if action_format not in ACTION_FORMATS:
            raise ValueError(f"action_format: expected one of {', '.join(ACTION_FORMATS)}, got {action_format!r}")
        if not isinstance(agent_id, bool):
            raise ValueError(f"agent_id: expected True or False, got {agent_id!r}")
        self.game: Game = load_game(game)
        self.sim = BatchedPersuasionEnv(
            self.game, 1, protocol=resolve_protocol(protocol, n_eval), reward_mode=reward_mode, autoreset=False
        )
        self.protocol = self.sim.protocol
        self.n_eval = self.protocol.options().get("n_eval", "exact")
        self.reward_mode = reward_mode
        self.render_mode = render_mode
        self.action_format = action_format
        self.agent_id = agent_id

        g = self.game
        self.layout = self.sim.layout
        self.possible_agents = list(g.speaker_names)
        self.agents: list[str] = []
        self._index = {name: i for i, name in enumerate(self.possible_agents)}
        self._action_shapes = {s.name: (s.n_signals, g.messages) for s in g.speakers}
        size = self.layout.size + (g.n_speakers if agent_id else 0)
        self._observation_spaces = {name: spaces.Box(0.0, 1.0, (size,), np.float32) for name in self.possible_agents}
        self._action_spaces = {
            name: spaces.Box(
                -LOGIT_BOUND, LOGIT_BOUND, shape if action_format == "matrix" else (shape[0] * shape[1],), np.float32
            )
            for name, shape in self._action_shapes.items()
        }
        self.state_space = spaces.Box(0.0, 1.0, (self.sim.state_size,), np.float32)
        self._ids = np.eye(g.n_speakers, dtype=np.float32)
        self._logits = np.zeros((1, g.n_speakers, *self.sim.action_shape))
        self._seeded = False
        self._started = False
        self._record: tuple[Any, ...] | None = None
        self._outcome: dict[str, Any] | None = None
        self._transcript: Transcript | None = None

    # ------------------------------------------------------------------ spaces
    def observation_space(self, agent: str) -> spaces.Box:
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Box:
        return self._action_spaces[agent]

    def state(self) -> np.ndarray:
        """The global state (module docstring): the state, every signal and the public record, float32."""
        if not self._started:
            raise RuntimeError("state() called before reset()")
        out: np.ndarray = self.sim.state()[0]
        return out

    # ------------------------------------------------------------------ episode
    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        """Start an episode: draw the state and every signal, and (joint protocols) the user's first message.

        ``options`` is accepted for API compatibility and not used.
        """
        if seed is not None:
            seed = as_seed(seed, "seed")
        if seed is not None or not self._seeded:
            self.sim.rng = np.random.default_rng(seed)
            self._seeded = True
        views = self.sim.reset()
        self.agents = list(self.possible_agents)
        self._started = True
        self._record, self._outcome = None, None
        self._transcript = Transcript(self.sim) if self.render_mode is not None else None
        infos = {a: self._blank_info(0) for a in self.agents}
        obs = self._observe(views, self.agents)
        if self.render_mode == "human":
            self.render()
        return obs, infos

    def step(
        self, actions: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
        if not self._started:
            raise RuntimeError("step() called before reset()")
        if not self.agents:
            raise RuntimeError("the episode is over: call reset() before step()")
        self._fill_logits(actions)
        agents = self.agents
        t = self.sim.round
        node = None if self.sim.joint else self.sim.node
        views, rewards, done, info = self.sim.step(self._logits, checked=True)
        msgs = self.sim.speaker_messages[0, t]
        infos = {}
        for name in agents:
            d = self._blank_info(t + 1)
            d["message"] = int(msgs[self._index[name]])
            infos[name] = d
        if self._transcript is not None:
            self._transcript.after_step(t, self._logits[0], node)
        if done:
            reward = {name: float(rewards[0, self._index[name]]) for name in agents}
            self._finish(info, rewards[0], infos)
        else:
            reward = dict.fromkeys(agents, 0.0)
        obs = self._observe(views, agents)
        terminations = dict.fromkeys(agents, done)
        truncations = dict.fromkeys(agents, False)
        if done:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return obs, reward, terminations, truncations, infos

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _blank_info(rounds: int) -> dict[str, Any]:
        return {
            "round": rounds,
            "message": -1,
            "ended": False,
            "state": -1,
            "user_action": -1,
            "user_utility": 0.0,
            "user_expected_utility": 0.0,
            "selected": -1,
            "score": 0.0,
        }

    def _fill_logits(self, actions: Any) -> None:
        """Validate every live speaker's logits into the simulator's ``[1, k, X_max, M]`` buffer."""
        if not isinstance(actions, dict):
            raise ValueError(f"actions: expected a dict from speaker name to logits, got {type(actions).__name__}")
        if len(actions) != len(self.agents) or any(a not in self._index for a in actions):
            unknown = [a for a in actions if a not in self._index or a not in self.agents]
            if unknown:
                raise ValueError(
                    f"actions for unknown or finished speaker(s) {', '.join(map(repr, unknown))}; "
                    f"live speakers are {', '.join(self.agents)}"
                )
        for name in self.agents:
            shape, want = self._action_shapes[name], self._action_spaces[name].shape
            a = actions.get(name)
            if a is None:
                raise ValueError(f"speaker {name!r}: missing action; expected {self._what(want)}")
            try:
                logits = as_real_array(a, f"speaker {name!r}: action")
            except SpecError:
                raise
            except (TypeError, ValueError):
                raise ValueError(f"speaker {name!r}: action is not numeric; expected {self._what(want)}") from None
            if logits.shape != want:
                raise ValueError(f"speaker {name!r}: expected {self._what(want)}, got shape {logits.shape}")
            if not np.isfinite(logits).all():
                raise ValueError(f"speaker {name!r}: logits must be finite (got NaN or inf)")
            self._logits[0, self._index[name], : shape[0]] = logits.reshape(shape)

    def _what(self, want: tuple[int, ...]) -> str:
        return f"logits of shape {want} " + (
            "[signal][message]" if self.action_format == "matrix" else "(signal-major)"
        )

    def _observe(self, views: np.ndarray, agents: list[str]) -> dict[str, np.ndarray]:
        obs = views[0]  # [k, D], possibly a broadcast view
        obs = np.concatenate([obs, self._ids], axis=1) if self.agent_id else obs.copy()
        return {name: obs[self._index[name]] for name in agents}

    def _finish(self, info: dict[str, Any], pay: np.ndarray, infos: dict[str, dict[str, Any]]) -> None:
        """The end-of-episode infos and :attr:`outcome`."""
        sim = self.sim
        y, a = int(info["state"][0]), int(info["user_action"][0])
        common = {
            "ended": True,
            "state": y,
            "user_action": a,
            "user_utility": float(info["user_utility"][0]),
            "user_expected_utility": float(info["user_expected_utility"][0]),
        }
        scores = info.get("scores")
        selected = int(info["selected"][0]) if "selected" in info else -1
        for name, d in infos.items():
            d.update(common)
            i = self._index[name]
            d["selected"] = selected
            if scores is not None:
                d["score"] = float(scores[0, i])
            if selected >= 0:
                said = sim.speaker_messages[0, :, i]
                d["message"] = int(said[said >= 0][-1]) if (said >= 0).any() else -1
        # The full record is built when asked for (:attr:`outcome`): most learners never read it.
        self._record = (info, pay, sim.user_signals, sim.signals, sim.user_messages, sim.speaker_messages)
        self._outcome = None
        if self._transcript is not None:
            outcome = self.outcome
            assert outcome is not None  # recorded just above
            self._transcript.outcome(outcome, scores is not None, self.n_eval)

    @property
    def outcome(self) -> dict[str, Any] | None:
        """The record of the finished episode (None before its last step): the user's action and
        utility, her posterior and action probabilities, the state, every signal, the transcript,
        the payoffs and, under a selection protocol, the selected speaker and the scores."""
        if self._outcome is None and self._record is not None:
            self._outcome = self._outcome_record(*self._record)
        return self._outcome

    def _outcome_record(
        self,
        info: dict[str, Any],
        pay: np.ndarray,
        x0: np.ndarray,
        x: np.ndarray,
        user_msgs: np.ndarray,
        spk_msgs: np.ndarray,
    ) -> dict[str, Any]:
        g = self.game
        y, a = int(info["state"][0]), int(info["user_action"][0])
        out: dict[str, Any] = {
            "user_action": g.actions[a],
            "user_action_index": a,
            "user_utility": float(info["user_utility"][0]),
            "user_expected_utility": float(info["user_expected_utility"][0]),
            "posterior": info["posterior"][0].tolist(),
            "action_probs": info["action_probs"][0].tolist(),
            "state": g.states[y],
            "state_index": y,
            "user_signal": int(x0[0]),
            "signals": {s.name: int(x[0, i]) for i, s in enumerate(g.speakers)},
            "transcript": {
                "user": [int(z) for z in user_msgs[0] if z >= 0],
                **{s.name: [int(m) for m in spk_msgs[0, :, i] if m >= 0] for i, s in enumerate(g.speakers)},
            },
            "payoffs": {s.name: float(pay[i]) for i, s in enumerate(g.speakers)},
        }
        if "selected" in info:
            out["selected"] = g.speakers[int(info["selected"][0])].name
            if "scores" in info:
                out["scores"] = {s.name: float(info["scores"][0, i]) for i, s in enumerate(g.speakers)}
        return out

    # ------------------------------------------------------------------ rendering, copies
    def render(self) -> str | None:
        """``ansi``: the transcript so far as a string; ``human``: print it."""
        if self.render_mode is None:
            logger.warn("render() called without a render_mode; pass render_mode='ansi' or 'human'")
            return None
        if not self._started or self._transcript is None:
            text = f"persuasion_v0: game {self.game.name} (call reset() to start an episode)"
        else:
            text = self._transcript.text()
        if self.render_mode == "human":
            print(text)
            return None
        return text

    def close(self) -> None:
        pass

    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = EzPickle.__getstate__(self)  # type: ignore[no-untyped-call]  # gymnasium leaves it unannotated
        state["episode"] = {
            "sim": self.sim.get_state(),
            "agents": list(self.agents),
            "started": self._started,
            "seeded": self._seeded,
            "outcome": self.outcome,
            "transcript": None if self._transcript is None else self._transcript.lines,
        }
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        episode = state.pop("episode", None)
        EzPickle.__setstate__(self, state)  # type: ignore[no-untyped-call]  # gymnasium leaves it unannotated
        if episode is not None:
            self.sim.set_state(episode["sim"])
            self.agents = list(episode["agents"])
            self._started, self._seeded = episode["started"], episode["seeded"]
            self._record, self._outcome = None, episode["outcome"]
            if episode["transcript"] is not None and self.render_mode is not None:
                self._transcript = Transcript(self.sim, lines=list(episode["transcript"]))

    def __deepcopy__(self, memo: dict[int, Any]) -> PersuasionEnv:
        clone = PersuasionEnv.__new__(PersuasionEnv)
        clone.__setstate__(self.__getstate__())
        return clone

    def __str__(self) -> str:
        return f"persuasion_v0({self.game.name}, {self.protocol.label()})"


# ---------------------------------------------------------------------- module pattern
def parallel_env(game: Game | str | Any, **options: Any) -> PersuasionEnv:
    """The parallel environment. ``game``: a Game, a bundled game name or a YAML path."""
    return PersuasionEnv(game, **options)


def raw_env(game: Game | str | Any, **options: Any) -> AECEnv:
    """The AEC version (``parallel_to_aec`` of :func:`parallel_env`)."""
    return parallel_to_aec(parallel_env(game, **options))


def env(game: Game | str | Any, **options: Any) -> AECEnv:
    """The AEC version with PettingZoo's order-enforcing wrapper (no out-of-bounds assertion:
    logits beyond the box bounds are legal)."""
    return wrappers.OrderEnforcingWrapper(raw_env(game, **options))
