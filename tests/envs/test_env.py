"""The PettingZoo environment persuasion_v0: API conformance, seeding, semantics, errors, pickling."""

from __future__ import annotations

import functools
import math
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, render_test, seed_test, state_test

from persuaders.envs import persuasion_v0
from persuaders.envs.game import SpecError, load_game
from persuaders.envs.game.observations import ThreadTree
from persuaders.envs.game.schemes import softmax_rows
from persuaders.envs.game.users import response_at
from persuaders.envs.persuasion_v0 import PersuasionEnv
from tests.brute import brute_joint
from tests.hypothesis_profiles import examples

GAMES = ["kg", "kg_logit", "hull_pair", "kg_witness", "hull_pair_private", "noisy_advisors"]
REWARD_MODES = ["sample", "expect_action", "expect_all"]
# (protocol, n_eval) pairs exercised by the API suites.
PROTOCOLS = [("simultaneous", "exact"), ("best_ai", "exact"), ("best_ai", 16)]

# The API suites warn about style choices this environment makes on purpose (agents are named
# after the speakers, not "player_0"; speakers may have different signal counts).
API_WARNINGS = [
    "ignore:We recommend agents to be named:UserWarning",
    "ignore:Agents have different:UserWarning",
]


def play(env: PersuasionEnv, seed: int, policy, *, options=None):
    """Run one episode; ``policy(t, agent)`` gives logits at round ``t`` (read from the agent's
    observation: the step under ``simultaneous``, the thread node's round under ``best_ai``, where
    a policy of the round alone is an open-loop rule). Returns the list of step results."""
    obs, infos = env.reset(seed=seed, options=options)
    out = [(obs, infos)]
    while env.agents:
        out.append(env.step({a: policy(int(env.layout.round_of(obs[a][None])[0]), a) for a in env.agents}))
        obs = out[-1][0]
    return out


def reveal(game, name, big=50.0):
    """Logits of a fully revealing scheme for a speaker who sees the state (signal x -> message x)."""
    n = game.speakers[game.speaker_index(name)].n_signals
    return big * (2 * np.eye(n, game.messages) - 1)


def constant(game, name, m, big=1000.0):
    """Logits that always send message ``m`` (probability exactly 1 after softmax)."""
    n = game.speakers[game.speaker_index(name)].n_signals
    logits = -big * np.ones((n, game.messages))
    logits[:, m] = big
    return logits


def random_logits(seed):
    """A factory of fixed random per-round logits for an env's speakers (drawn once, then reused)."""
    rng = np.random.default_rng(seed)
    cache = {}

    def make(env):
        def policy(t, agent):
            key = (t, agent)
            if key not in cache:
                cache[key] = rng.normal(0, 3, env.action_space(agent).shape).astype(np.float32)
            return cache[key]

        return policy

    return make


def final_of(env, seed, policy):
    """Play one episode and return :func:`final` of it."""
    return final(play(env, seed, policy), env)


def final(results, env):
    """(rewards, infos) of the last step, each info completed with the episode's :attr:`outcome` record."""
    _, rewards, _, _, infos = results[-1]
    return rewards, {a: {**info, **env.outcome} for a, info in infos.items()}


# ---------------------------------------------------------------------------------- PettingZoo suites
@pytest.mark.filterwarnings(*API_WARNINGS)
@pytest.mark.parametrize("reward_mode", REWARD_MODES)
@pytest.mark.parametrize("protocol,n_eval", PROTOCOLS)
@pytest.mark.parametrize("game", GAMES)
def test_parallel_api(game, protocol, n_eval, reward_mode):
    parallel_api_test(
        persuasion_v0.parallel_env(game=game, protocol=protocol, n_eval=n_eval, reward_mode=reward_mode),
        num_cycles=20,
    )


@pytest.mark.filterwarnings(*API_WARNINGS)
@pytest.mark.parametrize("protocol,n_eval", PROTOCOLS)
@pytest.mark.parametrize("game", GAMES)
def test_aec_api(game, protocol, n_eval):
    api_test(persuasion_v0.env(game=game, protocol=protocol, n_eval=n_eval), num_cycles=20)


