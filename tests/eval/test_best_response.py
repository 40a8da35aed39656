"""One best-response interface: exact where a conversation matters, with verdicts that mean one thing.

Expected numbers come from theory (full information is an equilibrium outcome when a speaker's
utility is the user's; the competition bound) or from independent computations written here with
scipy's LP solver directly: the best rule with at most ``M`` last-round messages of a lone
speaker over two rounds, by a grid over its mixed round-1 behaviour and, in round 2, every choice
of ``M`` recommended actions.
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pytest
from scipy import optimize

from persuaders.envs.game import load_game
from persuaders.envs.game.random_games import random_game
from persuaders.envs.game.schemes import babbling_scheme
from persuaders.envs.payoff.exact import evaluate
from persuaders.eval.dynamics import best_response_dynamics
from persuaders.eval.dynamics.starts import start_profile
from persuaders.eval.exploitability import exploitability
from persuaders.eval.response import NoSolver, ResponseProblem, best_response, response_solvers
from persuaders.eval.response.solo_rules import SoloThread
from tests.brute_rules import favourable_values, joint_table


def full_information(game) -> float:
    """E_y v(e_y): the user's value when she learns the state (logit: softmax(lam u[., y]) . u[., y])."""
    u, lam = game.user.utility, game.user.model.rationality
    total = 0.0
    for y, p in enumerate(game.prior):
        if math.isinf(lam):
            total += p * u[:, y].max()
        else:
            s = np.exp(lam * (u[:, y] - u[:, y].max()))
            total += p * (s / s.sum()) @ u[:, y]
    return float(total)


def m_message_value(prior_x, post_x, u, ui, m):
    """One round, one speaker, a best-responding user with no signal: the best split of the mass vector
    ``prior_x`` (speaker's signals) over at most ``m`` messages, each recommending one action, by
    enumerating the ``m`` actions and solving the obedience LP on them (ties for the speaker)."""
    n_x, n_a = len(prior_x), u.shape[0]
    if prior_x.sum() <= 0:
        return 0.0
    best = -np.inf
    for acts in itertools.combinations(range(n_a), min(m, n_a)):
        k = len(acts)  # variables y[j, x]: mass of signal x sent with the message recommending acts[j]
        c = -np.array([post_x[x] @ ui[a] for a in acts for x in range(n_x)])
        a_eq = np.zeros((n_x, k * n_x))
        for j in range(k):
            a_eq[np.arange(n_x), j * n_x + np.arange(n_x)] = 1.0
        rows = []
        for j, a in enumerate(acts):
            for b in range(n_a):
                if b != a:
                    row = np.zeros(k * n_x)
                    row[j * n_x : (j + 1) * n_x] = -(post_x @ (u[a] - u[b]))
                    rows.append(row)
        res = optimize.linprog(
            c, A_ub=np.array(rows), b_ub=np.zeros(len(rows)), A_eq=a_eq, b_eq=prior_x, bounds=(0, None), method="highs"
        )
        if res.status == 0:
            best = max(best, -res.fun)
    return best


def lone_speaker_two_rounds(game, m, levels=6, n=7):
    """The best rule of a lone speaker who sees the state, two rounds, ``m`` messages per round: a grid
    (zoomed ``levels`` times, each to ``2 / (n - 1)`` of its width: a final spacing of about 7e-4)
    over ``p[x]`` = P(round-1 message 0 | x) and, per round-1 message, the best ``m``-message round 2
    (:func:`m_message_value`)."""
    post_x = np.diag(game.prior)  # [X, Y]: P(y, x) with x = y, so the state belief of signal mass q is q / |q|
    u, ui = game.user.utility, game.speakers[0].utility
    ones = np.ones(game.n_states)

    def value(p):
        return m_message_value(p, post_x, u, ui, m) + m_message_value(ones - p, post_x, u, ui, m)

    lo, hi = np.zeros(game.n_states), np.ones(game.n_states)
    best, arg = -np.inf, None
    for _ in range(levels):
        axes = [np.linspace(lo[d], hi[d], n) for d in range(game.n_states)]
        for p in itertools.product(*axes):
            v = value(np.array(p))
            if v > best:
                best, arg = v, np.array(p)
        h = (hi - lo) / (n - 1)
        lo, hi = np.clip(arg - h, 0, 1), np.clip(arg + h, 0, 1)
    return best


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_two_rounds_with_too_few_messages_are_solved_exactly(seed):
    """Three states, two messages, two rounds: one round cannot reveal the state, two can. The
    interface's answer for a lone speaker is settled and matches the independent grid over its mixed
    round-1 behaviour with every choice of two recommendations in round 2."""
    game = random_game(1, 3, 3, seed=seed, regime="outside", rationality="inf", messages=2, rounds=2)
    problem = ResponseProblem.make(game, [babbling_scheme(game, 0)], 0, "simultaneous")
    r = best_response(problem)
    assert r.settled(1e-8)
    reference = lone_speaker_two_rounds(game, 2)
    assert reference <= r.upper + 1e-9
    assert r.lower == pytest.approx(reference, abs=2e-4)
    # the rule it returns is worth its lower end when scored by brute force (ties for the speaker)
    rules = [lambda key, rule=r.rule: rule.scheme(key)] if hasattr(r.rule, "scheme") else [lambda key: r.rule[key[0]]]
    value, _ = favourable_values(game, joint_table(game, rules, 0), 0)
    assert value == pytest.approx(r.lower, abs=1e-8)


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["simultaneous", "best_ai"])
def test_aligned_helper_reveals_the_state_over_two_rounds(protocol):
    """aligned3: a lone speaker whose utility is the user's (logit, lam = 10), three states, two
    messages, two rounds. Revealing `low` vs the rest, then `mid` vs `high`, gives her full
    information; the dynamics end there, certified."""
    game = load_game("aligned3")
    res = best_response_dynamics(game, protocol)
    assert res.converged and res.reason is None
    assert res.user_value == pytest.approx(full_information(game), abs=1e-6)
    assert full_information(game) == pytest.approx(0.8732, abs=1e-4)
    e = res.exploitability
    assert e.settled and e.upper <= 1e-5 and e.gap <= 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["simultaneous", "best_ai"])
