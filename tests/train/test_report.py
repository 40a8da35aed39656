"""The run report: figures and the outcome-against-theory table."""

from __future__ import annotations

import pytest

from persuaders.cli.report import main as report_main
from persuaders.train.config import load_config
from persuaders.train.loop import train


@pytest.mark.slow
def test_report_from_a_run_directory(tmp_path, cli):
    run = tmp_path / "run"
    train(
        load_config(None, ["game=hull_pair", "n_envs=128", "total_steps=6400", "eval_interval=5"]), run, progress=False
    )
    res = cli(report_main, str(run))
    assert res.returncode == 0, res.stderr
    md = (run / "report.md").read_text()
    assert "| user: full information | 0.600000 |" in md  # docs/science.md: the hull pair
    assert "| user: no information | 0.540000 |" in md
    assert "exploitability" in md
    for png in ("learning_curves.png", "schemes.png"):
        data = (run / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
