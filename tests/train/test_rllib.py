"""Ray interop: RLlib multi-agent PPO on persuasion_v0 scored exactly, and Ray Tune sweeps.

The tests that run Ray are skipped when it is not installed (``pip install -e '.[ray]'``); the
sweep-file validation and the missing-Ray message are checked either way.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from persuaders.envs.game.validation import SpecError
from tests.commands import ROOT

HAS_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAS_RAY, reason="ray is not installed (pip install -e '.[ray]')")


@pytest.fixture
def ray_module():
    return pytest.importorskip("ray")


# ---------------------------------------------------------------------------------- RLlib
@pytest.mark.slow
@needs_ray
def test_rllib_example_trains_one_policy_per_speaker_and_scores_exactly(ray_module):
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import rllib_persuasion
    finally:
        sys.path.remove(str(ROOT / "examples"))
    from persuaders.envs.game import load_game

    game = load_game("hull_pair_logit")
    try:
        res = rllib_persuasion.train_and_score(
            "hull_pair_logit",
            iterations=2,
            seed=0,
            num_cpus=1,
            verbose=False,
            train_batch_size=128,
            minibatch_size=64,
            num_epochs=2,
        )
    finally:
        ray_module.shutdown()
    assert res["policies"] == sorted(game.speaker_names)
    assert len(res["history"]) == 2
    u = game.user.utility
    assert u.min() - 1e-9 <= res["user_value"] <= u.max() + 1e-9
    for i, name in enumerate(game.speaker_names):
        ui = game.speaker_utilities[i]
        assert ui.min() - 1e-9 <= res["speaker_values"][name] <= ui.max() + 1e-9
        scheme = np.asarray(res["schemes"][name])
        assert scheme.shape == (game.speakers[i].n_signals, game.messages)
        np.testing.assert_allclose(scheme.sum(axis=1), 1.0)
    th = res["theory"]
    assert th["no_information"] <= th["full_information"]
    assert res["initial"]["user_value"] == pytest.approx(th["no_information"], abs=5e-3)  # near-zero logits: babbling
    assert "user: trained profile (exact)" in rllib_persuasion.format_result(res)


def test_flat_scheme_wrapper_round_trip():
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import rllib_persuasion
    finally:
        sys.path.remove(str(ROOT / "examples"))
    from persuaders.envs import persuasion_v0

    env = rllib_persuasion.FlatSchemeLogits(persuasion_v0.parallel_env(game="noisy_advisors"))
    env.reset(seed=0)
    acts = {a: env.action_space(a).sample() for a in env.agents}
    for a, z in acts.items():
        x, m = env.unwrapped.game.speakers[env.possible_agents.index(a)].n_signals, env.unwrapped.game.messages
        assert env.action_space(a).shape == (x * (m - 1),)
        logits = rllib_persuasion.to_logits(z, (x, m))
        assert logits.shape == (x, m) and np.all(logits[:, -1] == 0)
    _, rewards, _terms, _, _ = env.step(acts)
    assert set(rewards) == set(acts)


# ---------------------------------------------------------------------------------- sweeps
TINY = {
    "name": "tiny",
    "base": {
        "game": "kg_logit",
        "n_envs": 256,
        "eval_interval": 5,
        "checkpoint_interval": 5,
        "exploitability_interval": 0,
        # A schemes file that does not exist: the 'fixed' trials fail when they start.
        "speakers": {"prosecutor": {"learner": "ppo", "path": "/nonexistent/schemes.json"}},
    },
    "grid": {"total_steps": [4096, 1000000], "speakers.prosecutor.learner": ["ppo", "fixed"]},
}


def _write(tmp_path: Path, data: dict, name: str = "sweep.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize(
    "edit,field,words",
    [
        (lambda d: d.update(colour="red"), "colour", "allowed keys are: name"),
        (lambda d: d["grid"].update({"ppo.lr": [0.1]}), "grid.ppo.lr", "unknown key 'lr'"),
        (lambda d: d["grid"].update({"seed": [0, "x"]}), "grid.seed", "integer"),
        (lambda d: d["grid"].update({"seed": 3}), "grid.seed", "non-empty list"),
        (lambda d: d["grid"].update({"game.k": [1, 2]}), "grid.game.k", "random:... base game"),
        (
            lambda d: d.update(random={"ppo.learning_rate": {"loguniform": [0, 1]}}),
            "random.ppo.learning_rate.loguniform",
            "> 0",
        ),
        (
            lambda d: d.update(random={"ppo.learning_rate": {"normal": [0, 1]}}),
            "random.ppo.learning_rate.normal",
            "unknown key",
        ),
        (lambda d: d.update(num_samples=0), "num_samples", ">= 1"),
        (lambda d: d["base"].update(n_envs=0), "base.n_envs", ">= 1"),
        (lambda d: d.update(grid={}), "grid", "at least one key"),
    ],
)
def test_bad_sweep_file_names_the_key(tmp_path, edit, field, words):
    from persuaders.train.sweep import load_sweep

    data = yaml.safe_load(yaml.safe_dump(TINY))
    edit(data)
    with pytest.raises(SpecError) as err:
        load_sweep(_write(tmp_path, data))
    assert str(err.value).startswith(field + ":"), str(err.value)
    assert words in str(err.value), str(err.value)


def test_sweep_plan_random_games_and_random_draws(tmp_path):
    from persuaders.train.sweep import load_sweep

    data = {
        "base": {"game": "random:k=1,states=2,actions=2,seed=0,regime=inside,rationality=20"},
        "grid": {"game.k": [1, 3], "game.regime": ["inside", "outside"]},
        "random": {"ppo.learning_rate": {"loguniform": [1e-4, 1e-2]}, "n_envs": {"choice": [64, 128]}},
        "num_samples": 2,
        "seed": 5,
    }
    sweep = load_sweep(_write(tmp_path, data))
    trials = sweep["trials"]
    assert len(trials) == 8 and len({t["dir"] for t in trials}) == 8
    assert trials[3]["config"].game == "random:k=3,states=2,actions=2,seed=0,regime=outside,rationality=20"
    assert all(1e-4 <= t["config"].hyperparameters["ppo"].learning_rate <= 1e-2 for t in trials)
    assert all(t["config"].threads == 1 for t in trials)
    assert [t["params"] for t in load_sweep(_write(tmp_path, data))["trials"]] == [t["params"] for t in trials]


def test_bundled_sweeps_validate():
    from persuaders.train.sweep import load_sweep

    files = sorted((ROOT / "configs" / "sweeps").glob("*.yaml"))
    assert files
    for path in files:
        assert load_sweep(path)["trials"]


def _rows(out: Path) -> dict[str, dict]:
    with open(out / "results.csv") as fh:
        return {r["trial"]: r for r in csv.DictReader(fh)}


def _summary(out: Path, rows: dict, trial: str) -> Path:
    return out / rows[trial]["run_dir"] / "summary.json"


@pytest.mark.slow
@needs_ray
def test_sweep_reports_failures_and_resumes_after_interruption(tmp_path, ray_module):
    """Interrupt a sweep (SIGINT) while its long trial trains; the rerun restores it from Tune's
    state and the run's checkpoint, and never reruns the finished trial."""
    path = _write(tmp_path, TINY)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "persuaders.cli.sweep", "--config", str(path), "--out", str(out), "--workers", "1"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    from persuaders.train.sweep import load_sweep

    plan = load_sweep(path)["trials"]
    quick, slow = (out / "trials" / plan[i]["dir"] for i in (0, 2))
    # The slow trial trains for about 50 s on 2 cores after its first checkpoint (iteration 5), far
    # longer than the ~10 s Tune grants running trials after a SIGINT, so it is still unfinished
    # when the driver stops; the deadlines leave room for a loaded machine.
    with open(tmp_path / "first.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 300
        while not (slow / "checkpoint.pt").exists():  # the quick trial is done, the slow one is training
            assert proc.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            assert time.time() < deadline, "the slow trial never checkpointed"
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=300) == 1
    rows = _rows(out)
    assert len(rows) == 4
    assert rows["000"]["status"] == "ok" and float(rows["000"]["user_value"]) > 0
    assert rows["002"]["status"] == "unfinished", rows["002"]
    assert not (slow / "summary.json").exists()
    quick_mtime = (quick / "summary.json").stat().st_mtime_ns
    slow_config_mtime = (slow / "config.yaml").stat().st_mtime_ns

    second = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=900, check=False)
    assert second.returncode == 1, second.stdout[-3000:] + second.stderr[-3000:]  # the two 'fixed' trials fail
    assert "resuming the Tune experiment" in second.stdout
    rows = _rows(out)
    assert [rows[t]["status"] for t in ("000", "002")] == ["ok", "ok"]
    for t in ("001", "003"):
        # the missing schemes file is named (a clear error from the trial's worker)
        assert rows[t]["status"].startswith("error: SpecError: speakers.prosecutor.path"), rows[t]
        assert "/nonexistent/schemes.json" in rows[t]["status"], rows[t]
    assert (quick / "summary.json").stat().st_mtime_ns == quick_mtime  # finished: not run again
    assert (slow / "config.yaml").stat().st_mtime_ns == slow_config_mtime  # resumed from its checkpoint
    runs = [d for d in (out / "trials").iterdir() if (d / "summary.json").exists()]
    assert len(runs) == 2
    for t in ("000", "002"):
        lo, hi = float(rows[t]["no_information"]), float(rows[t]["full_information"])
        assert 0.0 <= float(rows[t]["user_value"]) <= 1.0 and lo <= hi
    md = (out / "results.md").read_text()
    assert "| 002 | 1000000 | ppo |" in md
    assert (out / "plot_total_steps.png").exists()


