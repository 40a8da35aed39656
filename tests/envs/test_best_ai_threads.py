"""Closed-loop commitments under best_ai: rules on the solo thread, exactly and in the environments.

A best_ai speaker's rule maps its solo thread with the user (the round, her messages, its own
earlier messages and their belief) to a scheme (docs/science.md, "Protocols"). The exact evaluator
calls it at every node of each solo conversation; the environments walk the nodes, one per step.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import pytest
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test, state_test

from persuaders.envs import persuasion_v0
from persuaders.envs.game import Game, load_game
from persuaders.envs.game.observations import ObservationLayout, ThreadTree
from persuaders.envs.game.schemes import softmax_rows
from persuaders.envs.game.users import response_at
from persuaders.envs.payoff import ExactEngine, evaluate
from persuaders.envs.payoff.exact import ThreadValues
from persuaders.envs.persuasion.batched import BatchedPersuasionEnv
from persuaders.envs.persuasion.selection import MAX_THREAD_NODES, thread_nodes
from persuaders.train.summary import committed_schemes

API_WARNINGS = ["ignore:We recommend agents to be named:UserWarning", "ignore:Agents have different:UserWarning"]
LAM = 20.0  # kg_witness: the judge's rationality
POOL = np.array([[1.0, 0.0], [1.0, 0.0]])  # always m0
KG = np.array([[0.5, 0.5], [0.0, 1.0]])  # innocent -> m1 w.p. 1/2, guilty -> m1
REVEAL = np.eye(2)
UNIFORM = np.full((2, 2), 0.5)


# ---------------------------------------------------------------------------------- rules of the thread
def decode(layout: ObservationLayout, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The thread in a batch of observations ``[B, D]``: round ``[B]``, the user's messages and the
    speaker's own ``[B, R]`` (-1 where not said), read off the one-hot slots."""
    obs = np.asarray(obs)
    r, zmax, m = layout.rounds, layout.user_messages, layout.messages
    t = obs[:, : r + 1].argmax(axis=1)
    user = obs[:, layout.user_offset : layout.heard_offset].reshape(len(obs), r, zmax)
    own = obs[:, layout.heard_offset : layout.size].reshape(len(obs), r, m)
    said_user = np.where(user.sum(axis=2) > 0, user.argmax(axis=2), -1)
    said_own = np.where(own.sum(axis=2) > 0, own.argmax(axis=2), -1)
    return t, said_user, said_own


def node_key(t: int, user: np.ndarray, own: np.ndarray) -> tuple:
    """``(t, the user's messages through round t, own messages before it)``, as ints."""
    t = int(t)
    return t, tuple(int(z) for z in user[: t + 1]), tuple(int(m) for m in own[:t])


def node_rule(game: Game, table: dict) -> callable:
    """A rule as a function of the thread observation: ``table[(t, user messages, own messages)]``
    (tuples of the messages said so far) is the scheme at that node."""
    layout = ObservationLayout.for_thread(game)

    def rule(obs):
        t, user, own = decode(layout, obs)
        return np.stack([table[node_key(t[b], user[b], own[b])] for b in range(len(obs))])

    return rule


def witness_rule() -> dict:
    """kg_witness: pool in round 1; in round 2 reveal the state if the judge's witness said guilty
    (she revealed z = 1), the Kamenica-Gentzkow split if it said innocent. Nodes after an own m1 are
    never reached (uniform there)."""
    table = {(0, (z,), ()): POOL for z in (0, 1)}
    table.update({(1, (0, 0), (0,)): KG, (1, (1, 0), (0,)): REVEAL})
    table.update({(1, (z, 0), (1,)): UNIFORM for z in (0, 1)})
    return table


