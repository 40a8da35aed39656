"""Tests of the exact analytic quantities (persuaders.eval.theory) and their command-line tool
(persuaders.cli.bounds).

Expected numbers come from docs/science.md (Kamenica-Gentzkow and the hull pair) or from small
independent computations written out here with numpy; never from the code under test.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from persuaders.cli.bounds import format_table
from persuaders.cli.bounds import main as bounds_main
from persuaders.envs.game import Game, load_game
from persuaders.envs.game.users import LogitUser, quantal_response, register_user_model
from persuaders.envs.payoff import evaluate
from persuaders.eval import theory
from tests.hypothesis_profiles import examples

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


# ------------------------------------------------------------------ independent reference helpers
def ref_response(eu: np.ndarray, lam: float) -> np.ndarray:
    """Logit response written out independently (argmax with ties split for lam = inf)."""
    eu = np.asarray(eu, dtype=float)
    if math.isinf(lam):
        best = np.isclose(eu, eu.max(), atol=1e-12, rtol=0).astype(float)
        return best / best.sum()
    z = np.exp(lam * (eu - eu.max()))
    return z / z.sum()


def ref_payoffs(post: np.ndarray, u: np.ndarray, util: np.ndarray, lam: float) -> float:
    """Expected ``util`` when a user with utility ``u`` acts at belief ``post``."""
    return float(ref_response(u @ post, lam) @ (util @ post))


def ref_revelation_and_babbling(mu, o0, oi, u, ui, lam) -> tuple[float, float]:
    """Sender's value when it reveals its signal, and when it says nothing."""
    reveal = 0.0
    for x in range(oi.shape[1]):
        for x0 in range(o0.shape[1]):
            joint = mu * oi[:, x] * o0[:, x0]
            if joint.sum() > 1e-15:
                reveal += joint.sum() * ref_payoffs(joint / joint.sum(), u, ui, lam)
    babble = 0.0
    for x0 in range(o0.shape[1]):
        joint = mu * o0[:, x0]
        if joint.sum() > 1e-15:
            babble += joint.sum() * ref_payoffs(joint / joint.sum(), u, ui, lam)
    return reveal, babble


def game_dict(prior, u, speakers, lam="inf", user_obs=None, speaker_obs=None, messages=None, rounds=1) -> dict:
    n_y, n_a = len(prior), len(u)
    d = {
        "name": "t",
        "states": [f"s{j}" for j in range(n_y)],
        "prior": list(prior),
        "actions": [f"a{j}" for j in range(n_a)],
        "user": {"name": "user", "utility": u, "rationality": lam, "observation": user_obs},
        "speakers": [
            {"name": f"ai{i}", "utility": s, "observation": (speaker_obs[i] if speaker_obs else None)}
            for i, s in enumerate(speakers)
        ],
        "messages": messages or n_y,
        "rounds": rounds,
    }
    return d


# ------------------------------------------------------------------------- hypothesis strategies
unit = st.floats(0.0, 1.0, allow_nan=False, allow_infinity=False)


@st.composite
def distributions(draw, n: int, floor: float = 0.0):
    w = np.array(draw(st.lists(st.floats(0.05, 1.0), min_size=n, max_size=n)))
    w = w / w.sum()
    return (floor / n + (1 - floor) * w).tolist()


@st.composite
def channels(draw, rows: int, cols: int):
    return [draw(distributions(cols)) for _ in range(rows)]


@st.composite
def small_games(draw, lam=None, private=True, noisy=True, max_speakers=2, max_states=3):
    n_y = draw(st.integers(2, max_states))
    n_a = draw(st.integers(2, 3))
    k = draw(st.integers(1, max_speakers))
    prior = draw(distributions(n_y))
    mat = lambda: [[draw(unit) for _ in range(n_y)] for _ in range(n_a)]
    u = mat()
    speakers = [mat() for _ in range(k)]
    user_obs = draw(channels(n_y, 2)) if private and draw(st.booleans()) else None
    speaker_obs = None
    if noisy and draw(st.booleans()):
        speaker_obs = [draw(channels(n_y, draw(st.integers(2, 3)))) for _ in range(k)]
    if lam is None:
        lam = draw(st.sampled_from(["inf", 0.5, 3.0, 20.0]))
    return Game.from_dict(game_dict(prior, u, speakers, lam, user_obs, speaker_obs))


