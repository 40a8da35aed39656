"""Non-Bayesian user models (docs/science.md, "Non-Bayesian users"): perception, the exact payoff,
the Bayesian equivalents, the bounds' validity and the exact assessments that use them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from persuaders.envs.game import GretherUser, LogitUser, ShrinkageUser, load_game, random_game
from persuaders.envs.game.nonbayesian import bayesian_equivalent_game
from persuaders.envs.game.users import BestResponseUser, response_at, user_value
from persuaders.envs.game.validation import SpecError
from persuaders.envs.payoff import evaluate

TWO_STATE = {
    "name": "two",
    "states": ["a", "b"],
    "prior": [0.7, 0.3],
    "actions": ["say_a", "say_b"],
    "user": {"name": "u", "utility": [[1, 0], [0, 1]], "rationality": 4},
    "speakers": [{"name": "s", "utility": [[1, 1], [0, 0]]}],
    "messages": 2,
    "rounds": 1,
}


def _with_user(game, model):
    return game.replace(user_model=model)


def _random_schemes(game, rng):
    return [rng.dirichlet(np.ones(game.messages), size=s.n_signals) for s in game.speakers]


def test_game_file_reads_and_writes_the_models():
    user = {"name": "u", "utility": [[1, 0], [0, 1]], "model": "grether", "alpha": 0.6, "beta": 1.5, "rationality": 8}
    d = dict(TWO_STATE, user=user)
    g = load_game(d)
    assert g.user.model == GretherUser(8, 0.6, 1.5)
    assert load_game(g.to_dict()).user.model == g.user.model
    d["user"] = {"name": "u", "utility": [[1, 0], [0, 1]], "model": "shrinkage", "w": 0.25, "rationality": "inf"}
    assert load_game(d).user.model == ShrinkageUser(math.inf, 0.25)
    for bad, key in [({"w": 1.0}, "w"), ({"w": -0.1}, "w"), ({"alpha": 0}, "alpha"), ({"beta": -1}, "beta")]:
        model = "shrinkage" if key == "w" else "grether"
        fields = {"w": 0.1} if model == "shrinkage" else {"alpha": 1, "beta": 1}
        fields.update(bad)
        d["user"] = {"name": "u", "utility": [[1, 0], [0, 1]], "model": model, "rationality": 2, **fields}
        with pytest.raises(SpecError, match=f"user.{key}"):
            load_game(d)


@pytest.mark.parametrize("seed", range(5))
def test_grether_one_one_and_shrinkage_zero_perceive_the_posterior(seed):
    rng = np.random.default_rng(seed)
    prior = rng.dirichlet(np.ones(4))
    post = rng.dirichlet(np.ones(4), size=50)
    post[:5, 1] = 0.0
    post /= post.sum(axis=1, keepdims=True)
    u = rng.uniform(size=(3, 4))
    assert np.abs(GretherUser(7.0, 1.0, 1.0).perceive(post, prior) - post).max() < 1e-12
    assert np.abs(ShrinkageUser(7.0, 0.0).perceive(post, prior) - post).max() < 1e-12
    for m in (GretherUser(7.0, 1.0, 1.0), ShrinkageUser(7.0, 0.0)):
        q = m.respond(m.perceive(post, prior) @ u.T)
        assert np.abs(q - response_at(post, u, LogitUser(7.0))).max() < 1e-12


@pytest.mark.parametrize("seed", range(4))
def test_grether_one_one_is_logit_in_the_exact_payoff(seed):
    game = random_game(2, 3, 3, seed=seed, rationality=5.0)
    rng = np.random.default_rng(seed)
    schemes = _random_schemes(game, rng)
    bayes = evaluate(game, schemes)
    for model in (GretherUser(5.0, 1.0, 1.0), ShrinkageUser(5.0, 0.0)):
        other = evaluate(_with_user(game, model), schemes)
        assert abs(other.user_value - bayes.user_value) < 1e-12
        for n in game.speaker_names:
            assert abs(other.speaker_values[n] - bayes.speaker_values[n]) < 1e-12


def test_grether_hand_computed_two_states():
    # Babbling: posterior = prior (0.7, 0.3), so p~ ∝ prior^alpha. alpha = 0.5, beta = 2.
    g = load_game(TWO_STATE)
    model = GretherUser(4.0, 0.5, 2.0)
    p0 = math.sqrt(0.7) / (math.sqrt(0.7) + math.sqrt(0.3))  # 0.604356...
    pa = 1.0 / (1.0 + math.exp(-4.0 * (p0 - (1 - p0))))  # P(say_a)
    out = evaluate(_with_user(g, model), [[[0.5, 0.5], [0.5, 0.5]]])
    assert out.user_value == pytest.approx(0.7 * pa + 0.3 * (1 - pa), abs=1e-12)
    assert out.speaker_values["s"] == pytest.approx(pa, abs=1e-12)
    # Posterior (0.5, 0.5) with prior (0.7, 0.3): p~ ∝ 0.7^-1.5 * 0.25, 0.3^-1.5 * 0.25.
    q = model.perceive(np.array([0.5, 0.5]), np.array([0.7, 0.3]))
    assert q[0] == pytest.approx(0.7**-1.5 / (0.7**-1.5 + 0.3**-1.5), abs=1e-12)
    # A zero stays zero: p = (1, 0) is perceived as (1, 0) whatever alpha and beta.
    assert model.perceive(np.array([1.0, 0.0]), np.array([0.7, 0.3])).tolist() == [1.0, 0.0]


def test_shrinkage_hand_computed_two_states():
    # Full revelation: posteriors delta_a, delta_b; p~ = (1 - w) delta + w / 2 with w = 0.4.
    g = load_game(TWO_STATE)
    model = ShrinkageUser(3.0, 0.4)
    pa_at_a = 1.0 / (1.0 + math.exp(-3.0 * (0.8 - 0.2)))  # EU(say_a) = 0.8, EU(say_b) = 0.2 at state a
    out = evaluate(_with_user(g, model), [[[1.0, 0.0], [0.0, 1.0]]])
    assert out.user_value == pytest.approx(0.7 * pa_at_a + 0.3 * pa_at_a, abs=1e-12)
    assert out.speaker_values["s"] == pytest.approx(0.7 * pa_at_a + 0.3 * (1 - pa_at_a), abs=1e-12)
    # Her value is judged with the true posterior: at delta_a she gets P(say_a).
    v = user_value(np.array([[1.0, 0.0]]), g.user.utility, model, g.prior)
    assert v[0] == pytest.approx(pa_at_a, abs=1e-12)


CASES = [
    ShrinkageUser(6.0, 0.3),
    ShrinkageUser(math.inf, 0.3),
    GretherUser(math.inf, 0.5, 1.0),
    GretherUser(math.inf, 1.7, 1.0),
]


@pytest.mark.parametrize("model", CASES, ids=lambda m: m.label())
@pytest.mark.parametrize("seed", range(3))
def test_bayesian_equivalent_game_has_the_same_outcomes(model, seed):
    game = _with_user(random_game(2, 3, 3, seed=seed), model)
    eq = bayesian_equivalent_game(game)
    assert eq is not None and eq.user.model.bayesian
    rng = np.random.default_rng(100 + seed)
    for _ in range(5):
        schemes = _random_schemes(game, rng)
        direct, via = evaluate(game, schemes), evaluate(eq, schemes)
        for n in game.speaker_names:
            assert abs(direct.speaker_values[n] - via.speaker_values[n]) < 1e-10


def test_no_equivalent_for_logit_grether_and_the_naive_one_differs():
    game = _with_user(random_game(1, 3, 3, seed=1), GretherUser(5.0, 0.5, 1.0))
    assert bayesian_equivalent_game(game) is None
    assert bayesian_equivalent_game(_with_user(game, GretherUser(5.0, 0.5, 1.4))) is None
    # The best-response transform with a logit response does not reproduce her behaviour.
    scale = game.prior ** (0.5 - 1.0)
    naive = game.to_dict()
    naive["user"]["utility"] = (game.user.utility * scale / scale.max()).tolist()
    naive["user"].pop("alpha"), naive["user"].pop("beta")
    naive["user"]["model"] = "logit"
    rng = np.random.default_rng(3)
    schemes = _random_schemes(game, rng)
    a = evaluate(game, schemes).speaker_values
    b = evaluate(load_game(naive), schemes).speaker_values
    assert max(abs(a[n] - b[n]) for n in a) > 1e-4


def test_bounds_say_what_holds():
    from persuaders.eval.theory import analytic_quantities

    game = _with_user(random_game(2, 2, 2, seed=0), GretherUser(6.0, 0.6, 1.5))
    q = analytic_quantities(game)
    assert q["validity"]["single_sender"].startswith("valid")
    assert q["validity"]["logit_loss"].startswith("not guaranteed")
    assert q["validity"]["exploitability"].startswith("not certified")
    # The concavification is an optimum: no babbling or full revelation beats it.
    for s in game.speakers:
        opt = q["single_sender"][s.name]["sender_value"]
        i = game.speaker_index(s.name)
        for scheme in (np.full((s.n_signals, game.messages), 1 / game.messages), np.eye(s.n_signals, game.messages)):
            alone = load_game({**game.to_dict(), "speakers": [game.to_dict()["speakers"][i]]})
            assert evaluate(alone, [scheme]).speaker_values[s.name] <= opt + 1e-7
    assert "validity" not in analytic_quantities(random_game(2, 2, 2, seed=0))


@pytest.mark.slow
def test_exploitability_exact_through_the_equivalent():
    from persuaders.eval.exploitability import exploitability

    model = ShrinkageUser(math.inf, 0.2)
    game = _with_user(random_game(2, 2, 2, seed=2), model)
    eq = bayesian_equivalent_game(game)
    assert eq is not None
    rng = np.random.default_rng(0)
    schemes = _random_schemes(game, rng)
    a = exploitability(schemes, game)
    b = exploitability(schemes, eq)
    assert a.settled and b.settled
    assert a.exploitability == pytest.approx(b.exploitability, abs=1e-9)


@pytest.mark.slow
def test_exploitability_without_equivalent_is_an_uncertified_lower_bound():
    from persuaders.eval.exploitability import exploitability

    game = _with_user(random_game(2, 2, 2, seed=2), GretherUser(5.0, 0.5, 1.5))
    e = exploitability([np.full((2, game.messages), 0.5)] * 2, game, starts=4, steps=100)
    assert e.status == "lower bound" and e.lower >= 0.0


def test_environment_uses_the_perceived_belief():
    from persuaders.envs.persuasion.arrays import expected_last_round, padded_channels

    game = _with_user(load_game(TWO_STATE), GretherUser(4.0, 0.5, 2.0))
    chans = padded_channels(game)
    p = np.ones((1, 1, chans.shape[2]))
    q0 = np.ones((1, game.user.n_signals))
    pi = np.full((1, 1, chans.shape[2], game.messages), 0.5)
    got = expected_last_round(game, chans, p, q0, pi)[0, 0]
    assert got == pytest.approx(evaluate(game, [[[0.5, 0.5], [0.5, 0.5]]]).speaker_values["s"], abs=1e-12)
    assert BestResponseUser().bayesian and LogitUser(2.0).bayesian


@pytest.mark.parametrize("model", [GretherUser(5.0, 0.6, 1.5), ShrinkageUser(5.0, 0.3)], ids=lambda m: m.name)
def test_torch_payoff_matches_numpy_and_has_gradients(model):
    import torch

    from persuaders.envs.payoff.differentiable import torch_outcome

    game = _with_user(random_game(2, 3, 2, seed=4), model)
    rng = np.random.default_rng(4)
    schemes = _random_schemes(game, rng)
    t = {i: torch.tensor(np.asarray(s)[None], requires_grad=True) for i, s in enumerate(schemes)}
    out = torch_outcome(game, t)[0]
    value = (out * torch.as_tensor(game.speaker_utilities[0])).sum()
    value.backward()
    assert float(value) == pytest.approx(evaluate(game, schemes).speaker_values[game.speaker_names[0]], abs=1e-12)
    assert all(torch.isfinite(x.grad).all() for x in t.values())


TWO_STATE_BR = [GretherUser(math.inf, 1.0, 0.5), GretherUser(math.inf, 0.4, 2.0), ShrinkageUser(math.inf, 0.5)]


@pytest.mark.parametrize("model", TWO_STATE_BR, ids=lambda m: m.label())
@pytest.mark.parametrize("seed", range(4))
def test_two_state_best_responders_have_a_threshold_equivalent(model, seed):
    game = _with_user(random_game(2, 2, 4, seed=seed), model)
    eq = bayesian_equivalent_game(game)
    assert eq is not None and eq.user.model.bayesian
    # the same action at every posterior of a fine grid (away from the breakpoints' tie windows)
    p = np.linspace(0.0, 1.0, 2001)
    post = np.stack([1 - p, p], axis=1)
    a = response_at(post, game.user.utility, model, game.prior)
    b = response_at(post, eq.user.utility, eq.user.model)
    clear = (a.max(axis=1) == 1.0) & (b.max(axis=1) == 1.0)
    assert clear.mean() > 0.99 and np.array_equal(a[clear], b[clear])
    rng = np.random.default_rng(seed)
    for _ in range(5):
        schemes = _random_schemes(game, rng)
        x, y = evaluate(game, schemes), evaluate(eq, schemes)
        for n in game.speaker_names:
            assert abs(x.speaker_values[n] - y.speaker_values[n]) < 1e-9


@pytest.mark.slow
def test_dynamics_through_the_equivalent_report_her_welfare():
    from persuaders.eval.dynamics.best_response import best_response_dynamics

    game = _with_user(
        random_game(2, 2, 3, seed=3, regime="outside", epsilon=0.25, messages=3), ShrinkageUser(math.inf, 0.3)
    )
    res = best_response_dynamics(game, protocol="simultaneous")
    assert res.converged and res.game == game.name
    # her welfare at the final profile is evaluated with her own model and utility
    assert res.user_value == pytest.approx(evaluate(game, res.schemes).user_value, abs=1e-12)


@pytest.mark.slow
def test_dynamics_without_an_equivalent_are_numerical_and_uncertified():
    from persuaders.eval.dynamics.best_response import best_response_dynamics

    game = _with_user(random_game(1, 2, 2, seed=1, regime="outside", epsilon=0.25), GretherUser(5.0, 0.5, 1.5))
    res = best_response_dynamics(game, protocol="simultaneous")
    assert res.engine == "numerical" and not res.converged and res.reason in ("uncertified", "gain found")
    assert res.exploitability is not None and res.exploitability.status == "lower bound"
    assert res.user_value == pytest.approx(evaluate(game, res.schemes).user_value, abs=1e-12)
    # the speaker does at least as well as babbling, where it started
    babble = evaluate(game, [np.full((s.n_signals, game.messages), 1 / game.messages) for s in game.speakers])
    name = game.speaker_names[0]
    assert res.speaker_values[name] >= babble.speaker_values[name] - 1e-9


def test_grether_weighs_the_cumulative_likelihood_over_rounds():
    # Two rounds, one speaker who sees the state: P(y, m1, m2) = mu(y) pi1[y, m1] pi2[y, m2]; she acts
    # once, at the end, on p~ ∝ mu^alpha (pi1[y, m1] pi2[y, m2])^beta.
    game = _with_user(random_game(1, 2, 3, seed=5, rounds=2, messages=2), GretherUser(6.0, 0.5, 1.7))
    rng = np.random.default_rng(5)
    scheme = rng.dirichlet(np.ones(2), size=(2, 2))  # [R, X, M]
    m, mu, u, us = game.user.model, game.prior, game.user.utility, game.speakers[0].utility
    user = spk = 0.0
    for m1 in range(2):
        for m2 in range(2):
            lik = scheme[0][:, m1] * scheme[1][:, m2]
            w = mu**m.alpha * lik**m.beta
            eu = u @ (w / w.sum())
            q = np.exp(m.lam * (eu - eu.max()))
            q /= q.sum()
            joint = mu * lik
            user += float(sum(joint[y] * q @ u[:, y] for y in range(2)))
            spk += float(sum(joint[y] * q @ us[:, y] for y in range(2)))
    out = evaluate(game, [scheme])
    assert out.user_value == pytest.approx(user, abs=1e-12)
    assert out.speaker_values[game.speaker_names[0]] == pytest.approx(spk, abs=1e-12)
