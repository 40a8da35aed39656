"""Exact multi-round best responses, certified exploitability and the general dynamics.

Every expected number comes from theory (one sender cannot beat the one-shot value; the
competition bounds; full revelation fixes the posterior) or from an independent computation:
the brute-force joint of tests/brute_rules.py (plain loops over every signal and message), the
one-round obedience LP over recommendation profiles (persuaders.eval.theory.single_sender, a different
formulation), and grids over rules.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from persuaders.cli.dynamics import main as br_main
from persuaders.envs.game import Game, load_game
from persuaders.envs.game.random_games import random_game
from persuaders.envs.game.schemes import babbling_scheme, full_revelation_scheme
from persuaders.envs.payoff import EnumerationTooLarge, evaluate, solo_outcomes
from persuaders.eval.dynamics.best_response import best_response_dynamics
from persuaders.eval.exploitability import exploitability
from persuaders.eval.response.arrangement import ArrangementTooLarge, arrangement_vertices
from persuaders.eval.response.conversation_tree import SpeakerTree
from persuaders.eval.response.deviation_general import DEVIATION_GAMMA, selection_deviation
from persuaders.eval.response.deviation_joint import simultaneous_deviation
from persuaders.eval.response.deviation_selection import best_ai_deviation
from persuaders.eval.response.multiround import multiround_best_response
from persuaders.eval.response.rules import TableRule
from persuaders.eval.response.sequence_lp import LPSolution, SequenceLP
from persuaders.eval.response.solo_rules import SoloThread
from persuaders.eval.theory import best_ai_bound, bound_fit, competition_bound, full_information_value
from persuaders.eval.theory.single_sender import obedience_lp, single_sender_optimum
from tests.brute import random_spec
from tests.brute_rules import (
    all_keys,
    best_deterministic,
    best_deviation_grid,
    best_selected_deterministic,
    favourable_values,
    joint_table,
    key_of,
    solo_values,
)


def random_table(game, j, rng):
    """A history-dependent rule of speaker ``j``: a random scheme at every information set."""
    return TableRule(
        game, j, {k: rng.dirichlet(np.ones(game.messages), size=game.speakers[j].n_signals) for k in all_keys(game, j)}
    )


def as_lookup(rule):
    return rule.scheme


def tiny(seed, k, visibility="public", user_signals=1, talk=False, lam="inf"):
    rng = np.random.default_rng(seed)
    spec = random_spec(
        rng,
        k=k,
        n_states=2,
        n_actions=2,
        messages=2,
        rounds=2,
        user_signals=user_signals,
        visibility=visibility,
        lam=lam,
        talk=talk,
    )
    if talk:
        spec["user"]["conversation"] = "reveal"
    return Game.from_dict(spec), rng


# ------------------------------------------------------------------------- brute force
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("visibility", ["public", "private"])
def test_lp_dominates_every_deterministic_rule(seed, visibility):
    """Two speakers, two rounds, the other's rule history dependent: the LP bounds every
    deterministic rule of speaker 0 (brute force), equals the best one when its own solution is
    deterministic, and its realised rule is worth what the LP says (brute-force evaluation)."""
    game, rng = tiny(seed, 2, visibility)
    other = random_table(game, 1, rng)
    r = multiround_best_response(game, 0, [babbling_scheme(game, 0), other])
    det = best_deterministic(game, [None, as_lookup(other)], 0)
    assert r.upper >= det - 1e-9
    value, _ = favourable_values(game, joint_table(game, [as_lookup(r.rule), as_lookup(other)], 0), 0)
    assert value == pytest.approx(r.lower, abs=1e-9)
    if r.exact:
        assert r.lower == pytest.approx(r.upper, abs=1e-12)
    entries = np.concatenate([s.ravel() for s in r.rule.table.values()])
    if np.all(np.isclose(entries, 0) | np.isclose(entries, 1)):
        assert r.upper == pytest.approx(det, abs=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(2))
def test_lp_is_the_supremum_over_mixed_rules(seed):
    """Public threads, two rounds: maximising over speaker 0's mixed round-1 behaviour on a grid
    refined around its best point, with each round-2 information set solved by the independent
    one-round obedience LP, approaches the sequence-form LP from below."""
    game, rng = tiny(10 + seed, 2, "public")
    other = random_table(game, 1, rng)
    r = multiround_best_response(game, 0, [babbling_scheme(game, 0), other])
    grid = best_deviation_grid(game, as_lookup(other), obedience_lp)
    assert grid <= r.upper + 1e-9
    assert grid == pytest.approx(r.upper, abs=2e-4)


@pytest.mark.parametrize("talk", [False, True])
def test_one_sender_cannot_beat_the_one_shot_value(talk):
    """docs/science.md, "What the user says, and many rounds": alone, over two rounds, the best
    rule is worth exactly the one-round single-sender optimum (here with enough messages)."""
    for seed in range(3):
        game, _ = tiny(20 + seed, 1, user_signals=2, talk=talk)
        r = multiround_best_response(game, 0, [babbling_scheme(game, 0)])
        assert r.exact
        assert r.upper == pytest.approx(single_sender_optimum(game, 0).sender_value, abs=1e-9)


@pytest.mark.slow
def test_one_round_reproduces_the_auxiliary_game_lps():
    """One round: the sequence-form LP is the obedience LP (best responder) and the
    concavification (logit, within its certified bounds) on the auxiliary game."""
    for lam, k in (("inf", 2), (10.0, 3)):  # the auxiliary obedience LP of three best-responded speakers is large
        for seed in range(3):
            game = random_game(k, 2, 3, seed=seed, regime="outside", rationality=lam, messages=3)
            rng = np.random.default_rng(seed)
            schemes = [rng.dirichlet(np.ones(3), size=2)[None] for _ in range(k)]
            for i in range(k):
                one = simultaneous_deviation(game, i, schemes, 0.0, solver="theory")
                new = multiround_best_response(game, i, schemes)
                if lam == "inf":
                    assert new.upper == pytest.approx(one.best, abs=1e-9) and new.exact
                else:
                    assert new.lower - 1e-9 <= one.best <= new.upper + 1e-9
                    assert new.upper - new.lower < 1e-7  # the certificate's precision, 1e-8 per information set


def test_history_dependent_rules_are_scored_as_the_evaluator_scores_them():
    game, rng = tiny(3, 2, "public")
    rules = [random_table(game, j, rng) for j in range(2)]
    table = joint_table(game, [as_lookup(r) for r in rules], 0)
    exact = evaluate(game, rules)
    spk0 = 0.0
    for cell in table.values():
        w = cell.sum(axis=1)
        post = w / w.sum()
        eu = game.user.utility @ post
        best = eu >= eu.max() - 1e-9
        spk0 += w.sum() * (best / best.sum()) @ (game.speakers[0].utility @ post)
    assert exact.speaker_values["s0"] == pytest.approx(spk0, abs=1e-12)
    # a table rule's key decoding agrees with the brute force's key convention
    assert key_of(game, 1, 1, (0, 0), [(1, 0), (0, 0)]) == (1, (0, 0), (1, 0))


# ------------------------------------------------------------------------- best-AI, closed loop
def solo_of(game, j):
    d = game.to_dict()
    d["speakers"] = [d["speakers"][j]]
    return Game.from_dict(d)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("talk", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_best_ai_deviation_matches_brute_force_over_closed_loop_rules(seed, talk):
    """Two rounds, a rival with a random closed-loop rule on its thread: the certified upper bound
    is at least the best deterministic closed-loop rule of speaker 0 (brute force over every
    message per thread node and signal), and the rule returned is worth the lower bound and is
    selected (brute-force evaluation of its solo thread)."""
    game, rng = tiny(30 + seed, 2, user_signals=2, talk=talk)
    rival = random_table(solo_of(game, 1), 0, rng)
    babble = babbling_scheme(game, 0)
    e = exploitability([babble, rival], game, protocol="best_ai")
    _, vstar, rival_all = solo_values(game, 1, rival.scheme)
    lose = rival_all[0]
    own, user0, _ = solo_values(game, 0, lambda key: babble[key[0]])
    current = own if user0 > vstar else lose if user0 < vstar else (own + lose) / 2
    assert e.current_value["s0"] == pytest.approx(current, abs=1e-9)
    brute = max(current, best_selected_deterministic(game, 0, vstar, lose))
    assert e.current_value["s0"] + e.gain_upper["s0"] >= brute - 1e-9
    assert e.gain_upper["s0"] - e.gain_lower["s0"] < 1e-8
    rule = e.best_schemes["s0"]
    if isinstance(rule, TableRule):
        vi, vu, _ = solo_values(game, 0, rule.scheme)
        assert vu > vstar
        assert vi == pytest.approx(e.current_value["s0"] + e.gain_lower["s0"], abs=1e-9)


@pytest.mark.parametrize("lam", ["inf", pytest.param(10.0, marks=pytest.mark.slow)])
def test_a_lone_best_ai_speaker_reacts_to_what_the_user_says(lam):
    """Alone under best_ai (always selected) with a user who reveals her signal first, the best
    closed-loop rule is worth the single-sender optimum conditioned on what she said
    (docs/science.md, "What the user says, and many rounds"), which an open-loop rule cannot
    reach in general; the bounds are certified around it."""
    for seed in range(3):
        game, _ = tiny(40 + seed, 1, user_signals=2, talk=True, lam=lam)
        e = exploitability([babbling_scheme(game, 0)], game, protocol="best_ai")
        opt = single_sender_optimum(game, 0).sender_value
        lo = e.current_value["s0"] + e.gain_lower["s0"]
        hi = e.current_value["s0"] + e.gain_upper["s0"]
        if lam == "inf":
            assert hi == pytest.approx(opt, abs=1e-9) and hi - lo < 1e-8
        else:
            assert lo - 1e-6 <= opt <= hi + 1e-9 and hi - lo < 1e-5


def brackets_the_lp(game, i, schemes, solo, gen) -> bool:
    """``gen`` (a solo-thread deviation of speaker ``i``) has the one-round constrained persuasion
    LP's current value and, where that LP is exact, brackets its optimum within 1e-8; True then."""
    one = best_ai_deviation(game, i, schemes, *solo)
    assert gen.current == pytest.approx(one.current, abs=1e-12)
    if one.bound != "exact":
        return False
    assert gen.lower - 1e-8 <= one.best <= gen.upper + 1e-8
    assert gen.upper - gen.lower < 1e-8
    return True


