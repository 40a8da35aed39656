"""N episodes of one persuasion game in lockstep, as numpy arrays: the simulator of every environment.

:class:`BatchedPersuasionEnv` runs ``n_envs`` independent episodes of the game (docs/science.md,
"One episode") with no Python loop over episodes or speakers on the hot path (loops run over
rounds only). The PettingZoo environment :mod:`persuaders.envs.persuasion.persuasion` is this simulator
with ``n_envs = 1``. Speakers may have different signal counts ``X_i``: every speaker is padded
to ``X_max`` signals with zero-probability padding columns in its observation channel, so
speakers are an array axis. Rows ``>= X_i`` of a speaker's logits are ignored.

Belief bookkeeping (the factorised update of docs/science.md, kept in a cheap form):

* speaker ``i``: ``P_i(x) ∝ prod_t pi_i^t[x, m_i^t]`` over its signals (normalised to sum 1 each
  round, so it neither underflows nor overflows), so that ``L_i(y) = P(m_i | y) ∝ sum_x O_i[y, x] P_i(x)``;
* the user: ``Q_0(x0) ∝ prod_t C_t[x0, z_t]``, so that ``L_0(y) ∝ sum_x0 O_0[y, x0] Q_0(x0)``.

When every speaker's channel is deterministic (each state shows it one signal ``f_i(y)``, e.g. it
sees the state), ``L_i(y) = P_i(f_i(y))`` is a gather, O(|Y|), instead of the O(|X| |Y|) sum.
A speaker's belief is ``mu0(y) L_0(y) prod_{j heard} L_j(y)``; the user's final posterior is
``mu0(y) O_0[y, x0] prod_i L_i(y)``; ``P(y, x0 | transcript) ∝ mu0(y) O_0[y, x0] Q_0(x0) prod_i L_i(y)``.

Protocols (:mod:`persuaders.envs.game.protocols`):

* joint (``simultaneous``): ``reset`` draws ``y ~ mu0``, ``x0 ~ O_0[y]``, ``x_i ~ O_i[y]`` and the
  user's round-1 message; each step every speaker's logits ``[X_i, M]`` give its scheme (row
  softmax), ``m_i ~ pi_i[x_i]``, the beliefs update and the user says her next message; after the
  last round she acts by her user model at her posterior.
* selection (``best_ai``): every speaker commits to a closed-loop rule on its solo thread with the
  user (docs/science.md, "Protocols"). ``reset`` draws the state and signals; the episode's steps walk
  the nodes of the solo thread tree, one node per step (:mod:`persuaders.envs.persuasion.selection`: every
  speaker sees its private-thread observation there and gives its scheme), ``sum_t prod_{s<=t}
  Z_s M^t`` steps (1 for one round with a silent user). After the last, the protocol chooses the
  deployed speaker from the speakers' solo evaluations under the tabulated rules (``best_ai``:
  exact solo values, or the realised utilities of ``n_eval`` fresh solo conversations simulated
  as one batch; ties at random) and one deployment conversation with it alone (the user speaking
  by her rule, the rule read at the nodes reached) decides everyone's pay.
* reward modes: ``sample`` pays ``U_i[a, y]``; ``expect_action`` ``sum_a P(a) U_i[a, y]``;
  ``expect_all`` ``sum_{y, x0} P(y, x0 | transcript) sum_a P(a | x0, transcript) U_i[a, y]``.
  Rewards are 0 before the last step. All episodes end together after :attr:`steps_per_episode`
  steps (``R`` for a joint protocol). With
  ``autoreset`` (the default) they restart at once and the observations returned with
  ``done=True`` are those of the new episodes; without it the finished episodes stay readable
  (terminal observations, transcripts) until :meth:`reset`.

Randomness comes from one seeded :class:`numpy.random.Generator`; :meth:`get_state` and
:meth:`set_state` capture and restore everything, its state included.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from persuaders.envs.game.catalog import load_game
from persuaders.envs.game.conversation import sees_state, signal_map
from persuaders.envs.game.observations import ObservationLayout
from persuaders.envs.game.protocols import (
    REWARD_MODES,
    Protocol,
    SelectionProtocol,
    check_reward_mode,
    resolve_protocol,
)
from persuaders.envs.game.spec import Game
from persuaders.envs.game.users import UserModel, response_at
from persuaders.envs.persuasion.arrays import (
    expected_last_round,
    normalise,
    normalise_positive,
    padded_channels,
    product_over_speakers,
    sample_index,
    softmax_weights,
)
from persuaders.envs.persuasion.selection import ThreadWalk, thread_nodes

__all__ = ["REWARD_MODES", "BatchedPersuasionEnv", "sample_index"]

#: Largest number of observation and scheme entries the environment holds for its episodes
#: (about 2 GiB of float64): a larger game is refused with its size rather than exhausting memory.
MAX_ENTRIES = 1 << 28


# ---------------------------------------------------------------------------------- environment
class BatchedPersuasionEnv:
    """``n_envs`` episodes of one persuasion game, stepped together (see the module docstring).

    ``reset()`` returns observations ``[N, k, obs_size]`` (float32, the encoding of
    :class:`~persuaders.envs.game.observations.ObservationLayout`; under a selection protocol its
    private-thread form, :meth:`~persuaders.envs.game.observations.ObservationLayout.for_thread`).
    When :attr:`shared_observation` is True (public messages, or a selection protocol in a
    one-round game) every speaker of an episode sees the same thing, and the array is a read-only
    broadcast view of one ``[N, obs_size]`` block (stride 0 over speakers); copy it before
    writing into it.

    ``step(logits)`` takes ``[N, k, X_max, M]`` logits and returns ``(obs, rewards [N, k] float64,
    done, info)``; ``done`` is True after every :attr:`steps_per_episode`-th step, when ``info`` holds ``user_utility``,
    ``user_expected_utility``, ``user_action``, ``state`` (each ``[N]``), ``posterior`` ``[N, Y]``,
    ``action_probs`` ``[N, A]`` and, for a selection protocol, ``selected`` ``[N]`` and ``scores``
    ``[N, k]`` (when the protocol scores the speakers).
    """

    def __init__(
        self,
        game: Game | str | Any,
        n_envs: int,
        protocol: Protocol | str = "simultaneous",
        n_eval: int | str | None = None,
        reward_mode: str = "expect_action",
        seed: int | None = None,
        autoreset: bool = True,
    ):
        check_reward_mode(reward_mode)
        if isinstance(n_envs, bool) or not isinstance(n_envs, (int, np.integer)) or n_envs < 1:
            raise ValueError(f"n_envs: expected an integer >= 1, got {n_envs!r}")
        self.game: Game = load_game(game)
        self.protocol: Protocol = resolve_protocol(protocol, n_eval)
        self.n_envs = int(n_envs)
        self.reward_mode = reward_mode
        self.autoreset = bool(autoreset)

        g = self.game
        self.joint = self.protocol.joint
        # A selection protocol's rules see their solo thread (n_heard = 1); see envs/selection.py.
        self.layout = ObservationLayout.for_game(g) if self.joint else ObservationLayout.for_thread(g)
        self.n_speakers = g.n_speakers
        self.obs_size = self.layout.size
        self.signal_counts = [s.n_signals for s in g.speakers]
        self.max_signals = max(self.signal_counts)
        self.action_shape = (self.max_signals, g.messages)
        self.rounds = g.rounds
        #: Steps of one episode: ``R`` rounds (joint), or the nodes of a solo thread (selection).
        self.steps_per_episode = g.rounds if self.joint else thread_nodes(g)
        self._check_size()

        self._channels = padded_channels(g)  # [k, Y, X]
        self._channels_t = self._channels.transpose(0, 2, 1).copy()  # [k, X, Y]
        self._valid = np.arange(self.max_signals)[None, :] < np.array(self.signal_counts)[:, None]  # [k, X]
        self._support = (self._channels.sum(axis=1) > 0).astype(np.float64)  # [k, X]: signals that occur
        # Deterministic channels: likelihoods by gathering signal weights (see _gather_signals).
        self._signal_of = signal_map(self._channels)  # [k, Y] or None
        f = self._signal_of
        self._identity = sees_state(f, self.max_signals)
        self._common_map = f[0].copy() if f is not None and bool((f == f[:1]).all()) else None
        self._user_support = (g.user.observation.sum(axis=0) > 0).astype(np.float64)  # [X0]
        user_map = signal_map(g.user.observation[None])
        self._user_signal_of = None if user_map is None else user_map[0]  # [Y] when her channel is deterministic
        self._user_uninformed = g.user.n_signals == 1  # her own signal says nothing
        # Public messages, a user with no signal who says nothing: everyone's belief is hers.
        self._posterior_is_public = (
            self._user_uninformed and g.visibility == "public" and all(c == 1 for c in g.user_message_counts)
        )
        # Every episode starts from the same arrays (copied at each reset).
        self._q0_start = np.ascontiguousarray(np.broadcast_to(self._user_support, (self.n_envs, g.user.n_signals)))
        self._p_start = np.ascontiguousarray(
            np.broadcast_to(self._support, (self.n_envs, g.n_speakers, self.max_signals))
        )
        self._user_msgs_start = np.full((self.n_envs, g.rounds), -1, dtype=np.int64)
        self._spk_msgs_start = np.full((self.n_envs, g.rounds, g.n_speakers), -1, dtype=np.int64)
        self._prior_cdf = np.cumsum(g.prior)
        self._utils = g.speaker_utilities  # [k, A, Y]
        self._n = np.arange(self.n_envs)
        self._k = np.arange(self.n_speakers)
        self.walk: ThreadWalk | None = None if self.joint else ThreadWalk(g, self.n_envs)
        self.shared_observation = g.visibility == "public" if self.walk is None else self.walk.shared
        # The global state: hidden draws (one-hots), then the public record with every speaker heard.
        self._record = ObservationLayout(
            g.rounds, g.n_states, self.layout.user_messages, g.n_speakers, g.messages, g.n_speakers, True
        )
        self._hidden_offsets = np.cumsum([0, g.n_states, g.user.n_signals, *self.signal_counts])
        self.state_size = int(self._hidden_offsets[-1]) + self._record.size
        if self.joint:
            self._first_views = self._first_view_table()
        self.rng = np.random.default_rng(seed)
        self._started = False
        self._finished = False
        self._t = 0

    def _check_size(self) -> None:
        """Refuse, with the sizes, a game or reward mode too large for this many episodes."""
        g = self.game
        if self.reward_mode == "expect_round":
            if not self.joint:
                raise ValueError(
                    f"reward_mode: expect_round needs a joint protocol (such as simultaneous), not {self.protocol.name}"
                )
            size = self.n_envs * g.messages**g.n_speakers * g.n_states * g.user.n_signals * g.n_actions
            if size > MAX_ENTRIES:
                raise ValueError(
                    f"reward_mode: expect_round would sum {size:,} terms per step (limit {MAX_ENTRIES:,}); "
                    "use expect_all or fewer parallel episodes"
                )
        if self.joint:
            views, tables = (1 if g.visibility == "public" else g.n_speakers), g.messages
        else:  # every speaker's view, its rule at every thread node and the signal weights there
            views, tables = g.n_speakers, self.steps_per_episode * (g.messages + 1)
        per_episode = views * self.obs_size + g.n_speakers * self.max_signals * tables
        if self.n_envs * per_episode > MAX_ENTRIES:
            raise ValueError(
                f"game '{g.name}': {self.n_envs:,} episodes of {per_episode:,} observation and scheme entries "
                f"each ({self.n_envs * per_episode:,}) exceed the environment's limit of {MAX_ENTRIES:,}; use fewer "
                "messages, rounds or speakers, or fewer parallel episodes (n_envs)"
            )

    # ------------------------------------------------------------------ public API
    def reset(self, seed: int | None = None) -> np.ndarray:
        """Start ``n_envs`` fresh episodes (re-seeding the generator if ``seed`` is given)."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self._new_episodes()
        self._started = True
        return self.observe()

    def step(self, logits: np.ndarray, checked: bool = False) -> tuple[np.ndarray, np.ndarray, bool, dict[str, Any]]:
        """Every speaker of every episode commits its round scheme; see the class docstring.

        ``checked``: the caller has already validated ``logits`` (float64, the right shape, finite)."""
        if not self._started:
            raise RuntimeError("step() called before reset()")
        if self._finished:
            raise RuntimeError("the episodes are over (autoreset=False): call reset() before step()")
        e, s = self._weights_from(logits, checked)  # scheme = e / s[..., None]
        g = self.game
        t = self._t
        n, k = self.n_envs, self.n_speakers
        ni, ki = self._n[:, None], self._k[None, :]
        if self.joint:
            if self.reward_mode == "expect_round" and t + 1 == g.rounds:
                expected = self._expected_last_round(e / s[..., None])  # before the messages are drawn
            m = sample_index(self.rng, e[ni, ki, self._x])  # m_i ~ pi_i[x_i] (sampling needs no normalising)
            col = e[ni, ki, :, m] / s  # pi_i[x, m_i] for every x: [N, k, X]
            # Rescaled each round so that products never underflow; after the last round only
            # ratios are read (beliefs and posteriors are normalised), so it is left as it is.
            self._p: np.ndarray = self._p * col if t + 1 == g.rounds else normalise(self._p * col)
            self._spk_msgs[:, t] = m
            self._t = t + 1
            if self._t < g.rounds:
                self._user_speaks(self._t)
                return self.observe(), np.zeros((n, k)), False, {}
            lik = self._speaker_likelihoods()  # [N, k, Y]
            rewards, info = self._finish(product_over_speakers(lik), self._x0, self._q0, self._y)
            if self.reward_mode == "expect_round":
                rewards = expected
        else:
            assert self.walk is not None  # a selection protocol walks the threads
            walked = self.walk.commit(e / s[..., None])  # the rule at the current thread node
            self._t = self.walk.round
            if not walked:
                return self.observe(), np.zeros((n, k)), False, {}
            rewards, info = self._finish_selection()
        if self.autoreset:
            self._new_episodes()
            return self.observe(), rewards, True, info
        self._finished = True
        if self.joint and self._posterior_is_public:  # the outside observer's belief is her posterior
            return self.layout.views(self._t, info["posterior"], self._user_msgs, self._spk_msgs), rewards, True, info
        return self.observe(), rewards, True, info

    def observe(self) -> np.ndarray:
        """Every speaker's current observation ``[N, k, D]`` (see the class docstring)."""
        n, k, t = self.n_envs, self.n_speakers, self._t
        if self.walk is not None:  # a selection protocol
            return self.walk.observe()
        if t == 0:  # before any speaker talks every view depends on the user's first message only
            block = self._first_views[self._user_msgs[:, 0]]  # [N, D]
            views = block[:, None, :] if k == 1 else np.broadcast_to(block[:, None, :], (n, k, self.obs_size))
            return views if self.layout.public else np.ascontiguousarray(views)
        return self._views(t, self._q0, self._p, self._user_msgs, self._spk_msgs)

    def _views(self, t: int, q0: np.ndarray, p: np.ndarray, user_msgs: np.ndarray, spk_msgs: np.ndarray) -> np.ndarray:
        """The observations ``[B, k, D]`` of conversations at round ``t`` with these weights and messages."""
        base = self.game.prior[None, :] * self._user_likelihood(q0)  # mu0(y) L_0(y): [B, Y]
        lik = self._speaker_likelihoods(p)  # [B, k, Y]
        if self.layout.public:  # one belief for every speaker: O(B D) to build, not O(B k D)
            beliefs = normalise_positive(base * product_over_speakers(lik))
        else:
            beliefs = normalise_positive(base[:, None, :] * lik)
        return self.layout.views(t, beliefs, user_msgs, spk_msgs)

    def _first_view_table(self) -> np.ndarray:
        """``[Z_1, D]``: the round-1 observation after the user's first message ``z`` (every speaker's)."""
        g = self.game
        conv = g.user.conversation[0]  # [X0, Z1]
        z = np.arange(conv.shape[1])
        q0 = np.broadcast_to(self._user_support, (len(z), g.user.n_signals))
        if conv.shape[1] > 1:  # as _user_speaks computes it
            q0 = normalise(q0 * conv[:, z].T)
        p = np.broadcast_to(self._support, (len(z), g.n_speakers, self.max_signals))
        user_msgs = np.full((len(z), g.rounds), -1, dtype=np.int64)
        user_msgs[:, 0] = z
        spk_msgs = np.full((len(z), g.rounds, g.n_speakers), -1, dtype=np.int64)
        return np.ascontiguousarray(self._views(0, q0, p, user_msgs, spk_msgs)[:, 0])

    def state(self) -> np.ndarray:
        """The global state ``[N, state_size]`` (float32), for centralised critics (as in MAPPO).

        ``[state y one-hot (|Y|) | user's signal one-hot (|X_0|) | each speaker's signal one-hot
        (X_1 + ... + X_k) | public record]``: the public record is the observation encoding with
        every speaker heard (the round, the belief of an outside observer who heard every message,
        the user's and every speaker's messages). Under a selection protocol it fills in with the
        deployment conversation at the end.
        """
        if not self._started:
            raise RuntimeError("state() called before reset()")
        n = self.n_envs
        hidden = np.zeros((n, int(self._hidden_offsets[-1])), dtype=np.float32)
        draws = np.concatenate([self._y[:, None], self._x0[:, None], self._x], axis=1)  # [N, 2 + k]
        hidden[self._n[:, None], self._hidden_offsets[:-1][None, :] + draws] = 1.0
        record = self._record.encode(self._t, self.public_belief(), self._user_msgs, self._spk_msgs)
        return np.concatenate([hidden, record], axis=1)

    # ------------------------------------------------------------------ what the episodes hold
    @property
    def round(self) -> int:
        """Rounds played in the current episodes (``R`` once they are finished); under a selection
        protocol, the round (0-based) of the thread node the speakers are asked about."""
        return self._t

    @property
    def node(self) -> int:
        """Selection protocols: the thread node (:class:`~persuaders.envs.game.observations.ThreadTree`)
        the speakers are asked about, ``steps_per_episode`` once every node is committed."""
        if self.walk is None:
            raise AttributeError("node: the speakers of a joint protocol commit round by round, not on thread nodes")
        return self.walk.node

    @property
    def states(self) -> np.ndarray:
        """The true state of every episode ``[N]``."""
        return self._y

    @property
    def user_signals(self) -> np.ndarray:
        """The user's private signal ``[N]``."""
        return self._x0

    @property
    def signals(self) -> np.ndarray:
        """Every speaker's signal ``[N, k]``."""
        return self._x

    @property
    def user_messages(self) -> np.ndarray:
        """The user's messages ``[N, R]`` (-1 where not yet said)."""
        return self._user_msgs

    @property
    def speaker_messages(self) -> np.ndarray:
        """Every speaker's messages ``[N, R, k]`` (-1 where not yet said)."""
        return self._spk_msgs

    @property
    def committed_rules(self) -> np.ndarray:
        """Selection protocols: every speaker's rule, its scheme at each thread node ``[N, k, nodes, X_max, M]``
        (zeros at nodes not yet walked)."""
        if self.walk is None:
            raise AttributeError("committed_rules: the speakers of a joint protocol commit round by round")
        return self.walk.rule

    @property
    def deployed_schemes(self) -> np.ndarray:
        """Selection protocols, once an episode is over: the deployed speaker's scheme in each round
        of the deployment conversation ``[N, R, X_max, M]`` (the rule at the nodes it reached)."""
        if self.walk is None or self.walk.deployed.min(initial=0) < 0:
            raise AttributeError("deployed_schemes: only after the deployment of a selection protocol")
        return self.walk.rule[self._n[:, None], self._selected[:, None], self.walk.deployed]

    def user_posterior(self) -> np.ndarray:
        """The user's posterior ``[N, Y]`` given her signal and every message so far."""
        lik = np.prod(self._speaker_likelihoods(), axis=1)
        return normalise(self.game.prior * lik * self.game.user.observation[:, self._x0].T)

    def public_belief(self) -> np.ndarray:
        """The belief of an outside observer who heard every message (the user's too) ``[N, Y]``."""
        lik = np.prod(self._speaker_likelihoods(), axis=1)
        return normalise(self.game.prior * self._user_likelihood() * lik)

    def set_user_model(self, model: UserModel) -> None:
        """Let the user act by ``model`` from now on (e.g. a rationality homotopy in training);
        everything else about the game is unchanged."""
        self.game = self.game.replace(user_model=model)
        if self.walk is not None:
            self.walk.set_game(self.game)

    # ------------------------------------------------------------------ snapshots
    def get_state(self) -> dict[str, Any]:
        """Everything needed to continue exactly: episode arrays, round and generator state."""
        state = {
            "game": self.game.name,
            "n_envs": self.n_envs,
            "protocol": self.protocol.name,
            "protocol_options": self.protocol.options(),
            "reward_mode": self.reward_mode,
            "started": self._started,
            "finished": self._finished,
            "t": self._t,
            "rng": copy.deepcopy(self.rng.bit_generator.state),
        }
        if self._started:
            for name in self._arrays():
                state[name] = getattr(self, name).copy()
            if self.walk is not None:
                state["walk"] = self.walk.get_state()
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`get_state` snapshot (of an environment built with the same arguments)."""
        mine = {
            "game": self.game.name,
            "n_envs": self.n_envs,
            "protocol": self.protocol.name,
            "protocol_options": self.protocol.options(),
            "reward_mode": self.reward_mode,
        }
        for key, value in mine.items():
            if state.get(key) != value:
                raise ValueError(f"set_state: snapshot has {key}={state.get(key)!r}, this environment has {value!r}")
        bit_state = copy.deepcopy(state["rng"])
        rng = np.random.default_rng()
        if rng.bit_generator.state["bit_generator"] != bit_state.get("bit_generator"):
            raise ValueError(f"set_state: unsupported bit generator {bit_state.get('bit_generator')!r}")
        rng.bit_generator.state = bit_state
        self.rng = rng
        self._started = bool(state["started"])
        self._finished = bool(state.get("finished", False))
        self._t = int(state["t"])
        if self._started:
            for name in self._arrays():
                setattr(self, name, np.array(state[name], copy=True))
            if self.walk is not None:
                self.walk.set_state(state["walk"])

    # ------------------------------------------------------------------ episodes
    def _arrays(self) -> list[str]:
        names = ["_y", "_x0", "_x", "_q0", "_p", "_user_msgs", "_spk_msgs"]
        return names + ([] if self.joint else ["_selected"])

    def _new_episodes(self) -> None:
        """Draw the state and every signal of every episode; the user says her first message.

        A deterministic channel (each state shows one signal) still consumes its uniform draw, so
        the random stream is the same whichever way a signal is computed."""
        g = self.game
        n, k = self.n_envs, self.n_speakers
        rng = self.rng
        self._y: np.ndarray = np.minimum(
            self._prior_cdf.searchsorted(rng.random(n) * self._prior_cdf[-1], side="right"), g.n_states - 1
        )
        if self._user_signal_of is not None:
            rng.random(n)
            self._x0: np.ndarray = self._user_signal_of[self._y]  # [N]
        else:
            self._x0 = sample_index(rng, g.user.observation[self._y])  # [N]
        if self._signal_of is not None:
            rng.random((n, k))
            self._x = self._signal_of[:, self._y].T  # [N, k]
        else:
            self._x = sample_index(rng, self._channels[:, self._y].transpose(1, 0, 2))  # [N, k]
        # prod_t C_t[x0, z_t] and prod_t pi_i^t[x, m_i^t] for every signal value, normalised each
        # round; signals that never occur (padding) start at 0 so they never carry the weight.
        self._q0 = self._q0_start.copy()
        self._p = self._p_start.copy()
        self._user_msgs: np.ndarray = self._user_msgs_start.copy()
        self._spk_msgs: np.ndarray = self._spk_msgs_start.copy()
        self._t = 0
        self._finished = False
        if self.joint:
            self._user_speaks(0)
        else:
            assert self.walk is not None
            self.walk.start()
            self._selected = np.full(n, -1, dtype=np.int64)

    def _user_speaks(self, t: int) -> None:
        """The user says her round-``t`` message ``z ~ C_t[x0]`` in every episode."""
        ch = self.game.user.conversation[t]  # [X0, Z]
        if ch.shape[1] == 1:
            z = np.zeros(self.n_envs, dtype=np.int64)
        else:
            z = sample_index(self.rng, ch[self._x0])
            self._q0 = normalise(self._q0 * ch[:, z].T)
        self._user_msgs[:, t] = z

    def _weights_from(self, logits: Any, checked: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Validate logits ``[N, k, X_max, M]`` (:func:`~persuaders.envs.persuasion.arrays.softmax_weights`)."""
        return softmax_weights(logits, (self.n_envs, self.n_speakers, *self.action_shape), self._valid, checked)

    # ------------------------------------------------------------------ beliefs
    def _gather_signals(self, p: np.ndarray, maps: np.ndarray) -> np.ndarray:
        """``p[..., f(y)]`` for deterministic channels (signals on the last axis of ``p``); ``maps`` are
        the signal maps ``f`` broadcastable against ``p`` (used when speakers' maps differ). The
        result may be ``p`` itself (every speaker sees the state): do not modify it in place."""
        if self._identity:
            return p
        if self._common_map is not None:
            out: np.ndarray = np.take(p, self._common_map, axis=-1)
            return out
        return np.take_along_axis(p, maps, axis=-1)

    def _speaker_likelihoods(self, p: np.ndarray | None = None) -> np.ndarray:
        """``L_i(y) ∝ sum_x O_i[y, x] P_i(x)`` for every episode and speaker: [N, k, Y] (read-only)."""
        p = self._p if p is None else p
        if self._signal_of is not None:
            return self._gather_signals(p, self._signal_of[None])
        out: np.ndarray = np.einsum("nkx,kxy->nky", p, self._channels_t, optimize=True)
        return out

    def _user_likelihood(self, q0: np.ndarray | None = None) -> np.ndarray:
        """``L_0(y) ∝ sum_x0 O_0[y, x0] Q_0(x0)``: what the user's messages say about y [N, Y]."""
        out: np.ndarray = (self._q0 if q0 is None else q0) @ self.game.user.observation.T
        return out

    # ------------------------------------------------------------------ endings
    def _finish(
        self, lik: np.ndarray, x0: np.ndarray, q0: np.ndarray, y: np.ndarray
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """The user acts at her posterior; rewards [N, k] by reward mode and the outcome infos.

        ``lik`` [N, Y] is the product of the likelihoods of every speaker she heard."""
        g = self.game
        model = g.user.model
        o0 = g.user.observation  # [Y, X0]
        w = g.prior[None, :] * lik  # [N, Y]
        post = normalise_positive(w if self._user_uninformed else w * o0[:, x0].T)
        probs = response_at(post, g.user.utility, model, g.prior)  # [N, A]
        a = sample_index(self.rng, probs)
        u_y = g.user.utility[:, y].T  # [N, A]
        if self.reward_mode == "sample":
            rewards = self._utils[:, a, y].T.copy()  # [N, k]
        elif self.reward_mode == "expect_action":
            rewards = np.einsum("na,kan->nk", probs, self._utils[:, :, y])
        else:
            # P(y, x0 | transcript) and the user's response for every x0
            wx = w[:, :, None] * o0[None]  # [N, Y, X0]: mu0 O_0 prod_i L_i
            joint = wx * q0[:, None, :]
            joint /= joint.sum(axis=(1, 2), keepdims=True)
            posts = normalise(wx.transpose(0, 2, 1))  # [N, X0, Y]
            q = response_at(posts, g.user.utility, model, g.prior)  # [N, X0, A]
            # sum_{y, x0, a} joint[n, y, x0] q[n, x0, a] U[i, a, y]
            qu = np.einsum("nxa,kay->nkxy", q, self._utils)
            rewards = np.einsum("nyx,nkxy->nk", joint, qu)
        info = {
            "user_utility": u_y[self._n, a],
            "user_expected_utility": np.einsum("na,na->n", probs, u_y),
            "user_action": a.astype(np.int64),
            "state": y.astype(np.int64).copy(),
            "posterior": post,
            "action_probs": probs,
        }
        return rewards, info

    def _expected_last_round(self, pi: np.ndarray) -> np.ndarray:
        """Every speaker's expected payoff ``[N, k]`` given the transcript so far and the last-round
        schemes ``pi`` ``[N, k, X, M]`` (:func:`~persuaders.envs.persuasion.arrays.expected_last_round`)."""
        return expected_last_round(self.game, self._channels, self._p, self._q0, pi)

    def _finish_selection(self) -> tuple[np.ndarray, dict[str, Any]]:
        """The protocol chooses the deployed speaker from the solo evaluations under the committed
        rules; it converses alone with the user, its rule read at the thread nodes reached; everyone is paid."""
        g, walk = self.game, self.walk
        proto = self.protocol
        assert isinstance(proto, SelectionProtocol) and walk is not None
        sel, scores = proto.select(self.rng, walk.evaluation(self.rng), self.n_envs, self.n_speakers)
        sel = np.asarray(sel, dtype=np.int64)
        self._selected = sel
        # Deployment: the selected speaker alone with the user, who speaks by her rule.
        x = self._x[self._n, sel]
        p = self._support[sel]
        index = m = np.zeros(self.n_envs, dtype=np.int64)
        for t in range(g.rounds):
            self._user_speaks(t)
            z = self._user_msgs[:, t]
            index = z.copy() if t == 0 else walk.tree.child(t - 1, index, m, z)
            walk.deployed[:, t] = walk.tree.offsets[t] + index
            pi = walk.scheme_at(sel, index, t)  # [N, X, M]
            m = sample_index(self.rng, pi[self._n, x])
            p = normalise(p * pi[self._n, :, m])
            self._spk_msgs[self._n, t, sel] = m
        self._p[self._n, sel] = p  # what the deployment revealed (for state() and the posterior)
        if self._signal_of is not None:
            lik = self._gather_signals(p, self._signal_of[sel])
        else:
            lik = np.einsum("nyx,nx->ny", self._channels[sel], p)
        rewards, info = self._finish(lik, self._x0, self._q0, self._y)
        info["selected"] = sel
        if scores is not None:
            info["scores"] = scores
        return rewards, info

    def __repr__(self) -> str:
        return (
            f"BatchedPersuasionEnv({self.game.name!r}, n_envs={self.n_envs}, protocol={self.protocol.label()!r}, "
            f"reward_mode={self.reward_mode!r})"
        )
