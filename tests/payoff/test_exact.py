"""The exact evaluator and the factorised belief update against brute-force joints."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from persuaders.envs.game import Game, load_game
from persuaders.envs.game.conversation import BeliefState
from persuaders.envs.game.protocols import sampled_selection
from persuaders.envs.payoff import evaluate, history_distribution, solo_outcomes
from persuaders.train.scoring import score_profile
from tests.brute import brute_joint, brute_values, random_schemes, random_spec
from tests.hypothesis_profiles import examples

CASES = [
    dict(k=1),
    dict(k=2, lam=5.0),
    dict(k=2, n_states=3, n_actions=3, messages=3),
    dict(k=2, speaker_signals=3, lam=7.0),
    dict(k=1, user_signals=2, talk=True, rounds=2, lam=3.0),
    dict(k=2, user_signals=2, rounds=2, visibility="private", lam="inf"),
    dict(k=3, messages=2, lam=2.0),
]


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("seed", range(3))
def test_exact_values_match_brute_force(case, seed):
    rng = np.random.default_rng(100 * case + seed)
    game = Game.from_dict(random_spec(rng, **CASES[case]))
    schemes = random_schemes(rng, game)
    exact = evaluate(game, schemes)
    user, spk = brute_values(game, schemes)
    assert exact.user_value == pytest.approx(user, abs=1e-10)
    np.testing.assert_allclose(list(exact.speaker_values.values()), spk, atol=1e-10)
    assert exact.outcome.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_factorised_update_matches_brute_force_posteriors(case):
    """BeliefState (the environments' update) gives the Bayes posterior of every history."""
    rng = np.random.default_rng(7 + case)
    game = Game.from_dict(random_spec(rng, **CASES[case]))
    schemes = random_schemes(rng, game)
    joint = brute_joint(game, schemes)
    k, R = game.n_speakers, game.rounds
    for (x0, zs, ms), w in itertools.islice(joint.items(), 40):
        b = BeliefState(game, 1)
        for t in range(R):
            b.update(0, game.user.conversation[t], np.array([zs[t]]))
            for i in range(k):
                b.update(i + 1, schemes[i][t], np.array([ms[t * k + i]]))
        np.testing.assert_allclose(b.user_posterior(np.array([x0]))[0], w / w.sum(), atol=1e-12)
        # The public belief marginalises the user's signal out: sum over x0 with the same messages.
        pub = sum(v for (x, z, m), v in joint.items() if z == zs and m == ms)
        np.testing.assert_allclose(b.public_belief()[0], pub / pub.sum(), atol=1e-12)
        # A speaker in a private thread hears the user and itself only.
        for i in range(k):
            own = sum(
                v for (x, z, m), v in joint.items() if z == zs and all(m[t * k + i] == ms[t * k + i] for t in range(R))
            )
            expect = own / own.sum() if game.visibility == "private" else pub / pub.sum()
            np.testing.assert_allclose(b.speaker_belief(i)[0], expect, atol=1e-12)


def _policy(rng, game, i):
    """A history-dependent scheme: softmax of a random linear map of the observation."""
    from persuaders.envs.game.observations import ObservationLayout

    d = ObservationLayout.for_game(game).size
    w = rng.normal(size=(d, game.speakers[i].n_signals * game.messages)) * 2

    def fn(obs):
        logits = (obs @ w).reshape(len(obs), game.speakers[i].n_signals, game.messages)
        e = np.exp(logits - logits.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    return fn


@settings(max_examples=examples(40), deadline=None)
@given(
    seed=st.integers(0, 10_000),
    k=st.integers(1, 3),
    rounds=st.integers(1, 3),
    n_states=st.integers(2, 3),
    user_signals=st.integers(1, 2),
    private=st.booleans(),
)
def test_bayes_plausibility(seed, k, rounds, n_states, user_signals, private):
    """For any (history-dependent) schemes and rounds, E[final posterior] = prior."""
    rng = np.random.default_rng(seed)
    game = Game.from_dict(
        random_spec(
            rng,
            k=k,
            n_states=n_states,
            rounds=rounds,
            user_signals=user_signals,
            talk=user_signals > 1,
            visibility="private" if private else "public",
        )
    )
    joint = history_distribution(game, [_policy(rng, game, i) for i in range(k)])  # [H, Y, X0]
    mass = joint.sum(axis=1, keepdims=True)
    post = joint / mass
    np.testing.assert_allclose((mass * post).sum(axis=(0, 2)), game.prior, atol=1e-10)
    np.testing.assert_allclose(mass.sum(), 1.0, atol=1e-10)


@pytest.mark.parametrize("protocol", ["simultaneous", "best_ai"])
def test_score_profile_full_revelation_on_kg(protocol):
    """kg (prior 0.7 innocent): a prosecutor who reveals the state gives the judge her full-information
    value 1 and itself P(guilty) = 0.3; the scheme reported is the one committed at the start."""
    reveal = np.eye(2)
    exact, schemes = score_profile(
        load_game("kg"), {"prosecutor": lambda obs: np.repeat(reveal[None], len(obs), 0)}, protocol=protocol
    )
    assert exact.user_value == pytest.approx(1.0) and exact.speaker_values["prosecutor"] == pytest.approx(0.3)
    assert schemes == {"prosecutor": reveal.tolist()}


# hull_pair_logit against its logit judge (lam = 50, utility 0.6 for the right verdict, 0.4 for the
# wrong one; prior 0.7 innocent). Told the state, she is right with q = 1 / (1 + e^-(50 * 0.2)): her
# full-information value 0.4 + 0.2 q = 0.599991 (persuaders-bounds). Told nothing, she acquits with
# p = 1 / (1 + e^-(50 * (0.7 - 0.3) * 0.2)) and gets her no-information value 0.46 + 0.08 p = 0.538561.
Q_TOLD = 1 / (1 + np.exp(-10.0))
P_ACQUIT = 1 / (1 + np.exp(-4.0))
HULL_PAIR_FULL = {
    "judge": 0.4 + 0.2 * Q_TOLD,
    # prosecution pays 0.2 / 0.8 for acquit / convict of an innocent, 0 / 1 of a guilty defendant
    "prosecution": 0.7 * (0.2 * Q_TOLD + 0.8 * (1 - Q_TOLD)) + 0.3 * Q_TOLD,
    # defence pays 1 / 0 for acquit / convict of an innocent, 0.8 / 0.2 of a guilty defendant
    "defence": 0.7 * Q_TOLD + 0.3 * (0.2 * Q_TOLD + 0.8 * (1 - Q_TOLD)),
}
HULL_PAIR_NONE = 0.46 + 0.08 * P_ACQUIT


def _reveal_or_babble(action_format: str, reveal: bool):
    """Logits in the environment's action format: each signal its own message (±20, so that the
    softmax is 0 and 1 to double precision) or every logit 0 (babbling)."""
    logits = 40.0 * (np.eye(2) - 0.5) if reveal else np.zeros((2, 2))
    return logits if action_format == "matrix" else logits.reshape(4)


@pytest.mark.parametrize("action_format", ["matrix", "flat"])
@pytest.mark.parametrize("agent_id", [False, True])
@pytest.mark.parametrize("revealer", [None, "prosecution", "defence"])
def test_env_policies_score_as_they_act(action_format, agent_id, revealer):
    """Policies defined on persuasion_v0's own observations and actions (``agent_id``, ``action_format``)
    score to the values computed by hand above: one speaker revealing the state gives the judge her
    full-information value, both babbling her no-information value. With ``agent_id`` one shared
    policy reads the speaker from the one-hot the environment appends; every policy receives the
    environment's first observation exactly (float32, the id included)."""
    from persuaders.envs import persuasion_v0
    from persuaders.train.scoring import score_env

    env = persuasion_v0.parallel_env("hull_pair_logit", action_format=action_format, agent_id=agent_id)
    first, _ = persuasion_v0.parallel_env("hull_pair_logit", action_format=action_format, agent_id=agent_id).reset(
        seed=0
    )
    names = env.possible_agents
    width = env.observation_space(names[0]).shape[0]
    seen: dict[str, list[np.ndarray]] = {n: [] for n in names}

    def policy_for(name: str | None):
        def policy(obs):
            assert obs.dtype == np.float32 and obs.shape[1:] == (width,)
            speaker = names[int(obs[0, -2:].argmax())] if agent_id else name
            seen[speaker].append(obs)
            return np.stack([_reveal_or_babble(action_format, speaker == revealer)] * len(obs))

        return policy

    shared = policy_for(None)
    policies = {n: shared if agent_id else policy_for(n) for n in names}
    exact, schemes = score_env(env, policies)
    if revealer is None:
        assert exact.user_value == pytest.approx(HULL_PAIR_NONE, abs=1e-12)
        assert exact.user_value == pytest.approx(0.538561, abs=1e-6)
    else:
        assert exact.user_value == pytest.approx(HULL_PAIR_FULL["judge"], abs=1e-12)
        assert exact.user_value == pytest.approx(0.599991, abs=1e-6)
        for name in names:
            assert exact.speaker_values[name] == pytest.approx(HULL_PAIR_FULL[name], abs=1e-12)
    for name in names:
        want = np.eye(2) if name == revealer else np.full((2, 2), 0.5)
        np.testing.assert_allclose(schemes[name], want, atol=1e-15)
        assert any(np.array_equal(o[0], first[name]) for o in seen[name])  # the env's observation, as is
    # the same policies through score_profile with the options spelled out
    again, _ = score_profile(env.game, policies, agent_id=agent_id, action_format=action_format)
    assert again.user_value == exact.user_value


def test_env_policy_of_the_wrong_shape_is_named():
    from persuaders.train.scoring import score_profile as score

    flat = {n: (lambda obs: np.zeros((len(obs), 4))) for n in ("prosecution", "defence")}
    with pytest.raises(ValueError, match=r"speaker 'prosecution': expected matrix actions of shape \(\d+, 2, 2\)"):
        score(load_game("hull_pair_logit"), flat, action_format="matrix")
    with pytest.raises(ValueError, match=r"action_format: expected None or one of matrix, flat, got 'rows'"):
        score(load_game("hull_pair_logit"), flat, action_format="rows")


def test_callable_equals_fixed_scheme():
    game = load_game("hull_pair_private")
    rng = np.random.default_rng(0)
    schemes = random_schemes(rng, game)

    def as_fn(pi):
        def fn(obs):
            t = obs[:, : game.rounds + 1].argmax(axis=1)
            return pi[t]

        return fn

    a = evaluate(game, schemes)
    b = evaluate(game, [as_fn(s) for s in schemes])
    assert a.user_value == pytest.approx(b.user_value, abs=1e-12)


def test_best_ai_sampled_selection_matches_enumeration():
    """Selection probabilities with n_eval sampled conversations, against enumerating all scores."""
    rng = np.random.default_rng(3)
    game = Game.from_dict(random_spec(rng, k=3, lam=4.0))
    schemes = random_schemes(rng, game)
    n_eval = 2
    solo = [evaluate(game.replace(speakers=[game.to_dict()["speakers"][i]]), [schemes[i]]).outcome for i in range(3)]
    u = game.user.utility.ravel()
    per = [list(zip(u, o.ravel(), strict=True)) for o in solo]
    expect = np.zeros(3)
    for draws in itertools.product(*[list(itertools.product(p, repeat=n_eval)) for p in per]):
        prob = np.prod([pr for d in draws for (_, pr) in d])
        scores = np.array([np.mean([v for (v, _) in d]) for d in draws])
        best = np.abs(scores - scores.max()) < 1e-9
        expect += prob * best / best.sum()
    got = sampled_selection(game.user.utility, solo, n_eval)
    np.testing.assert_allclose(got, expect, atol=1e-12)
    out = evaluate(game, schemes, protocol="best_ai", n_eval=n_eval)
    np.testing.assert_allclose(list(out.selection.values()), expect, atol=1e-12)
    solo_user, solo_spk = solo_outcomes(game, schemes)
    assert out.user_value == pytest.approx(float(expect @ solo_user))
    np.testing.assert_allclose(list(out.speaker_values.values()), expect @ solo_spk)


def test_best_ai_exact_selects_the_best_for_the_user():
    game = load_game("hull_pair")
    reveal, babble = np.eye(2), np.full((2, 2), 0.5)
    out = evaluate(game, {"prosecution": babble, "defence": reveal}, protocol="best_ai")
    assert out.selection == {"prosecution": 0.0, "defence": 1.0}
    assert out.user_value == pytest.approx(0.6)  # full information
    # Defence revealing alone: acquit innocents (0.7 * 1.0), convict the guilty (0.3 * 0.2).
    assert out.speaker_values["defence"] == pytest.approx(0.76)
    tie = evaluate(game, {"prosecution": babble, "defence": babble}, protocol="best_ai")
    assert tie.selection == {"prosecution": 0.5, "defence": 0.5}


def test_kg_reference_schemes():
    game = load_game("kg")
    # Full revelation convicts exactly the guilty: prosecutor 0.3, judge 1.
    full = evaluate(game, {"prosecutor": np.eye(2)})
    assert full.speaker_values["prosecutor"] == pytest.approx(0.3) and full.user_value == pytest.approx(1.0)
    # Slightly below the 3/7 optimum the judge convicts on "guilty": conviction 0.3 + 0.7 * 0.42.
    near = evaluate(game, {"prosecutor": [[0.58, 0.42], [0.0, 1.0]]})
    assert near.speaker_values["prosecutor"] == pytest.approx(0.3 + 0.7 * 0.42)
    assert near.user_value == pytest.approx(0.3 + 0.7 * 0.58)


def test_bad_profiles():
    game = load_game("hull_pair")
    good = np.eye(2)
    with pytest.raises(ValueError, match=r"no scheme for speaker.*defence"):
        evaluate(game, {"prosecution": good})
    with pytest.raises(ValueError, match=r"unknown speaker.*mediator"):
        evaluate(game, {"prosecution": good, "defence": good, "mediator": good})
    with pytest.raises(ValueError, match=r"speaker 'defence'.*NaN"):
        evaluate(game, {"prosecution": good, "defence": [[np.nan, 1], [0, 1]]})
    with pytest.raises(ValueError, match=r"speaker 'defence'.*shape"):
        evaluate(game, {"prosecution": good, "defence": np.ones((3, 2)) / 2})
    with pytest.raises(ValueError, match=r"speaker 'prosecution'.*distribution"):
        evaluate(game, {"prosecution": [[0.5, 0.6], [0, 1]], "defence": good})
    with pytest.raises(ValueError, match="protocol"):
        evaluate(game, [good, good], protocol="auction")
    with pytest.raises(ValueError, match="n_eval"):
        evaluate(game, [good, good], protocol="best_ai", n_eval=0)


def test_too_large_to_enumerate_is_a_clear_error():
    game = load_game("random:k=8,states=4,actions=2,seed=0,rounds=3")
    schemes = [np.full((4, 4), 0.25)] * 8
    with pytest.raises(ValueError, match="too large to enumerate"):
        evaluate(game, schemes)


# ---------------------------------------------------------------------------------- the torch twin
TWIN_CASES = [
    dict(k=1, n_states=3, n_actions=3, messages=3, rounds=1, lam=7.0),
    dict(k=2, n_states=2, n_actions=2, messages=2, rounds=2, lam="inf", talk=True, user_signals=2),
    dict(k=2, n_states=3, n_actions=2, messages=2, rounds=1, lam=3.0, speaker_signals=2, visibility="private"),
    dict(k=3, n_states=2, n_actions=3, messages=2, rounds=1, lam=25.0, user_signals=3),
]


@pytest.mark.parametrize("case", TWIN_CASES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_torch_twin_matches_numpy_engine_and_brute_force(case, seed):
    """The numpy engine, its torch twin and the brute-force joint give the same P(a, y) on random
    games (noisy channels, a chatty user, private threads, several rounds)."""

    from persuaders.envs.payoff.differentiable import TorchPayoff

    rng = np.random.default_rng(seed)
    game = Game.from_dict(random_spec(rng, **case))
    schemes = random_schemes(rng, game)
    numpy_out = evaluate(game, schemes).outcome
    torch_out = TorchPayoff(game, range(game.n_speakers))(dict(enumerate(schemes)))[0].numpy()
    np.testing.assert_allclose(torch_out, numpy_out, atol=1e-12)
    user, speakers = brute_values(game, schemes)
    assert float((numpy_out * game.user.utility).sum()) == pytest.approx(user, abs=1e-10)
    for i, s in enumerate(game.speakers):
        assert float((numpy_out * s.utility).sum()) == pytest.approx(speakers[i], abs=1e-10)


@pytest.mark.parametrize("case", TWIN_CASES[:1] + TWIN_CASES[2:])
def test_torch_twin_gradient_matches_finite_differences(case):
    """d(speaker 0's value)/d(logits) from autograd equals a central finite difference of the
    numpy engine (logit users: the payoff is smooth)."""
    import torch

    from persuaders.envs.payoff.differentiable import TorchPayoff

    rng = np.random.default_rng(5)
    game = Game.from_dict(random_spec(rng, **case))
    logits = [rng.normal(size=(game.rounds, s.n_signals, game.messages)) for s in game.speakers]
    payoff = TorchPayoff(game, range(game.n_speakers))
    theta = torch.tensor(logits[0], requires_grad=True)
    schemes = {0: torch.softmax(theta, dim=-1)} | {
        i: torch.softmax(torch.tensor(z_i), dim=-1) for i, z_i in enumerate(logits) if i
    }
    value = (payoff(schemes)[0] * torch.as_tensor(game.speakers[0].utility)).sum()
    value.backward()

    def numpy_value(z: np.ndarray) -> float:
        sch = [np.exp(z) / np.exp(z).sum(-1, keepdims=True)] + [
            np.exp(z_j) / np.exp(z_j).sum(-1, keepdims=True) for z_j in logits[1:]
        ]
        return evaluate(game, sch).speaker_values[game.speakers[0].name]

    h = 1e-6
    grad = np.zeros_like(logits[0])
    for idx in np.ndindex(*grad.shape):
        up, down = logits[0].copy(), logits[0].copy()
        up[idx] += h
        down[idx] -= h
        grad[idx] = (numpy_value(up) - numpy_value(down)) / (2 * h)
    np.testing.assert_allclose(theta.grad.numpy(), grad, atol=1e-7)
