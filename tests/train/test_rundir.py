"""Run directories in other people's hands: nothing lost, one process at a time, honest resumes,
checkpoints that are safe to load."""

from __future__ import annotations

import functools
import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from persuaders.cli.train import main as train_main
from tests.commands import ROOT, Ran

SMALL = [
    "--config",
    "kg_logit",
    "--set",
    "total_steps=8192",
    "--set",
    "n_envs=512",
    "--set",
    "exploitability_interval=0",
    "--set",
    "checkpoint_interval=2",
    "--no-progress",
]


@pytest.fixture
def run_train(cli):
    """``persuaders-train ARGS`` in this process (tests/commands.py), output captured."""
    return functools.partial(cli, train_main)


def assert_clear_error(res: Ran, *words: str) -> None:
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr, res.stderr
    assert res.stderr.startswith("error: "), res.stderr
    for w in words:
        assert w in res.stderr, res.stderr


def test_a_non_empty_out_is_refused_and_left_as_it_was(tmp_path, run_train):
    out = tmp_path / "run"
    (out / "tb").mkdir(parents=True)
    (out / "config.yaml").write_text("mine: true\n")
    (out / "tb" / "notes.txt").write_text("my notes\n")
    res = run_train(*SMALL, "--out", str(out))
    assert_clear_error(res, "--out", "not empty", "--overwrite", "--resume")
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["config.yaml", "tb", "tb/notes.txt"]
    assert (out / "config.yaml").read_text() == "mine: true\n"
    # --overwrite removes only what a run wrote: a file of the user's where the run would write is refused.
    res = run_train(*SMALL, "--out", str(out), "--overwrite")
    assert_clear_error(res, "config.yaml", "not written by a run")
    assert (out / "config.yaml").read_text() == "mine: true\n" and (out / "tb" / "notes.txt").exists()


@pytest.mark.slow
def test_overwrite_replaces_only_the_previous_runs_files(tmp_path, run_train):
    out = tmp_path / "run"
    first = run_train(*SMALL, "--out", str(out))
    assert first.returncode == 0, first.stderr
    (out / "tb" / "notes.txt").write_text("my notes\n")
    (out / "mine.csv").write_text("1,2\n")
    old_events = sorted((out / "tb").glob("events.out.tfevents.*"))
    again = run_train(*SMALL, "--out", str(out))
    assert_clear_error(again, "not empty")
    res = run_train(*SMALL, "--out", str(out), "--overwrite")
    assert res.returncode == 0, res.stderr
    assert (out / "tb" / "notes.txt").read_text() == "my notes\n" and (out / "mine.csv").read_text() == "1,2\n"
    new_events = sorted((out / "tb").glob("events.out.tfevents.*"))
    assert len(new_events) == 1 and new_events != old_events  # the old run's events are gone, the new one's written
    assert json.loads((out / "summary.json").read_text())["global_step"] == 8192


@pytest.mark.slow
def test_a_second_process_is_kept_out(tmp_path, run_train):
    out = tmp_path / "run"
    long = [a if a != "total_steps=8192" else "total_steps=4000000" for a in SMALL]
    proc = subprocess.Popen(
        [sys.executable, "-m", "persuaders.cli.train", *long, "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 120
        while not (out / "config.yaml").exists():
            assert proc.poll() is None and time.time() < deadline
            time.sleep(0.1)
        res = run_train(*SMALL, "--out", str(out), "--overwrite")
        assert_clear_error(res, "in use by another training process", f"pid {proc.pid}")
        res = run_train("--resume", str(out), "--no-progress")
        assert_clear_error(res, "in use by another training process")
    finally:
        proc.kill()
        proc.wait()
    assert yaml.safe_load((out / "config.yaml").read_text())["total_steps"] == 4000000  # untouched by the refused runs


@pytest.mark.slow
def test_resume_refuses_a_changed_setting_and_records_an_allowed_one(tmp_path, run_train):
    out = tmp_path / "run"
    assert run_train(*SMALL, "--out", str(out)).returncode == 0
    res = run_train("--resume", str(out), "--set", "seed=7", "--no-progress")
    assert_clear_error(res, "seed", "cannot change on --resume", "0", "7")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 0 and "resumed" not in summary
    res = run_train("--resume", str(out), "--set", "total_steps=16384", "--no-progress")
    assert res.returncode == 0, res.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["global_step"] == 16384
    assert summary["resumed"] == [{"iteration": 16, "changed": {"total_steps": {"from": 8192, "to": 16384}}}]
    assert yaml.safe_load((out / "config.yaml").read_text())["total_steps"] == 16384


@pytest.mark.slow
@pytest.mark.parametrize(
    "content", [b"", b"\x00\x01garbage" * 10, b"PK\x03\x04truncated"], ids=["empty", "random", "truncated-zip"]
)
def test_a_corrupt_checkpoint_is_named(tmp_path, content, run_train):
    out = tmp_path / "run"
    assert run_train(*SMALL, "--out", str(out)).returncode == 0
    ckpt = out / "checkpoint.pt"
    good = ckpt.read_bytes()
    ckpt.write_bytes(content if content else b"")
    res = run_train("--resume", str(out), "--no-progress")
    assert_clear_error(res, "checkpoint", str(ckpt), "not a readable checkpoint")
    ckpt.write_bytes(good[: len(good) // 2])
    assert_clear_error(run_train("--resume", str(out), "--no-progress"), "not a readable checkpoint")


class _Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


MARKER = Path("/tmp") / f"persuaders_exploit_{os.getpid()}"


@pytest.mark.slow
def test_a_checkpoint_cannot_execute_code(tmp_path, run_train):
    """Checkpoints are read with weights_only=True: a pickled object in a received file is refused."""
    out = tmp_path / "run"
    assert run_train(*SMALL, "--out", str(out)).returncode == 0
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    state["reached"] = _Exploit()
    torch.save(state, out / "checkpoint.pt", pickle_protocol=pickle.HIGHEST_PROTOCOL)
    MARKER.unlink(missing_ok=True)
    res = run_train("--resume", str(out), "--no-progress")
    assert_clear_error(res, "not a readable checkpoint")
    assert not MARKER.exists()


def test_an_unwritable_out_is_a_clear_error(tmp_path, run_train):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):  # running as root: permissions do not stop us; use a path under a file
            target = tmp_path / "a_file" / "run"
            (tmp_path / "a_file").write_text("")
        else:
            target = ro / "run"
        res = run_train(*SMALL, "--out", str(target))
        assert_clear_error(res, str(tmp_path))
    finally:
        ro.chmod(0o700)