def test_one_round_best_ai_reproduces_the_constrained_persuasion_lp():
    """One round, a silent user: every closed-loop rule is open-loop, and the certified bounds of
    the solo sequence-form LP bracket the one-round constrained persuasion problem
    (persuaders.eval.response.deviation_selection, an obedience LP over recommendations with a floor) to 1e-8."""
    checked = 0
    for seed in range(4):
        game = random_game(3, 3, 3, seed=seed, regime="outside", messages=4)
        rng = np.random.default_rng(seed)
        schemes = [rng.dirichlet(np.ones(4), size=3)[None] for _ in range(3)]
        solo = solo_outcomes(game, schemes)
        for i in range(3):
            checked += brackets_the_lp(game, i, schemes, solo, selection_deviation(game, i, schemes, *solo))
    assert checked >= 6


def test_a_reused_solo_thread_keeps_its_brackets_on_repeated_questions():
    """The best-AI dynamics keep one solo thread per speaker and ask it the same questions pass after
    pass (it answers each once): over rival profiles seen once and again, its brackets are a fresh
    thread's and hold the one-round constrained persuasion LP's value (an independent program)."""
    game = random_game(3, 3, 3, seed=1, regime="outside", messages=4)
    threads = [SoloThread(game, i, gamma=DEVIATION_GAMMA) for i in range(3)]
    rng = np.random.default_rng(7)
    profiles = [[rng.dirichlet(np.ones(4), size=3)[None] for _ in range(3)] for _ in range(2)]
    checked = 0
    for schemes in profiles + profiles:  # each profile twice: the second time from the threads' memory
        solo = solo_outcomes(game, schemes)
        for i in range(3):
            gen = selection_deviation(game, i, schemes, *solo, thread=threads[i])
            fresh = selection_deviation(game, i, schemes, *solo)
            assert (gen.lower, gen.upper) == pytest.approx((fresh.lower, fresh.upper), abs=1e-12)
            checked += brackets_the_lp(game, i, schemes, solo, gen)
    assert checked >= 12


