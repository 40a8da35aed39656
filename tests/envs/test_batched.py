"""The batched environment against the exact evaluator, the PettingZoo environment and itself."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from persuaders.envs.game import Game, load_game
from persuaders.envs.game.conversation import BeliefState, heard_speakers
from persuaders.envs.game.observations import ObservationLayout
from persuaders.envs.payoff import evaluate, solo_outcomes, solo_user_values
from persuaders.envs.persuasion.batched import BatchedPersuasionEnv
from tests.brute import random_schemes, random_spec

GAMES = ["kg_logit", "hull_pair", "kg_witness", "hull_pair_private", "noisy_advisors"]
MODES = ["sample", "expect_action", "expect_all"]
N_EPISODES = 20_000


def fixed_logits(game: Game, seed: int, scale: float = 1.5) -> np.ndarray:
    """Open-loop logits ``[k, R, X_max, M]``; padding rows are NaN (they must be ignored)."""
    rng = np.random.default_rng(seed)
    x_max = max(s.n_signals for s in game.speakers)
    out = np.full((game.n_speakers, game.rounds, x_max, game.messages), np.nan)
    for i, s in enumerate(game.speakers):
        out[i, :, : s.n_signals] = scale * rng.normal(size=(game.rounds, s.n_signals, game.messages))
    return out


def schemes_of(game: Game, logits: np.ndarray) -> list[np.ndarray]:
    """The per-speaker schemes ``[R, X_i, M]`` (row softmax) of :func:`fixed_logits`."""
    out = []
    for i, s in enumerate(game.speakers):
        z = logits[i, :, : s.n_signals]
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        out.append(e / e.sum(axis=-1, keepdims=True))
    return out


def run_episode(env: BatchedPersuasionEnv, logits: np.ndarray):
    """One episode of every environment with the fixed open-loop logits (``logits[:, t]`` at every
    step of round ``t``: under best_ai, at every thread node of round ``t``); returns the last step."""
    env.reset()
    for step in range(env.steps_per_episode):
        t = env.round
        obs, rewards, done, info = env.step(np.broadcast_to(logits[:, t], (env.n_envs, *logits[:, t].shape)))
        assert done == (step == env.steps_per_episode - 1)
    return obs, rewards, info


def assert_mean(samples: np.ndarray, expected: float, what: str) -> None:
    se = samples.std() / np.sqrt(len(samples))
    assert abs(samples.mean() - expected) <= 4 * se + 1e-9, (
        f"{what}: mean {samples.mean():.5f} vs exact {expected:.5f} (se {se:.5f})"
    )


# ---------------------------------------------------------------------------------- exact solo values
@pytest.mark.parametrize("name", [*GAMES, "random_chatty"])
def test_solo_user_values_match_exact_evaluator(name):
    if name == "random_chatty":
        game = Game.from_dict(
            random_spec(
                np.random.default_rng(5),
                k=3,
                n_states=3,
                n_actions=3,
                messages=2,
                rounds=2,
                user_signals=2,
                speaker_signals=3,
                talk=True,
                lam=4.0,
            )
        )
    else:
        game = load_game(name)
    rng = np.random.default_rng(0)
    profiles = [random_schemes(rng, game) for _ in range(4)]
    x_max = max(s.n_signals for s in game.speakers)
    batch = np.zeros((len(profiles), game.n_speakers, game.rounds, x_max, game.messages))
    for p, prof in enumerate(profiles):
        for i, pi in enumerate(prof):
            batch[p, i, :, : pi.shape[1]] = pi
    mine = solo_user_values(game, batch)
    for p, prof in enumerate(profiles):
        np.testing.assert_allclose(mine[p], solo_outcomes(game, prof)[0], rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------- against exact values
@pytest.mark.parametrize("protocol,n_eval", [("simultaneous", "exact"), ("best_ai", "exact"), ("best_ai", 3)])
@pytest.mark.parametrize("name", GAMES)
def test_fixed_schemes_match_exact_values(name, protocol, n_eval):
    game = load_game(name)
    logits = fixed_logits(game, seed=1)
    exact = evaluate(game, schemes_of(game, logits), protocol, n_eval)
    exact_spk = list(exact.speaker_values.values())
    for j, mode in enumerate(MODES):
        env = BatchedPersuasionEnv(game, N_EPISODES, protocol=protocol, n_eval=n_eval, reward_mode=mode, seed=10 + j)
        _, rewards, info = run_episode(env, logits)
        assert rewards.shape == (N_EPISODES, game.n_speakers) and rewards.dtype == np.float64
        where = f"{name} {protocol} {n_eval} {mode}"
        for i in range(game.n_speakers):
            assert_mean(rewards[:, i], exact_spk[i], f"{where}: speaker {i}")
        assert_mean(info["user_expected_utility"], exact.user_value, f"{where}: user expected utility")
        assert_mean(info["user_utility"], exact.user_value, f"{where}: user utility")
        if protocol == "best_ai":
            assert info["scores"].shape == (N_EPISODES, game.n_speakers)
            if n_eval == "exact":
                solo = np.array(list(exact.solo_user_values.values()))
                np.testing.assert_allclose(info["scores"], np.broadcast_to(solo, info["scores"].shape), atol=1e-12)
            for i, p in enumerate(exact.selection.values()):
                assert_mean((info["selected"] == i).astype(float), p, f"{where}: selection of speaker {i}")


# ---------------------------------------------------------------------------------- observations
def reference_observations(env: BatchedPersuasionEnv, schemes: list[np.ndarray], t: int) -> np.ndarray:
    """``ObservationLayout.encode`` of every speaker's view, from the transcript and BeliefState."""
    game, n = env.game, env.n_envs
    layout = ObservationLayout.for_game(game)
    belief = BeliefState(game, n)
    user_msgs, spk_msgs = env.user_messages, env.speaker_messages
    for r in range(min(t + 1, game.rounds)):
        belief.update(0, game.user.conversation[r], user_msgs[:, r])
        if r < t:
            for i in range(game.n_speakers):
                belief.update(i + 1, schemes[i][r], spk_msgs[:, r, i])
    out = np.stack(
        [
            layout.encode(
                np.full(n, t), belief.speaker_belief(i), user_msgs, spk_msgs[:, :, list(heard_speakers(game, i))]
            )
            for i in range(game.n_speakers)
        ],
        axis=1,
    )
    return out


