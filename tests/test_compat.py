"""The previous release's module names still work for one release: the same modules, with a warning."""

from __future__ import annotations

import importlib
import subprocess
import sys
import warnings

import pytest

from persuaders.compat import MOVED, PersuadersDeprecationWarning

OLD_TO_NEW = [
    ("persuaders.game", "persuaders.envs.game"),
    ("persuaders.game.users", "persuaders.envs.game.users"),
    ("persuaders.payoff.exact", "persuaders.envs.payoff.exact"),
    ("persuaders.experiments.competition", "persuaders.eval.experiments.competition"),
    ("persuaders.envs.batched", "persuaders.envs.persuasion.batched"),
    ("persuaders.eval.best_response", "persuaders.eval.dynamics.best_response"),
    ("persuaders.eval.single_sender", "persuaders.eval.theory.single_sender"),
    ("persuaders.eval.multiround", "persuaders.eval.response.multiround"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("old", "new"), OLD_TO_NEW)
def test_an_old_name_is_the_new_module_itself(old, new):
    # Run in a fresh interpreter: the warning is given once per process, at the first import.
    code = (
        "import importlib, warnings\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        f"    old = importlib.import_module({old!r})\n"
        f"new = importlib.import_module({new!r})\n"
        "assert old is new, (old, new)\n"
        "assert new.__name__ == " + repr(new) + ", new.__name__\n"
        "assert new.__spec__.name == " + repr(new) + ", new.__spec__.name\n"
        "print('|'.join(str(x.message) for x in w if x.category.__name__ == 'PersuadersDeprecationWarning'))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    assert f"{old.split('.')[0]}." in res.stdout and "deprecated" in res.stdout and new.rsplit(".", 1)[0] in res.stdout


def test_a_user_model_registered_under_the_old_name_is_seen_by_game_files():
    # The bug of two module objects over one file: a registry filled through one name and read through the other.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PersuadersDeprecationWarning)
        old_users = importlib.import_module("persuaders.game.users")
    from persuaders.envs.game.users import user_models

    assert old_users.user_models is user_models


def test_every_moved_module_resolves():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PersuadersDeprecationWarning)
        for old, new in MOVED.items():
            module = importlib.import_module(old)
            targets = (new,) if isinstance(new, str) else new
            for t in targets:
                for name in getattr(importlib.import_module(t), "__all__", ()):
                    assert hasattr(module, name), f"{old}.{name}"


@pytest.mark.slow
def test_old_python_m_paths_run_their_command():
    res = subprocess.run(
        [sys.executable, "-m", "persuaders.eval.bounds", "kg", "--json"], capture_output=True, text=True, check=False
    )
    assert res.returncode == 0, res.stderr
    assert '"bayes_optimal"' in res.stdout
    assert "deprecated" in res.stderr and "persuaders-bounds" in res.stderr
