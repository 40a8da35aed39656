"""Brute-force references for history-dependent rules (tests of persuaders.eval.response.multiround).

Nothing here uses the project's engine, trees or LPs: the full joint

    P(y, x0, x_1..x_k, z, m) = mu0(y) O_0[y, x0] prod_i O_i[y, x_i] prod_t C_t[x0, z_t]
                               prod_{i,t} pi_i^t[key_i^t][x_i, m_i^t]

is multiplied out with plain loops, each speaker's scheme read from its rule at its information
set key ``(t, (z_0..z_t), heard messages of rounds < t)`` (public threads: every speaker's, in
speaker order; private threads: its own), as docs/science.md, "Observations" defines what a
speaker hears. Only for tiny games.
"""

from __future__ import annotations

import itertools

import numpy as np


def key_of(game, i, t, zs, ms):
    """Speaker ``i``'s round-``t`` key; ``ms[s][j]`` is speaker ``j``'s round-``s`` message."""
    heard = range(game.n_speakers) if game.visibility == "public" else [i]
    return (t, tuple(zs[: t + 1]), tuple(ms[s][j] for s in range(t) for j in heard))


def joint_table(game, rules, i):
    """``{(x0, zs, ms): P[y, x_i]}`` over terminal histories; ``rules[j](key) -> [X_j, M]``."""
    k, r, m = game.n_speakers, game.rounds, game.messages
    out: dict = {}
    sig = [range(s.n_signals) for s in game.speakers]
    z_ranges = [range(c.shape[1]) for c in game.user.conversation]
    for y in range(game.n_states):
        for x0 in range(game.user.n_signals):
            p0 = game.prior[y] * game.user.observation[y, x0]
            if p0 == 0:
                continue
            for xs in itertools.product(*sig):
                px = p0 * np.prod([game.speakers[j].observation[y, xs[j]] for j in range(k)])
                if px == 0:
                    continue
                for zs in itertools.product(*z_ranges):
                    pz = px * np.prod([game.user.conversation[t][x0, zs[t]] for t in range(r)])
                    if pz == 0:
                        continue
                    for flat in itertools.product(range(m), repeat=k * r):
                        ms = [flat[t * k : (t + 1) * k] for t in range(r)]
                        p = pz
                        for t in range(r):
                            for j in range(k):
                                p *= rules[j](key_of(game, j, t, zs, ms))[xs[j], ms[t][j]]
                        if p == 0:
                            continue
                        cell = out.setdefault(
                            (x0, zs, tuple(ms)), np.zeros((game.n_states, game.speakers[i].n_signals))
                        )
                        cell[y, xs[i]] += p
    return out


def favourable_values(game, table, i):
    """(speaker ``i``'s value, the user's value) when she best-responds with ties broken for ``i``."""
    return favourable_outcome(game, table, i)[:2]


def favourable_outcome(game, table, i):
    """Speaker ``i``'s value, the user's, and every speaker's values ``[k]`` when she best-responds
    with ties broken for ``i``."""
    u, ui = game.user.utility, game.speakers[i].utility
    vi = vu = 0.0
    every = np.zeros(game.n_speakers)
    for cell in table.values():
        w = cell.sum(axis=1)
        if w.sum() <= 0:
            continue
        post = w / w.sum()
        eu, eui = u @ post, ui @ post
        best = np.flatnonzero(eu >= eu.max() - 1e-9)
        a = best[np.argmax(eui[best])]
        vi += w.sum() * eui[a]
        vu += w.sum() * eu[a]
        every += w.sum() * np.array([s.utility[a] @ post for s in game.speakers])
    return vi, vu, every


def all_keys(game, i):
    """Every information-set key of speaker ``i`` (every message profile, every user message)."""
    k, r, m = game.n_speakers, game.rounds, game.messages
    nh = k if game.visibility == "public" else 1
    keys = []
    for t in range(r):
        for zs in itertools.product(*[range(c.shape[1]) for c in game.user.conversation[: t + 1]]):
            keys.extend((t, tuple(zs), tuple(heard)) for heard in itertools.product(range(m), repeat=t * nh))
    return keys


def deterministic_rules(game, i):
    """Every deterministic rule of speaker ``i``: a message per (information set, signal)."""
    keys = all_keys(game, i)
    n_x, m = game.speakers[i].n_signals, game.messages
    for choice in itertools.product(range(m), repeat=len(keys) * n_x):
        table = {}
        for n, key in enumerate(keys):
            s = np.zeros((n_x, m))
            s[np.arange(n_x), choice[n * n_x : (n + 1) * n_x]] = 1.0
            table[key] = s
        yield table