OBS_GAMES = {
    "noisy_advisors_2_rounds": lambda: load_game("noisy_advisors").replace(rounds=2),  # public, X_i differ
    "hull_pair_public": lambda: load_game("hull_pair_private").replace(visibility="public"),
    "hull_pair_private": lambda: load_game("hull_pair_private"),
    "kg_witness": lambda: load_game("kg_witness"),
    "hull_pair_one_round": lambda: load_game("hull_pair"),
}


@pytest.mark.parametrize("name", list(OBS_GAMES))
def test_observations_are_the_layout_encoding(name):
    game = OBS_GAMES[name]()
    logits = fixed_logits(game, seed=2)
    schemes = schemes_of(game, logits)
    env = BatchedPersuasionEnv(game, 500, seed=3)
    assert env.obs_size == ObservationLayout.for_game(game).size
    obs = env.reset()
    assert obs.shape == (500, game.n_speakers, env.obs_size) and obs.dtype == np.float32
    np.testing.assert_allclose(obs, reference_observations(env, schemes, 0), atol=1e-6)
    for t in range(game.rounds - 1):
        obs, rewards, done, info = env.step(np.broadcast_to(logits[:, t], (500, *logits[:, t].shape)))
        assert not done and info == {} and not rewards.any()
        np.testing.assert_allclose(obs, reference_observations(env, schemes, t + 1), atol=1e-6)
    obs, _, done, _ = env.step(np.broadcast_to(logits[:, -1], (500, *logits[:, -1].shape)))
    assert done  # auto-reset: the new episodes' first observation
    np.testing.assert_allclose(obs, reference_observations(env, schemes, 0), atol=1e-6)