def witness_by_hand() -> tuple[float, float]:
    """(judge's value, prosecutor's value) of :func:`witness_rule`, by hand.

    P(y, x0): innocent 0.6 (witness right w.p. 0.7), guilty 0.4. With ``c = sigma(20)`` (the judge at a
    point mass acts right w.p. c): x0 = 1 (mass 0.46), revealed, right w.p. c. x0 = 0 and m2 = 0
    (innocent, mass 0.42 / 2 = 0.21): a point mass on innocent. x0 = 0 and m2 = 1: innocent 0.21,
    guilty 0.12, P(guilty) = 4/11, so she convicts w.p. ``r = sigma(20 (4/11 - 7/11))``.
    """
    c = 1.0 / (1.0 + math.exp(-LAM))
    r = 1.0 / (1.0 + math.exp(LAM * 3.0 / 11.0))
    judge = 0.46 * c + 0.21 * c + 0.21 * (1 - r) + 0.12 * r
    prosecutor = 0.18 * (1 - c) + 0.28 * c + 0.21 * (1 - c) + 0.33 * r
    return judge, prosecutor


def brute_solo(game: Game, i: int, table: dict) -> tuple[float, np.ndarray]:
    """(user value, speakers' values) of speaker ``i`` alone with the user under a node table, by
    loops over the state, every signal and every message (no factorisation, no engine)."""
    sp, u, conv = game.speakers[i], game.user, game.user.conversation
    joint: dict = {}
    for y, x0, x in itertools.product(range(game.n_states), range(u.n_signals), range(sp.n_signals)):
        base = game.prior[y] * u.observation[y, x0] * sp.observation[y, x]
        for zs in itertools.product(*[range(c.shape[1]) for c in conv]):
            for ms in itertools.product(range(game.messages), repeat=game.rounds):
                p = base
                for t in range(game.rounds):
                    p *= conv[t][x0, zs[t]] * table[(t, tuple(zs[: t + 1]), tuple(ms[:t]))][x, ms[t]]
                if p > 0:
                    joint.setdefault((x0, zs, ms), np.zeros(game.n_states))[y] += p
    outcome = np.zeros((game.n_actions, game.n_states))
    for w in joint.values():
        q = response_at(w / w.sum(), u.utility, u.model)
        outcome += q[:, None] * w[None, :]
    return float((outcome * u.utility).sum()), np.array([(outcome * s.utility).sum() for s in game.speakers])


def random_table(game: Game, seed: int, i: int = 0) -> dict:
    """A random full-support scheme ``[X_i, M]`` of speaker ``i`` at every thread node."""
    rng = np.random.default_rng(seed)
    tab = ThreadTree.for_game(game).table
    out = {}
    for j in range(len(tab["round"])):
        key = node_key(tab["round"][j], tab["user"][j], tab["own"][j])
        out[key] = rng.dirichlet(np.ones(game.messages), size=game.speakers[i].n_signals)
    return out


def logits_of(rule: callable, x: int) -> callable:
    """Environment logits ``[B, X_max, M]`` of a rule's schemes (zeros become -1000: exact zeros)."""

    def policy(obs):
        p = rule(obs)[:, :x]
        return np.where(p > 0, np.log(np.maximum(p, 1e-300)), -1000.0)

    return policy


# ---------------------------------------------------------------------------------- exact evaluation
def test_witness_rule_exact_value_by_hand_and_brute_force():
    game = load_game("kg_witness")
    rule = node_rule(game, witness_rule())
    out = evaluate(game, {"prosecutor": rule}, protocol="best_ai")
    judge, prosecutor = witness_by_hand()
    assert out.user_value == pytest.approx(judge, abs=1e-12)
    assert out.speaker_values["prosecutor"] == pytest.approx(prosecutor, abs=1e-12)
    assert out.selection == {"prosecutor": 1.0}
    brute_user, brute_spk = brute_solo(game, 0, witness_rule())
    assert out.user_value == pytest.approx(brute_user, abs=1e-12)
    assert out.speaker_values["prosecutor"] == pytest.approx(brute_spk[0], abs=1e-12)
    # One speaker in public: the joint conversation is its thread, so simultaneous agrees.
    assert evaluate(game, {"prosecutor": rule}, protocol="simultaneous").user_value == pytest.approx(judge, abs=1e-12)