# ------------------------------------------------------------------------- certified exploitability
def test_full_revelation_is_certified_unexploitable_over_three_rounds():
    """With one speaker revealing the state, her posterior is a point mass whatever else is
    said (docs/science.md, "The competition bound"), so no deviation pays."""
    game = random_game(2, 3, 3, seed=4, regime="outside", messages=2, rounds=2)
    schemes = [full_revelation_scheme(game, i) for i in range(2)]
    e = exploitability(schemes, game)
    assert e.certified and e.upper < 1e-9 and e.gap < 1e-9
    d = e.to_dict()
    json.dumps(d)
    for key in ("upper", "lower", "gap", "gain_upper", "gain_lower", "certified", "exploitability", "method", "bound"):
        assert key in d


def test_a_logit_user_gets_bounds_around_the_truth():
    """The lower bound is an actual rule's value; the certified upper bound is above a brute
    grid over two-point splits (the one-round optimum, which no multi-round rule of a lone
    speaker beats)."""
    game = load_game("kg_logit").replace(rounds=2)
    e = exploitability([babbling_scheme(game, 0)], game)
    best = 0.443670151  # docs/science.md, "Reference numbers": the logit judge, lambda = 10
    lo = e.current_value["prosecutor"] + e.gain_lower["prosecutor"]
    hi = e.current_value["prosecutor"] + e.gain_upper["prosecutor"]
    assert lo <= best + 1e-9 <= hi + 2e-9
    assert hi - lo < 1e-6