@pytest.mark.parametrize("protocol,n_eval", PROTOCOLS)
@pytest.mark.parametrize("game", GAMES)
def test_seed_suites(game, protocol, n_eval):
    opts = dict(game=game, protocol=protocol, n_eval=n_eval, reward_mode="sample")
    parallel_seed_test(functools.partial(persuasion_v0.parallel_env, **opts))
    seed_test(functools.partial(persuasion_v0.env, **opts))


@pytest.mark.parametrize("protocol", ["simultaneous", "best_ai"])
@pytest.mark.parametrize("game", GAMES)
def test_render_suite(game, protocol, capsys):
    render_test(functools.partial(persuasion_v0.env, game=game, protocol=protocol, n_eval=8))
    assert capsys.readouterr().out  # human mode printed something


@pytest.mark.filterwarnings(*API_WARNINGS)
@pytest.mark.parametrize("protocol", ["simultaneous", "best_ai"])
@pytest.mark.parametrize("game", GAMES)
def test_state_suite(game, protocol):
    opts = dict(game=game, protocol=protocol, n_eval=8)
    state_test(persuasion_v0.env(**opts), persuasion_v0.parallel_env(**opts))


def test_global_state_kg_by_hand():
    """kg (prior 0.7 innocent / 0.3 guilty; the prosecutor sees the state; the judge has one signal
    and one message). Scheme: innocent -> m0 or m1 with 1/2 each, guilty -> m1. An outside observer
    then holds P(innocent | m0) = 1 and P(innocent | m1) = 0.35 / (0.35 + 0.3)."""
    env = persuasion_v0.parallel_env(game="kg")
    eye = np.eye(2)
    seen = set()
    for seed in range(30):
        env.reset(seed=seed)
        s0 = env.state()
        assert env.state_space.shape == (12,) and env.state_space.contains(s0)
        y = int(np.argmax(s0[:2]))
        # [state | judge's signal | prosecutor's signal | round (2) | belief | judge's message | prosecutor's message]
        np.testing.assert_allclose(
            s0, np.concatenate([eye[y], [1], eye[y], [1, 0], [0.7, 0.3], [1], [0, 0]]), atol=1e-7
        )
        _, _, _, _, infos = env.step({"prosecutor": [[0.0, 0.0], [-30.0, 30.0]]})
        info = infos["prosecutor"]
        m = info["message"]
        assert info["state"] == y and not (y == 1 and m == 0)
        belief = [1.0, 0.0] if m == 0 else [0.35 / 0.65, 0.3 / 0.65]
        np.testing.assert_allclose(
            env.state(), np.concatenate([eye[y], [1], eye[y], [0, 1], belief, [1], eye[m]]), atol=1e-7
        )
        seen.add((y, m))
    assert seen == {(0, 0), (0, 1), (1, 1)}


def test_state_before_reset():
    with pytest.raises(RuntimeError, match="reset"):
        persuasion_v0.parallel_env(game="kg").state()


def test_registered_with_pettingzoo():
    import pettingzoo

    if not hasattr(pettingzoo, "make"):
        pytest.skip("PettingZoo's registry is new in 1.27")
    e = pettingzoo.make("parallel", "persuasion_v0", game="kg", reward_mode="expect_all")
    assert isinstance(e, PersuasionEnv)
    assert e.reward_mode == "expect_all"
    assert e.metadata == {"name": "persuasion_v0", "render_modes": ["ansi", "human"], "is_parallelizable": True}


# ---------------------------------------------------------------------------------- spaces
@pytest.mark.parametrize("game", GAMES)
def test_spaces(game):
    env = persuasion_v0.parallel_env(game=game)
    g = env.game
    assert env.possible_agents == list(g.speaker_names)
    for i, a in enumerate(env.possible_agents):
        assert env.action_space(a) is env.action_space(a)
        assert env.observation_space(a) is env.observation_space(a)
        assert env.action_space(a).shape == (g.speakers[i].n_signals, g.messages)
        assert env.action_space(a).dtype == np.float32
        assert env.observation_space(a).shape == (env.layout.size,)
    obs, _ = env.reset(seed=0)
    for a, o in obs.items():
        assert o.dtype == np.float32 and env.observation_space(a).contains(o)