def test_the_rule_reacts_to_the_revealed_signal():
    """Swap what it does after the witness's two reports: the value changes (to the swapped hand value)."""
    game = load_game("kg_witness")
    swapped = witness_rule()
    swapped[(1, (0, 0), (0,))], swapped[(1, (1, 0), (0,))] = REVEAL, KG
    a = evaluate(game, {"prosecutor": node_rule(game, witness_rule())}, protocol="best_ai")
    b = evaluate(game, {"prosecutor": node_rule(game, swapped)}, protocol="best_ai")
    assert b.user_value == pytest.approx(brute_solo(game, 0, swapped)[0], abs=1e-12)
    assert abs(a.user_value - b.user_value) > 0.01
    # An open-loop rule (the same scheme after either report) can do neither.
    for scheme in (KG, REVEAL):
        flat = evaluate(game, {"prosecutor": np.stack([POOL, scheme])}, protocol="best_ai")
        assert min(abs(flat.user_value - a.user_value), abs(flat.user_value - b.user_value)) > 0.01


@pytest.mark.parametrize("name", ["kg_witness", "hull_pair_private", "noisy_advisors_2_rounds"])
def test_random_rules_match_brute_force_and_the_node_table(name):
    game = load_game("noisy_advisors").replace(rounds=2) if name == "noisy_advisors_2_rounds" else load_game(name)
    tables = [random_table(game, 10 + i, i) for i in range(game.n_speakers)]
    out = evaluate(game, [node_rule(game, t) for t in tables], protocol="best_ai")
    for i, s in enumerate(game.speakers):
        assert out.solo_user_values[s.name] == pytest.approx(brute_solo(game, i, tables[i])[0], abs=1e-12)
    # The environments' exact scores: the same rules tabulated in ThreadTree order.
    tab = ThreadTree.for_game(game).table
    x_max = max(s.n_signals for s in game.speakers)
    rules = np.zeros((1, game.n_speakers, len(tab["round"]), x_max, game.messages))
    for i, table in enumerate(tables):
        for j in range(len(tab["round"])):
            key = node_key(tab["round"][j], tab["user"][j], tab["own"][j])
            rules[0, i, j, : game.speakers[i].n_signals] = table[key]
    np.testing.assert_allclose(ThreadValues(game)(rules)[0], list(out.solo_user_values.values()), atol=1e-12)


def test_the_engine_calls_the_rule_with_the_thread_the_environment_shows():
    """Every observation the exact engine passes a rule is one the environment's walk shows it, and
    every node the walk visits (of positive probability) is one the engine asks about."""
    game = load_game("hull_pair_private")
    tables = [random_table(game, 3, 0), random_table(game, 4, 1)]
    seen = [set(), set()]

    def recording(i):
        rule = node_rule(game, tables[i])

        def fn(obs):
            seen[i].update(np.round(o, 6).tobytes() for o in np.asarray(obs, dtype=np.float32))
            return rule(obs)

        return fn

    evaluate(game, [recording(0), recording(1)], protocol="best_ai")
    env = BatchedPersuasionEnv(game, 1, protocol="best_ai", seed=0)
    obs = env.reset()
    shown = [set(), set()]
    policies = [logits_of(node_rule(game, t), 2) for t in tables]
    done = False
    while not done:
        for i in range(2):
            shown[i].add(np.round(obs[0, i], 6).tobytes())
        obs, _, done, _ = env.step(np.stack([policies[i](obs[:, i]) for i in range(2)], axis=1))
    assert seen == shown and len(seen[0]) == ThreadTree.for_game(game).size == 5