@pytest.mark.parametrize(
    "name, protocol, shared",
    [
        ("hull_pair_public", "simultaneous", True),
        ("hull_pair_private", "simultaneous", False),
        ("hull_pair_private", "best_ai", False),
        ("hull_pair_one_round", "best_ai", True),
    ],
)
def test_shared_observations_are_one_block_per_episode(name, protocol, shared):
    """Public messages (and best_ai's threads in a one-round game, where nobody has said anything
    but the user) give every speaker the same view: the array is a read-only broadcast (stride 0
    over speakers), so its cost does not grow with k^2. A later thread node's belief depends on
    each speaker's own rule: one view per speaker."""
    game = OBS_GAMES[name]()
    env = BatchedPersuasionEnv(game, 7, protocol=protocol, seed=0)
    assert env.shared_observation is shared
    obs = env.reset()
    logits = np.zeros((7, game.n_speakers, *env.action_shape))
    for _ in range(env.steps_per_episode):
        assert (obs.strides[1] == 0) is shared and obs.flags.writeable is not shared
        if shared:
            np.testing.assert_array_equal(obs, np.broadcast_to(obs[:, :1], obs.shape))
            with pytest.raises(ValueError):
                obs[0, 0, 0] = 1.0
        obs = env.step(logits)[0]


def test_sizes_with_different_signal_counts():
    env = BatchedPersuasionEnv("noisy_advisors", 3)
    assert env.n_speakers == 2 and env.signal_counts == [2, 3] and env.max_signals == 3
    assert env.action_shape == (3, 3)


# ---------------------------------------------------------------------------------- against PettingZoo
def _persuasion_v0():
    try:
        from persuaders.envs import persuasion_v0

        persuasion_v0.parallel_env(game="kg").reset(seed=0)
    except Exception as exc:  # the PettingZoo environment is developed alongside
        pytest.skip(f"envs.persuasion_v0 unavailable: {exc!r}")
    return persuasion_v0


def _pz_episodes(pz, game, logits, episodes, **options):
    env = pz.parallel_env(game=game, **options)
    env.reset(seed=123)
    names = list(game.speaker_names)
    rewards = np.zeros((episodes, game.n_speakers))
    user = np.zeros(episodes)
    for e in range(episodes):
        obs, _ = env.reset()
        while env.agents:
            t = int(env.layout.round_of(obs[names[0]][None])[0])
            acts = {a: logits[i, t, : game.speakers[i].n_signals] for i, a in enumerate(names)}
            obs, r, _, _, info = env.step(acts)
        rewards[e] = [r[a] for a in names]
        user[e] = info[names[0]]["user_expected_utility"]
    return rewards, user


@pytest.mark.parametrize(
    "name,options",
    [
        ("kg_witness", dict(protocol="simultaneous", reward_mode="expect_all")),
        pytest.param(
            "hull_pair_private", dict(protocol="best_ai", n_eval=3, reward_mode="sample"), marks=pytest.mark.slow
        ),
    ],
)
def test_payoffs_match_pettingzoo(name, options):
    pz = _persuasion_v0()
    game = load_game(name)
    logits = fixed_logits(game, seed=4)
    pz_r, pz_u = _pz_episodes(pz, game, logits, 2000, **options)
    env = BatchedPersuasionEnv(game, 20_000, seed=5, **options)
    _, b_r, info = run_episode(env, logits)
    for a, b in [(pz_r[:, i], b_r[:, i]) for i in range(game.n_speakers)] + [(pz_u, info["user_expected_utility"])]:
        z = (a.mean() - b.mean()) / np.sqrt(a.var() / len(a) + b.var() / len(b) + 1e-300)
        assert abs(z) < 4, f"two-sample z = {z:.2f}"