def test_a_lone_speakers_columns_regroup_over_rounds_at_their_value():
    """aligned3 (one speaker, a logit user, three states, two messages, two rounds): three leaves
    that reveal the state, all said at one last-round information set, are regrouped into a rule
    with two messages per round that reveals it (one state, then the other two apart), so the user
    gets the full-information value sum_y mu(y) sum_a softmax(lam u[:, y])_a u[a, y]. With a second
    speaker who talks, the information sets are no longer the speaker's own messages alone."""
    game = load_game("aligned3")
    lp = SequenceLP(SpeakerTree(game, 0, [babbling_scheme(game, 0)]))
    assert lp.tree.own_messages_only() and lp.n_info == [1, 2] and lp.nx == 3
    rho = np.zeros((3, lp.n_seq))
    rho[:, 0] = 1.0  # every signal says message 0 in round 1
    crowded = LPSolution(0.0, rho, [np.ones(3), np.zeros(0)], np.zeros((2, 3)))
    regrouped = lp.regroup(crowded, [np.eye(3), np.zeros((0, 3))])
    assert regrouped is not None
    sol, q = regrouped
    assert [int((w > 0).sum()) for w in sol.weights] == [2, 1]
    np.testing.assert_allclose(lp.masses(sol).sum(axis=0), np.ones(3), atol=1e-15)
    u, lam = game.user.utility, game.user.model.rationality
    soft = np.exp(lam * u) / np.exp(lam * u).sum(axis=0, keepdims=True)  # [A, Y]: her response to each state
    full = float(game.prior @ (soft * u).sum(axis=0))
    assert evaluate(game, [lp.realise(sol, q)]).user_value == pytest.approx(full, abs=1e-12)
    assert full == pytest.approx(0.8732, abs=1e-4)  # the figure of the game
    two = random_game(2, 3, 2, seed=0, rationality=10.0, messages=2, rounds=2)
    assert not SpeakerTree(two, 0, [babbling_scheme(two, j) for j in range(2)]).own_messages_only()
    assert all(SoloThread(two, i).tree.own_messages_only() for i in range(2))  # alone on a solo thread


def test_a_solo_thread_priced_on_a_small_budget_still_brackets_the_truth():
    """A budget on the certified maximisations that price the columns (the dynamics' threads) only
    loosens the upper end: kg_logit's prosecutor alone still has her rule below the reference value
    of the logit judge and the bound above it."""
    game = load_game("kg_logit")
    best = 0.443670151  # docs/science.md, "Reference numbers": the logit judge, lambda = 10
    for budget in (None, 2_000):
        thread = SoloThread(game, 0, pricing_budget=budget)
        rule = thread.best_rule(None)
        assert rule is not None
        assert rule.speakers[0] <= best + 1e-9 <= thread.upper(None) + 2e-9
        assert rule.speakers[0] == pytest.approx(best, abs=1e-6)