# ------------------------------------------------------------------- docs/science.md reference numbers
def test_kg_reference_numbers():
    g = load_game("kg")
    r = theory.single_sender_optimum(g, "prosecutor")
    assert r.sender_value == pytest.approx(0.6, abs=1e-8)
    assert r.user_value == pytest.approx(0.7, abs=1e-7)
    assert theory.no_information_value(g) == pytest.approx(0.7, abs=1e-12)
    assert theory.full_information_value(g) == pytest.approx(1.0, abs=1e-12)
    assert theory.bayes_optimal_value(g) == pytest.approx(1.0, abs=1e-12)
    # Optimal scheme: "convict" always when guilty and w.p. 3/7 when innocent.
    (comp,) = r.components
    convict = [j for j, p in enumerate(comp.points) if p.actions == ("convict",)]
    assert len(convict) == 1
    col = comp.scheme[:, convict[0]]
    assert col[0] == pytest.approx(3 / 7, abs=1e-7)
    assert col[1] == pytest.approx(1.0, abs=1e-7)


def test_kg_logit_reference_numbers():
    g = load_game("kg_logit")
    r = theory.single_sender_optimum(g, "prosecutor")
    assert r.sender_value == pytest.approx(0.443670, abs=1e-5)
    # The low posterior is 0: innocence is partly revealed, guilt never pooled away.
    assert any(p.state_belief[1] < 1e-6 for p in r.components[0].points)
    g100 = g.replace(rationality=100)
    assert theory.single_sender_optimum(g100, 0).sender_value == pytest.approx(0.567910, abs=1e-5)
    # The grid-LP method agrees with the exact 1-D method.
    assert theory.single_sender_optimum(g, 0, method="grid").sender_value == pytest.approx(0.443670, abs=1e-5)
    # Not monotone in lam: a nearly random judge (lam -> 0) convicts w.p. ~1/2 whatever is said.
    tiny = theory.single_sender_optimum(g.replace(rationality=0.01), 0).sender_value
    two = theory.single_sender_optimum(g.replace(rationality=2), 0).sender_value
    assert tiny > two < r.sender_value
    assert theory.logit_loss(g) == pytest.approx(math.log(2) / 10)
    assert theory.logit_loss(load_game("kg")) == 0.0


def test_hull_pair_reference_numbers():
    g = load_game("hull_pair")
    fit = theory.hull_distance(g)
    assert fit.epsilon == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(fit.weights, [0.5, 0.5], atol=1e-7)
    assert fit.offset == pytest.approx(0.0, abs=1e-7)
    assert theory.hull_distance(g, cone=True).epsilon == pytest.approx(0.0, abs=1e-9)
    assert theory.no_information_value(g) == pytest.approx(0.54, abs=1e-12)
    assert theory.full_information_value(g) == pytest.approx(0.6, abs=1e-12)
    assert theory.competition_bound(g) == pytest.approx(0.6, abs=1e-8)
    assert theory.best_ai_bound(g) == pytest.approx(0.6, abs=1e-8)
    pro = theory.single_sender_optimum(g, "prosecution")
    assert pro.sender_value == pytest.approx(0.62, abs=1e-8)
    assert pro.user_value == pytest.approx(0.54, abs=1e-7)
    dfc = theory.single_sender_optimum(g, "defence")
    assert dfc.sender_value == pytest.approx(0.94, abs=1e-8)
    assert dfc.user_value == pytest.approx(0.54, abs=1e-7)


def test_prosecutor_defence_distance_is_one_half():
    g = load_game("prosecutor_defence")
    assert theory.hull_distance(g).epsilon == pytest.approx(0.5, abs=1e-9)
    assert theory.hull_distance(g, cone=True).epsilon == pytest.approx(0.5, abs=1e-9)
    # Full information 1 less 2 x 1/2: the bound says nothing here.
    assert theory.competition_bound(g) == pytest.approx(0.0, abs=1e-8)


# ---------------------------------------------------------------------------- other exact checks
def test_full_information_matches_brute_force_enumeration():
    g = load_game("noisy_advisors")  # nobody sees the state: the slow path
    mu, u, lam = g.prior, g.user.utility, g.user.model.rationality
    total = 0.0
    chans = [g.user.observation] + [s.observation for s in g.speakers]
    for prof in itertools.product(*(range(c.shape[1]) for c in chans)):
        joint = mu.copy()
        for c, x in zip(chans, prof, strict=True):
            joint = joint * c[:, x]
        if joint.sum() > 0:
            post = joint / joint.sum()
            total += joint.sum() * ref_payoffs(post, u, u, lam)
    assert theory.full_information_value(g) == pytest.approx(total, abs=1e-12)
    assert theory.competition_bound(g) is None  # no speaker sees the state
    assert theory.best_ai_bound(g) is None


