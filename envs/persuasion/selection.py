"""Selection protocols' episodes: closed-loop commitments, asked for node by node on the solo threads.

Under a selection protocol (``best_ai``) every speaker commits to a *rule* on its solo thread with
the user (docs/science.md, "Protocols"): at a node ``h`` of round ``t`` (the user's messages
``z_0..z_t`` and its own ``m_0..m_{t-1}``) it uses the scheme ``pi_i^h``, the same in every
evaluation conversation and in the deployment. An environment cannot call a policy, so an episode
asks for the rule where it can be needed: it walks every node of the solo thread tree
(:class:`~persuaders.envs.game.observations.ThreadTree`), one node per step, in the tree's order (a
parent before its children). At step ``j`` every speaker sees its private-thread observation at
node ``j`` (:meth:`~persuaders.envs.game.observations.ObservationLayout.for_thread`),

    [round t | b_i(y) ∝ mu0(y) L_0(y) L_i(y) | z_0..z_t | m_0..m_{t-1}],
    L_0(y) = sum_x0 O_0[y, x0] prod_{s<=t} C_s[x0, z_s],   L_i(y) = sum_x O_i[y, x] prod_{s<t} pi_i^{h_s}[x, m_s]

(``h_s`` the node's ancestor of round ``s``: the schemes it gave at earlier steps), and answers with
its scheme there. A node of probability zero (never reached) shows the prior. After the
``N = sum_t prod_{s<=t} Z_s M^t`` steps the table is the episode's committed rule:

* exact scores (``n_eval: exact``) are the exact engine's values of the table
  (:class:`~persuaders.envs.payoff.exact.ThreadValues`);
* sampled scores play ``n_eval`` fresh solo conversations per speaker through it, as one batch,
  the user speaking by her rule (:meth:`ThreadWalk.sampled_user_utilities`);
* the deployment conversation (played by the environment) reads it at the nodes it reaches.

Everything is vectorised over the ``n_envs`` episodes and the speakers; loops run over rounds.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from persuaders.envs.game.conversation import signal_map
from persuaders.envs.game.observations import ObservationLayout, ThreadTree
from persuaders.envs.game.spec import Game
from persuaders.envs.game.users import response_at
from persuaders.envs.payoff.engine import check_enumerable
from persuaders.envs.payoff.exact import ThreadValues
from persuaders.envs.persuasion.arrays import normalise, padded_channels, sample_index

__all__ = ["MAX_THREAD_NODES", "ThreadWalk", "ThreadEvaluation", "thread_nodes"]

#: Largest number of solo-thread nodes (steps of one episode) a selection protocol may ask for.
MAX_THREAD_NODES = 4096


def thread_nodes(game: Game) -> int:
    """The steps of a selection protocol's episode: the nodes of a solo thread, ``sum_t prod_{s<=t} Z_s M^t``
    (:class:`ValueError` naming the fields when above :data:`MAX_THREAD_NODES`)."""
    tree = ThreadTree.for_game(game)
    if tree.size > MAX_THREAD_NODES:
        raise ValueError(
            f"game '{game.name}': a selection protocol asks every speaker for its scheme at each of the "
            f"{tree.size:,} nodes of its solo thread (rounds {game.rounds}, messages {game.messages}, "
            f"user.conversation with {list(tree.user_counts)} messages per round), more than the limit of "
            f"{MAX_THREAD_NODES:,} steps per episode; use fewer rounds or messages"
        )
    return tree.size


class ThreadEvaluation:
    """The speakers' solo evaluations under the episode's committed rules (``SoloEvaluation``)."""

    def __init__(self, walk: ThreadWalk, rng: np.random.Generator):
        self.walk = walk
        self.rng = rng

    def exact_user_values(self) -> np.ndarray:
        return self.walk.exact_user_values()

    def sampled_user_utilities(self, n: int) -> np.ndarray:
        return self.walk.sampled_user_utilities(self.rng, n)


class ThreadWalk:
    """The speakers' rules of ``n_envs`` episodes, tabulated node by node (see the module docstring).

    :meth:`start` begins new episodes; :meth:`observe` is every speaker's observation at the
    current node ``[N, k, D]``; :meth:`commit` records the schemes ``[N, k, X_max, M]`` given
    there and moves on (True once every node has a scheme). :attr:`rule` ``[N, k, nodes, X_max, M]``
    is the table; :attr:`deployed` ``[N, R]`` the nodes of the deployment conversation.
    """

    def __init__(self, game: Game, n_envs: int):
        self.n_envs = int(n_envs)
        self.tree = ThreadTree.for_game(game)
        self.size = thread_nodes(game)
        self.layout = ObservationLayout.for_thread(game)
        self.channels = padded_channels(game)  # [k, Y, X]
        self._channels_t = self.channels.transpose(0, 2, 1).copy()  # [k, X, Y]
        self.support = (self.channels.sum(axis=1) > 0).astype(np.float64)  # [k, X]
        self.signal_of = signal_map(self.channels)  # [k, Y] or None
        self.max_signals = self.channels.shape[2]
        #: Every node is in round 1 (one round): all speakers of an episode see the same observation.
        self.shared = self.tree.rounds == 1
        self.game = game
        self.node = 0
        self._values: ThreadValues | None = None
        self._prior_cdf = np.cumsum(game.prior)
        self.rule = np.zeros((0,))
        self.weights = np.zeros((0,))
        self.deployed = np.zeros((0,), dtype=np.int64)

    def set_game(self, game: Game) -> None:
        """The same game with another user model (a rationality homotopy)."""
        self.game = game
        self._values = None

    # ------------------------------------------------------------------ per-node constants
    @functools.cached_property
    def _base(self) -> np.ndarray:
        """``mu0(y) L_0(y)`` at every node ``[nodes, Y]``: the prior and the user's messages."""
        g, tab = self.game, self.tree.table
        q0 = np.ones((self.size, g.user.n_signals))
        for t in range(self.tree.rounds):
            said = tab["user"][:, t] >= 0
            q0[said] *= g.user.conversation[t][:, tab["user"][said, t]].T
        out: np.ndarray = g.prior[None, :] * (q0 @ g.user.observation.T)
        return out

    @functools.cached_property
    def _templates(self) -> np.ndarray:
        """Every node's observation ``[nodes, D]`` float32, its belief that of the user's messages alone."""
        tab = self.tree.table
        w = self._base
        total = w.sum(axis=1, keepdims=True)
        belief = np.where(total > 0, w / np.where(total > 0, total, 1.0), self.game.prior[None, :])
        return self.layout.encode(tab["round"], belief, tab["user"], tab["own"][:, :, None])

    @functools.cached_property
    def _terminal(self) -> np.ndarray:
        """The observation once every node is committed: round ``R``, the prior, nothing said."""
        out: np.ndarray = self.layout.open_loop(self.tree.rounds, self.game.prior, 1)[0]
        return out

    # ------------------------------------------------------------------ the walk
    def start(self) -> None:
        """New episodes: no scheme yet; every round-1 node starts from the signals' support."""
        n, k, x, m = self.n_envs, len(self.channels), self.max_signals, self.game.messages
        self.rule = np.zeros((n, k, self.size, x, m))
        self.weights = np.zeros((n, k, self.size, x))
        self.weights[:, :, : self.tree.round_sizes[0]] = self.support[None, :, None, :]
        self.deployed = np.full((n, self.tree.rounds), -1, dtype=np.int64)
        self.node = 0

    @property
    def round(self) -> int:
        """The round (0-based) of the current node; ``R`` once every node is committed."""
        return int(self.tree.table["round"][self.node]) if self.node < self.size else self.tree.rounds

    def observe(self) -> np.ndarray:
        """Every speaker's observation at the current node ``[N, k, D]`` (a read-only broadcast when shared)."""
        n, k = self.n_envs, len(self.channels)
        j = self.node
        if j >= self.size:
            return np.broadcast_to(self._terminal, (n, k, self.layout.size))
        if self.tree.table["round"][j] == 0:  # nothing said by the speakers: only the user's messages count
            views = np.broadcast_to(self._templates[j], (n, k, self.layout.size))
            return views if self.shared else np.ascontiguousarray(views)
        w = self._base[j] * self.likelihoods(self.weights[:, :, j])  # [N, k, Y]
        total = w.sum(axis=-1, keepdims=True)
        belief = np.where(total > 0, w / np.where(total > 0, total, 1.0), self.game.prior)
        out = np.empty((n, k, self.layout.size), dtype=np.float32)
        out[:] = self._templates[j]
        out[..., self.layout.belief_slice] = belief
        return out

    def commit(self, schemes: np.ndarray) -> bool:
        """Record every speaker's scheme ``[N, k, X_max, M]`` at the current node; True when all are committed.

        The next node's signal weights follow from its parent's: ``P_i(x) ∝ P_i^parent(x) pi_i^parent[x, m]``."""
        self.rule[:, :, self.node] = schemes
        self.node += 1
        j = self.node
        if j < self.size and self.tree.table["round"][j] > 0:
            parent, m = self.tree.table["parent"][j], self.tree.table["said"][j]
            self.weights[:, :, j] = normalise(self.weights[:, :, parent] * self.rule[:, :, parent, :, m])
        return j == self.size

    def likelihoods(self, p: np.ndarray) -> np.ndarray:
        """``L_i(y) ∝ sum_x O_i[y, x] P_i(x)`` of signal weights ``p`` ``[N, k, X]``: ``[N, k, Y]``."""
        if self.signal_of is not None:  # deterministic channels: P_i(f_i(y))
            maps = np.broadcast_to(self.signal_of[None], (len(p), *self.signal_of.shape))
            return np.take_along_axis(p, maps, axis=-1)
        out: np.ndarray = np.einsum("nkx,kxy->nky", p, self._channels_t, optimize=True)
        return out

    def scheme_at(self, speaker: np.ndarray, index: np.ndarray, t: int) -> np.ndarray:
        """The rule of ``speaker`` ``[N]`` at the round-``t`` node ``index`` ``[N]`` of each episode ``[N, X, M]``."""
        node = self.tree.offsets[t] + index
        out: np.ndarray = self.rule[np.arange(self.n_envs), speaker, node]
        return out

    # ------------------------------------------------------------------ evaluation
    def evaluation(self, rng: np.random.Generator) -> ThreadEvaluation:
        return ThreadEvaluation(self, rng)

    def exact_user_values(self) -> np.ndarray:
        """The user's exact value with each speaker alone under the committed rules ``[N, k]``."""
        if self._values is None:
            check_enumerable(self.game, joint=False)
            self._values = ThreadValues(self.game)
        return self._values(self.rule)

    def sampled_user_utilities(self, rng: np.random.Generator, n_eval: int) -> np.ndarray:
        """The user's realised utility in ``n_eval`` fresh solo conversations per speaker ``[N, k, n_eval]``.

        All ``N k n_eval`` conversations are one batch: the state and signals, then round by round
        the user's message ``z_t ~ C_t[x0]`` (drawn only when she can say more than one), the
        speaker's ``m_t ~ pi_i^{h_t}[x_i]`` at the node ``h_t`` reached, and at the end her action.
        """
        g = self.game
        n, k, e = self.n_envs, len(self.channels), n_eval
        cdf = self._prior_cdf
        y = np.minimum(np.searchsorted(cdf, rng.random((n, k, e)) * cdf[-1], side="right"), g.n_states - 1)
        x0 = sample_index(rng, g.user.observation[y])  # [N, k, E]
        ki = np.arange(k)[None, :, None]
        x = sample_index(rng, self.channels[ki, y])  # [N, k, E]
        p = np.broadcast_to(self.support[:, None, :], (n, k, e, self.max_signals))
        ni = np.arange(n)[:, None, None]
        index = np.zeros((n, k, e), dtype=np.int64)
        m = index
        for t in range(g.rounds):
            conv = g.user.conversation[t]
            z = sample_index(rng, conv[x0]) if conv.shape[1] > 1 else 0
            index = index + z if t == 0 else self.tree.child(t - 1, index, m, z)
            node = self.tree.offsets[t] + index
            m = sample_index(rng, self.rule[ni, ki, node, x])  # [N, k, E]
            p = normalise(p * self.rule[ni, ki, node, :, m])  # [N, k, E, X]
        if self.signal_of is not None:
            maps = np.broadcast_to(self.signal_of[None, :, None, :], (n, k, e, g.n_states))
            lik = np.take_along_axis(p, maps, axis=-1)
        else:
            lik = np.matmul(p[:, :, :, None, :], self._channels_t[None, :, None])[..., 0, :]  # [N, k, E, Y]
        post = normalise(g.prior * lik * g.user.observation[:, x0].transpose(1, 2, 3, 0))
        a = sample_index(rng, response_at(post, g.user.utility, g.user.model, g.prior))
        out: np.ndarray = g.user.utility[a, y]
        return out

    # ------------------------------------------------------------------ snapshots
    def get_state(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "rule": self.rule.copy(),
            "weights": self.weights.copy(),
            "deployed": self.deployed.copy(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.node = int(state["node"])
        self.rule = np.array(state["rule"], copy=True)
        self.weights = np.array(state["weights"], copy=True)
        self.deployed = np.array(state["deployed"], copy=True)
