"""Shared steps of the lab's tests: a project written by the command, oTree's bots, and the
likelihood of what a participant heard computed directly from the factorisation
(docs/science.md, "The exact belief update"), independently of the library's belief update."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from persuaders.envs.game import load_game
from persuaders.lab.cli import main as lab_main

#: A two-round game with two speakers whose signals are noisy: noisy_advisors over two rounds.
GAME = {**load_game("noisy_advisors").to_dict(), "name": "noisy2", "rounds": 2}


def otree() -> str:
    """The ``otree`` command of this interpreter's environment."""
    found = shutil.which("otree", path=str(Path(sys.executable).parent)) or shutil.which("otree")
    assert found, "otree is not installed"
    return found


def write_game_and_schemes(tmp: Path, seed: int = 0) -> tuple[Path, Path]:
    """The two-round game as a YAML file and random committed schemes [R][X][M] for it."""
    game = load_game(GAME)
    rng = np.random.default_rng(seed)
    schemes = {
        s.name: rng.dirichlet(np.ones(game.messages), size=(game.rounds, s.n_signals)).tolist() for s in game.speakers
    }
    gpath, spath = tmp / "noisy2.yaml", tmp / "schemes.yaml"
    gpath.write_text(yaml.safe_dump(GAME))
    spath.write_text(yaml.safe_dump(schemes))
    return gpath, spath


def create(out: Path, *args: str) -> None:
    """``persuaders-lab create ARGS --out OUT``, which must succeed."""
    assert lab_main(["create", *args, "--out", str(out)]) == 0


def run_bots(project: Path, n: int, config: str = "persuade", **env: str) -> Path:
    """``otree test CONFIG N --export``: oTree's bots play a whole session; returns the export folder."""
    out = project / "bots_export"
    res = subprocess.run(
        [otree(), "test", config, str(n), "--export", str(out)],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
        timeout=300,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "Bots completed session" in res.stdout + res.stderr
    return out


def read_csv(path: Path) -> list[dict[str, Any]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def direct_likelihood(
    game_dict: dict[str, Any], schemes: dict[str, Any], user_signal: int, messages: list[list[int]]
) -> np.ndarray:
    """lik(y) = O_0[y, x0] prod_{i heard} sum_x O_i[y, x] prod_t pi_i^t[x, m_i^t], summed out directly."""
    game = load_game(game_dict)
    lik = game.user.observation[:, user_signal].astype(float).copy()
    for i, spk in enumerate(game.speakers):
        if messages[0][i] < 0:
            continue
        pi = np.asarray(schemes[spk.name], dtype=float)
        per_signal = np.prod([pi[t, :, messages[t][i]] for t in range(game.rounds)], axis=0)
        lik *= spk.observation @ per_signal
    return lik