def best_deterministic(game, rules, i):
    """The best favourable value over speaker ``i``'s deterministic rules, the others' ``rules`` fixed."""
    best = -np.inf
    for table in deterministic_rules(game, i):
        rs = list(rules)
        rs[i] = table.__getitem__
        best = max(best, favourable_values(game, joint_table(game, rs, i), i)[0])
    return best


def _round_two_tables(game, other):
    """For speaker 0 of a two-round, two-speaker public game: at each of its round-2 information
    sets, ``T[type][y, x]`` = P(y, x_0, type, the set) when it says its set's round-1 message for
    sure (type = the user's signal and the other's round-2 message)."""
    n_x, m = game.speakers[0].n_signals, game.messages
    tables: dict = {}
    for m0 in range(m):

        def rule(key, m0=m0):
            s = np.full((n_x, m), 1.0 / m)
            if key[0] == 0:
                s[:] = 0.0
                s[:, m0] = 1.0
            return s

        for (x0, zs, ms), cell in joint_table(game, [rule, other], 0).items():
            if ms[1][0] == 0:
                tables.setdefault(key_of(game, 0, 1, zs, ms), {})[(x0, ms[1][1])] = cell * m
    return tables


def _set_value(table, a, game, obedience_lp):
    """The one-round optimum at an information set with speaker mass ``a[x]``, by the obedience LP
    over recommendation profiles (written as a prior, a speaker channel and a user channel)."""
    t = np.stack(list(table.values()))  # [T, Y, X]
    big_a = t.sum(axis=0) * a[None, :]  # [Y, X]
    ay = big_a.sum(axis=1)
    b = t.sum(axis=2)  # [T, Y]
    s = b.sum(axis=0)
    z = ay.sum()
    if z <= 0:
        return 0.0
    oi = np.where(ay[:, None] > 0, big_a / np.where(ay > 0, ay, 1)[:, None], 1.0 / len(a))
    o0 = np.where(s[None, :] > 0, b / np.where(s > 0, s, 1)[None, :], 1.0 / len(b)).T  # [Y, T]
    return z * obedience_lp(ay / z, o0, oi, game.user.utility, game.speakers[0].utility)[0]


def best_deviation_grid(game, other, obedience_lp, n=11, levels=4):
    """Speaker 0's best mixed rule: its round-1 behaviour ``p(x) = P(m = 0 | x)`` on a grid zoomed
    around the best point, round 2 solved exactly per information set (the value is concave in ``p``)."""
    tables = _round_two_tables(game, other)

    def value(p):
        total = 0.0
        for key, table in tables.items():
            a = p if key[2][0] == 0 else 1.0 - p
            total += _set_value(table, a, game, obedience_lp)
        return total

    lo, hi, best, arg = np.zeros(2), np.ones(2), -np.inf, None
    for _ in range(levels):
        axes = [np.linspace(lo[d], hi[d], n) for d in range(2)]
        for p0 in axes[0]:
            for p1 in axes[1]:
                v = value(np.array([p0, p1]))
                if v > best:
                    best, arg = v, np.array([p0, p1])
        h = (hi - lo) / (n - 1)
        lo, hi = np.clip(arg - h, 0, 1), np.clip(arg + h, 0, 1)
    return best


def solo_values(game, i, rule):
    """(speaker ``i``'s value, the user's value, every speaker's value) with ``i`` alone on its thread,
    ``rule(key) -> [X_i, M]`` read at solo-thread keys ``(t, (z_0..z_t), own messages of rounds < t)``;
    ties broken for ``i`` (deterministic rules of random games have none)."""
    d = game.to_dict()
    d["speakers"] = [d["speakers"][i]]
    solo = type(game).from_dict(d)
    table = joint_table(solo, [rule], 0)
    return favourable_outcome(game, table, i)


def best_selected_deterministic(game, i, vstar, lose):
    """Speaker ``i``'s best payoff under best-AI selection over its deterministic solo rules: its own
    solo value when the user's solo value beats ``vstar``, ``lose`` when it is below."""
    d = game.to_dict()
    d["speakers"] = [d["speakers"][i]]
    solo = type(game).from_dict(d)
    best = -np.inf
    for table in deterministic_rules(solo, 0):
        vi, vu, _ = solo_values(game, i, table.__getitem__)
        if vu > vstar + 1e-12:
            best = max(best, vi)
        elif vu < vstar - 1e-12:
            best = max(best, lose)
    return best