# ---------------------------------------------------------------------------------- environments
def _thread_belief(g, i, schemes, user, own):
    """Bayes by loops: P(y | the user's messages ``user``, speaker i's own ``own``) in its solo thread,
    its round-s scheme ``schemes[s]``: sum over x0 and x_i of the product of every factor."""
    w = np.zeros(g.n_states)
    for y in range(g.n_states):
        for x0 in range(g.user.n_signals):
            for x in range(g.speakers[i].n_signals):
                p = g.prior[y] * g.user.observation[y, x0] * g.speakers[i].observation[y, x]
                p *= np.prod([g.user.conversation[s][x0, z] for s, z in enumerate(user)])
                p *= np.prod([schemes[s][x, m] for s, m in enumerate(own)])
                w[y] += p
    return w / w.sum()


@pytest.mark.parametrize("game", ["hull_pair_private", "kg_witness", "hull_pair"])
def test_best_ai_observation_is_the_solo_thread(game):
    """Under best_ai the steps walk the nodes of the solo thread (round by round, each round's nodes in
    the order of (z_1, m_1, ..., z_t)); at each, every speaker sees the private-thread encoding of the
    node: the round, the user's messages, its own earlier messages, and their Bayes belief."""
    env = persuasion_v0.parallel_env(game=game, protocol="best_ai", n_eval=4)
    lay, g = env.layout, env.game
    assert lay.n_heard == 1
    assert lay.size == (g.rounds + 1) + g.n_states + g.rounds * max(g.user_message_counts) + g.rounds * g.messages
    rng = np.random.default_rng(1)
    logits = {(t, a): rng.normal(0, 2, env.action_space(a).shape) for t in range(g.rounds) for a in env.possible_agents}
    schemes = {a: [softmax_rows(logits[(t, a)]) for t in range(g.rounds)] for a in env.possible_agents}
    # The nodes in walking order: (round, the user's messages, own messages).
    nodes = []
    for t in range(g.rounds):
        ranges = [range(g.user_message_counts[0])]
        ranges += [r for s in range(1, t + 1) for r in (range(g.messages), range(g.user_message_counts[s]))]
        nodes += [(t, digits[0::2], digits[1::2]) for digits in itertools.product(*ranges)]
    assert env.sim.steps_per_episode == len(nodes)
    obs, _ = env.reset(seed=0)
    for step, (t, user, own) in enumerate(nodes):
        for i, a in enumerate(env.possible_agents):
            want = lay.encode(
                t,
                _thread_belief(g, i, schemes[a], user, own)[None],
                np.array([list(user) + [-1] * (g.rounds - len(user))]),
                np.array([list(own) + [-1] * (g.rounds - len(own))])[:, :, None],
            )[0]
            np.testing.assert_allclose(obs[a], want, atol=1e-6, err_msg=f"step {step} speaker {a}")
        obs, _, _, _, infos = env.step({a: logits[(t, a)] for a in env.agents})
        if env.agents:
            assert all(inf["message"] == -1 and inf["round"] == t + 1 for inf in infos.values())  # nothing said yet
    for o in obs.values():  # terminal: round R, the prior, nothing said
        np.testing.assert_allclose(o, lay.open_loop(g.rounds, g.prior, 1)[0], atol=1e-7)


def run_batched(env: BatchedPersuasionEnv, rules: list) -> tuple[np.ndarray, dict]:
    """One episode of every environment, each speaker's logits from its rule at every step."""
    x_max = env.max_signals
    obs = env.reset()
    done = False
    while not done:
        logits = np.full((env.n_envs, env.n_speakers, *env.action_shape), -1000.0)
        for i, rule in enumerate(rules):
            x = env.signal_counts[i]
            logits[:, i, :x] = logits_of(rule, x)(obs[:, i])[:, :x_max]
        obs, rewards, done, info = env.step(logits)
    return rewards, info