def test_observations_identical_to_pettingzoo_when_deterministic():
    """Fully revealing schemes (logits +-1000: exact 0/1 probabilities) on games whose user speaks."""
    pz = _persuasion_v0()
    for name in ["kg", "kg_witness"]:
        game = load_game(name)
        reveal = np.where(np.eye(2, dtype=bool), 1000.0, -1000.0)  # message = state
        env = BatchedPersuasionEnv(game, 64, seed=0)
        b_obs = [env.reset()[:, 0]]
        if game.rounds > 1:
            b_obs.append(env.step(np.broadcast_to(reveal, (64, 1, 2, 2)))[0][:, 0])
        par = pz.parallel_env(game=game)
        for seed in range(6):
            obs, _ = par.reset(seed=seed)
            p_obs = [obs["prosecutor"]]
            if game.rounds > 1:
                obs, *_ = par.step({"prosecutor": reveal})
                p_obs.append(obs["prosecutor"])
            # The same transcript (the messages' one-hots) must give the identical observation.
            for t, (po, bo) in enumerate(zip(p_obs, b_obs, strict=True)):
                msg = np.ones(env.obs_size, dtype=bool)
                msg[env.layout.belief_slice] = False
                same = np.flatnonzero((bo[:, msg] == po[msg]).all(axis=1))
                assert len(same) > 0, f"{name} round {t}: no batched episode with this transcript"
                for j in same:
                    np.testing.assert_array_equal(bo[j], po)


# ---------------------------------------------------------------------------------- seeding and state
def _random_run(env: BatchedPersuasionEnv, steps: int, seed: int):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(steps):
        logits = rng.normal(size=(env.n_envs, env.n_speakers, *env.action_shape)).astype(np.float32)
        obs, rewards, done, info = env.step(logits)
        out.append((obs, rewards, done, info))
    return out


def _assert_same(run_a, run_b):
    for (oa, ra, da, ia), (ob, rb, db, ib) in zip(run_a, run_b, strict=True):
        np.testing.assert_array_equal(oa, ob)
        np.testing.assert_array_equal(ra, rb)
        assert da == db and ia.keys() == ib.keys()
        for key in ia:
            np.testing.assert_array_equal(ia[key], ib[key])


@pytest.mark.parametrize(
    "name,options",
    [
        ("hull_pair_private", dict(reward_mode="expect_all")),
        ("noisy_advisors", dict(protocol="best_ai", n_eval=2, reward_mode="sample")),
        ("kg_witness", dict(protocol="best_ai", n_eval="exact")),
    ],
)
def test_seeding_and_state_round_trip(name, options):
    game = load_game(name)
    a = BatchedPersuasionEnv(game, 50, seed=7, **options)
    b = BatchedPersuasionEnv(game, 50, seed=99, **options)
    np.testing.assert_array_equal(a.reset(), b.reset(seed=7))  # reset(seed) re-seeds
    run_a = _random_run(a, 2 * game.rounds + 1, seed=0)
    _assert_same(run_a, _random_run(b, 2 * game.rounds + 1, seed=0))

    snap = a.get_state()
    cont = _random_run(a, 2 * game.rounds, seed=1)
    c = BatchedPersuasionEnv(game, 50, seed=123, **options)
    c.set_state(pickle.loads(pickle.dumps(snap)))
    _assert_same(cont, _random_run(c, 2 * game.rounds, seed=1))
    a.set_state(snap)  # the snapshot was not changed by the continuation
    _assert_same(cont, _random_run(a, 2 * game.rounds, seed=1))

    other = BatchedPersuasionEnv(game, 51, **options)
    with pytest.raises(ValueError):
        other.set_state(snap)


def test_different_seeds_differ():
    a = BatchedPersuasionEnv("hull_pair_private", 200, seed=1)
    b = BatchedPersuasionEnv("hull_pair_private", 200, seed=2)
    a.reset(), b.reset()
    assert not np.array_equal(_random_run(a, 2, 0)[0][0], _random_run(b, 2, 0)[0][0])


