"""Write a ready oTree project: the shipped template folder plus the design file of the session.

The template (``template/`` beside this module, package data) is a complete oTree project whose
app ``persuade`` reads ``lab_design.json`` at start-up; :func:`create_project` copies it and writes
the design, so the researcher writes no web code: ``cd OUT && otree devserver``.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from persuaders.envs.game.catalog import load_game
from persuaders.envs.game.profiles import load_profile
from persuaders.envs.game.schemes import full_revelation_scheme
from persuaders.envs.game.spec import Game
from persuaders.envs.game.validation import SpecError
from persuaders.lab.design import DESIGN_FILE, Design, Treatment

__all__ = ["BUNDLED_PROFILES", "profile_schemes", "make_treatments", "create_project"]

#: Profiles the command builds without a file: ``full_revelation`` (every signal its own message).
BUNDLED_PROFILES = ("full_revelation",)


def profile_schemes(
    game: str | Game, run: str | None = None, schemes: str | None = None, profile: str | None = None
) -> tuple[Game, list[np.ndarray]]:
    """The game and its committed schemes ``[R, X_i, M]`` from exactly one of a run directory, a
    schemes file or a bundled profile (see :func:`persuaders.envs.game.profiles.load_profile`)."""
    given = [name for name, v in (("--run", run), ("--schemes", schemes), ("--profile", profile)) if v is not None]
    if len(given) != 1:
        raise SpecError("profile", "give exactly one of --run, --schemes or --profile")
    if profile is not None:
        if profile not in BUNDLED_PROFILES:
            known = ", ".join(BUNDLED_PROFILES)
            raise SpecError("profile", f"unknown profile {profile!r}; bundled profiles are {known}")
        g = load_game(game)
        spec = load_profile([full_revelation_scheme(g, i) for i in range(g.n_speakers)], game=g)
    else:
        spec = load_profile(run if run is not None else schemes, game=game)
    return spec.game, spec.schemes


def make_treatments(game: Game, speaker_sets: Sequence[str] | None, shown: str) -> tuple[Treatment, ...]:
    """Every combination of a speaker set (``"a,b"`` or ``"all"``) and of showing the schemes or
    not (``shown``: ``yes``, ``no`` or ``both``). Names read ``<speakers>__shown`` or ``__hidden``."""
    if shown not in ("yes", "no", "both"):
        raise SpecError("show-schemes", f"expected yes, no or both, got {shown!r}")
    sets: list[tuple[int, ...]] = []
    for raw in speaker_sets or ["all"]:
        if raw == "all":
            sets.append(tuple(range(game.n_speakers)))
            continue
        names = [n.strip() for n in raw.split(",") if n.strip()]
        unknown = [n for n in names if n not in game.speaker_names]
        if unknown or not names:
            raise SpecError(
                "speakers",
                f"unknown speaker {unknown[0] if unknown else raw!r}; speakers are {', '.join(game.speaker_names)}",
            )
        sets.append(tuple(sorted({game.speaker_index(n) for n in names})))
    flags = {"yes": [True], "no": [False], "both": [True, False]}[shown]
    out: list[Treatment] = []
    for s in dict.fromkeys(sets):
        label = "all" if len(s) == game.n_speakers else "+".join(game.speaker_names[i] for i in s)
        out.extend(Treatment(f"{label}__{'shown' if f else 'hidden'}", s, f) for f in flags)
    return tuple(out)


def create_project(design: Design, out: str | Path) -> Path:
    """Copy the oTree template to ``out`` (which must not exist: nothing is overwritten) and write
    the design file there. Returns the project folder."""
    out = Path(out)
    if out.exists():
        raise SpecError("out", f"{out} already exists; choose a new folder (nothing was overwritten)")
    template = resources.files("persuaders.lab").joinpath("template")
    with resources.as_file(template) as src:
        shutil.copytree(src, out, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "db.sqlite3"))
    (out / "_static").mkdir(exist_ok=True)  # oTree serves it and requires it to exist
    design.write(out / DESIGN_FILE)
    return out
