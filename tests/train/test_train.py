"""Training: config validation, PPO reaching the kg_logit optimum, kill-and-resume, SB3 interop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from persuaders.cli.bounds import main as bounds_main
from persuaders.envs.game.validation import SpecError
from persuaders.train.config import load_config
from tests.commands import ROOT

KG_LOGIT_OPTIMUM = (
    0.443670  # Kamenica-Gentzkow prosecutor against a logit judge, lam = 10 (docs/science.md, "Reference numbers")
)


# ---------------------------------------------------------------------------------- config
@pytest.mark.parametrize(
    "overrides,field,words",
    [
        (["game=kg", "colour=red"], "colour", "allowed keys are: game"),
        (["game=kg", "ppo.lr=0.1"], "ppo.lr", "allowed keys are: learning_rate"),
        (["game=kg", "ppo.learning_rate=-1"], "ppo.learning_rate", "> 0"),
        (["game=kg", "ppo.learning_rate=fast"], "ppo.learning_rate", "expected a number"),
        (["game=kg", "ppo.gamma=1.5"], "ppo.gamma", "<= 1"),
        (["game=kg", "ppo.hidden_sizes=[64, 0]"], "ppo.hidden_sizes", "positive integers"),
        (["game=kg", "ppo.anneal_lr=maybe"], "ppo.anneal_lr", "true or false"),
        (["game=kg", "n_envs=0"], "n_envs", ">= 1"),
        (["game=kg", "total_steps=1.5"], "total_steps", "integer"),
        (["game=kg", "protocol=auction"], "protocol", "simultaneous, best_ai"),
        (["game=kg", "reward_mode=bonus"], "reward_mode", "sample, expect_action, expect_all"),
        (["game=kg", "n_eval=0"], "n_eval", ">= 1"),
        (["game=kg", "rationality=0"], "rationality", "> 0"),
        (["game=kg", "speakers.prosecutor.learner=genius"], "speakers.prosecutor.learner", "ppo, full_revelation"),
        (["game=kg", "speakers.prosecutor.learner=fixed"], "speakers.prosecutor.path", "schemes file"),
        (["game=kg", "target.speaker=prosecutor"], "target.value", "missing"),
        (["seed=1"], "game", "missing"),
    ],
)
def test_bad_config_names_the_key(overrides, field, words):
    with pytest.raises(SpecError) as err:
        load_config(None, overrides)
    assert str(err.value).startswith(field + ":"), str(err.value)
    assert words in str(err.value), str(err.value)


def test_config_files_validate_and_overrides_apply():
    for path in sorted((ROOT / "configs" / "train").glob("*.yaml")):
        cfg = load_config(path)
        assert cfg.hyperparameters["ppo"].learning_rate > 0
    cfg = load_config(
        ROOT / "configs/train/kg_logit.yaml",
        ["seed=7", "total_steps=1000", "game=hull_pair", "ppo.learning_rate=0.001"],
    )
    ppo = cfg.hyperparameters["ppo"]
    assert (cfg.seed, cfg.total_steps, cfg.game, ppo.learning_rate) == (7, 1000, "hull_pair", 0.001)


def test_unknown_speaker_in_config(tmp_path):
    from persuaders.train.loop import train

    cfg = load_config(None, ["game=kg", "speakers.mediator.learner=babbling"])
    with pytest.raises(SpecError, match=r"^speakers.mediator: no such speaker"):
        train(cfg, tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "summary.json").exists()


# ---------------------------------------------------------------------------------- learning
@pytest.mark.slow
def test_ppo_reaches_the_kg_logit_optimum(tmp_path, cli):
    """Independent PPO finds the Kamenica-Gentzkow optimum against a logit judge (within 0.01)."""
    from persuaders.train.loop import train

    cfg = load_config(ROOT / "configs/train/kg_logit.yaml", ["checkpoint_interval=1000"])
    summary = train(cfg, tmp_path / "run", progress=False)
    assert abs(summary["speaker_values"]["prosecutor"] - KG_LOGIT_OPTIMUM) < 0.01
    # The learned scheme reveals guilt: a guilty defendant always gets the "guilty" message.
    scheme = np.array(summary["schemes"]["prosecutor"][0])
    convict_msg = int(np.argmax(scheme[1]))
    assert scheme[1, convict_msg] > 0.99
    assert 0.15 < scheme[0, convict_msg] < 0.35  # innocent pooled with guilty w.p. ~0.26
    # summary.json carries exactly what `persuaders-bounds kg_logit --json` prints.
    printed = cli(bounds_main, "kg_logit", "--json")
    assert printed.returncode == 0, printed.stderr
    on_disk = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert on_disk["bounds"] == json.loads(printed.stdout)
    for key in ("user_value", "speaker_values", "bounds", "schemes"):
        assert key in on_disk
    assert list((tmp_path / "run" / "tb").glob("events.out.tfevents.*"))


def test_fixed_speakers_are_scored_exactly(tmp_path):
    """A babbling defence and a fully revealing prosecution in hull_pair: the user gets 0.6."""
    from persuaders.train.loop import train

    cfg = load_config(
        None,
        [
            "game=hull_pair",
            "total_steps=2048",
            "n_envs=256",
            "speakers.prosecution.learner=full_revelation",
            "speakers.defence.learner=babbling",
        ],
    )
    summary = train(cfg, tmp_path / "run", progress=False)
    assert summary["user_value"] == pytest.approx(0.6)
    assert summary["speaker_values"]["prosecution"] == pytest.approx(0.7 * 0.2 + 0.3 * 1.0)


# ---------------------------------------------------------------------------------- determinism and resume
SMALL = [
    "game=hull_pair_logit",
    "n_envs=128",
    "total_steps=12800",
    "checkpoint_interval=10",
    "eval_interval=5",
    "seed=3",
]


def _run(args, **kw):
    return subprocess.Popen(
        [sys.executable, "-m", "persuaders.cli.train", "--no-progress", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


@pytest.mark.slow
@pytest.mark.parametrize("terminal", [False, True])
def test_progress_bar_only_on_a_terminal(tmp_path, terminal):
    """persuaders-train draws its bar when stderr is a terminal (a 100-column pseudo-terminal here)
    and stays silent when stderr is a pipe, without --no-progress."""
    import fcntl
    import pty
    import struct
    import termios

    small = ["game=kg_logit", "n_envs=128", "total_steps=1280", "eval_interval=5"]
    cmd = [sys.executable, "-m", "persuaders.cli.train", *(a for s in small for a in ("--set", s))]
    cmd += ["--out", str(tmp_path / "run")]
    if terminal:
        parent, child = pty.openpty()
        fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=child)
        os.close(child)
        chunks = []
        while True:
            try:
                chunk = os.read(parent, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(parent)
        assert proc.wait(timeout=300) == 0
        err = b"".join(chunks).decode(errors="replace")
    else:
        res = subprocess.run(
            cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=300, check=False
        )
        assert res.returncode == 0, res.stderr
        err = res.stderr
    assert ("kg_logit: 100%|" in err) == terminal, err[-2000:]


@pytest.mark.slow
def test_same_seed_same_summary(tmp_path):
    from persuaders.train.loop import train

    a = train(load_config(None, SMALL), tmp_path / "a", progress=False)
    b = train(load_config(None, SMALL), tmp_path / "b", progress=False)
    assert a == b


@pytest.mark.slow
def test_kill_and_resume_gives_the_same_summary(tmp_path):
    """A run killed (SIGKILL) after a checkpoint and resumed ends exactly like an uninterrupted one."""
    full = _run([*(arg for s in SMALL for arg in ("--set", s)), "--out", str(tmp_path / "full")])
    assert full.wait(timeout=300) == 0, full.stderr.read()
    killed = _run([*(arg for s in SMALL for arg in ("--set", s)), "--out", str(tmp_path / "killed")])
    ckpt = tmp_path / "killed" / "checkpoint.pt"
    deadline = time.time() + 300
    while not ckpt.exists() and killed.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    assert ckpt.exists()
    assert not (tmp_path / "killed" / "summary.json").exists(), "killed too late to test resuming"
    resumed = _run(["--resume", str(tmp_path / "killed")])
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    a = json.loads((tmp_path / "full" / "summary.json").read_text())
    b = json.loads((tmp_path / "killed" / "summary.json").read_text())
    assert a == b


# ---------------------------------------------------------------------------------- stable-baselines3
@pytest.mark.parametrize(
    "game,speaker",
    [
        ("kg_logit", "prosecutor"),
        ("hull_pair", "defence"),
        ("kg_witness", "prosecutor"),
        ("hull_pair_private", "prosecution"),
        ("noisy_advisors", "bold"),
    ],
)
def test_single_speaker_view_passes_env_checkers(game, speaker):
    """The PettingZoo environment's own box (SB3's checker only recommends a [-1, 1] box, which
    ``unit_box`` gives: with it, and flat actions as persuaders-sb3 trains, nothing is left to warn)."""
    import warnings

    from gymnasium.utils.env_checker import check_env as gym_check
    from stable_baselines3.common.env_checker import check_env

    from persuaders.envs.persuasion.single_speaker import SingleSpeakerEnv

    with pytest.warns(UserWarning, match="symmetric and normalized Box action space"):
        check_env(SingleSpeakerEnv(game, speaker), warn=True)
    gym_check(SingleSpeakerEnv(game, speaker), skip_render_check=True)
    for options in ({"action_format": "flat", "unit_box": True}, {"agent_id": True, "unit_box": True}):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            check_env(SingleSpeakerEnv(game, speaker, **options), warn=True)
            gym_check(SingleSpeakerEnv(game, speaker, **options), skip_render_check=True)


@pytest.mark.parametrize("action_format", ["matrix", "flat"])
@pytest.mark.parametrize("agent_id", [False, True])
@pytest.mark.parametrize("game", ["hull_pair_private", "prosecutor_defence", "noisy_advisors"])
def test_a_policy_carries_over_between_the_pettingzoo_and_single_speaker_views(game, action_format, agent_id):
    """One policy (observation -> logits, a fixed linear map of the observation) acts the same in
    persuasion_v0 and in the single-speaker view made with the same options: the view's
    observations and action box are the PettingZoo environment's, and with the same seed, the same
    rival (playing fixed logits there, their scheme here) and the same actions, every episode
    pays the same rewards and ends in the same state and verdict."""
    from persuaders.envs import persuasion_v0
    from persuaders.envs.game.schemes import softmax_rows
    from persuaders.envs.persuasion.single_speaker import SingleSpeakerEnv

    options = {"action_format": action_format, "agent_id": agent_id, "reward_mode": "expect_all"}
    par = persuasion_v0.parallel_env(game, **options)
    learner, rival = par.possible_agents[:2]
    g = par.game
    single = SingleSpeakerEnv(g, learner, {rival: _rival_scheme(g, rival)}, **options)
    assert single.observation_space == par.observation_space(learner)
    assert single.action_space == par.action_space(learner)
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(int(np.prod(single.action_space.shape)), single.observation_space.shape[0]))

    def policy(obs):
        return (weights @ obs).reshape(single.action_space.shape)

    rival_logits = np.log(_rival_scheme(g, rival))
    if action_format == "flat":
        rival_logits = rival_logits.reshape(-1)
    for seed in range(5):
        obs, _ = par.reset(seed=seed)
        view_obs, _ = single.reset(seed=seed)
        for _ in range(g.rounds):
            np.testing.assert_array_equal(view_obs, obs[learner])
            action = policy(obs[learner])
            obs, rewards, _, _, infos = par.step({learner: action, rival: rival_logits})
            view_obs, reward, done, _, info = single.step(action)
            assert reward == pytest.approx(rewards[learner], abs=1e-12)
        assert done and info["ended"]
        assert (info["state"], info["user_action"]) == (infos[learner]["state"], infos[learner]["user_action"])
    # the scheme the view reads from an action is the PettingZoo environment's softmax of its rows
    x, m = single.scheme_shape
    np.testing.assert_allclose(single.scheme_from_action(action), softmax_rows(np.reshape(action, (x, m))))


def _rival_scheme(game, name: str) -> np.ndarray:
    """A fixed informative scheme with every probability positive: 0.8 on message x mod M."""
    x, m = game.speakers[game.speaker_index(name)].n_signals, game.messages
    scheme = np.full((x, m), 0.2 / (m - 1))
    scheme[np.arange(x), np.arange(x) % m] = 0.8
    return scheme


@pytest.mark.slow
def test_single_speaker_view_pays_the_exact_value_on_average():
    """With the others fixed, the view's mean reward is the exact value of the learner's scheme;
    on the unit box an action is a tenth of the same logits."""
    from persuaders.envs.payoff import evaluate
    from persuaders.envs.persuasion.single_speaker import SingleSpeakerEnv

    logits = np.array([[10.0, -10.0], [-2.0, 2.0]])
    for env, action in [
        (SingleSpeakerEnv("hull_pair", "prosecution", {"defence": np.eye(2)}), logits),
        (
            SingleSpeakerEnv("hull_pair", "prosecution", {"defence": np.eye(2)}, action_format="flat", unit_box=True),
            logits.reshape(4) / 10,
        ),
    ]:
        scheme = env.scheme_from_action(action)
        np.testing.assert_allclose(scheme[0], [1 / (1 + np.exp(-20)), 1 / (1 + np.exp(20))])
        exact = evaluate(env.game, {"prosecution": scheme, "defence": np.eye(2)}).speaker_values["prosecution"]
        rewards = []
        env.reset(seed=0)
        for _ in range(3000):
            _, r, term, _, _ = env.step(action)
            rewards.append(r)
            if term:
                env.reset()
        se = np.std(rewards) / np.sqrt(len(rewards))
        assert abs(np.mean(rewards) - exact) <= 4 * se + 1e-12


@pytest.mark.slow
def test_shared_parameters_train_both_speakers(tmp_path):
    """One network with a speaker indicator serves both hull_pair_logit speakers."""
    from persuaders.train.loop import train

    cfg = load_config(
        ROOT / "configs/train/hull_pair_logit.yaml",
        ["share_parameters=true", "total_steps=200000", "checkpoint_interval=1000"],
    )
    summary = train(cfg, tmp_path / "run", progress=False)
    fi = summary["bounds"]["full_information"]
    no_info = summary["bounds"]["no_information"]
    # Competition moves the user well above her no-information value towards full information.
    assert summary["user_value"] > no_info + 0.8 * (fi - no_info)
