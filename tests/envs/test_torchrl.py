"""persuasion_v0 through TorchRL's PettingZoo wrapper, and the TorchRL example end to end.

Skipped when torchrl is not installed (``pip install -e '.[torchrl]'``).
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torchrl = pytest.importorskip("torchrl")
torch = pytest.importorskip("torch")

from persuaders.envs.game import load_game  # noqa: E402
from persuaders.envs.game.observations import ObservationLayout  # noqa: E402

# A library's tests: slow (the full check runs them). torchrl 0.14 deprecates its own weight
# updaters when torchrl.collectors is imported.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:Creating .*WeightUpdater:DeprecationWarning")]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "torchrl_persuasion.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("torchrl_persuasion", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["hull_pair_logit", "kg_witness", "noisy_advisors"])
def test_wrapped_env_specs_reset_and_step(example, name):
    from torchrl.envs.utils import check_env_specs

    game = load_game(name)
    env = example.make_env(name, seed=0)
    obs_size = ObservationLayout.for_game(game).size
    # one group per speaker, in the game's order
    assert env.group_map == {s.name: [s.name] for s in game.speakers}
    assert env.parallel
    for s in game.speakers:
        obs_spec = env.observation_spec[s.name, "observation"]
        act_spec = env.full_action_spec[s.name, "action"]
        assert obs_spec.shape == (1, obs_size) and act_spec.shape == (1, s.n_signals * (game.messages - 1))
        assert env.full_reward_spec[s.name, "reward"].shape == (1, 1)
        assert env.full_done_spec[s.name, "done"].shape == (1, 1)
    check_env_specs(env, seed=0)

    td = env.reset()
    for s in game.speakers:
        obs = td[s.name, "observation"]
        assert obs.shape == env.observation_spec[s.name, "observation"].shape and obs.dtype == torch.float32
        assert obs[0, 0] == 1.0  # round one-hot: round 0
    for t in range(game.rounds):
        td = env.rand_action(td)
        out = env.step(td)["next"]
        last = t == game.rounds - 1
        assert bool(out["done"]) == last
        for s in game.speakers:
            r = out[s.name, "reward"]
            assert r.shape == (1, 1) and torch.isfinite(r).all()
            if not last:
                assert r.item() == 0.0  # paid at the end only
            assert bool(out[s.name, "terminated"]) == last
        td = out
    env.close()


def test_raw_env_has_logit_matrix_actions(example):
    game = load_game("noisy_advisors")
    env = example.make_env(game, flat=False, seed=1)
    for s in game.speakers:
        assert env.full_action_spec[s.name, "action"].shape == (1, s.n_signals, game.messages)
    rollout = env.rollout(3, break_when_any_done=False)  # rounds = 1: three episodes, reset in between
    assert rollout.batch_size == (3,)
    assert rollout["next", "done"].all()
    env.close()


def test_actor_policy_gives_the_environments_logits(example):
    """A speaker's policy gives persuasion_v0's logit matrices (the log-ratios with the zero column);
    scored, its scheme puts sigmoid(z) on message 0 of each two-message row."""
    from persuaders.train.scoring import policy_scheme

    game = load_game("hull_pair_logit")
    env = example.make_env(game, seed=0)
    actor, _ = example.make_agent(env, "prosecution")
    policy = example.actor_policy(actor, "prosecution", (2, 2))
    obs = np.random.default_rng(0).random((5, env.observation_spec["prosecution", "observation"].shape[-1]))
    logits = policy(obs.astype(np.float32))
    assert logits.shape == (5, 2, 2) and (logits[..., 1] == 0).all()
    p = policy_scheme(game, 0, policy)(obs)
    np.testing.assert_allclose(p[..., 0], 1 / (1 + np.exp(-logits[..., 0])), atol=1e-12)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, atol=1e-12)
    env.close()


def test_example_trains_and_scores_quickly(example, capsys):
    threads = torch.get_num_threads()
    start = time.perf_counter()
    assert example.main(["--iterations", "2", "--frames-per-batch", "64", "--epochs", "2", "--json"]) == 0
    elapsed = time.perf_counter() - start
    assert elapsed < 60, f"the example took {elapsed:.1f} s"
    assert torch.get_num_threads() == threads  # restored
    import json

    res = json.loads(capsys.readouterr().out)
    game = load_game("hull_pair_logit")
    assert res["groups"] == {s.name: [s.name] for s in game.speakers}
    assert len(res["history"]) == 2
    u = game.user.utility
    assert u.min() - 1e-9 <= res["user_value"] <= u.max() + 1e-9
    # the untrained actors start at the uniform scheme: babbling gives the no-information value
    assert res["initial"]["user_value"] == pytest.approx(res["theory"]["no_information"], abs=1e-3)
    for s in res["schemes"].values():
        np.testing.assert_allclose(np.sum(s, axis=-1), 1.0, atol=1e-9)