def within(samples: np.ndarray, expected: float, what: str) -> None:
    se = samples.std() / math.sqrt(len(samples))
    mean = samples.mean()
    assert abs(mean - expected) <= 4 * se + 1e-9, f"{what}: mean {mean:.5f}, exact {expected:.5f}, se {se:.5f}"


@pytest.mark.parametrize("reward_mode", ["sample", "expect_action", "expect_all"])
@pytest.mark.parametrize("n_eval", ["exact", 3])
@pytest.mark.parametrize("name", ["kg_witness", pytest.param("hull_pair_private", marks=pytest.mark.slow)])
def test_batched_means_match_exact(name, n_eval, reward_mode):
    game = load_game(name)
    tables = [witness_rule()] if name == "kg_witness" else [random_table(game, 20, 0), random_table(game, 21, 1)]
    rules = [node_rule(game, t) for t in tables]
    exact = evaluate(game, rules, protocol="best_ai", n_eval=n_eval)
    env = BatchedPersuasionEnv(game, 20_000, protocol="best_ai", n_eval=n_eval, reward_mode=reward_mode, seed=5)
    assert env.steps_per_episode == {"kg_witness": 6, "hull_pair_private": 5}[name]
    rewards, info = run_batched(env, rules)
    where = f"{name} n_eval {n_eval} {reward_mode}"
    for i, s in enumerate(game.speakers):
        within(rewards[:, i], exact.speaker_values[s.name], f"{where}: {s.name}")
        within((info["selected"] == i).astype(float), exact.selection[s.name], f"{where}: selection of {s.name}")
    within(info["user_utility"], exact.user_value, f"{where}: user utility")
    within(info["user_expected_utility"], exact.user_value, f"{where}: user expected utility")
    solo = np.array(list(exact.solo_user_values.values()))
    if n_eval == "exact":
        np.testing.assert_allclose(info["scores"], np.broadcast_to(solo, info["scores"].shape), atol=1e-9)
    else:  # each score is the mean of 3 realised utilities: unbiased for the solo value
        for i in range(game.n_speakers):
            within(info["scores"][:, i], solo[i], f"{where}: score {i}")


def test_witness_by_hand_in_the_environment():
    """kg_witness with the witness rule: the judge's value and the prosecutor's, by hand, in 20000 episodes."""
    game = load_game("kg_witness")
    env = BatchedPersuasionEnv(game, 20_000, protocol="best_ai", reward_mode="expect_all", seed=1, autoreset=False)
    rewards, info = run_batched(env, [node_rule(game, witness_rule())])
    judge, prosecutor = witness_by_hand()
    within(rewards[:, 0], prosecutor, "prosecutor")
    within(info["user_utility"], judge, "judge")
    # After a guilty report (she said z = 1) the deployment revealed the state; after an innocent one
    # an innocent state said m0 or m1 and a guilty one m1 (pooling in round 1 always said m0).
    said = env.speaker_messages[:, :, 0]
    assert (said[:, 0] == 0).all()
    guilty_report = env.user_messages[:, 0] == 1
    np.testing.assert_array_equal(said[guilty_report, 1], env.states[guilty_report])
    assert (said[~guilty_report & (env.states == 1), 1] == 1).all()


@pytest.mark.slow
@pytest.mark.parametrize("reward_mode", ["sample", "expect_all"])
def test_pettingzoo_means_match_exact(reward_mode):
    game = load_game("kg_witness")
    rule = node_rule(game, witness_rule())
    exact = evaluate(game, {"prosecutor": rule}, protocol="best_ai")
    env = persuasion_v0.parallel_env(game=game, protocol="best_ai", reward_mode=reward_mode)
    episodes = 1500
    pay, user = np.zeros(episodes), np.zeros(episodes)
    policy = logits_of(rule, 2)
    for e in range(episodes):
        obs, _ = env.reset(seed=1000 + e)
        steps = 0
        while env.agents:
            obs, r, _, _, infos = env.step({"prosecutor": policy(obs["prosecutor"][None])[0]})
            pay[e] += r["prosecutor"]
            steps += 1
        assert steps == 6
        user[e] = infos["prosecutor"]["user_expected_utility"]
    within(pay, exact.speaker_values["prosecutor"], "prosecutor")
    within(user, exact.user_value, "judge")