def test_tug_of_war_ends_at_full_revelation(protocol):
    """tug3: two speakers pulling the user up and down, a best responder, three states, two messages,
    two rounds. The cone distance is 0 (their sum is her utility plus a constant), so the competition
    bound is full information, 0.7; both revealing is an equilibrium worth it. From babbling the
    simultaneous dynamics cycle; another start reaches it, and the verdict says so."""
    game = load_game("tug3")
    res = best_response_dynamics(game, protocol)
    assert full_information(game) == pytest.approx(0.7, abs=1e-12)
    assert res.converged and res.user_value == pytest.approx(0.7, abs=1e-6)
    assert res.exploitability.settled and res.exploitability.upper <= 1e-5
    assert res.attempts and res.attempts[-1]["start"] == res.start
    if protocol == "simultaneous":
        assert res.attempts[0]["start"] == "babbling" and not res.attempts[0]["converged"]
        assert res.attempts[0]["reason"] == "cycle"


def test_a_speaker_left_on_a_tie_breaks_it_over_two_rounds():
    """A lone speaker who wants `left` in both states, a best responder indifferent at the prior
    (0.5, 0.5), two rounds. Babbling leaves her on the tie, which the evaluator splits evenly (0.5 to
    the speaker); his supremum is 1 (posterior 0.5 + g on a message of mass 0.5 / (0.5 + g), state
    `b` on the other, g -> 0). The dynamics compare a move with the evaluator's value, so he leaves
    the tie for a strict rule worth 1 up to its margin, and the profile is certified."""
    game = load_game(
        {
            "name": "tie2",
            "states": ["a", "b"],
            "prior": [0.5, 0.5],
            "actions": ["left", "right"],
            "user": {"name": "user", "utility": [[1.0, 0.0], [0.0, 1.0]], "rationality": "inf"},
            "speakers": [{"name": "pull", "utility": [[1.0, 1.0], [0.0, 0.0]]}],
            "messages": 2,
            "rounds": 2,
            "visibility": "public",
        }
    )
    res = best_response_dynamics(game, "simultaneous")
    assert res.converged and res.reason is None
    assert res.speaker_values["pull"] == pytest.approx(1.0, abs=1e-5)
    assert res.user_value == pytest.approx(0.5, abs=1e-5)
    e = res.exploitability
    assert e.current_value["pull"] + e.gain_upper["pull"] - res.speaker_values["pull"] <= 1e-5


def test_a_certificate_cut_by_its_deadline_still_brackets_the_best_rule():
    """Babbling in a two-round logit game with fewer messages than states: exploitability with a
    deadline already passed stops refining (no pricing), so its upper ends are wider but still
    certified: each lies above the value of the best rule the full certificate found, an actual
    rule (the evaluator's value of it, computed here)."""
    game = random_game(2, 3, 2, seed=5, regime="outside", rationality=10.0, messages=2, rounds=2)
    profile = start_profile(game, "babbling")
    full = exploitability(profile, game, "simultaneous", tol=1e-4)
    cut = exploitability(profile, game, "simultaneous", tol=1e-4, deadline=time.monotonic())
    for i, name in enumerate(game.speaker_names):
        rules = list(profile)
        rules[i] = full.best_schemes[name]
        found = evaluate(game, rules).speaker_values[name]
        assert found == pytest.approx(full.best_value[name], abs=1e-9)
        assert math.isfinite(cut.gain_upper[name])
        assert cut.current_value[name] + cut.gain_upper[name] >= found - 1e-9
    assert cut.gap > full.gap