def test_sweep_cli_bad_file_exits_2(tmp_path, capsys):
    from persuaders.cli.sweep import main

    data = yaml.safe_load(yaml.safe_dump(TINY))
    data["random"] = {"ppo.learning_rate": {"uniform": [0.1]}}
    assert main(["--config", str(_write(tmp_path, data)), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: random.ppo.learning_rate.uniform:") and "[low, high]" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_sweep_table_and_plots_from_rows(tmp_path):
    """results.csv/.md and one plot per swept key, for grid, random and categorical keys (no Ray needed)."""
    from persuaders.train.sweep import load_sweep, write_results

    data = {
        "base": {"game": "random:k=1,states=2,actions=2,seed=0,regime=inside"},
        "grid": {"game.regime": ["inside", "outside"], "game.seed": [0, 1]},
        "random": {"ppo.learning_rate": {"loguniform": [1e-4, 1e-2]}, "n_envs": {"choice": [64, 128]}},
    }
    sweep = load_sweep(_write(tmp_path, data))
    rng = np.random.default_rng(0)
    rows = []
    for t in sweep["trials"]:
        row = {
            "trial": t["id"],
            "params": t["params"],
            "run_dir": f"trials/{t['dir']}",
            "game": t["config"].game,
            "status": "ok",
        }
        row.update(
            user_value=rng.random(),
            no_information=0.4,
            full_information=0.8,
            epsilon=0.0,
            competition_bound=None if t["id"] == "001" else 0.8,
            exploitability=rng.random() * 0.01,
            speaker_values={"ai0": 0.5},
        )
        rows.append(row)
    rows[-1] = {k: rows[-1][k] for k in ("trial", "params", "run_dir", "game")} | {"status": "error: ValueError: boom"}
    out = tmp_path / "out"
    out.mkdir()
    write_results(sweep, rows, out)
    with open(out / "results.csv") as fh:
        table = list(csv.DictReader(fh))
    assert [r["status"] for r in table] == ["ok"] * 3 + ["error: ValueError: boom"]
    assert table[1]["competition_bound"] == "" and table[0]["game.regime"] == "inside"
    assert "| 003 | outside | 1 |" in (out / "results.md").read_text()
    plots = sorted(p.name for p in out.glob("plot_*.png"))
    assert plots == ["plot_game.regime.png", "plot_n_envs.png", "plot_ppo.learning_rate.png"]  # game.seed: a replicate


@pytest.mark.slow
@needs_ray
def test_sweep_joins_a_cluster_with_token_authentication(tmp_path):
    """A head node started with RAY_AUTH_MODE=token refuses a driver without its token; the sweep
    joins it with --auth-token-file and runs its trials there."""
    import uuid

    token = tmp_path / "auth_token"
    token.write_text(uuid.uuid4().hex)
    ray_cli = str(Path(sys.executable).with_name("ray"))
    port = 6000 + os.getpid() % 2000
    head_env = dict(os.environ, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token))
    # --block keeps the head in the foreground, in its own process group: stopping that group
    # ends this cluster only (`ray stop` would end every Ray instance of the user).
    head = subprocess.Popen(
        [
            ray_cli,
            "start",
            "--head",
            "--block",
            "--port",
            str(port),
            "--node-ip-address",
            "127.0.0.1",
            "--num-cpus",
            "1",
            "--include-dashboard=false",
            "--disable-usage-stats",
        ],
        env=head_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 180
        while True:  # the head's GCS accepts connections
            assert head.poll() is None, "ray start --head exited"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.time() < deadline, "the Ray head never listened"
                time.sleep(0.5)
        data = {
            "name": "cluster",
            "base": {
                "game": "kg_logit",
                "n_envs": 64,
                "total_steps": 2048,
                "eval_interval": 4,
                "exploitability_interval": 0,
            },
            "grid": {"seed": [0, 1]},
        }
        path = _write(tmp_path, data)
        out = tmp_path / "out"
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
        cmd = [
            sys.executable,
            "-m",
            "persuaders.train.sweep",
            "--config",
            str(path),
            "--out",
            str(out),
            "--address",
            f"127.0.0.1:{port}",
        ]
        # Two connection attempts instead of Ray's default twenty, one second apart.
        refused = subprocess.run(
            cmd,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            env=dict(env, RAY_gcs_server_port_wait_time_s="2"),
            check=False,
        )
        assert refused.returncode == 2, refused.stdout[-3000:] + refused.stderr[-3000:]
        assert "error: --address: cannot join" in refused.stderr and "--auth-token-file" in refused.stderr
        res = subprocess.run(
            [*cmd, "--auth-token-file", str(token)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
            check=False,
        )
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        rows = _rows(out)
        assert [rows[t]["status"] for t in ("000", "001")] == ["ok", "ok"]
        for r in rows.values():  # kg_logit: the user's utilities are 0 and 1
            assert 0.0 <= float(r["user_value"]) <= 1.0
        assert "Connected to Ray cluster" in res.stdout + res.stderr
    finally:  # a throwaway cluster: no graceful drain (about 30 s with SIGTERM)
        os.killpg(head.pid, signal.SIGKILL)
        head.wait()


def test_auth_token_file_errors_name_the_option(tmp_path):
    from persuaders.train.sweep import run_sweep, use_auth_token

    with pytest.raises(SpecError, match=r"^--auth-token-file: cannot read"):
        use_auth_token(tmp_path / "missing")
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(SpecError, match=r"^--auth-token-file: .* is empty"):
        use_auth_token(tmp_path / "empty")
    with pytest.raises(SpecError, match=r"^--auth-token-file: only applies with --address"):
        run_sweep({"trials": []}, tmp_path / "out", auth_token_file=tmp_path / "empty")
    assert not (tmp_path / "out").exists()