def three_round_witness() -> Game:
    """kg_witness over three rounds: the judge reveals in round 1; 2 + 4 + 8 = 14 thread nodes."""
    return load_game("kg_witness").replace(rounds=3)


@pytest.mark.filterwarnings(*API_WARNINGS)
@pytest.mark.parametrize("n_eval", ["exact", 5])
@pytest.mark.parametrize("game", ["three_round_witness", "hull_pair_private"])
def test_pettingzoo_suites_on_thread_walks(game, n_eval):
    g = three_round_witness() if game == "three_round_witness" else load_game(game)
    opts = dict(game=g, protocol="best_ai", n_eval=n_eval)
    parallel_api_test(persuasion_v0.parallel_env(**opts, reward_mode="expect_all"), num_cycles=40)
    api_test(persuasion_v0.env(**opts), num_cycles=40)
    parallel_seed_test(functools.partial(persuasion_v0.parallel_env, **opts, reward_mode="sample"))
    seed_test(functools.partial(persuasion_v0.env, **opts, reward_mode="sample"))
    state_test(persuasion_v0.env(**opts), persuasion_v0.parallel_env(**opts))


# ---------------------------------------------------------------------------------- steps and their bound
@pytest.mark.parametrize(
    "name, nodes",
    [
        ("hull_pair", 1),
        ("noisy_advisors", 1),
        ("kg_witness", 2 + 2 * 2),
        ("hull_pair_private", 1 + 1 * 2 * 2),
        ("three_round_witness", 2 + 4 + 8),
    ],
)
def test_steps_per_episode_are_the_thread_nodes(name, nodes):
    """sum_t prod_{s<=t} Z_s M^t: the nodes of a solo thread (hull_pair_private: silent, then 2 replies)."""
    game = three_round_witness() if name == "three_round_witness" else load_game(name)
    assert thread_nodes(game) == ThreadTree.for_game(game).size == nodes
    assert BatchedPersuasionEnv(game, 2, protocol="best_ai").steps_per_episode == nodes
    assert BatchedPersuasionEnv(game, 2).steps_per_episode == game.rounds


def test_too_many_thread_nodes_are_refused_naming_the_fields():
    game = load_game("kg").replace(rounds=5, messages=8)  # 1 + 8 + 64 + 512 + 4096 = 4681 nodes
    assert MAX_THREAD_NODES < 4681
    with pytest.raises(ValueError, match="4,681 nodes") as err:
        BatchedPersuasionEnv(game, 2, protocol="best_ai")
    assert err.match("rounds 5") and err.match("messages 8") and err.match("user.conversation")
    BatchedPersuasionEnv(game, 2)  # simultaneous: R steps


# ---------------------------------------------------------------------------------- the open-loop case
def test_one_round_silent_user_is_one_step_on_the_prior():
    """One round, a silent user: the thread holds the round, the prior and her one possible message."""
    game = load_game("hull_pair")
    env = persuasion_v0.parallel_env(game=game, protocol="best_ai")
    layout = ObservationLayout.for_thread(game)
    obs, _ = env.reset(seed=0)
    want = layout.encode(0, game.prior[None], np.zeros((1, 1), int), -np.ones((1, 1, 1), int))[0]
    for o in obs.values():
        np.testing.assert_allclose(o, want, atol=1e-7)
    _, _, term, _, _ = env.step({a: np.zeros((2, 2)) for a in env.agents})
    assert all(term.values())


