"""Experiments' games on local processes or Ray, resumable from their journal; the sensitivity experiment."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from persuaders.cli.experiment import main as experiment_main
from persuaders.envs.game.validation import SpecError
from persuaders.eval.experiments.runner import run_games

JOBS = [(n, n * n) for n in range(7)]


def play(job: tuple[int, int]) -> dict:
    """A deterministic 'game': its record depends only on its job."""
    n, sq = job
    return {"n": n, "value": sq + 0.5, "label": f"game {n}"}


def never(job: tuple[int, int]) -> dict:
    raise AssertionError(f"{job} should have been read from the journal")


def crash_once(job: tuple[Path, int]) -> dict:
    """Kills its worker process the first time it runs a job (a lost worker), then succeeds."""
    marker, n = job
    flag = marker / f"{n}.started"
    if not flag.exists():
        flag.write_text("x")
        os._exit(1)
    return {"n": n}


@pytest.mark.slow
def test_local_processes_give_the_records_in_job_order(tmp_path):
    one = run_games(play, JOBS, workers=1, progress=False)
    two = run_games(play, JOBS, workers=2, progress=False)
    assert one == two == [play(j) for j in JOBS]


def test_a_run_resumes_from_its_journal(tmp_path):
    journal = tmp_path / "games.jsonl"
    first = run_games(play, JOBS, workers=1, journal=journal, progress=False)
    lines = journal.read_text().splitlines()
    assert len(lines) == 1 + len(JOBS)  # the fingerprint, then one line per game
    # an interruption cut the last line short: that game alone runs again
    journal.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:10])
    calls = []

    def counted(job):
        calls.append(job)
        return play(job)

    again = run_games(counted, JOBS, workers=1, journal=journal, progress=False)
    assert again == first and len(calls) == 1
    assert run_games(never, JOBS, workers=1, journal=journal, progress=False) == first


def test_a_journal_of_other_games_is_refused(tmp_path):
    journal = tmp_path / "games.jsonl"
    run_games(play, JOBS, workers=1, journal=journal, progress=False)
    with pytest.raises(SpecError, match=r"journal.*other games"):
        run_games(play, JOBS[:3], workers=1, journal=journal, progress=False)


@pytest.mark.slow
def test_ray_tasks_match_local_processes_and_survive_a_lost_worker(tmp_path):
    pytest.importorskip("ray")
    assert run_games(play, JOBS, workers=2, ray="local", progress=False) == [play(j) for j in JOBS]
    jobs = [(tmp_path, n) for n in range(3)]
    out = run_games(crash_once, jobs, workers=2, ray="local", journal=tmp_path / "j.jsonl", progress=False)
    assert out == [{"n": n} for n in range(3)]
    assert all((tmp_path / f"{n}.started").exists() for n in range(3))  # every worker died once


@pytest.mark.slow
def test_sensitivity_inside_the_hull_gives_full_information(tmp_path, capsys):
    """At delta = 0 the games are inside the hull (eps = 0): every certified equilibrium gives the user
    her full-information value (normalised 1), and the bound is that value too."""
    out = tmp_path / "sens"
    argv = ["sensitivity", "--games", "3", "--deltas", "0", "0.2", "--ks", "2", "--workers", "1", "--out", str(out)]
    assert experiment_main([*argv, "--no-progress"]) == 0
    rows = json.loads((out / "results.json").read_text())
    zero = next(r for r in rows if r["delta"] == 0.0)
    assert zero["converged_fraction"] == 1.0
    assert zero["mean_normalized_user_utility"] == pytest.approx(1.0, abs=1e-5)
    assert zero["mean_normalized_bound"] == pytest.approx(1.0, abs=1e-9)
    assert all(r["fraction_meeting_bound"] == 1.0 for r in rows)
    for name in ("results.csv", "games.json", "games.jsonl", "config.yaml", "sensitivity.png"):
        assert (out / name).exists(), name
    assert "| 2 | 0.2 | 3 |" in capsys.readouterr().out