# ---------------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("reward_mode", REWARD_MODES)
@pytest.mark.parametrize("protocol,n_eval", PROTOCOLS)
@pytest.mark.parametrize("game", ["hull_pair_private", "kg_witness", "noisy_advisors"])
def test_full_episode_determinism(game, protocol, n_eval, reward_mode):
    make = functools.partial(
        persuasion_v0.parallel_env, game=game, protocol=protocol, n_eval=n_eval, reward_mode=reward_mode
    )
    pol = random_logits(7)
    e1, e2 = make(), make()
    policy = pol(e1)
    for seed in (0, 1, 2):
        r1 = play(e1, seed, policy)
        r2 = play(e2, seed, policy)
        assert len(r1) == len(r2) == e1.sim.steps_per_episode + 1
        assert e1.sim.steps_per_episode == (
            e1.game.rounds if protocol == "simultaneous" else ThreadTree.for_game(e1.game).size
        )
        for s1, s2 in zip(r1, r2, strict=True):
            np.testing.assert_equal(s1, s2)
        # The same env, reset with the same seed, replays the episode.
        np.testing.assert_equal(play(e1, seed, policy), r1)


def test_reset_without_seed_continues_the_stream():
    make = functools.partial(persuasion_v0.parallel_env, game="noisy_advisors", reward_mode="sample")
    e1, e2 = make(), make()
    zero = lambda t, a: np.zeros(e1.action_space(a).shape)
    e1.reset(seed=5)
    e2.reset(seed=5)
    outcomes = []
    for _ in range(20):
        for e in (e1, e2):
            e.reset()
        r1 = e1.step({a: zero(0, a) for a in e1.agents})
        r2 = e2.step({a: zero(0, a) for a in e2.agents})
        np.testing.assert_equal(r1, r2)
        outcomes.append(r1[4]["cautious"]["state"])
    assert len(set(outcomes)) > 1  # the stream moves on between episodes


# ---------------------------------------------------------------------------------- semantics
def test_kg_full_revelation_gives_point_mass_posterior():
    env = persuasion_v0.parallel_env(game="kg")
    g = env.game
    states = set()
    for seed in range(20):
        rewards, infos = final_of(env, seed, lambda t, a: [[10, -10], [-10, 10]])
        info = infos["prosecutor"]
        y = info["state_index"]
        states.add(y)
        np.testing.assert_allclose(info["posterior"], np.eye(2)[y], atol=1e-6)
        assert info["user_action_index"] == y  # the judge convicts exactly the guilty
        assert info["user_utility"] == 1.0 and info["user_expected_utility"] == pytest.approx(1.0)
        assert rewards["prosecutor"] == pytest.approx(g.speakers[0].utility[y, y])
        assert info["message"] == y
    assert states == {0, 1}


def test_observation_never_shows_the_private_signal():
    # kg: the judge is silent, so the first observation cannot depend on the drawn state.
    env = persuasion_v0.parallel_env(game="kg")
    first = {env.reset(seed=s)[0]["prosecutor"].tobytes() for s in range(20)}
    assert len(first) == 1


def _two_runs(game, seed, fixed_name, varied_name, informative):
    """Observations after step 0 when only ``varied_name``'s message differs (m0 vs m1)."""
    env = persuasion_v0.parallel_env(game=game)
    g = env.game
    out = []
    for m in (0, 1):
        env.reset(seed=seed)
        obs, _, _, _, infos = env.step({fixed_name: informative, varied_name: constant(g, varied_name, m)})
        assert infos[varied_name]["message"] == m
        out.append((obs, infos))
    assert out[0][1][fixed_name]["message"] == out[1][1][fixed_name]["message"]
    return out


