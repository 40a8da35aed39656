"""N episodes of one persuasion game in lockstep, as numpy arrays.

:class:`BatchedPersuasionEnv` has the semantics of :mod:`envs.persuasion_v0` (DESIGN.md section 1)
for ``n_envs`` independent episodes at once, with no Python loop over episodes or speakers on the
hot path (loops run over rounds only). Speakers may have different signal counts ``X_i``: every
speaker is padded to ``X_max`` signals with zero-probability padding columns in its observation
channel, so speakers are an array axis. Rows ``>= X_i`` of a speaker's logits are ignored.

Belief bookkeeping (equivalent to :class:`envs.conversation.BeliefState`, kept in a cheaper form):

* speaker ``i``: ``P_i(x) ∝ prod_t pi_i^t[x, m_i^t]`` over its signals (normalised to sum 1 each
  round, so it neither underflows nor overflows), so that ``L_i(y) = P(m_i | y) ∝ sum_x O_i[y, x] P_i(x)``;
* the user: ``Q_0(x0) ∝ prod_t C_t[x0, z_t]``, so that ``L_0(y) ∝ sum_x0 O_0[y, x0] Q_0(x0)``.

When every speaker's channel is deterministic (each state shows it one signal ``f_i(y)``, e.g. it
sees the state), ``L_i(y) = P_i(f_i(y))`` is a gather, O(|Y|), instead of the O(|X| |Y|) sum.

A speaker's belief is ``mu0(y) L_0(y) prod_{j heard} L_j(y)``; the user's final posterior is
``mu0(y) O_0[y, x0] prod_i L_i(y)``; ``P(y, x0 | transcript) ∝ mu0(y) O_0[y, x0] Q_0(x0) prod_i L_i(y)``.

Protocols and rewards are those of ``persuasion_v0``:

* ``simultaneous``: ``reset`` draws ``y ~ mu0``, ``x0 ~ O_0[y]``, ``x_i ~ O_i[y]`` and the user's
  round-1 message; each step every speaker's logits ``[X_i, M]`` give its scheme (row softmax),
  ``m_i ~ pi_i[x_i]``, the beliefs update and the user says her next message; after the last round
  she acts by quantal response at her posterior.
* ``best_ai``: the schemes are open-loop commitments (the observation is the round and the prior,
  message slots empty). After the ``R`` steps each speaker is scored alone (``n_eval="exact"``:
  the user's exact solo value, :func:`solo_user_values`; an integer: the mean realised ``u[a, y]``
  of ``n_eval`` independent solo conversations, simulated as one batch), the best is selected (ties
  within ``SCORE_TOL`` uniformly at random), and one deployment conversation with it alone (the
  user speaking by her rule) decides everyone's pay.
* reward modes: ``sample`` pays ``U_i[a, y]``; ``expect_action`` ``sum_a P(a) U_i[a, y]``;
  ``expect_all`` ``sum_{y, x0} P(y, x0 | transcript) sum_a P(a | x0, transcript) U_i[a, y]``.
  Rewards are 0 before the last step. All episodes end together after ``R`` steps and are reset
  automatically: the observations returned with ``done=True`` are those of the new episodes.

Randomness comes from one seeded :class:`numpy.random.Generator`; :meth:`get_state` and
:meth:`set_state` capture and restore everything, its state included.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from envs.conversation import ObservationLayout, sees_state, signal_map
from envs.protocols import PROTOCOLS, REWARD_MODES, SCORE_TOL, check_n_eval, check_protocol, check_reward_mode
from envs.game import Game, load_game
from envs.quantal import quantal_response

__all__ = ["BatchedPersuasionEnv", "solo_user_values", "PROTOCOLS", "REWARD_MODES", "SCORE_TOL"]

#: Scores within this of the best count as tied in the best-AI selection.
#: Largest per-pair enumeration (message sequences x states x user signals) for exact solo values.
MAX_SOLO_ENUMERATION = 4_000_000
#: Elements per intermediate array when evaluating many solo profiles exactly (memory bound).
_CHUNK_ELEMENTS = 1 << 21
#: Logits within +-this are exponentiated without a per-row shift (exp(300) ~ 1e130).
_EXP_SAFE = 300.0


# ---------------------------------------------------------------------------------- helpers
def _sample(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One index per row of ``probs`` [..., n] by inverse-CDF sampling (any leading shape)."""
    cdf = np.cumsum(probs, axis=-1)
    u = rng.random(probs.shape[:-1]) * cdf[..., -1]
    idx = (cdf <= u[..., None]).sum(axis=-1)
    return np.minimum(idx, probs.shape[-1] - 1)


