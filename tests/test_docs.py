"""The documentation's code runs: every Python block of docs/extending.md, in order, in one session.

The page registers a user model, a protocol and a learner of its own and asserts their numbers
against closed forms (kg with an epsilon-greedy judge, a random selection in hull_pair, a bandit
against the kg_logit judge); it runs in a fresh interpreter so that its registrations stay out of
this one.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", page.read_text(), flags=re.S | re.M)


@pytest.mark.slow
def test_extending_page_runs_as_written(tmp_path):
    blocks = python_blocks(DOCS / "extending.md")
    assert len(blocks) >= 6  # a game, its errors, a user model and its use, a protocol, a learner, training
    script = tmp_path / "extending.py"
    script.write_text("\n\n".join(blocks))
    res = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "prior: entries must sum to 1, sums to 1.1" in res.stdout


def test_api_reference_lists_every_module():
    # Each package's modules (pyproject's packages, in the folders of its package-dir) have an
    # entry on an API page, so a new module cannot be left out of the site.
    import tomllib

    root = DOCS.parent
    setup = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping = setup["package-dir"]
    pages = "\n".join(p.read_text() for p in (DOCS / "api").glob("*.md"))
    documented = [p for p in setup["packages"] if not p.startswith(("persuaders.configs", "persuaders.compat"))]
    documented = [p for p in documented if p not in ("persuaders.game", "persuaders.payoff", "persuaders.experiments")]

    def folder(package: str) -> Path:
        base = max((b for b in mapping if package == b or package.startswith(b + ".")), key=len)
        return root / mapping[base] / Path(*package[len(base) :].split(".")[1:])

    missing = [
        f"{package}.{path.stem}"
        for package in documented
        for path in folder(package).glob("*.py")
        if path.name not in ("__init__.py", "__main__.py") and f"::: {package}.{path.stem}\n" not in pages
    ]
    assert not missing, f"modules missing from docs/api/: {missing}"