@pytest.mark.parametrize("seed", range(5))
def test_private_threads_hide_the_other_speakers_message(seed):
    informative = np.array([[1.0, -0.5], [-1.0, 2.0]])
    (o0, _), (o1, _) = _two_runs("hull_pair_private", seed, "prosecution", "defence", informative)
    np.testing.assert_array_equal(o0["prosecution"], o1["prosecution"])
    assert not np.array_equal(o0["defence"], o1["defence"])  # the sender's own thread records it


@pytest.mark.parametrize("seed", range(5))
def test_public_messages_are_seen_by_everyone(seed):
    informative = np.array([[1.0, -0.5], [-1.0, 2.0]])
    (o0, _), (o1, _) = _two_runs("hull_pair", seed, "prosecution", "defence", informative)
    assert not np.array_equal(o0["prosecution"], o1["prosecution"])


def test_public_belief_uses_the_other_speakers_message():
    # hull_pair: the defence reveals the state, so the prosecution's belief becomes a point mass.
    env = persuasion_v0.parallel_env(game="hull_pair")
    g = env.game
    for seed in range(10):
        env.reset(seed=seed)
        obs, _, _, _, infos = env.step({"prosecution": np.zeros((2, 2)), "defence": reveal(g, "defence")})
        y = infos["prosecution"]["state"]
        np.testing.assert_allclose(obs["prosecution"][env.layout.belief_slice], np.eye(2)[y], atol=1e-6)


def test_kg_witness_revealed_signal_and_bayes_belief():
    env = persuasion_v0.parallel_env(game="kg_witness")
    lay = env.layout
    assert lay.user_messages == 2 and lay.rounds == 2
    # Bayes by hand: prior (0.6, 0.4); the witness is right w.p. 0.7.
    by_hand = {
        0: np.array([0.6 * 0.7, 0.4 * 0.3]) / (0.6 * 0.7 + 0.4 * 0.3),  # (7/9, 2/9)
        1: np.array([0.6 * 0.3, 0.4 * 0.7]) / (0.6 * 0.3 + 0.4 * 0.7),  # (9/23, 14/23)
    }
    seen = set()
    for seed in range(30):
        obs, _ = env.reset(seed=seed)
        o = obs["prosecutor"]
        user_slot = o[lay.belief_slice.stop : lay.belief_slice.stop + lay.rounds * lay.user_messages]
        user_slot = user_slot.reshape(lay.rounds, lay.user_messages)
        said = int(np.argmax(user_slot[0]))
        assert user_slot[0].sum() == 1.0 and user_slot[1].sum() == 0.0  # round 2 not yet said
        np.testing.assert_allclose(o[lay.belief_slice], by_hand[said], rtol=1e-6)
        _, _, _, _, infos = env.step({"prosecutor": np.zeros((2, 2))})
        o1 = infos["prosecutor"]
        _, _, _, _, infos = env.step({"prosecutor": np.zeros((2, 2))})
        assert env.outcome["user_signal"] == said  # she revealed her true signal
        assert env.outcome["transcript"]["user"][0] == said
        assert o1["message"] in (0, 1)
        seen.add(said)
    assert seen == {0, 1}