# ---------------------------------------------------------------------------------- bad input
def test_bad_logits_raise():
    env = BatchedPersuasionEnv("noisy_advisors", 4, seed=0)
    good = np.zeros((4, 2, 3, 3))
    with pytest.raises(RuntimeError):
        env.step(good)  # before reset
    env.reset()
    for bad in [good[:3], good[:, :, :2], good[..., None], np.zeros((4, 2, 3, 2)), [["a"]]]:
        with pytest.raises(ValueError):
            env.step(bad)
    for value in [np.nan, np.inf, -np.inf]:
        logits = good.copy()
        logits[1, 1, 2, 0] = value  # a real signal row of the three-signal speaker
        with pytest.raises(ValueError):
            env.step(logits)
    padded = good.copy()
    padded[:, 0, 2] = np.nan  # the two-signal speaker's padding row is ignored
    env.step(padded)
    for kwargs in [dict(protocol="x"), dict(reward_mode="x"), dict(n_eval=0), dict(n_eval="3")]:
        with pytest.raises(ValueError):
            BatchedPersuasionEnv("kg", 2, **kwargs)


def test_extreme_logits_are_stable():
    """Logits far beyond the exp range take the shifted softmax and give exact schemes."""
    game = load_game("kg_logit")
    env = BatchedPersuasionEnv(game, 2000, reward_mode="expect_all", seed=0)
    logits = np.array([[[1e6, -1e6], [-1e6, 1e6]]])  # full revelation
    _, rewards, _ = run_episode(env, logits[:, None])
    exact = evaluate(game, [np.eye(2)])
    assert np.isfinite(rewards).all()
    assert_mean(rewards[:, 0], exact.speaker_values["prosecutor"], "full revelation")


# ---------------------------------------------------------------------------------- per-episode rewards
@pytest.mark.parametrize("name", ["hull_pair_private", "kg_witness"])
@pytest.mark.parametrize("mode", MODES)
def test_final_rewards_match_reference_per_episode(name, mode):
    """Round 1 random schemes, last round a pooling scheme (message 0 always): the whole transcript
    is known from the state before the last step, so every episode's reward can be recomputed
    from BeliefState and the quantal response."""
    from persuaders.envs.game.users import response_at

    game = load_game(name)
    n, k = 3000, game.n_speakers
    logits = fixed_logits(game, seed=6)
    logits[:, -1] = np.where(np.arange(game.messages) == 0, 1000.0, -1000.0)
    schemes = schemes_of(game, logits)
    env = BatchedPersuasionEnv(game, n, reward_mode=mode, seed=8)
    env.reset()
    for t in range(game.rounds - 1):
        env.step(np.broadcast_to(logits[:, t], (n, *logits[:, t].shape)))
    st = env.get_state()
    _, rewards, done, info = env.step(np.broadcast_to(logits[:, -1], (n, *logits[:, -1].shape)))
    assert done
    spk = st["_spk_msgs"].copy()
    spk[:, -1] = 0
    belief = BeliefState(game, n)
    for r in range(game.rounds):
        belief.update(0, game.user.conversation[r], st["_user_msgs"][:, r])
        for i in range(k):
            belief.update(i + 1, schemes[i][r], spk[:, r, i])
    y, x0 = st["_y"], st["_x0"]
    np.testing.assert_array_equal(info["state"], y)
    probs = response_at(belief.user_posterior(x0), game.user.utility, game.user.model)
    np.testing.assert_allclose(info["user_expected_utility"], (probs * game.user.utility[:, y].T).sum(1), atol=1e-12)
    np.testing.assert_array_equal(info["user_utility"], game.user.utility[info["user_action"], y])
    U = game.speaker_utilities
    if mode == "sample":
        want = U[:, info["user_action"], y].T
    elif mode == "expect_action":
        want = np.einsum("na,kan->nk", probs, U[:, :, y])
    else:
        joint = belief.joint_state_signal()  # [N, Y, X0]
        q = np.stack(
            [
                response_at(belief.user_posterior(np.full(n, x)), game.user.utility, game.user.model)
                for x in range(game.user.n_signals)
            ],
            axis=1,
        )  # [N, X0, A]
        want = np.einsum("nyx,nxa,kay->nk", joint, q, U)
    np.testing.assert_allclose(rewards, want, atol=1e-12)