# Recorded with the open-loop implementation (commit eaf051c): 2000 episodes, seed 11, reward_mode
# sample, logits N(0, 2) from default_rng(0): the speakers' total rewards, the user's total utility
# (x 1000) and how often each speaker was selected.
RANDOM3 = "random:k=3,states=2,actions=3,seed=1,regime=inside,rationality=20"  # configs/train/best_ai_random3.yaml
OPEN_LOOP_NUMBERS = {
    ("hull_pair", "exact"): ([807.8000000000119, 1435.0000000000061], 1121399, [0, 2000]),
    ("hull_pair", 3): ([570.9999999999973, 1642.999999999996], 1107000, [786, 1214]),
    ("random", "exact"): ([1284.2629178461516, 750.4601011192574, 841.4560324184464], 926291, [0, 2000, 0]),
    ("random", 3): ([1274.18921424874, 772.5336490248559, 828.7903135993886], 920654, [421, 814, 765]),
}


@pytest.mark.parametrize("key", list(OPEN_LOOP_NUMBERS))
def test_one_round_reproduces_the_open_loop_numbers(key):
    name, n_eval = key
    game = load_game("hull_pair" if name == "hull_pair" else RANDOM3)
    x = max(s.n_signals for s in game.speakers)
    logits = np.random.default_rng(0).normal(0, 2, (game.n_speakers, x, game.messages))
    env = BatchedPersuasionEnv(game, 2000, protocol="best_ai", n_eval=n_eval, reward_mode="sample", seed=11)
    env.reset()
    _, rewards, done, info = env.step(np.broadcast_to(logits, (2000, *logits.shape)))
    pay, user, selected = OPEN_LOOP_NUMBERS[key]
    assert done
    np.testing.assert_allclose(rewards.sum(axis=0), pay, rtol=1e-12)
    assert int(info["user_utility"].sum() * 1000) == user
    assert np.bincount(info["selected"], minlength=game.n_speakers).tolist() == selected


@pytest.mark.parametrize("name", ["kg_witness", "hull_pair_private", "hull_pair"])
def test_round_only_rules_score_as_open_loop_commitments(name):
    """A rule of the round alone: the thread engine, the open-loop engine and the fixed schemes agree."""
    game = load_game(name)
    rng = np.random.default_rng(2)
    schemes = [rng.dirichlet(np.ones(game.messages), size=(game.rounds, s.n_signals)) for s in game.speakers]
    layout = ObservationLayout.for_thread(game)
    rules = [lambda obs, s=s: s[layout.round_of(obs)] for s in schemes]
    fixed = evaluate(game, schemes, protocol="best_ai")
    thread = evaluate(game, rules, protocol="best_ai")
    assert thread.user_value == pytest.approx(fixed.user_value, abs=1e-14)
    for i in range(game.n_speakers):

        def source(t, observations, p, fn=rules[i]):
            return fn(observations())[None]

        old = ExactEngine(game, [i], open_loop=True).outcome([source])[0]
        new = ExactEngine(game, [i], thread=True).outcome([source])[0]
        np.testing.assert_allclose(new, old, atol=1e-14)


# ---------------------------------------------------------------------------------- summaries
def test_committed_schemes_read_the_zero_thread():
    """summary.json's schemes: round t's scheme on the thread where the user and the speaker said 0
    before (kg_witness: the judge's report z = 0, i.e. the KG split of the witness rule)."""
    game = load_game("kg_witness")
    out = committed_schemes(game, {"prosecutor": node_rule(game, witness_rule())}, "best_ai")
    np.testing.assert_allclose(out["prosecutor"], [POOL, KG])
    game = load_game("hull_pair_private")
    tables = [random_table(game, 30, 0), random_table(game, 31, 1)]
    rules = {s.name: node_rule(game, t) for s, t in zip(game.speakers, tables, strict=True)}
    out = committed_schemes(game, rules, "best_ai")
    for s, t in zip(game.speakers, tables, strict=True):
        np.testing.assert_allclose(out[s.name], [t[(0, (0,), ())], t[(1, (0, 0), (0,))]])
