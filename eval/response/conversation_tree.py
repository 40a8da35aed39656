"""One speaker's view of a multi-round conversation when the others' rules are held fixed.

Speaker ``i`` deviates; the user and the other speakers follow their fixed rules. Enumerating the
conversation with ``i`` babbling (every message of ``i`` possible, so no history ``i`` could
reach is dropped), the engine's joint ``P(y, x0, h)`` is ``M^{-R}`` times

    D(h, y, x0) = mu0(y) O_0[y, x0] prod_t C_t[x0, z_t] prod_{j != i} sum_x O_j[y, x] prod_t pi_j^t[h_<t][x, m_j^t(h)],

the weight of history ``h`` from everything except ``i`` (docs/science.md, "Exact payoffs"). Then
under any rule of ``i``, given by its realisation plan ``rho(x, s)`` (the probability that with
signal ``x`` it says its message sequence ``s``),

    P(y, x0, x_i, h) = O_i[y, x_i] rho(x_i, s_i(h)) D(h, y, x0),

linear in ``rho`` (docs/science.md, "Sequence form"). :class:`SpeakerTree` indexes
``i``'s information sets round by round (:mod:`persuaders.eval.response.rules` keys), the parent sequence
of each, and, at each last-round information set ``I``, the user's *types*: what she knows at the
end beyond ``I`` and ``i``'s last message (her signal, and the other speakers' messages ``i`` did
not hear: their last-round messages with public threads, all of them with private ones), with
their weights ``D_I[type, y]`` (types with proportional weights give the same posterior under
every rule of ``i`` and are merged).

The others' rules may be fixed arrays or functions of the observation. A function is held fixed
as the map from what its speaker heard to its scheme, read at the observations of the given
profile; where the given profile never reaches a history, the belief in the observation is the
one computed with ``i`` babbling (``i``'s messages read as uninformative).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from persuaders.envs.game.observations import ObservationLayout
from persuaders.envs.game.schemes import babbling_scheme
from persuaders.envs.game.spec import Game
from persuaders.envs.payoff.engine import ExactEngine
from persuaders.envs.payoff.exact import scheme_source
from persuaders.eval.response.rules import InfoKey, decode_keys
from persuaders.eval.theory.beliefs import PROB_TOL

__all__ = ["SpeakerTree", "frozen_profile"]


def _recording(
    fn: Callable[[np.ndarray], np.ndarray], layout: ObservationLayout, store: dict[InfoKey, np.ndarray]
) -> Callable[[np.ndarray], np.ndarray]:
    def record(obs: np.ndarray) -> np.ndarray:
        for key, b in zip(decode_keys(layout, obs), np.asarray(obs)[:, layout.belief_slice], strict=True):
            store.setdefault(key, np.array(b))
        return fn(obs)

    return record


def _replaying(
    fn: Callable[[np.ndarray], np.ndarray], layout: ObservationLayout, store: dict[InfoKey, np.ndarray]
) -> Callable[[np.ndarray], np.ndarray]:
    def replay(obs: np.ndarray) -> np.ndarray:
        obs = np.array(obs, copy=True)
        for r, key in enumerate(decode_keys(layout, obs)):
            b = store.get(key)
            if b is not None:
                obs[r, layout.belief_slice] = b
        return fn(obs)

    return replay


def frozen_profile(game: Game, profile: Sequence[Any], i: int) -> list[Any]:
    """The others' rules held fixed for a deviation of ``i`` (the module docstring), ``i`` babbling.

    Arrays and rules that ignore the belief (``reads_belief = False``) are kept; any other
    function reads, at each history, the belief it saw under ``profile`` (or, off its path, the
    belief with ``i`` babbling).
    """
    layout = ObservationLayout.for_game(game)
    needs = [j for j, s in enumerate(profile) if j != i and callable(s) and getattr(s, "reads_belief", True)]
    out = list(profile)
    out[i] = babbling_scheme(game, i)
    if not needs or game.visibility != "public":
        return out
    stores: dict[int, dict[InfoKey, np.ndarray]] = {j: {} for j in needs}
    first = [(_recording(s, layout, stores[j]) if j in stores else s) for j, s in enumerate(profile)]
    sources = [scheme_source(game, j, s) for j, s in enumerate(first)]
    ExactEngine(game, range(game.n_speakers)).joint(sources)
    for j in needs:
        out[j] = _replaying(profile[j], layout, stores[j])
    return out


class SpeakerTree:
    """Speaker ``i``'s information sets, sequences and last-round user types (module docstring).

    Attributes: ``keep`` (its signals of positive probability), ``oi = O_i[:, keep]`` ``[Y, X]``;
    per round ``t``: ``keys[t]`` (the information sets' keys) and, for ``t >= 1``, ``parent[t]``
    (the parent sequence ``I_{t-1} * M + m`` of each) and ``reach[t]`` (the probability of reaching
    each by chance and the others, ``i`` babbling); ``types[I]`` the merged ``D_I`` ``[T, Y]`` of
    each last-round information set.
    """

    def __init__(self, game: Game, i: int, profile: Sequence[Any]):
        self.game, self.i = game, i
        r, m, k = game.rounds, game.messages, game.n_speakers
        fixed = frozen_profile(game, profile, i)
        engine = ExactEngine(game, range(k))
        joint = engine.joint([scheme_source(game, j, s) for j, s in enumerate(fixed)])[0]  # [H, Y, X0]
        um, sm = engine.user_msgs, engine.spk_msgs
        self.histories = len(um)
        weight = joint * float(m) ** r  # D(h, y, x0)
        spk = game.speakers[i]
        px = game.prior @ spk.observation
        self.keep = np.flatnonzero(px > PROB_TOL)
        self.oi = spk.observation[:, self.keep]
        layout = ObservationLayout.for_game(game)
        heard = list(layout.heard(i))
        self.keys: list[list[InfoKey]] = []
        self.parent: list[np.ndarray | None] = []
        self.reach: list[np.ndarray] = []
        mass = joint.sum(axis=(1, 2))
        ids = []
        for t in range(r):
            code = np.hstack([um[:, : t + 1], sm[:, :t][:, :, heard].reshape(len(um), -1)])
            _, first, inv = np.unique(code, axis=0, return_index=True, return_inverse=True)
            inv = np.asarray(inv).reshape(-1)
            ids.append(inv)
            self.reach.append(np.bincount(inv, weights=mass, minlength=len(first)))
            self.keys.append(
                [
                    (t, tuple(int(v) for v in um[h, : t + 1]), tuple(int(v) for v in sm[h, :t][:, heard].reshape(-1)))
                    for h in first
                ]
            )
            self.parent.append(None if t == 0 else ids[t - 1][first] * m + sm[first, t - 1, i])
        self.types = self._last_round_types(weight, um, sm, ids[-1])
        self.override: list[np.ndarray] | None = None
        self._own_only: bool | None = None

    def _last_round_types(
        self, weight: np.ndarray, um: np.ndarray, sm: np.ndarray, last: np.ndarray
    ) -> list[np.ndarray]:
        """Merged ``D_I[type, y]`` for every last-round information set ``I``."""
        n_i = len(self.keys[-1])
        rows = np.flatnonzero(sm[:, -1, self.i] == 0)  # D does not depend on i's last message
        by_info: list[list[np.ndarray]] = [[] for _ in range(n_i)]
        for h in rows:
            by_info[last[h]].append(weight[h].T)  # [X0, Y]: one type per user signal
        out = []
        for blocks in by_info:
            d = np.vstack(blocks) if blocks else np.zeros((0, self.game.n_states))
            out.append(merge_types(d))
        return out

    @property
    def n_signals(self) -> int:
        return len(self.keep)

    def info_sets(self, t: int) -> int:
        return len(self.keys[t])

    def own_messages_only(self) -> bool:
        """Whether the speaker's information sets are its own message sequences alone (one at the
        start, one child per sequence: nobody else speaks and the user is silent, as on a best-AI
        solo thread) with the same coefficients ``C_I`` at every last-round one. Then a last-round
        column's value does not depend on the information set it is said at, and any rule's leaves
        may be rearranged (:meth:`persuaders.eval.response.sequence_lp.SequenceLP.regroup`)."""
        if self._own_only is None:
            m = self.game.messages
            parents = self.parent[1:]
            tree_ok = self.info_sets(0) == 1 and all(
                p is not None and np.array_equal(np.sort(p), np.arange(self.info_sets(t) * m))
                for t, p in enumerate(parents)
            )
            first = self.coefficients(0)
            self._own_only = tree_ok and all(
                c.shape == first.shape and np.allclose(c, first, rtol=1e-12, atol=0.0)
                for c in (self.coefficients(n) for n in range(1, self.info_sets(self.game.rounds - 1)))
            )
        return self._own_only

    def coefficients(self, info: int) -> np.ndarray:
        """``C_I[type, x, y] = O_i[y, x] D_I[type, y]`` of a last-round information set."""
        if self.override is not None:
            return self.override[info]
        d = self.types[info]
        out: np.ndarray = d[:, None, :] * self.oi.T[None, :, :]
        return out


def merge_types(d: np.ndarray) -> np.ndarray:
    """Rows of ``d`` ``[T, Y]`` with positive mass, proportional rows summed (they give one posterior)."""
    mass = d.sum(axis=1)
    d = d[mass > PROB_TOL * 1e-3]
    if len(d) == 0:
        return d
    norm = d / d.sum(axis=1, keepdims=True)
    _, inv = np.unique(np.round(norm, 11), axis=0, return_inverse=True)
    inv = np.asarray(inv).reshape(-1)
    out = np.zeros((inv.max() + 1, d.shape[1]))
    np.add.at(out, inv, d)
    return out
