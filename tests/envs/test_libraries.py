"""persuasion_v0 with the MARL libraries users bring: each example end to end, scored exactly.

Every test runs only where its library imports (``pytest.importorskip``): SuperSuit with
stable-baselines3 (the main environment once both are installed, and the AgileRL environment),
Tianshou (the main environment, with the ``tianshou`` extra), AgileRL and BenchMARL (each in an
environment of its own, built by ``.ci/libraries``). Step counts
are tiny: the tests check the plumbing (spaces, agent ids, episode boundaries, the
scheme read from each library's policy) and that the example's exact scores are
:func:`persuaders.envs.payoff.evaluate` of the schemes it reports, not how well the library learns.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from persuaders.envs.game import load_game
from persuaders.envs.payoff import evaluate

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# BenchMARL 1.5.2 builds torchrl's SyncDataCollector, which torchrl 0.11 deprecates
# Each test loads a library and most train with it: all slow (the full check runs them)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:SyncDataCollector has been deprecated:DeprecationWarning"),
]


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # BenchMARL pickles the task class, which must be importable by name
    spec.loader.exec_module(module)
    return module


def run_json(module, argv: list[str], capsys) -> dict:
    capsys.readouterr()
    assert module.main([*argv, "--json"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    return json.loads("\n".join(lines[lines.index("{") :]))


def check_exact_scoring(res: dict, protocol: str = "simultaneous") -> None:
    """The reported exact values are those of the reported schemes (one-round games: the scheme at
    the first observation is the policy's whole profile), the schemes are probability rows, and
    the untrained and trained values lie in the user's utility range."""
    game = load_game(res["game"])
    assert game.rounds == 1
    schemes = {name: np.asarray(s) for name, s in res["schemes"].items()}
    assert set(schemes) == set(game.speaker_names)
    for s in game.speakers:
        assert schemes[s.name].shape == (s.n_signals, game.messages)
        np.testing.assert_allclose(schemes[s.name].sum(axis=-1), 1.0, atol=1e-9)
    exact = evaluate(game, schemes, protocol)
    assert exact.user_value == pytest.approx(res["user_value"], abs=1e-9)
    for name, v in res["speaker_values"].items():
        assert exact.speaker_values[name] == pytest.approx(v, abs=1e-9)
    u = game.user.utility
    for v in (res["user_value"], res["initial"]["user_value"]):
        assert u.min() - 1e-9 <= v <= u.max() + 1e-9
    assert res["theory"]["full_information"] == pytest.approx(0.599991, abs=1e-6)  # hull_pair_logit


# ---------------------------------------------------------------------------------- SuperSuit + SB3
@pytest.fixture(scope="module")
def sb3_example():
    pytest.importorskip("supersuit")
    pytest.importorskip("stable_baselines3")
    return load_example("sb3_supersuit_persuasion")


def test_supersuit_vec_env_has_one_sub_env_per_speaker_and_copy(sb3_example):
    game = load_game("hull_pair_logit")
    env = sb3_example.make_vec_env(game, copies=3)
    assert env.num_envs == 3 * game.n_speakers
    layout_size = sb3_example.persuasion_v0.parallel_env(game).observation_space("prosecution").shape[0]
    assert env.observation_space.shape == (layout_size + game.n_speakers,)  # the agent id one-hot appended
    assert env.action_space.shape == (2 * game.messages,)  # flat logits
    sb3_example.seed_vec_env(env, 0)
    obs = env.reset()
    ids = obs[:, -game.n_speakers :]
    np.testing.assert_array_equal(ids, np.tile(np.eye(game.n_speakers), (3, 1)))
    obs, rewards, dones, _infos = env.step(np.zeros((env.num_envs, *env.action_space.shape), dtype=np.float32))
    assert dones.all() and rewards.shape == (env.num_envs,)  # a one-round game ends after one step
    env.close()


def test_supersuit_needs_equal_action_spaces(sb3_example):
    with pytest.raises(ValueError, match="one action space"):
        sb3_example.make_vec_env("noisy_advisors")  # its speakers have 2 and 3 signals


def test_sb3_supersuit_example_scores_exactly(sb3_example, capsys):
    res = run_json(
        sb3_example,
        ["--timesteps", "256", "--copies", "2", "--n-steps", "32", "--batch-size", "64", "--epochs", "1"],
        capsys,
    )
    assert res["timesteps"] == 256
    check_exact_scoring(res)
    # the shared policy starts near zero logits: the uniform scheme, so the user gets no information
    assert res["initial"]["user_value"] == pytest.approx(res["theory"]["no_information"], abs=5e-3)


# ---------------------------------------------------------------------------------- AgileRL
@pytest.fixture(scope="module")
def agilerl_example():
    pytest.importorskip("agilerl")
    pytest.importorskip("agilerl.algorithms")  # 2.58.0 imports peft here (see the example's docstring)
    return load_example("agilerl_persuasion")


def test_agilerl_example_scores_exactly(agilerl_example, capsys):
    res = run_json(
        agilerl_example, ["--steps", "256", "--learn-step", "128", "--batch-size", "64", "--epochs", "1"], capsys
    )
    assert res["steps"] == 256 and len(res["history"]) == 2
    check_exact_scoring(res)


@pytest.mark.parametrize("name", ["hull_pair_logit", "hull_pair_private"])
def test_agilerl_rollout_keeps_episode_boundaries(agilerl_example, name, monkeypatch):
    """``dones[t]`` is 1 exactly when observation ``t`` starts a new episode (what IPPO.learn's
    advantage estimate reads; AgileRL's packaged loop resets it to 0)."""
    game = load_game(name)
    vec = agilerl_example.make_vec_env(game, "simultaneous", "expect_all", 0, 1)
    algo = agilerl_example.make_ippo(
        agilerl_example.persuasion_v0.parallel_env(game, action_format="flat", agent_id=True),
        learn_step=8,
        batch_size=4,
        epochs=1,
    )
    seen = []
    monkeypatch.setattr(algo, "learn", seen.append)
    history = agilerl_example.rollout_and_learn(algo, vec, 16, verbose=False)
    vec.close()
    assert len(seen) == len(history) == 2
    t = np.arange(8)
    want = ((t % game.rounds) == 0) & (t > 0)  # the first observation of a batch continues the previous one
    for _states, _actions, _log_probs, rewards, dones, _values, _next_obs, next_done in seen:
        for a in game.speaker_names:
            d = np.concatenate([np.asarray(x).ravel() for x in dones[a]])
            assert d[1:].tolist() == want[1:].astype(float).tolist()
            assert float(np.asarray(next_done[a]).ravel()[0]) == 1.0  # 8 steps: whole episodes
            r = np.concatenate([np.asarray(x).ravel() for x in rewards[a]])
            paid = ((t + 1) % game.rounds) == 0
            assert (r[~paid] == 0).all()  # paid at the end of an episode only


def test_agilerl_policy_reads_the_actor_mean(agilerl_example):
    """A speaker's policy is its actor's mean action at its own observation (the id included),
    clipped to the box; scored, its scheme is the softmax of those logits row by row."""
    import torch

    from persuaders.train.scoring import persuasion_env, score_env

    game = load_game("hull_pair_logit")
    env = persuasion_env(game, action_format="flat", agent_id=True)
    algo = agilerl_example.make_ippo(env)
    obs, _ = persuasion_env(game).reset(seed=0)
    with_id = np.concatenate([obs["defence"], [0.0, 1.0]]).astype(np.float32)[None]
    actor = algo.actors["defence"]
    with torch.no_grad():
        mean = actor.head_net.wrapped(actor.extract_features(torch.as_tensor(with_id))).double().numpy()
    logits = agilerl_example.actor_policy(algo, "defence")(with_id)
    np.testing.assert_allclose(logits, np.clip(mean, -10, 10))
    _, schemes = score_env(env, agilerl_example.actor_policies(algo, game))
    e = np.exp(logits.reshape(2, 2))
    np.testing.assert_allclose(schemes["defence"], e / e.sum(axis=1, keepdims=True), atol=1e-12)


# ---------------------------------------------------------------------------------- BenchMARL
@pytest.fixture(scope="module")
def benchmarl_example():
    pytest.importorskip("benchmarl")
    return load_example("benchmarl_persuasion")


def test_benchmarl_task_specs(benchmarl_example):
    task = benchmarl_example.PersuasionTask.HULL_PAIR_LOGIT.get_task()
    assert task.config["game"] == "hull_pair_logit"
    env = task.get_env_fun(num_envs=1, continuous_actions=True, seed=0, device="cpu")()
    game = load_game("hull_pair_logit")
    assert task.group_map(env) == {s.name: [s.name] for s in game.speakers}
    assert task.max_steps(env) == game.rounds
    state = task.state_spec(env)["state"]
    assert state.shape[-1] == benchmarl_example.persuasion_v0.parallel_env(game).state_space.shape[0]
    for s in game.speakers:
        assert task.action_spec(env)[s.name, "action"].shape == (1, s.n_signals * game.messages)
        assert list(task.observation_spec(env)[s.name].keys()) == ["observation"]
    other = benchmarl_example.make_task("random:k=3,states=2,actions=2,seed=0,regime=inside")
    assert other.name == "CUSTOM" and other.max_steps(None) == 1
    env.close()


@pytest.mark.parametrize("algorithm", ["mappo", "ippo"])
def test_benchmarl_example_scores_exactly(benchmarl_example, algorithm, capsys, tmp_path):
    res = run_json(
        benchmarl_example,
        [
            "--algorithm",
            algorithm,
            "--iterations",
            "1",
            "--frames-per-batch",
            "64",
            "--n-envs",
            "2",
            "--minibatch-size",
            "32",
            "--minibatch-iters",
            "1",
            "--save-folder",
            str(tmp_path),
        ],
        capsys,
    )
    assert res["frames"] == 64 and res["algorithm"] == algorithm
    check_exact_scoring(res)


# ---------------------------------------------------------------------------------- Tianshou
@pytest.fixture(scope="module")
def tianshou_example():
    pytest.importorskip("tianshou")
    return load_example("tianshou_persuasion")


def test_tianshou_example_scores_exactly(tianshou_example, capsys):
    res = run_json(
        tianshou_example,
        ["--iterations", "2", "--steps-per-collect", "64", "--num-envs", "2", "--batch-size", "32", "--epochs", "1"],
        capsys,
    )
    assert res["steps"] == 128 and len(res["history"]) == 2
    check_exact_scoring(res)
    # the actors' means start near zero logits: the uniform scheme, so the user gets no information
    assert res["initial"]["user_value"] == pytest.approx(res["theory"]["no_information"], abs=5e-3)


def test_tianshou_views_play_the_rivals_current_policy(tianshou_example):
    """In prosecution's view the defence acts by its actor as it is now: once its mean is the
    revealing logits (20, -20 | -20, 20) and prosecution babbles, a round pays prosecution its value
    when the judge (logit, lam = 50) is told the state: with q = 1 / (1 + e^-10) she acquits the
    innocent (prior 0.7, prosecution gets 0.2 against 0.8) and convicts the guilty (gets 1) with
    probability q. (``expect_round``: a one-round game pays the exact value of the schemes.)"""
    import torch

    from persuaders.envs.persuasion.single_speaker import SingleSpeakerEnv

    game = load_game("hull_pair_logit")
    algos = {
        n: tianshou_example.make_algorithm(SingleSpeakerEnv(game, n, action_format="flat")) for n in game.speaker_names
    }
    views = tianshou_example.make_views(game, algos, "simultaneous", "expect_round", 1, 0)
    with torch.no_grad():
        for name, bias in [("prosecution", [0.0] * 4), ("defence", [20.0, -20.0, -20.0, 20.0])]:
            last = algos[name].policy.actor.mu.model[-1]
            last.weight.zero_()
            last.bias.copy_(torch.tensor(bias))
    q = 1 / (1 + np.exp(-10.0))
    views["prosecution"].reset()
    _, reward, terminated, _, _ = views["prosecution"].step(np.zeros((1, 4)))
    assert terminated.all()
    assert reward[0] == pytest.approx(0.7 * (0.2 * q + 0.8 * (1 - q)) + 0.3 * q, abs=1e-9)
    for vec in views.values():
        vec.close()