def _brute_check(game_name, reward_mode, seed, policy, protocol="simultaneous"):
    """Posterior and rewards of one episode against the brute-force joint over every signal."""
    env = persuasion_v0.parallel_env(game=game_name, reward_mode=reward_mode, protocol=protocol)
    g = env.game
    results = play(env, seed, policy)
    rewards, infos = final(results, env)
    info = infos[g.speaker_names[0]]
    schemes = [np.stack([softmax_rows(policy(t, s.name)) for t in range(g.rounds)]) for s in g.speakers]
    joint = brute_joint(g, schemes)
    zs = tuple(info["transcript"]["user"])
    ms = tuple(info["transcript"][g.speaker_names[i]][t] for t in range(g.rounds) for i in range(g.n_speakers))
    w = {x0: joint.get((x0, zs, ms), np.zeros(g.n_states)) for x0 in range(g.user.n_signals)}
    x0 = info["user_signal"]
    post = w[x0] / w[x0].sum()
    np.testing.assert_allclose(info["posterior"], post, atol=1e-10)
    q = response_at(post, g.user.utility, g.user.model)
    np.testing.assert_allclose(info["action_probs"], q, atol=1e-10)
    y, a = info["state_index"], info["user_action_index"]
    assert info["state"] == g.states[y] and info["user_action"] == g.actions[a]
    assert info["user_utility"] == g.user.utility[a, y]
    assert info["user_expected_utility"] == pytest.approx(q @ g.user.utility[:, y])
    for s in g.speakers:
        if reward_mode == "sample":
            want = s.utility[a, y]
        elif reward_mode == "expect_action":
            want = q @ s.utility[:, y]
        else:
            total = sum(v.sum() for v in w.values())
            want = 0.0
            for v in w.values():
                if v.sum() == 0:
                    continue
                qx = response_at(v / v.sum(), g.user.utility, g.user.model)
                want += (v / total) @ (qx @ s.utility)
        assert rewards[s.name] == pytest.approx(want, abs=1e-10), (s.name, reward_mode)
    # Rewards are zero before the last step; every step's infos carry each speaker's message.
    for step in results[1:-1]:
        assert all(r == 0.0 for r in step[1].values())
        assert all("message" in inf for inf in step[4].values())


@pytest.mark.parametrize("reward_mode", REWARD_MODES)
@pytest.mark.parametrize("game", ["kg_witness", "hull_pair_private", "noisy_advisors", "kg_logit"])
def test_posterior_and_rewards_match_brute_force(game, reward_mode):
    g = load_game(game)
    rng = np.random.default_rng(3)
    logits = {(t, s.name): rng.normal(0, 2, (s.n_signals, g.messages)) for t in range(g.rounds) for s in g.speakers}
    for seed in range(4):
        _brute_check(game, reward_mode, seed, lambda t, a: logits[(t, a)])


@pytest.mark.parametrize("reward_mode", REWARD_MODES)
@pytest.mark.parametrize("game", ["kg_witness", "kg_logit"])
def test_best_ai_deployment_matches_brute_force(game, reward_mode):
    # With one speaker, best_ai always deploys it: the deployment is the whole conversation.
    g = load_game(game)
    rng = np.random.default_rng(4)
    logits = {(t, s.name): rng.normal(0, 2, (s.n_signals, g.messages)) for t in range(g.rounds) for s in g.speakers}
    for seed in range(4):
        _brute_check(game, reward_mode, seed, lambda t, a: logits[(t, a)], protocol="best_ai")


def test_terminal_step_flags_and_agents():
    env = persuasion_v0.parallel_env(game="hull_pair_private")
    env.reset(seed=0)
    zero = {a: np.zeros(env.action_space(a).shape) for a in env.agents}
    _, r, term, trunc, _ = env.step(zero)
    assert env.agents == ["prosecution", "defence"]
    assert not any(term.values()) and not any(trunc.values()) and all(v == 0.0 for v in r.values())
    obs, r, term, trunc, infos = env.step(zero)
    assert all(term.values()) and not any(trunc.values())
    assert env.agents == []
    assert set(obs) == set(r) == set(infos) == {"prosecution", "defence"}
    for o in obs.values():
        assert o[env.game.rounds] == 1.0  # terminal round index
    with pytest.raises(RuntimeError):
        env.step(zero)


