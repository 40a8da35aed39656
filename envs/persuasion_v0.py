"""PettingZoo environment: competing AI speakers persuade a quantal-response user.

The game is described in DESIGN.md section 1. Each agent is an AI speaker; its action in a round
is a matrix of logits ``[own signal, message]`` whose row-wise softmax is its signalling scheme
for that round (the committed rule), never a message. The environment samples the messages,
updates the exact factorised belief (:class:`envs.conversation.BeliefState`), lets the user speak
by her fixed channel, and after the last round the user acts by quantal response at her posterior.

Module pattern (as PettingZoo's own environments)::

    from envs import persuasion_v0
    par = persuasion_v0.parallel_env(game="hull_pair", protocol="simultaneous")
    aec = persuasion_v0.env(game="kg")            # AEC, with OrderEnforcingWrapper

or, through the registry, ``pettingzoo.make("parallel", "persuasion_v0", game="kg")``.

Options
    ``protocol``     ``simultaneous`` (default): every speaker talks in every round;
                     ``best_ai``: the user evaluates each speaker alone with its committed
                     (open-loop, one per round) schemes, selects the best and deploys it.
    ``n_eval``       ``"exact"`` (default) or an integer >= 1: how ``best_ai`` scores a speaker
                     (exact expected user utility, or the mean realised utility of ``n_eval``
                     independent single-speaker conversations). Ignored by ``simultaneous``.
    ``reward_mode``  ``sample`` (U_i[a, y], a drawn), ``expect_action`` (default;
                     sum_a P(a) U_i[a, y] at the true y) or ``expect_all`` (the expectation given
                     the whole transcript, the state and the user's signal integrated out).
    ``render_mode``  None, ``ansi`` (render returns the transcript) or ``human`` (prints it).

Observation of speaker i: ``ObservationLayout.for_game(game).encode`` of the round, the belief it
holds, the user's messages and the messages of the speakers it hears (all of them when messages are
public, only its own in private threads). Its private signal is never observed. Under ``best_ai``
the commitment is open-loop: the observation carries the round and the prior only.

Global state (``state()``, ``state_space``; for centralised critics as in MAPPO): what no single
party knows, ``[state y one-hot (|Y|) | user's signal one-hot (|X_0|) | each speaker's signal
one-hot (X_1 + ... + X_k) | public record]``, where the public record is the
``ObservationLayout`` encoding with every speaker heard: the round, the belief of an outside
observer who heard every message (the user's included, her signal not), the user's messages and
every speaker's messages so far. Under ``best_ai`` no message is said while the rules are
committed; the record fills in with the deployment conversation at the end.

Actions outside the box bounds (±10) are legal: any finite logits are accepted.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from gymnasium import logger, spaces
from gymnasium.utils import EzPickle, seeding
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils import wrappers
from pettingzoo.utils.conversions import parallel_to_aec

from envs.conversation import BeliefState, ObservationLayout, heard_speakers, sample_rows
from envs.protocols import PROTOCOLS, REWARD_MODES, SCORE_TOL, check_n_eval, check_protocol, check_reward_mode
from envs.game import Game, load_game
from envs.quantal import response_at, softmax_rows

__all__ = ["PersuasionEnv", "parallel_env", "raw_env", "env", "PROTOCOLS", "REWARD_MODES", "RENDER_MODES"]

RENDER_MODES = ("ansi", "human")
#: Logit bound of the action box; values beyond it are still accepted.
LOGIT_BOUND = 10.0
#: Scores within this of the best count as tied in the best-AI selection.


def _solo_outcomes(game: Game, schemes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Exact (user value [k], speaker values [k, k]) of each speaker talking alone (eval.exact)."""
    from eval.exact import solo_outcomes  # imported lazily: only best_ai with n_eval="exact" needs it

    user, spk = solo_outcomes(game, schemes)
    return np.asarray(user, dtype=np.float64), np.asarray(spk, dtype=np.float64)