def test_full_information_refuses_huge_profiles():
    noisy = [[0.6, 0.1, 0.1, 0.05, 0.05, 0.04, 0.03, 0.03], [0.1, 0.6, 0.1, 0.05, 0.05, 0.04, 0.03, 0.03]]
    d = game_dict([0.5, 0.5], [[1, 0], [0, 1]], [[[0, 0], [1, 1]]] * 7, speaker_obs=[noisy] * 7)
    g = Game.from_dict(d)  # 8**7 > 1e6 joint profiles
    with pytest.raises(ValueError, match="profiles"):
        theory.full_information_value(g)


def test_competition_bound_needs_enough_messages():
    g = load_game("hull_pair").replace(messages=1)
    assert theory.competition_bound(g) is None
    assert theory.bound_premise_failure(g) is not None


def test_competition_bound_uses_cone_distance():
    g = load_game("kg")  # hull eps 1 (one speaker, weight 1); cone eps 1/2 (weight 0, offset 1/2)
    assert theory.hull_distance(g).epsilon == pytest.approx(1.0, abs=1e-9)
    assert theory.hull_distance(g, cone=True).epsilon == pytest.approx(0.5, abs=1e-9)
    assert theory.competition_bound(g) == pytest.approx(1.0 - 2 * 0.5, abs=1e-8)


def test_user_type_lp_agrees_with_large_lambda_limit():
    """Silent judge with a private witness: the obedience LP over recommendations for each of her
    types is the lam -> inf limit of the concavification (a different method)."""
    d = load_game("kg_witness").to_dict()
    d["user"]["conversation"] = "silent"
    d["rounds"] = 1
    g = Game.from_dict(d)
    lp = theory.single_sender_optimum(g.replace(rationality="inf"), 0).sender_value
    logit = theory.single_sender_optimum(g.replace(rationality=1e5), 0).sender_value
    assert logit == pytest.approx(lp, abs=1e-3)
    mu, o0, u = g.prior, g.user.observation, g.user.utility
    reveal, babble = ref_revelation_and_babbling(mu, o0, np.eye(2), u, g.speakers[0].utility, math.inf)
    assert lp >= max(reveal, babble) - 1e-9


def test_conditioning_on_what_the_user_says_helps_the_speaker():
    g = load_game("kg_witness")  # she reveals her witness before the prosecutor speaks
    cond = theory.single_sender_optimum(g, 0)
    blind = theory.single_sender_optimum(g, 0, condition_on_user=False)
    assert cond.conditioned_on_user and not blind.conditioned_on_user
    assert cond.sender_value >= blind.sender_value - 1e-9
    # Knowing her witness report, the prosecutor solves one problem per report: check each by
    # the 1-D brute force against the judge with that report.
    mu, o0, u, ui, lam = g.prior, g.user.observation, g.user.utility, g.speakers[0].utility, g.user.model.rationality
    total = 0.0
    for x0 in range(2):
        joint = mu * o0[:, x0]
        total += joint.sum() * brute_force_2state(joint / joint.sum(), u, ui, lam)
    assert cond.sender_value >= total - 1e-9
    assert cond.sender_value == pytest.approx(total, abs=1e-4)


@pytest.mark.parametrize(
    "name, speaker",
    [
        ("kg_logit", "prosecutor"),
        ("hull_pair_logit", "prosecution"),
        ("noisy_advisors", "bold"),
        ("noisy_advisors", "cautious"),
    ],
)
def test_optimal_scheme_attains_its_value_when_played(name, speaker):
    """Play the reported scheme (speaker alone, one round) and score it by exact enumeration."""
    d = load_game(name).to_dict()
    d["speakers"] = [s for s in d["speakers"] if s["name"] == speaker]
    g = Game.from_dict(d)
    assert g.rounds == 1 and math.isfinite(g.user.model.rationality)
    r = theory.single_sender_optimum(g, 0)
    scheme = r.components[0].scheme
    assert scheme.shape[1] <= g.messages
    scheme = np.hstack([scheme, np.zeros((scheme.shape[0], g.messages - scheme.shape[1]))])
    out = evaluate(g, {speaker: scheme})
    assert out.speaker_values[speaker] == pytest.approx(r.sender_value, abs=1e-9)
    assert out.user_value == pytest.approx(r.user_value, abs=1e-9)