# ---------------------------------------------------------------------------------- best-AI
def test_best_ai_exact_scores_and_selection():
    from persuaders.envs.payoff import solo_outcomes

    env = persuasion_v0.parallel_env(game="hull_pair", protocol="best_ai")
    g = env.game
    policy = {"prosecution": reveal(g, "prosecution"), "defence": np.zeros((2, 2))}
    schemes = [softmax_rows(policy[n])[None] for n in g.speaker_names]
    user_values, _ = solo_outcomes(g, schemes)
    for seed in range(10):
        rewards, infos = final_of(env, seed, lambda t, a: policy[a])
        info = infos["defence"]
        assert info["scores"] == pytest.approx(dict(zip(g.speaker_names, user_values, strict=True)))
        assert info["scores"]["prosecution"] == pytest.approx(0.6)  # full information
        assert info["scores"]["defence"] == pytest.approx(0.54)  # no information
        assert info["selected"] == "prosecution"
        y = info["state_index"]
        np.testing.assert_allclose(info["posterior"], np.eye(2)[y], atol=1e-9)
        assert info["transcript"]["defence"] == []  # the unselected speaker says nothing
        assert info["transcript"]["prosecution"] == [y]
        # Every speaker is paid on the deployment outcome.
        for s in g.speakers:
            assert rewards[s.name] == pytest.approx(s.utility[y, y])


def test_best_ai_ties_split_at_random():
    env = persuasion_v0.parallel_env(game="hull_pair", protocol="best_ai")
    chosen = set()
    for seed in range(30):
        _, infos = final_of(env, seed, lambda t, a: np.zeros((2, 2)))
        s = infos["prosecution"]["scores"]
        assert s["prosecution"] == pytest.approx(s["defence"], abs=1e-12)
        chosen.add(infos["prosecution"]["selected"])
    assert chosen == {"prosecution", "defence"}


@pytest.mark.parametrize("game", ["noisy_advisors", "hull_pair_private"])
def test_best_ai_sampled_scores_approach_exact(game):
    from persuaders.envs.payoff import solo_outcomes

    n = 40_000
    env = persuasion_v0.parallel_env(game=game, protocol="best_ai", n_eval=n)
    g = env.game
    rng = np.random.default_rng(0)
    logits = {(t, s.name): rng.normal(0, 2, (s.n_signals, g.messages)) for t in range(g.rounds) for s in g.speakers}
    schemes = [np.stack([softmax_rows(logits[(t, s.name)]) for t in range(g.rounds)]) for s in g.speakers]
    exact, _ = solo_outcomes(g, schemes)
    _, infos = final_of(env, 0, lambda t, a: logits[(t, a)])
    scores = np.array([infos[g.speaker_names[0]]["scores"][n_] for n_ in g.speaker_names])
    spread = np.ptp(g.user.utility) / 2  # bound on the standard deviation of one utility
    np.testing.assert_allclose(scores, exact, atol=5 * spread / math.sqrt(n))


# ---------------------------------------------------------------------------------- rendering
def test_render_transcripts():
    env = persuasion_v0.parallel_env(game="hull_pair_private", render_mode="ansi")
    text = env.render()
    assert isinstance(text, str) and "reset" in text
    play(env, 0, lambda t, a: np.zeros((2, 2)))
    text = env.render()
    for word in ("state:", "judge", "prosecution", "defence", "round 1/2", "round 2/2", "posterior", "acts", "payoffs"):
        assert word in text
    assert "m0" in text or "m1" in text

    env = persuasion_v0.parallel_env(game="hull_pair", protocol="best_ai", render_mode="ansi")
    play(env, 0, lambda t, a: np.zeros((2, 2)))
    text = env.render()
    assert "selected" in text and "evaluation" in text and "committed schemes" in text


def test_render_human_prints(capsys):
    env = persuasion_v0.parallel_env(game="kg", render_mode="human")
    play(env, 0, lambda t, a: np.zeros((2, 2)))
    assert env.render() is None
    assert "prosecutor" in capsys.readouterr().out


# ---------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "bad,match",
    [
        (np.array([[np.nan, 0.0], [0.0, 0.0]]), "finite"),
        (np.array([[np.inf, 0.0], [0.0, 0.0]]), "finite"),
        (np.zeros(2), r"\(2, 2\)"),
        (np.zeros((2, 3)), r"\(2, 2\)"),
        (None, "missing"),
        ("abc", "numeric"),
    ],
)
def test_bad_actions_name_the_speaker(bad, match):
    env = persuasion_v0.parallel_env(game="hull_pair")
    env.reset(seed=0)
    before = env.state()
    with pytest.raises(ValueError, match="defence") as err:
        env.step({"prosecution": np.zeros((2, 2)), "defence": bad})
    assert err.match(match)
    np.testing.assert_array_equal(env.state(), before)  # a rejected step changes nothing
    assert env.agents == ["prosecution", "defence"]