class PersuasionEnv(ParallelEnv, EzPickle):
    """Parallel PettingZoo environment of one persuasion game (see the module docstring)."""

    metadata = {"name": "persuasion_v0", "render_modes": list(RENDER_MODES), "is_parallelizable": True}

    def __init__(
        self,
        game: Game | str | Any,
        protocol: str = "simultaneous",
        n_eval: int | str = "exact",
        reward_mode: str = "expect_action",
        render_mode: str | None = None,
    ):
        EzPickle.__init__(
            self, game, protocol=protocol, n_eval=n_eval, reward_mode=reward_mode, render_mode=render_mode
        )
        check_protocol(protocol)
        check_reward_mode(reward_mode)
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode: expected None or one of {', '.join(RENDER_MODES)}, got {render_mode!r}")
        self.n_eval = check_n_eval(n_eval)
        self.game: Game = load_game(game)
        self.protocol = protocol
        self.reward_mode = reward_mode
        self.render_mode = render_mode

        g = self.game
        self.layout = ObservationLayout.for_game(g)
        self.possible_agents = list(g.speaker_names)
        self.agents: list[str] = []
        self._index = {name: i for i, name in enumerate(self.possible_agents)}
        self._heard = [list(heard_speakers(g, i)) for i in range(g.n_speakers)]
        self._action_shapes = {s.name: (s.n_signals, g.messages) for s in g.speakers}
        self._observation_spaces = {
            name: spaces.Box(0.0, 1.0, (self.layout.size,), np.float32) for name in self.possible_agents
        }
        self._action_spaces = {
            name: spaces.Box(-LOGIT_BOUND, LOGIT_BOUND, shape, np.float32)
            for name, shape in self._action_shapes.items()
        }
        # Global state: the hidden draws, then the public record with every speaker heard.
        self._record_layout = replace(self.layout, n_heard=g.n_speakers)
        self._hidden_offsets = np.cumsum([0, g.n_states, g.user.n_signals] + [s.n_signals for s in g.speakers])
        self.state_space = spaces.Box(0.0, 1.0, (int(self._hidden_offsets[-1]) + self._record_layout.size,), np.float32)
        self._np_random: np.random.Generator | None = None
        self._np_random_seed: int | None = None
        self._started = False
        self._log: list[str] = []

    # ------------------------------------------------------------------ spaces
    def observation_space(self, agent: str) -> spaces.Box:
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Box:
        return self._action_spaces[agent]

    def state(self) -> np.ndarray:
        """The global state (module docstring): the state, every signal and the public record, float32."""
        if not self._started:
            raise RuntimeError("state() called before reset()")
        hidden = np.zeros(int(self._hidden_offsets[-1]), dtype=np.float32)
        draws = [self._y[0], self._x0[0]] + [x[0] for x in self._x]
        hidden[self._hidden_offsets[:-1] + np.array(draws)] = 1.0
        record = self._record_layout.encode(np.array([self._t]), self._belief.public_belief(), self._user_msgs,
                                            self._spk_msgs)[0]
        return np.concatenate([hidden, record])

    # ------------------------------------------------------------------ episode
    def reset(self, seed: int | None = None, options: dict | None = None):
        """Start an episode: draw the state and every signal, and (simultaneous) the user's first message.

        ``options`` is accepted for API compatibility and not used.
        """
        if seed is not None or self._np_random is None:
            self._np_random, self._np_random_seed = seeding.np_random(seed)
        rng = self._np_random
        g = self.game
        k, R = g.n_speakers, g.rounds
        self.agents = list(self.possible_agents)
        self._t = 0
        self._started = True
        self._y = sample_rows(rng, g.prior[None])  # [1]
        self._x0 = sample_rows(rng, g.user.observation[self._y])  # [1]
        self._x = [sample_rows(rng, s.observation[self._y]) for s in g.speakers]  # k x [1]
        self._belief = BeliefState(g, 1)
        self._user_msgs = -np.ones((1, R), dtype=np.int64)
        self._spk_msgs = -np.ones((1, R, k), dtype=np.int64)
        self._schemes: list[list[np.ndarray]] = [[] for _ in range(k)]
        self._outcome: dict[str, Any] | None = None
        self._log = self._header()
        if self.protocol == "simultaneous":
            self._user_speaks(0)
        obs = self._observe()
        infos = {a: {} for a in self.agents}
        if self.render_mode == "human":
            self.render()
        return obs, infos

    def step(self, actions: dict[str, Any]):
        if not self._started:
            raise RuntimeError("step() called before reset()")
        if not self.agents:
            raise RuntimeError("the episode is over: call reset() before step()")
        schemes = self._check_actions(actions)
        g = self.game
        t = self._t
        agents = list(self.agents)
        infos: dict[str, dict[str, Any]] = {a: {"round": t} for a in agents}
        if self.protocol == "simultaneous":
            for i, pi in enumerate(schemes):
                m = sample_rows(self._np_random, pi[self._x[i]])
                self._belief.update(i + 1, pi, m)
                self._spk_msgs[0, t, i] = m[0]
                infos[agents[i]]["message"] = int(m[0])
            self._log_speakers(t)
            if t + 1 < g.rounds:
                self._user_speaks(t + 1)
        else:
            for i, pi in enumerate(schemes):
                self._schemes[i].append(pi)
                infos[agents[i]]["message"] = None
            self._log_schemes(t, schemes)
        self._t = t + 1
        done = self._t == g.rounds
        rewards = {a: 0.0 for a in agents}
        if done:
            if self.protocol == "simultaneous":
                self._finish(self._belief, self._user_msgs, self._spk_msgs, infos, rewards)
            else:
                self._finish_best_ai(infos, rewards)
        obs = self._observe(agents)
        terminations = {a: done for a in agents}
        truncations = {a: False for a in agents}
        if done:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return obs, rewards, terminations, truncations, infos

    # ------------------------------------------------------------------ internals
    def _check_actions(self, actions: Any) -> list[np.ndarray]:
        """Validate every live speaker's logits and return their schemes (softmax rows)."""
        if not isinstance(actions, dict):
            raise ValueError(f"actions: expected a dict from speaker name to logits, got {type(actions).__name__}")
        unknown = [a for a in actions if a not in self.agents]
        if unknown:
            raise ValueError(
                f"actions for unknown or finished speaker(s) {', '.join(map(repr, unknown))}; "
                f"live speakers are {', '.join(self.agents)}"
            )
        schemes = []
        for name in self.agents:
            shape = self._action_shapes[name]
            if name not in actions or actions[name] is None:
                raise ValueError(
                    f"speaker {name!r}: missing action; expected logits of shape {shape} [signal][message]"
                )
            try:
                logits = np.asarray(actions[name], dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError(
                    f"speaker {name!r}: action is not numeric; expected logits of shape {shape} [signal][message]"
                ) from None
            if logits.shape != shape:
                raise ValueError(
                    f"speaker {name!r}: expected logits of shape {shape} [signal][message], got shape {logits.shape}"
                )
            if not np.all(np.isfinite(logits)):
                raise ValueError(f"speaker {name!r}: logits must be finite (got NaN or inf)")
            schemes.append(softmax_rows(logits))
        return schemes

    def _user_speaks(self, t: int) -> None:
        """The user says her round-``t`` message by her channel ``C_t[x0]``."""
        ch = self.game.user.conversation[t]
        z = sample_rows(self._np_random, ch[self._x0])
        self._belief.update(0, ch, z)
        self._user_msgs[0, t] = z[0]

    def _observe(self, agents: list[str] | None = None) -> dict[str, np.ndarray]:
        agents = self.agents if agents is None else agents
        g = self.game
        t = np.array([self._t])
        out = {}
        for name in agents:
            i = self._index[name]
            if self.protocol == "best_ai":
                belief = g.prior[None]
                user = -np.ones((1, g.rounds), dtype=np.int64)
                heard = -np.ones((1, g.rounds, self.layout.n_heard), dtype=np.int64)
            else:
                belief = self._belief.speaker_belief(i)
                user = self._user_msgs
                heard = self._spk_msgs[:, :, self._heard[i]]
            out[name] = self.layout.encode(t, belief, user, heard)[0]
        return out

    def _payoffs(self, belief: BeliefState, y: np.ndarray, a: np.ndarray, probs: np.ndarray) -> np.ndarray:
        """Every speaker's reward [k] for a finished conversation, by ``reward_mode``."""
        g = self.game
        U = g.speaker_utilities  # [k, A, Y]
        if self.reward_mode == "sample":
            return U[:, a[0], y[0]]
        if self.reward_mode == "expect_action":
            return probs[0] @ U[:, :, y[0]].T
        # expect_all: sum_{y, x0} P(y, x0 | transcript) sum_a P(a | x0, transcript) U_i[a, y]
        joint = belief.joint_state_signal()[0]  # [Y, X0]
        n_x0 = g.user.n_signals
        posts = np.concatenate([belief.user_posterior(np.array([x])) for x in range(n_x0)])  # [X0, Y]
        q = response_at(posts, g.user.utility, g.lam)  # [X0, A]
        return np.einsum("yx,xa,kay->k", joint, q, U)

    def _finish(
        self,
        belief: BeliefState,
        user_msgs: np.ndarray,
        spk_msgs: np.ndarray,
        infos: dict[str, dict[str, Any]],
        rewards: dict[str, float],
    ) -> None:
        """The user acts at her posterior; fill rewards and the end-of-episode infos."""
        g = self.game
        post = belief.user_posterior(self._x0)  # [1, Y]
        probs = response_at(post, g.user.utility, g.lam)  # [1, A]
        a = sample_rows(self._np_random, probs)
        y = self._y
        pay = self._payoffs(belief, y, a, probs)
        u = g.user.utility
        self._outcome = {
            "user_action": g.actions[a[0]],
            "user_action_index": int(a[0]),
            "user_utility": float(u[a[0], y[0]]),
            "user_expected_utility": float(probs[0] @ u[:, y[0]]),
            "posterior": post[0].tolist(),
            "action_probs": probs[0].tolist(),
            "state": g.states[y[0]],
            "state_index": int(y[0]),
            "user_signal": int(self._x0[0]),
            "signals": {s.name: int(self._x[i][0]) for i, s in enumerate(g.speakers)},
            "transcript": {
                "user": [int(z) for z in user_msgs[0] if z >= 0],
                **{s.name: [int(m) for m in spk_msgs[0, :, i] if m >= 0] for i, s in enumerate(g.speakers)},
            },
            "payoffs": {s.name: float(pay[i]) for i, s in enumerate(g.speakers)},
        }
        for name in infos:
            infos[name].update({k: v for k, v in self._outcome.items() if k != "payoffs"})
            rewards[name] = float(pay[self._index[name]])
        self._log_outcome(probs[0], a[0], pay)

    def _scores(self, schemes: list[np.ndarray]) -> np.ndarray:
        """Each speaker's evaluation score: the user's exact or sampled utility with it alone."""
        g = self.game
        if self.n_eval == "exact":
            return _solo_outcomes(g, schemes)[0]
        n, rng = self.n_eval, self._np_random
        scores = np.empty(g.n_speakers)
        y = sample_rows(rng, np.broadcast_to(g.prior, (n, g.n_states)))
        x0 = sample_rows(rng, g.user.observation[y])
        for i, s in enumerate(g.speakers):
            # Fresh, independent conversations for every speaker. The user's own messages are not
            # simulated: she knows x0, so they do not move her posterior, and the schemes are open-loop.
            if i > 0:
                y = sample_rows(rng, np.broadcast_to(g.prior, (n, g.n_states)))
                x0 = sample_rows(rng, g.user.observation[y])
            x = sample_rows(rng, s.observation[y])
            bs = BeliefState(g, n)
            for t in range(g.rounds):
                pi = schemes[i][t]
                bs.update(i + 1, pi, sample_rows(rng, pi[x]))
            probs = response_at(bs.user_posterior(x0), g.user.utility, g.lam)
            a = sample_rows(rng, probs)
            scores[i] = g.user.utility[a, y].mean()
        return scores

    def _finish_best_ai(self, infos: dict[str, dict[str, Any]], rewards: dict[str, float]) -> None:
        """Score every speaker alone, select the best, deploy it in one conversation and pay all."""
        g = self.game
        rng = self._np_random
        schemes = [np.stack(s) for s in self._schemes]  # k x [R, X_i, M]
        scores = self._scores(schemes)
        best = np.flatnonzero(scores >= scores.max() - SCORE_TOL)
        sel = int(best[rng.integers(len(best))])
        score_map = {s.name: float(scores[i]) for i, s in enumerate(g.speakers)}
        how = "exact" if self.n_eval == "exact" else f"mean of {self.n_eval} conversations each"
        self._log.append(
            f"evaluation ({how}): " + ", ".join(f"{n} {v:.4f}" for n, v in score_map.items())
            + f"; selected: {g.speakers[sel].name}"
        )
        # Deployment: the selected speaker alone with the user (the others say nothing).
        for t in range(g.rounds):
            self._user_speaks(t)
            pi = schemes[sel][t]
            m = sample_rows(rng, pi[self._x[sel]])
            self._belief.update(sel + 1, pi, m)
            self._spk_msgs[0, t, sel] = m[0]
            self._log_deployment_round(t, sel)
        for name in infos:
            infos[name]["scores"] = dict(score_map)
            infos[name]["selected"] = g.speakers[sel].name
        self._finish(self._belief, self._user_msgs, self._spk_msgs, infos, rewards)

    # ------------------------------------------------------------------ rendering
    def _state_label(self, y: int) -> str:
        return self.game.states[y]

    def _signal_label(self, i: int, x: int) -> str:
        """Speaker ``i``'s signal (``i = -1``: the user's)."""
        g = self.game
        if i < 0:
            return f"s{x}" if g.user.observation_given else "none"
        s = g.speakers[i]
        return f"s{x}" if s.observation_given else g.states[x]

    def _posterior_text(self, p: np.ndarray) -> str:
        return ", ".join(f"{n} {v:.3f}" for n, v in zip(self.game.states, p))

    def _header(self) -> list[str]:
        g = self.game
        signals = ", ".join(f"{s.name} {self._signal_label(i, int(self._x[i][0]))}" for i, s in enumerate(g.speakers))
        lines = [
            f"persuasion_v0: game {g.name}, protocol {self.protocol}"
            + (f" (n_eval {self.n_eval})" if self.protocol == "best_ai" else "")
            + f", reward {self.reward_mode}, {g.visibility} messages",
            f"state: {self._state_label(int(self._y[0]))}; {g.user.name}'s signal: {self._signal_label(-1, int(self._x0[0]))}; "
            f"signals: {signals}",
        ]
        return lines

    def _user_says(self, t: int) -> str:
        g = self.game
        if g.user_message_counts[t] == 1:
            return f"{g.user.name} (silent)"
        return f"{g.user.name} says m{int(self._user_msgs[0, t])}"

    def _log_speakers(self, t: int) -> None:
        g = self.game
        said = "; ".join(f"{s.name} says m{int(self._spk_msgs[0, t, i])}" for i, s in enumerate(g.speakers))
        post = self._belief.user_posterior(self._x0)[0]
        self._log.append(
            f"round {t + 1}/{g.rounds}: {self._user_says(t)}; {said}; {g.user.name}'s posterior: {self._posterior_text(post)}"
        )

    def _log_schemes(self, t: int, schemes: list[np.ndarray]) -> None:
        g = self.game
        parts = []
        for i, s in enumerate(g.speakers):
            rows = ", ".join(
                f"{self._signal_label(i, x)} -> [" + " ".join(f"{p:.2f}" for p in schemes[i][x]) + "]"
                for x in range(s.n_signals)
            )
            parts.append(f"{s.name}: {rows}")
        self._log.append(f"round {t + 1}/{g.rounds} committed schemes: " + "; ".join(parts))

    def _log_deployment_round(self, t: int, sel: int) -> None:
        g = self.game
        post = self._belief.user_posterior(self._x0)[0]
        self._log.append(
            f"deployment round {t + 1}/{g.rounds}: {self._user_says(t)}; "
            f"{g.speakers[sel].name} says m{int(self._spk_msgs[0, t, sel])}; "
            f"{g.user.name}'s posterior: {self._posterior_text(post)}"
        )

    def _log_outcome(self, probs: np.ndarray, a: int, pay: np.ndarray) -> None:
        g = self.game
        ps = ", ".join(f"{n} {p:.3f}" for n, p in zip(g.actions, probs))
        self._log.append(f"{g.user.name} acts: P = ({ps}) -> {g.actions[a]}")
        o = self._outcome
        self._log.append(
            f"payoffs ({self.reward_mode}): {g.user.name} {o['user_utility']:.3f} "
            f"(expected {o['user_expected_utility']:.3f}); "
            + ", ".join(f"{s.name} {pay[i]:.3f}" for i, s in enumerate(g.speakers))
        )

    def render(self) -> str | None:
        """``ansi``: the transcript so far as a string; ``human``: print it."""
        if self.render_mode is None:
            logger.warn("render() called without a render_mode; pass render_mode='ansi' or 'human'")
            return None
        if not self._started:
            text = f"persuasion_v0: game {self.game.name} (call reset() to start an episode)"
        else:
            text = "\n".join(self._log)
        if self.render_mode == "human":
            print(text)
            return None
        return text

    def close(self) -> None:
        pass

    def __str__(self) -> str:
        return f"persuasion_v0({self.game.name}, {self.protocol})"


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