def _rowsum(w: np.ndarray) -> np.ndarray:
    """Sum over the last axis (einsum: much faster than ``sum(axis=-1)`` for short rows)."""
    return np.einsum("...i->...", w)


def _normalise(w: np.ndarray) -> np.ndarray:
    """Divide by the sum over the last axis (rows of zeros stay zero).

    Also used to rescale non-negative likelihood weights: only their ratios matter, and after it
    the largest is at least ``1 / n``, so repeated products neither underflow nor overflow."""
    s = _rowsum(w)[..., None]
    return w / np.where(s > 0, s, 1.0)


def _padded_channels(game: Game) -> np.ndarray:
    """Speakers' observation channels ``[k, Y, X_max]``, zero columns beyond each ``X_i``."""
    x_max = max(s.n_signals for s in game.speakers)
    out = np.zeros((game.n_speakers, game.n_states, x_max))
    for i, s in enumerate(game.speakers):
        out[i, :, : s.n_signals] = s.observation
    return out


# ---------------------------------------------------------------------------------- exact solo values
class _SoloEnumerator:
    """Exact user value of each speaker talking alone, for many open-loop profiles at once.

    With open-loop schemes, a solo history is the user's messages ``z`` and the speaker's ``m``:

        P(y, x0, z, m) = mu0(y) O_0[y, x0] prod_t C_t[x0, z_t] * S(y, m),
        S(y, m)        = sum_x O_i[y, x] prod_t pi^t[x, m_t].

    The user's own messages depend on ``x0`` only, which she knows, so her posterior
    ``P(y | x0, z, m) ∝ mu0(y) O_0[y, x0] S(y, m)`` does not depend on ``z``; summing over ``z``
    (the ``prod_t C_t`` sum to one) leaves the leaves ``(x0, m)`` with weight
    ``W0[y, x0] S(y, m)``, ``W0 = mu0 O_0``. The ``M^R`` message sequences are enumerated as an
    outer product, round by round, for every (episode, speaker) pair as one array.
    """

    def __init__(self, game: Game, channels: np.ndarray):
        self.game = game
        self.channels_t = channels.transpose(0, 2, 1)  # [k, X, Y]
        self.n_seq = game.messages**game.rounds
        w0 = game.prior[:, None] * game.user.observation  # [Y, X0]
        self.x0 = w0.shape[1]
        self.a = game.n_actions
        # columns (x0, a): W0[y, x0] u[a, y]; and W0 itself for the leaf masses
        self.num_map = (w0[:, :, None] * game.user.utility.T[:, None, :]).reshape(game.n_states, -1)  # [Y, X0*A]
        self.mass_map = w0  # [Y, X0]
        self.u_max = float(game.user.utility.max())
        self.u_range = self.u_max - float(game.user.utility.min())
        self.per_pair = self.n_seq * max(channels.shape[2], game.n_states, self.x0 * self.a)

    def __call__(self, schemes: np.ndarray) -> np.ndarray:
        """``schemes`` [n, k, R, X_max, M] (probabilities) -> user's exact solo values [n, k]."""
        n, k = schemes.shape[:2]
        chunk = max(1, _CHUNK_ELEMENTS // (k * self.per_pair))
        out = np.empty((n, k))
        for lo in range(0, n, chunk):
            out[lo : lo + chunk] = self._values(schemes[lo : lo + chunk])
        return out

    def _values(self, schemes: np.ndarray) -> np.ndarray:
        c, k, R, X, M = schemes.shape
        seq = schemes[:, :, 0]  # [c, k, X, M^(t+1)]
        for t in range(1, R):
            seq = (seq[..., :, None] * schemes[:, :, t, :, None, :]).reshape(c, k, X, -1)
        # S(y, m) for every pair: [c, k, H, Y]
        s = np.matmul(seq.transpose(0, 1, 3, 2), self.channels_t[None])
        flat = s.reshape(-1, s.shape[-1])
        num = (flat @ self.num_map).reshape(c, k, self.n_seq, self.x0, self.a)  # sum_y P(y,x0,h) u[a,y]
        mass = (flat @ self.mass_map).reshape(c, k, self.n_seq, self.x0, 1)  # P(x0, h)
        eu = num / np.where(mass > 0, mass, 1.0)
        q = self._response(eu)
        return np.einsum("ckhxa,ckhxa->ck", q, num)

    def _response(self, eu: np.ndarray) -> np.ndarray:
        """Quantal response over the last axis; when ``lam * (max u - min u)`` is moderate, the
        per-row max shift is replaced by the constant ``max u`` (every expected utility at a leaf
        of positive mass lies in ``[min u, max u]``; rows of zero mass may come out zero, and their
        weight is zero)."""
        lam = self.game.lam
        if math.isinf(lam) or lam * self.u_range > _EXP_SAFE:
            return quantal_response(eu, lam)
        z = eu * lam
        z -= lam * self.u_max
        np.exp(z, out=z)
        tot = _rowsum(z)[..., None]
        z /= np.where(tot > 0, tot, 1.0)
        return z


def solo_user_values(game: Game | str, schemes: np.ndarray) -> np.ndarray:
    """The user's exact expected utility with each speaker alone, for a batch of open-loop profiles.

    ``schemes`` is ``[..., k, R, X_max, M]`` (probabilities; rows beyond a speaker's ``X_i`` are
    ignored). Returns ``[..., k]``. Equivalent to ``eval.exact.solo_outcomes(game, profile)[0]``
    for each profile, computed for all of them as arrays.
    """
    game = load_game(game)
    channels = _padded_channels(game)
    schemes = np.asarray(schemes, dtype=np.float64)
    want = (game.n_speakers, game.rounds, channels.shape[2], game.messages)
    if schemes.shape[-4:] != want:
        raise ValueError(f"schemes: expected shape [..., {', '.join(map(str, want))}], got {schemes.shape}")
    lead = schemes.shape[:-4]
    flat = schemes.reshape((-1,) + want)
    return _SoloEnumerator(game, channels)(flat).reshape(lead + (game.n_speakers,))


# ---------------------------------------------------------------------------------- environment
class BatchedPersuasionEnv:
    """``n_envs`` episodes of one persuasion game, stepped together (see the module docstring).

    ``reset()`` returns observations ``[N, k, obs_size]`` (float32, the encoding of
    :class:`envs.conversation.ObservationLayout`). When :attr:`shared_observation` is True (public
    messages, or the ``best_ai`` protocol) every speaker of an episode sees the same thing, and the
    array is a read-only broadcast view of one ``[N, obs_size]`` block (stride 0 over speakers), so
    building it costs O(N D) rather than O(N k D); copy it before writing into it.

    ``step(logits)`` takes ``[N, k, X_max, M]`` logits and returns ``(obs, rewards [N, k] float64,
    done, info)``; ``done`` is True after every ``R``-th step, when ``info`` holds ``user_utility``,
    ``user_expected_utility``, ``user_action``, ``state`` (each ``[N]``) and, for ``best_ai``,
    ``selected`` ``[N]`` and ``scores`` ``[N, k]``.
    """

    def __init__(
        self,
        game: Game | str | Any,
        n_envs: int,
        protocol: str = "simultaneous",
        n_eval: int | str = "exact",
        reward_mode: str = "expect_action",
        seed: int | None = None,
    ):
        check_protocol(protocol)
        check_reward_mode(reward_mode)
        if isinstance(n_envs, bool) or not isinstance(n_envs, (int, np.integer)) or n_envs < 1:
            raise ValueError(f"n_envs: expected an integer >= 1, got {n_envs!r}")
        self.game: Game = load_game(game)
        self.n_envs = int(n_envs)
        self.protocol = protocol
        self.n_eval = check_n_eval(n_eval)
        self.reward_mode = reward_mode

        g = self.game
        self.layout = ObservationLayout.for_game(g)
        self.n_speakers = g.n_speakers
        self.obs_size = self.layout.size
        self.signal_counts = [s.n_signals for s in g.speakers]
        self.max_signals = max(self.signal_counts)
        self.action_shape = (self.max_signals, g.messages)
        self.rounds = g.rounds

        self._channels = _padded_channels(g)  # [k, Y, X]
        self._channels_t = self._channels.transpose(0, 2, 1).copy()  # [k, X, Y]
        self._valid = np.arange(self.max_signals)[None, :] < np.array(self.signal_counts)[:, None]  # [k, X]
        self._padded = not bool(self._valid.all())
        self._support = (self._channels.sum(axis=1) > 0).astype(np.float64)  # [k, X]: signals that occur
        # Deterministic channels: likelihoods by gathering signal weights (see _gather_signals).
        self._signal_of = signal_map(self._channels)  # [k, Y] or None
        f = self._signal_of
        self._identity = sees_state(f, self.max_signals)
        self._common_map = f[0].copy() if f is not None and bool((f == f[:1]).all()) else None
        self._user_support = (g.user.observation.sum(axis=0) > 0).astype(np.float64)  # [X0]
        self._prior_cdf = np.cumsum(g.prior)
        self._utils = g.speaker_utilities  # [k, A, Y]
        self._n = np.arange(self.n_envs)
        self._k = np.arange(self.n_speakers)
        # observation layout offsets
        lay = self.layout
        self._user_off = lay.belief_slice.stop
        self._heard_off = self._user_off + lay.rounds * lay.user_messages
        self.shared_observation = protocol == "best_ai" or g.visibility == "public"
        self._best_ai_obs = None
        if protocol == "best_ai":
            rows = np.zeros((g.rounds, self.obs_size), dtype=np.float32)
            rows[np.arange(g.rounds), np.arange(g.rounds)] = 1.0
            rows[:, lay.belief_slice] = g.prior
            self._best_ai_obs = rows
            if self.n_eval == "exact":
                per_pair = g.messages**g.rounds * g.n_states * g.user.n_signals
                if per_pair > MAX_SOLO_ENUMERATION:
                    raise ValueError(
                        f"game '{g.name}': exact best-AI scores would enumerate {g.messages}^{g.rounds} message "
                        f"sequences per speaker ({per_pair:,} entries, limit {MAX_SOLO_ENUMERATION:,}); "
                        "use an integer n_eval"
                    )
                self._solo = _SoloEnumerator(g, self._channels)

        self.rng = np.random.default_rng(seed)
        self._started = False
        self._t = 0

    # ------------------------------------------------------------------ public API
    def reset(self, seed: int | None = None) -> np.ndarray:
        """Start ``n_envs`` fresh episodes (re-seeding the generator if ``seed`` is given)."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self._new_episodes()
        self._started = True
        return self._observe()

    def step(self, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool, dict]:
        """Every speaker of every episode commits its round scheme; see the class docstring."""
        if not self._started:
            raise RuntimeError("step() called before reset()")
        e, s = self._weights_from(logits)  # scheme = e / s[..., None]
        g = self.game
        t = self._t
        n, k = self.n_envs, self.n_speakers
        ni, ki = self._n[:, None], self._k[None, :]
        if self.protocol == "simultaneous":
            m = _sample(self.rng, e[ni, ki, self._x])  # m_i ~ pi_i[x_i] (sampling needs no normalising)
            col = e[ni, ki, :, m] / s  # pi_i[x, m_i] for every x: [N, k, X]
            self._p = _normalise(self._p * col)
            self._spk_msgs[:, t] = m
            self._t = t + 1
            if self._t < g.rounds:
                self._user_speaks(self._t)
                return self._observe(), np.zeros((n, k)), False, {}
            lik = self._speaker_likelihoods()  # [N, k, Y]
            rewards, info = self._finish(np.prod(lik, axis=1), self._x0, self._q0, self._y)
        else:
            self._schemes[:, :, t] = e / s[..., None]
            self._t = t + 1
            if self._t < g.rounds:
                return self._observe(), np.zeros((n, k)), False, {}
            rewards, info = self._finish_best_ai()
        self._new_episodes()
        return self._observe(), rewards, True, info

    def get_state(self) -> dict:
        """Everything needed to continue exactly: episode arrays, round and generator state."""
        state = {
            "game": self.game.name,
            "n_envs": self.n_envs,
            "protocol": self.protocol,
            "n_eval": self.n_eval,
            "reward_mode": self.reward_mode,
            "started": self._started,
            "t": self._t,
            "rng": copy.deepcopy(self.rng.bit_generator.state),
        }
        if self._started:
            for name in self._arrays():
                state[name] = getattr(self, name).copy()
        return state

    def set_state(self, state: dict) -> None:
        """Restore a :meth:`get_state` snapshot (of an environment built with the same arguments)."""
        mine = {"game": self.game.name, "n_envs": self.n_envs, "protocol": self.protocol,
                "n_eval": self.n_eval, "reward_mode": self.reward_mode}
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
        self._t = int(state["t"])
        if self._started:
            for name in self._arrays():
                setattr(self, name, np.array(state[name], copy=True))

    # ------------------------------------------------------------------ episodes
    def _arrays(self) -> list[str]:
        names = ["_y", "_x0", "_x", "_q0", "_p", "_user_msgs", "_spk_msgs"]
        return names + (["_schemes"] if self.protocol == "best_ai" else [])

    def _new_episodes(self) -> None:
        """Draw the state and every signal of every episode; the user says her first message."""
        g = self.game
        n, k, R = self.n_envs, self.n_speakers, g.rounds
        rng = self.rng
        self._y = np.minimum(np.searchsorted(self._prior_cdf, rng.random(n) * self._prior_cdf[-1], side="right"), g.n_states - 1)
        self._x0 = _sample(rng, g.user.observation[self._y])  # [N]
        self._x = _sample(rng, self._channels[:, self._y].transpose(1, 0, 2))  # [N, k]
        # prod_t C_t[x0, z_t] and prod_t pi_i^t[x, m_i^t] for every signal value, normalised each
        # round; signals that never occur (padding) start at 0 so they never carry the weight.
        self._q0 = np.broadcast_to(self._user_support, (n, g.user.n_signals)).copy()
        self._p = np.broadcast_to(self._support, (n, k, self.max_signals)).copy()
        self._user_msgs = np.full((n, R), -1, dtype=np.int64)
        self._spk_msgs = np.full((n, R, k), -1, dtype=np.int64)
        self._t = 0
        if self.protocol == "simultaneous":
            self._user_speaks(0)
        else:
            self._schemes = np.zeros((n, k, R, self.max_signals, g.messages))

    def _user_speaks(self, t: int) -> None:
        """The user says her round-``t`` message ``z ~ C_t[x0]`` in every episode."""
        ch = self.game.user.conversation[t]  # [X0, Z]
        if ch.shape[1] == 1:
            z = np.zeros(self.n_envs, dtype=np.int64)
        else:
            z = _sample(self.rng, ch[self._x0])
            self._q0 = _normalise(self._q0 * ch[:, z].T)
        self._user_msgs[:, t] = z

    def _weights_from(self, logits: Any) -> tuple[np.ndarray, np.ndarray]:
        """Validate logits ``[N, k, X_max, M]``; return softmax weights ``e`` and row sums ``s``.

        The schemes are ``e / s[..., None]`` (row softmax, float64). Rows ``>= X_i`` are ignored
        (replaced by zeros, i.e. uniform rows, when they are not finite)."""
        want = (self.n_envs, self.n_speakers) + self.action_shape
        try:
            z = np.asarray(logits, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"logits: not a numeric array; expected shape {want}") from None
        if z.shape != want:
            raise ValueError(f"logits: expected shape {want} [env, speaker, signal, message], got {z.shape}")
        hi, lo = z.max(), z.min()  # NaN propagates into both
        if not (math.isfinite(hi) and math.isfinite(lo)):
            if not (self._padded and np.isfinite(z[:, self._valid]).all()):
                raise ValueError("logits: contain NaN or inf")
            z = np.where(self._valid[None, :, :, None], z, 0.0)
            hi, lo = z.max(), z.min()
        if -_EXP_SAFE <= lo and hi <= _EXP_SAFE:
            # exp cannot overflow, and no row underflows: no per-row shift needed
            e = np.exp(z)
        else:
            with np.errstate(under="ignore"):
                e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e, _rowsum(e)

    # ------------------------------------------------------------------ beliefs
    def _gather_signals(self, p: np.ndarray, maps: np.ndarray) -> np.ndarray:
        """``p[..., f(y)]`` for deterministic channels (signals on the last axis of ``p``); ``maps`` are
        the signal maps ``f`` broadcastable against ``p`` (used when speakers' maps differ). The
        result may be ``p`` itself (every speaker sees the state): do not modify it in place."""
        if self._identity:
            return p
        if self._common_map is not None:
            return np.take(p, self._common_map, axis=-1)
        return np.take_along_axis(p, maps, axis=-1)

    def _speaker_likelihoods(self) -> np.ndarray:
        """``L_i(y) ∝ sum_x O_i[y, x] P_i(x)`` for every episode and speaker: [N, k, Y] (read-only)."""
        if self._signal_of is not None:
            return self._gather_signals(self._p, self._signal_of[None])
        return np.einsum("nkx,kxy->nky", self._p, self._channels_t, optimize=True)

    def _user_likelihood(self) -> np.ndarray:
        """``L_0(y) ∝ sum_x0 O_0[y, x0] Q_0(x0)``: what the user's messages say about y [N, Y]."""
        return self._q0 @ self.game.user.observation.T

    def _observe(self) -> np.ndarray:
        """Observations ``[N, k, D]``: :meth:`ObservationLayout.encode` of every speaker's view.

        With :attr:`shared_observation` the result is a read-only broadcast of one block per episode.
        """
        n, k, t = self.n_envs, self.n_speakers, self._t
        lay = self.layout
        if self.protocol == "best_ai":
            return np.broadcast_to(self._best_ai_obs[t], (n, k, self.obs_size))
        # What every speaker of an episode shares: round, the user's messages and, when messages
        # are public, every speaker's messages. Built once per episode, then broadcast.
        shared = np.zeros((n, self.obs_size), dtype=np.float32)
        # Every round's one-hots are written by one scatter each (no loop over rounds).
        shared[:, t] = 1.0
        said = min(t + 1, lay.rounds)  # the user has spoken in rounds 0..t
        cols = self._user_off + np.arange(said) * lay.user_messages + self._user_msgs[:, :said]  # [N, said]
        shared[self._n[:, None], cols] = 1.0
        block = lay.n_heard * lay.messages
        public = self.game.visibility == "public"
        rounds_block = np.arange(t)[None, :, None] * block  # [1, t, 1]
        if public and t > 0:
            cols = self._heard_off + rounds_block + self._k[None, None, :] * lay.messages + self._spk_msgs[:, :t]  # [N, t, k]
            shared[self._n[:, None, None], cols] = 1.0
        base = self.game.prior[None, :] * self._user_likelihood()  # mu0(y) L_0(y): [N, Y]
        lik = self._speaker_likelihoods()  # [N, k, Y]
        if public:  # one view for all speakers: O(N D) to build, not O(N k D)
            shared[:, lay.belief_slice] = _normalise(base * np.prod(lik, axis=1))
            return np.broadcast_to(shared[:, None, :], (n, k, self.obs_size))
        out = np.empty((n, k, self.obs_size), dtype=np.float32)
        out[...] = shared[:, None, :]
        out[:, :, lay.belief_slice] = _normalise(base[:, None, :] * lik)
        if t > 0:  # each speaker hears its own thread
            cols = self._heard_off + rounds_block + self._spk_msgs[:, :t]  # [N, t, k]
            out[self._n[:, None, None], self._k[None, None, :], cols] = 1.0
        return out

    # ------------------------------------------------------------------ endings
    def _finish(self, lik: np.ndarray, x0: np.ndarray, q0: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, dict]:
        """The user acts at her posterior; rewards [N, k] by reward mode and the outcome infos.

        ``lik`` [N, Y] is the product of the likelihoods of every speaker she heard."""
        g = self.game
        o0 = g.user.observation  # [Y, X0]
        w = g.prior[None, :] * lik  # [N, Y]
        post = _normalise(w * o0[:, x0].T)
        probs = quantal_response(post @ g.user.utility.T, g.lam)  # [N, A]
        a = _sample(self.rng, probs)
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
            posts = _normalise(wx.transpose(0, 2, 1))  # [N, X0, Y]
            q = quantal_response(posts @ g.user.utility.T, g.lam)  # [N, X0, A]
            # sum_{y, x0, a} joint[n, y, x0] q[n, x0, a] U[i, a, y]
            qu = np.einsum("nxa,kay->nkxy", q, self._utils)
            rewards = np.einsum("nyx,nkxy->nk", joint, qu)
        info = {
            "user_utility": u_y[self._n, a],
            "user_expected_utility": (probs * u_y).sum(axis=1),
            "user_action": a.astype(np.int64),
            "state": y.astype(np.int64).copy(),
        }
        return rewards, info

    def _finish_best_ai(self) -> tuple[np.ndarray, dict]:
        """Score every speaker alone, select the best, deploy it alone and pay everyone."""
        g = self.game
        n, k = self.n_envs, self.n_speakers
        if self.n_eval == "exact":
            scores = self._solo(self._schemes)
        else:
            scores = self._sampled_scores(self.n_eval)
        tied = scores >= scores.max(axis=1, keepdims=True) - SCORE_TOL
        sel = np.argmax(np.where(tied, self.rng.random((n, k)), -1.0), axis=1)  # uniform among ties
        # Deployment: the selected speaker alone with the user, who speaks by her rule.
        pi = self._schemes[self._n, sel]  # [N, R, X, M]
        x = self._x[self._n, sel]
        p = self._support[sel]
        for t in range(g.rounds):
            self._user_speaks(t)
            m = _sample(self.rng, pi[self._n, t, x])
            p = _normalise(p * pi[self._n, t, :, m])
            self._spk_msgs[self._n, t, sel] = m
        if self._signal_of is not None:
            lik = self._gather_signals(p, self._signal_of[sel])
        else:
            lik = np.einsum("nyx,nx->ny", self._channels[sel], p)
        rewards, info = self._finish(lik, self._x0, self._q0, self._y)
        info["selected"] = sel.astype(np.int64)
        info["scores"] = scores
        return rewards, info

    def _sampled_scores(self, n_eval: int) -> np.ndarray:
        """Mean realised user utility of ``n_eval`` fresh solo conversations per speaker: [N, k].

        All ``N k n_eval`` conversations are simulated as one batch. The user's own messages are
        not simulated: she knows x0, so they do not move her posterior, and the schemes are open-loop.
        """
        g = self.game
        n, k, e = self.n_envs, self.n_speakers, n_eval
        rng = self.rng
        y = np.minimum(np.searchsorted(self._prior_cdf, rng.random((n, k, e)) * self._prior_cdf[-1], side="right"), g.n_states - 1)
        x0 = _sample(rng, g.user.observation[y])  # [N, k, E]
        x = _sample(rng, self._channels[self._k[None, :, None], y])  # [N, k, E]
        p = np.broadcast_to(self._support[:, None, :], (n, k, e, self.max_signals))
        ni, ki = self._n[:, None, None], self._k[None, :, None]
        for t in range(g.rounds):
            pi = self._schemes[:, :, t]  # [N, k, X, M]
            m = _sample(rng, pi[ni, ki, x])  # [N, k, E]
            col = pi[ni, ki, :, m]  # [N, k, E, X]
            p = _normalise(p * col)
        if self._signal_of is not None:
            lik = self._gather_signals(p, self._signal_of[None, :, None, :])  # [N, k, E, Y]
        else:
            lik = np.matmul(p[:, :, :, None, :], self._channels_t[None, :, None])[..., 0, :]  # [N, k, E, Y]
        post = _normalise(g.prior * lik * g.user.observation[:, x0].transpose(1, 2, 3, 0))
        probs = quantal_response(post @ g.user.utility.T, g.lam)
        a = _sample(rng, probs)
        return g.user.utility[a, y].mean(axis=2)

    def __repr__(self) -> str:
        extra = f", n_eval={self.n_eval!r}" if self.protocol == "best_ai" else ""
        return (
            f"BatchedPersuasionEnv({self.game.name!r}, n_envs={self.n_envs}, protocol={self.protocol!r}{extra}, "
            f"reward_mode={self.reward_mode!r})"
        )