def test_missing_and_unknown_speakers():
    env = persuasion_v0.parallel_env(game="hull_pair")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="defence"):
        env.step({"prosecution": np.zeros((2, 2))})
    with pytest.raises(ValueError, match="judge"):
        env.step({"prosecution": np.zeros((2, 2)), "defence": np.zeros((2, 2)), "judge": np.zeros((2, 2))})
    with pytest.raises(ValueError, match="dict"):
        env.step([np.zeros((2, 2))] * 2)


def test_step_before_reset():
    with pytest.raises(RuntimeError, match="reset"):
        persuasion_v0.parallel_env(game="kg").step({"prosecutor": np.zeros((2, 2))})


@settings(max_examples=examples(40), deadline=None)
@given(
    st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=8, max_size=8),
    st.integers(0, 2**31 - 1),
)
def test_any_finite_logits_are_legal(values, seed):
    env = persuasion_v0.parallel_env(game="hull_pair_private", reward_mode="expect_all")
    logits = np.array(values).reshape(2, 2, 2)
    results = play(env, seed, lambda t, a: logits[t] if a == "prosecution" else -logits[t])
    for step in results[1:]:
        for a, o in step[0].items():
            assert env.observation_space(a).contains(o)
    rewards, _infos = final(results, env)
    assert math.isclose(sum(env.outcome["posterior"]), 1.0)
    assert all(np.isfinite(list(rewards.values())))


@pytest.mark.parametrize(
    "option,value",
    [
        ("protocol", "sequential"),
        ("reward_mode", "expected"),
        ("render_mode", "rgb_array"),
        ("n_eval", 0),
        ("n_eval", -3),
        ("n_eval", 2.5),
        ("n_eval", "approx"),
        ("n_eval", True),
    ],
)
def test_bad_options_name_the_option(option, value):
    with pytest.raises(ValueError, match=option) as err:
        persuasion_v0.parallel_env(game="kg", **{option: value})
    if option != "n_eval":
        assert err.match("simultaneous|sample|ansi")  # the allowed values are listed


def test_bad_game():
    with pytest.raises(SpecError, match="game"):
        persuasion_v0.parallel_env(game="no_such_game")


def test_game_object_and_yaml_path():
    g = load_game("kg")
    for spec in (g, str(Path(__file__).resolve().parents[2] / "configs" / "games" / "kg.yaml")):
        env = persuasion_v0.parallel_env(game=spec)
        assert env.game.name == "kg" and env.possible_agents == ["prosecutor"]


# ---------------------------------------------------------------------------------- pickling
@pytest.mark.parametrize("game", ["kg", load_game("hull_pair_private")], ids=["name", "Game"])
def test_ezpickle_round_trip(game):
    env = persuasion_v0.parallel_env(game=game, protocol="best_ai", n_eval=8, reward_mode="sample", render_mode="ansi")
    env.reset(seed=3)
    clone = pickle.loads(pickle.dumps(env))
    assert isinstance(clone, PersuasionEnv)
    assert (clone.protocol.name, clone.n_eval, clone.reward_mode, clone.render_mode) == ("best_ai", 8, "sample", "ansi")
    assert clone.possible_agents == env.possible_agents
    policy = lambda t, a: np.ones(env.action_space(a).shape)
    np.testing.assert_equal(play(clone, 11, policy), play(env, 11, policy))
    aec = pickle.loads(pickle.dumps(persuasion_v0.env(game=game)))
    aec.reset(seed=0)
    assert aec.agents == env.possible_agents