@pytest.mark.slow
def test_a_gain_the_grid_misses_is_found_by_the_certificate_and_played():
    """A lone speaker, one round, four states, a logit user: the dynamics' moves take the best rule
    over the belief grid (no certified pricing), the certificate finds a better one, and the start
    continues with it, ending certified. Its value exceeds the first stage's (the same dynamics
    without a certificate) by at least the gain the first certificate proved."""
    game = random_game(1, 4, 3, seed=1427064937, regime="outside", epsilon=0.25, rationality=10.0, messages=5)
    res = best_response_dynamics(game, "simultaneous", tolerance=1e-4)
    first, last = res.attempts[0], res.attempts[-1]
    assert first["reason"] == "gain found" and first["exploitability_lower"] > 1e-4
    assert first["start"] == last["start"] == "babbling" and len(res.attempts) >= 2
    assert res.converged and res.exploitability.upper <= 1e-4
    name = game.speaker_names[0]
    grid_only = best_response_dynamics(game, "simultaneous", check=False)  # the first stage, uncertified
    assert grid_only.reason == "unchecked"
    assert res.speaker_values[name] >= grid_only.speaker_values[name] + first["exploitability_lower"] - 1e-9


def test_a_solo_thread_past_its_deadline_answers_looser_and_does_not_remember_it():
    """A best-AI solo thread (logit user, one round, three states) asked with its deadline passed
    gives a certified bound on the speaker's best solo value that is no tighter than a fresh
    thread's, and does not keep it: asked again without the deadline, it answers as the fresh
    thread does (so certificates of one game can share threads whatever their deadlines)."""
    game = random_game(2, 3, 2, seed=4, regime="inside", rationality=10.0, messages=4)
    fresh = SoloThread(game, 0).upper(None)
    shared = SoloThread(game, 0, deadline=time.monotonic())
    cut = shared.upper(None)
    assert math.isfinite(cut) and cut > fresh + 1e-4  # no pricing: the grid's dual bound
    shared.deadline = None
    assert shared.upper(None) == pytest.approx(fresh, abs=1e-12)


def test_rivals_revealing_the_state_settle_without_the_message_program():
    """Two speakers who see the state tell it over two rounds (two messages, four states, a logit
    user): whatever one says, the other's messages leave her a point mass, so no deviation gains.
    Exploitability is settled at 0 with each speaker's value the full-information one computed by
    hand, and since the relaxation's upper end already meets the current value, the M-message
    program (the relaxation wants more than M messages) is not run."""
    game = random_game(2, 4, 3, seed=3, regime="outside", rationality=10.0, messages=2, rounds=2)
    e = exploitability(start_profile(game, "full_revelation"), game, "simultaneous", tol=1e-4)
    assert e.settled and e.upper <= 1e-6
    lam = game.user.model.rationality
    for i, name in enumerate(game.speaker_names):
        ui = game.speakers[i].utility
        s = np.exp(lam * (game.user.utility - game.user.utility.max(axis=0)))
        by_hand = float(sum(p * (s[:, y] / s[:, y].sum()) @ ui[:, y] for y, p in enumerate(game.prior)))
        assert e.current_value[name] == pytest.approx(by_hand, abs=1e-9)
        assert "no program run" in e.method[name]


def test_a_spent_time_budget_stops_the_dynamics_and_says_so():
    """tug3 under `simultaneous` with a budget too small for one pass: the first start stops before
    moving, is certified (no later start has time), and the verdict names the budget; with no
    budget the same call reaches full revelation (the test above)."""
    game = load_game("tug3")
    res = best_response_dynamics(game, "simultaneous", time_limit=1e-9)
    assert not res.converged and res.reason == "time budget"
    assert [a["start"] for a in res.attempts] == ["babbling"] and res.attempts[0]["passes"] == 0
    assert res.exploitability is not None and res.exploitability.upper > 1e-5
    with pytest.raises(ValueError, match="time_limit"):
        best_response_dynamics(game, "simultaneous", time_limit=0)


@pytest.mark.slow
def test_verdict_fields_read_right():
    """`settled` (alias `certified`) means a closed bracket; `bounded` only a finite upper end."""
    game = load_game("kg_logit").replace(rounds=2)
    e = exploitability([babbling_scheme(game, 0)], game, "simultaneous")
    d = e.to_dict()
    assert d["status"] == "settled" and d["settled"] and d["certified"] and d["bounded"]
    assert d["gap"] <= d["tolerance"]
    wide = exploitability([babbling_scheme(game, 0)], game, "simultaneous", method="numerical")
    assert wide.to_dict()["status"] == "lower bound" and not wide.settled and not wide.bounded


def test_each_solver_says_why_it_does_not_apply():
    game = load_game("kg").replace(rounds=2)
    problem = ResponseProblem.make(game, [babbling_scheme(game, 0)], 0, "simultaneous")
    with pytest.raises(NoSolver, match="one_round_joint: more than one round"):
        best_response(problem, solver="one_round_joint")
    assert {"one_round_joint", "sequence_form", "solo_thread", "numerical"} <= set(response_solvers())