def test_too_large_games_are_refused_with_the_size_and_the_limit():
    game = random_game(4, 2, 2, seed=0, messages=4, rounds=4)
    with pytest.raises(EnumerationTooLarge, match="limit"):
        multiround_best_response(game, 0, [babbling_scheme(game, i) for i in range(4)])
    with pytest.raises(ArrangementTooLarge, match="limit"):
        arrangement_vertices(np.random.default_rng(0).normal(size=(400, 5)), 5, limit=1000)


# ------------------------------------------------------------------------- dynamics
@pytest.mark.parametrize("protocol", ["simultaneous", "best_ai"])
def test_general_dynamics_meet_the_bounds_inside_the_hull(protocol):
    """Two rounds, three states, two messages (M^R >= |Y|): every converged outcome inside the
    hull gives the user her full-information value (the competition and best-AI bounds, eps = 0)."""
    bound_fn = competition_bound if protocol == "simultaneous" else best_ai_bound
    for seed in range(2):
        game = random_game(2, 3, 3, seed=seed, regime="inside", messages=2, rounds=2)
        r = best_response_dynamics(game, protocol)
        assert r.engine == "general"
        assert r.converged
        assert r.user_value >= bound_fn(game) - 1e-6
        assert r.user_value == pytest.approx(full_information_value(game), abs=1e-6)
        assert r.exploitability.upper < 2e-6


@pytest.mark.slow
def test_approximate_equilibria_meet_the_relaxed_bound():
    """A logit user over two rounds: the dynamics stop at a delta-equilibrium (delta_i the certified
    gain_upper[i]); the bound's proof then gives user >= full information - 2 eps - sum_i w_i delta_i."""
    for seed in range(2):
        game = random_game(2, 2, 2, seed=seed, regime="inside", rationality=10.0, messages=2, rounds=2)
        r = best_response_dynamics(game, "simultaneous")
        fit = bound_fit(game)
        assert r.converged and r.exploitability.certified
        delta = sum(w * r.exploitability.gain_upper[s.name] for w, s in zip(fit.weights, game.speakers, strict=True))
        assert delta < 1e-3
        assert r.user_value >= competition_bound(game) - delta - 1e-9


@pytest.mark.slow
def test_hull_pair_over_two_rounds_reaches_full_information():
    game = load_game("hull_pair").replace(rounds=2)
    for protocol in ("simultaneous", "best_ai"):
        r = best_response_dynamics(game, protocol)
        assert r.converged and r.user_value == pytest.approx(0.6, abs=1e-5)
        assert r.exploitability.upper < 2e-6


def test_command_prints_the_certified_result(capsys):
    assert (
        br_main(["random:k=2,states=3,actions=3,seed=1,messages=2,rounds=2", "--protocol", "simultaneous", "--json"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    for key in ("converged", "passes", "user_value", "speaker_values", "exploitability", "schemes", "profile"):
        assert key in out
    assert out["exploitability"]["upper"] is not None and out["engine"] == "general"


def _hull_pair_file(tmp_path, **changes):
    import yaml

    spec = load_game("hull_pair").to_dict()
    spec.update(changes)
    path = tmp_path / "game.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["simultaneous", "best_ai"])
def test_command_runs_a_yaml_game_over_two_rounds(tmp_path, protocol, cli):
    """The command on a game file: the JSON keys, and the known answer of hull_pair over two
    rounds (eps = 0, so the bounds say the user gets her full-information value 0.6)."""
    path = _hull_pair_file(tmp_path, rounds=2)
    res = cli(br_main, str(path), "--protocol", protocol, "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    for key in ("converged", "passes", "user_value", "speaker_values", "exploitability", "profile"):
        assert key in out
    assert out["converged"] and out["user_value"] == pytest.approx(0.6, abs=1e-5)
    e = out["exploitability"]
    assert e["certified"] and e["upper"] < 2e-6 and e["lower"] <= e["upper"]
    assert set(out["profile"]) == {"prosecution", "defence"}