# ---------------------------------------------------------------------------------- other libraries' needs
@pytest.mark.filterwarnings(*API_WARNINGS)
@pytest.mark.parametrize("protocol,n_eval", PROTOCOLS)
@pytest.mark.parametrize("game", ["kg", "hull_pair_private", "noisy_advisors"])
def test_flat_actions_and_agent_ids_pass_the_pettingzoo_suites(game, protocol, n_eval):
    opts = dict(game=game, protocol=protocol, n_eval=n_eval, action_format="flat", agent_id=True)
    parallel_api_test(persuasion_v0.parallel_env(**opts), num_cycles=20)
    api_test(persuasion_v0.env(**opts), num_cycles=20)
    parallel_seed_test(functools.partial(persuasion_v0.parallel_env, **opts, reward_mode="sample"))


def test_flat_actions_are_the_matrix_row_by_row_and_ids_identify_the_speaker():
    g = load_game("hull_pair_private")
    flat = persuasion_v0.parallel_env(g, action_format="flat", agent_id=True)
    matrix = persuasion_v0.parallel_env(g)
    rng = np.random.default_rng(0)
    logits = {a: rng.normal(size=(2, 2)) for a in g.speaker_names}
    o_flat, _ = flat.reset(seed=3)
    o_mat, _ = matrix.reset(seed=3)
    for _t in range(g.rounds):
        for i, a in enumerate(g.speaker_names):
            assert flat.action_space(a).shape == (4,) and flat.observation_space(a).shape == (matrix.layout.size + 2,)
            np.testing.assert_array_equal(o_flat[a][-2:], np.eye(2)[i])  # the one-hot speaker id
            np.testing.assert_array_equal(o_flat[a][:-2], o_mat[a])
        o_flat, r_flat, *_ = flat.step({a: logits[a].reshape(-1) for a in g.speaker_names})
        o_mat, r_mat, *_ = matrix.step(logits)
        assert r_flat == r_mat
    with pytest.raises(ValueError, match=r"\(4,\)"):
        flat.reset(seed=0)
        flat.step({a: logits[a] for a in g.speaker_names})  # a matrix given to the flat env names the shape


@pytest.mark.parametrize("protocol", ["simultaneous", "best_ai"])
def test_infos_have_the_same_keys_and_types_at_every_step(protocol):
    from persuaders.envs.persuasion_v0 import INFO_KEYS

    env = persuasion_v0.parallel_env("hull_pair_private", protocol=protocol)
    results = play(env, 0, lambda t, a: np.zeros((2, 2)))
    infos = [results[0][1]] + [step[4] for step in results[1:]]
    types = None
    for step_infos in infos:
        for info in step_infos.values():
            assert tuple(info) == INFO_KEYS
            t = tuple(type(v) for v in info.values())
            types = types or t
            assert t == types  # numbers of one type per key: no None, no strings
    last = infos[-1]["prosecution"]
    assert last["ended"] and last["state"] in (0, 1) and last["user_action"] in (0, 1)


@pytest.mark.parametrize("copier", ["pickle", "deepcopy"])
@pytest.mark.parametrize("protocol", ["simultaneous", "best_ai"])
def test_copies_keep_the_episode(copier, protocol):
    """A copy made mid-episode continues exactly as the original does (same random stream)."""
    import copy

    env = persuasion_v0.parallel_env(
        "hull_pair_private", protocol=protocol, n_eval=4, reward_mode="sample", render_mode="ansi"
    )
    env.reset(seed=11)
    first = {a: np.ones((2, 2)) for a in env.agents}
    env.step(first)
    clone = pickle.loads(pickle.dumps(env)) if copier == "pickle" else copy.deepcopy(env)
    assert clone.agents == env.agents and clone.render() == env.render()
    np.testing.assert_array_equal(clone.state(), env.state())
    second = {a: np.array([[2.0, -1.0], [0.5, 0.0]]) for a in env.agents}
    np.testing.assert_equal(clone.step(second), env.step(second))
    assert clone.outcome == env.outcome and clone.render() == env.render()
    np.testing.assert_equal(play(clone, 5, lambda t, a: np.zeros((2, 2))), play(env, 5, lambda t, a: np.zeros((2, 2))))
