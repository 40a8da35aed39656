"""Brute-force reference computations for tests: the full joint over every signal and message.

Nothing here uses the factorised update or the project's enumerator; it multiplies out

    P(y, x0, x_1..x_k, z, m) = mu0(y) O_0[y, x0] prod_i O_i[y, x_i]
                                prod_t C_t[x0, z_t] prod_{i,t} pi_i^t[x_i, m_i^t]

with plain loops (open-loop schemes), so it is only for tiny games.
"""

from __future__ import annotations

import itertools
import math

import numpy as np


def softmax_response(eu: np.ndarray, lam: float) -> np.ndarray:
    if math.isinf(lam):
        best = eu >= eu.max() - 1e-9
        return best / best.sum()
    z = np.exp(lam * (eu - eu.max()))
    return z / z.sum()


def brute_joint(game, schemes):
    """Dict (x0, z-tuple, m-tuple) -> array over y of P(y, x0, z, m), schemes [R, X_i, M] per speaker."""
    k, R = game.n_speakers, game.rounds
    out: dict = {}
    sig_ranges = [range(s.n_signals) for s in game.speakers]
    z_ranges = [range(c.shape[1]) for c in game.user.conversation]
    m_ranges = [range(game.messages)] * (k * R)
    for y in range(game.n_states):
        for x0 in range(game.user.n_signals):
            p_y = game.prior[y] * game.user.observation[y, x0]
            if p_y == 0:
                continue
            for xs in itertools.product(*sig_ranges):
                p_x = p_y * np.prod([game.speakers[i].observation[y, xs[i]] for i in range(k)])
                if p_x == 0:
                    continue
                for zs in itertools.product(*z_ranges):
                    p_z = p_x * np.prod([game.user.conversation[t][x0, zs[t]] for t in range(R)])
                    if p_z == 0:
                        continue
                    for ms in itertools.product(*m_ranges):
                        # ms[t * k + i] is speaker i's round-t message
                        p = p_z * np.prod([schemes[i][t][xs[i], ms[t * k + i]] for t in range(R) for i in range(k)])
                        if p == 0:
                            continue
                        key = (x0, zs, ms)
                        out.setdefault(key, np.zeros(game.n_states))[y] += p
    return out


def brute_values(game, schemes):
    """(user value, [speaker values]) from the brute-force joint."""
    user, spk = 0.0, np.zeros(game.n_speakers)
    for w in brute_joint(game, schemes).values():
        post = w / w.sum()
        q = softmax_response(game.user.utility @ post, game.user.model.rationality)
        user += w.sum() * (q @ game.user.utility @ post)
        for i, s in enumerate(game.speakers):
            spk[i] += w.sum() * (q @ s.utility @ post)
    return user, spk


def random_spec(
    rng: np.random.Generator,
    *,
    k=2,
    n_states=2,
    n_actions=2,
    messages=2,
    rounds=1,
    user_signals=1,
    speaker_signals=None,
    visibility="public",
    lam="inf",
    talk=False,
) -> dict:
    """A random game file (as a mapping) with noisy channels and, if ``talk``, a chatty user."""

    def channel(rows, cols):
        return rng.dirichlet(np.ones(cols), size=rows).tolist()

    spec = {
        "name": "random_test",
        "states": [f"y{j}" for j in range(n_states)],
        "prior": rng.dirichlet(np.ones(n_states)).tolist(),
        "actions": [f"a{j}" for j in range(n_actions)],
        "user": {
            "name": "user",
            "utility": rng.random((n_actions, n_states)).tolist(),
            "rationality": lam,
            "observation": channel(n_states, user_signals) if user_signals > 1 else None,
        },
        "speakers": [
            {
                "name": f"s{i}",
                "utility": rng.random((n_actions, n_states)).tolist(),
                "observation": channel(n_states, speaker_signals) if speaker_signals else None,
            }
            for i in range(k)
        ],
        "messages": messages,
        "rounds": rounds,
        "visibility": visibility,
    }
    if talk:
        spec["user"]["conversation"] = [channel(user_signals, 2) for _ in range(rounds)]
    return spec


def random_schemes(rng: np.random.Generator, game) -> list[np.ndarray]:
    """Random open-loop schemes [R, X_i, M], some rows deterministic."""
    out = []
    for s in game.speakers:
        pi = rng.dirichlet(np.ones(game.messages) * 0.7, size=(game.rounds, s.n_signals))
        pi[rng.random(pi.shape[:2]) < 0.2] = np.eye(game.messages)[0]
        out.append(pi)
    return out