def test_analytic_quantities_keys_and_json():
    q = theory.analytic_quantities(load_game("hull_pair"))
    keys = list(q)
    assert keys[:6] == [
        "no_information",
        "full_information",
        "bayes_optimal",
        "hull",
        "single_sender",
        "competition_bound",
    ]
    assert {"cone", "best_ai_bound"} <= set(keys[6:])
    assert set(q["hull"]) == {"epsilon", "weights", "offset"}
    assert set(q["single_sender"]) == {"prosecution", "defence"}
    assert set(q["single_sender"]["defence"]) == {"sender_value", "user_value"}
    assert json.loads(json.dumps(q)) == q


# ----------------------------------------------------------------------------------------- CLI
def test_cli_rejects_bad_game(tmp_path, cli):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\nstates: [a, b]\nprior: [0.5, 0.5]\nactions: [x, y]\n"
        "user: {name: judge, utility: [[1, 0]], rationality: inf}\n"
        "speakers: [{name: s, utility: [[0, 0], [1, 1]]}]\nmessages: 2\nrounds: 1\n"
    )
    out = cli(bounds_main, str(bad))
    assert out.returncode != 0
    assert "user.utility" in out.stderr
    assert "Traceback" not in out.stderr
    missing = cli(bounds_main, str(tmp_path / "missing.yaml"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_cli_table_runs_in_process(capsys):
    assert bounds_main(["hull_pair"]) == 0
    text = capsys.readouterr().out
    assert "prosecution" in text and "0.620000" in text and "competition bound" in text
    assert bounds_main(["noisy_advisors"]) == 0
    assert "premise fails" in capsys.readouterr().out


# ------------------------------------------------------------------------------------ properties
def brute_force_2state(prior, u, ui, lam, n=1201) -> float:
    """Concave closure at the prior for a sender who sees one of two states: best pair of
    posteriors on a grid (and no split)."""
    grid = np.linspace(0.0, 1.0, n)
    vals = np.array([ref_payoffs(np.array([1 - t, t]), u, ui, lam) for t in grid])
    t0 = prior[1]
    best = ref_payoffs(np.asarray(prior), u, ui, lam)
    lo, hi = grid[grid <= t0], grid[grid >= t0]
    vlo, vhi = vals[grid <= t0], vals[grid >= t0]
    span = hi[None, :] - lo[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        chord = ((hi[None, :] - t0) * vlo[:, None] + (t0 - lo[:, None]) * vhi[None, :]) / span
    chord = np.where(span > 0, chord, -np.inf)
    return max(best, float(chord.max()))


@settings(max_examples=examples(40), **SETTINGS)
@given(small_games(lam="inf"))
def test_full_information_beats_no_information_for_best_responder(g):
    assert theory.full_information_value(g) >= theory.no_information_value(g) - 1e-12


@pytest.mark.slow
@settings(max_examples=examples(60), **SETTINGS)
@given(small_games())
def test_single_sender_beats_revelation_and_babbling(g):
    mu, o0, u, lam = g.prior, g.user.observation, g.user.utility, g.user.model.rationality
    for i, s in enumerate(g.speakers):
        r = theory.single_sender_optimum(g, i)
        reveal, babble = ref_revelation_and_babbling(mu, o0, s.observation, u, s.utility, lam)
        assert r.sender_value >= reveal - 1e-7
        assert r.sender_value >= babble - 1e-7
        if math.isinf(lam):
            # Obedience: each user type may ignore the recommendation and play a fixed action, so
            # she gets at least her no-information value max_a E[u(a, y) | x0].
            no_info = sum(float((u @ (mu * o0[:, x0])).max()) for x0 in range(o0.shape[1]))
            assert r.user_value >= no_info - 1e-7
        # Bayes plausibility of the reported scheme: message weights sum to 1, rows stochastic.
        for c in r.components:
            assert sum(p.weight for p in c.points) == pytest.approx(1.0, abs=1e-8)
            np.testing.assert_allclose(c.scheme.sum(axis=1), 1.0, atol=1e-8)


@pytest.mark.slow
@settings(max_examples=examples(50), **SETTINGS)
@given(
    small_games(lam=1.0, private=False, noisy=False, max_speakers=1, max_states=2),
    st.one_of(st.floats(0.5, 30.0), st.just(math.inf)),
)
def test_two_state_concavification_matches_brute_force(g, lam):
    g = g.replace(rationality="inf" if math.isinf(lam) else lam)
    s = g.speakers[0]
    ref = brute_force_2state(g.prior, g.user.utility, s.utility, lam)
    val = theory.single_sender_optimum(g, 0).sender_value
    assert val >= ref - 1e-9  # exact (or, for lam = inf, the supremum) >= the grid brute force
    if math.isfinite(lam):
        assert val <= ref + 2e-3  # and the grid brute force is close to exact


@settings(max_examples=examples(30), **SETTINGS)
@given(small_games(lam="inf"))
def test_logit_loss_bound(g):
    opt = theory.bayes_optimal_value(g)
    for lam in (0.3, 1.0, 5.0, 50.0, 1e4):
        full = theory.full_information_value(g, LogitUser(lam))
        assert full >= opt - math.log(g.n_actions) / lam - 1e-12
        assert full <= opt + 1e-12


@settings(max_examples=examples(60), **SETTINGS)
@given(st.lists(unit, min_size=2, max_size=5))
def test_quantal_response_limits(eu):
    eu = np.array(eu)
    for lam in (1e-9, 0.1, 1.0, 10.0, 1e3, 1e9, math.inf):
        p = quantal_response(eu, lam)
        assert np.all(np.isfinite(p)) and np.all(p >= 0)
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(quantal_response(eu, 1e-9), np.full(eu.size, 1 / eu.size), atol=1e-8)
    top = np.sort(eu)[::-1]
    assume(top[0] - top[1] > 1e-4)
    best = np.zeros(eu.size)
    best[np.argmax(eu)] = 1.0
    np.testing.assert_allclose(quantal_response(eu, 1e7), best, atol=1e-12)
    np.testing.assert_allclose(quantal_response(eu, 1e9), best, atol=1e-12)
    np.testing.assert_allclose(quantal_response(eu, math.inf), best)


@settings(max_examples=examples(40), **SETTINGS)
@given(st.integers(2, 3), st.integers(2, 3), st.integers(1, 3), st.data())
def test_hull_distance_of_a_convex_combination_is_zero(n_y, n_a, k, data):
    us = np.array([[[data.draw(unit) for _ in range(n_y)] for _ in range(n_a)] for _ in range(k)])
    w = np.array(data.draw(distributions(k)))
    c = data.draw(st.floats(-0.5, 0.5))
    u = np.tensordot(w, us, axes=1) + c
    g = Game.from_dict(game_dict([1 / n_y] * n_y, u.tolist(), us.tolist()))
    hull = theory.hull_distance(g)
    cone = theory.hull_distance(g, cone=True)
    assert hull.epsilon <= 1e-7
    assert cone.epsilon <= hull.epsilon + 1e-9
    assert hull.weights.sum() == pytest.approx(1.0, abs=1e-7)
    # The reported epsilon is the sup-norm error of the reported fit.
    err = np.abs(np.tensordot(hull.weights, us, axes=1) + hull.offset - u).max()
    assert hull.epsilon == pytest.approx(err, abs=1e-9)


@settings(max_examples=examples(40), **SETTINGS)
@given(small_games(lam="inf", private=False, noisy=False))
def test_cone_never_further_than_hull(g):
    hull = theory.hull_distance(g)
    cone = theory.hull_distance(g, cone=True)
    assert cone.epsilon <= hull.epsilon + 1e-9
    assert np.all(hull.weights >= 0) and np.all(cone.weights >= 0)
    assert hull.weights.sum() == pytest.approx(1.0, abs=1e-7)


# ------------------------------------------------------------------ a user model with no solver
class OpaqueLogit(LogitUser):
    """A logit response that names no analytic single-sender solver."""

    name = "test_theory_opaque_logit"
    analytic = None


register_user_model(OpaqueLogit, replace=True)


def test_no_analytic_solver_is_reported_not_guessed(capsys):
    g = load_game("kg_logit").replace(user_model=OpaqueLogit(10.0))
    with pytest.raises(ValueError, match="no analytic single-sender solver"):
        theory.single_sender_optimum(g, "prosecutor")
    q = theory.analytic_quantities(g)
    entry = q["single_sender"]["prosecutor"]
    assert entry["sender_value"] is None and entry["user_value"] is None
    assert "no analytic single-sender solver" in entry["reason"]
    # the quantities that need only her response are those of the logit user it copies
    plain = theory.analytic_quantities(load_game("kg_logit"))
    for key in ("no_information", "full_information", "bayes_optimal", "hull", "cone", "competition_bound"):
        assert q[key] == plain[key]
    assert theory.logit_loss(g) == pytest.approx(math.log(2) / 10)
    json.dumps(q)
    text = format_table(g, q)
    assert "n/a" in text and "no analytic single-sender solver" in text
