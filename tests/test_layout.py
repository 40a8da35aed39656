"""The shape of the package: no import circles, no private names across modules, files that read well.

The layering itself (each layer imports only the layers below it) is import-linter's contract in
pyproject.toml, checked by ``lint-imports`` in CI; these tests add what a layers contract does
not see.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = [
    "persuaders.envs",
    "persuaders.eval",
    "persuaders.agents",
    "persuaders.train",
    "persuaders.cli",
    "persuaders.lab",
]
#: Folders of the checkout that are packages of the namespace (see pyproject's package-dir).
SOURCE_DIRS = ["envs", "eval", "agents", "train", "cli", "compat", "lab"]
#: Copied into the oTree projects the lab writes, never imported from the package.
TEMPLATE_DIR = "lab/template"
MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 80


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES)


def modules(graph: grimp.ImportGraph) -> list[str]:
    return sorted(graph.modules)


def test_each_file_has_one_module_name():
    """Import names follow the folders: every source file is the module its path names, and only that."""
    package_dirs = {
        "envs": "persuaders.envs",
        "eval": "persuaders.eval",
        "agents": "persuaders.agents",
        "train": "persuaders.train",
        "cli": "persuaders.cli",
        "lab": "persuaders.lab",
    }
    for path in _sources():
        top = path.relative_to(ROOT).parts[0]
        if top not in package_dirs:
            continue
        parts = path.relative_to(ROOT / top).with_suffix("").parts
        name = ".".join((package_dirs[top], *parts)).removesuffix(".__init__")
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, name
        assert Path(spec.origin).resolve() == path.resolve(), f"{name} is {spec.origin}, not {path}"


def test_no_import_circles(graph):
    circles = []
    for m in modules(graph):
        for n in graph.find_modules_directly_imported_by(m):
            if n == m:
                continue
            chain = graph.find_shortest_chain(importer=n, imported=m)
            if chain is not None:
                circles.append(" -> ".join((m, *chain)))
    assert not circles, "import circles:\n" + "\n".join(sorted(set(circles)))


def _sources() -> list[Path]:
    return sorted(p for d in SOURCE_DIRS for p in (ROOT / d).rglob("*.py") if not p.is_relative_to(ROOT / TEMPLATE_DIR))


def test_no_private_name_is_imported_from_another_module():
    bad = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("persuaders"):
                bad += [
                    f"{path.relative_to(ROOT)}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_")
                ]
    assert not bad, "private names imported across modules:\n" + "\n".join(bad)


def test_no_library_import_is_hidden_in_a_function():
    """Imports of the package's own modules sit at the top of a module (no circle to dodge);
    optional dependencies (ray, torchrl, matplotlib...) may be imported where they are used."""
    bad = []
    for path in _sources():
        tree = ast.parse(path.read_text())
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                names = []
                if isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                elif isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                bad += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names if n.startswith("persuaders")]
    assert not bad, "library imports inside functions:\n" + "\n".join(bad)


def test_files_and_functions_read_well():
    """No file over 600 lines; no function over 80 lines unless a comment in it says why."""
    long_files, long_functions = [], []
    for path in _sources():
        text = path.read_text()
        lines = text.splitlines()
        if len(lines) > MAX_FILE_LINES:
            long_files.append(f"{path.relative_to(ROOT)}: {len(lines)} lines")
        for fn in ast.walk(ast.parse(text)):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = fn.end_lineno - fn.lineno + 1
                body = "\n".join(lines[fn.lineno - 1 : fn.end_lineno])
                if n > MAX_FUNCTION_LINES and "# long:" not in body:
                    long_functions.append(f"{path.relative_to(ROOT)}:{fn.lineno} {fn.name}: {n} lines")
    assert not long_files, "\n".join(long_files)
    assert not long_functions, "\n".join(long_functions)


def test_the_code_cites_only_its_own_docs():
    """Citations point into the repository (docs/...), never at a file outside it."""
    bad = []
    for path in _sources():
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if "DESIGN.md" in line or "ECOSYSTEM.md" in line or "ARCHITECTURE.md" in line:
                bad.append(f"{path.relative_to(ROOT)}:{i}")
    assert not bad, "\n".join(bad)
    science = (ROOT / "docs" / "science.md").read_text()
    cited = set()
    for path in _sources():
        text = path.read_text()
        start = 0
        while (i := text.find('docs/science.md, "', start)) >= 0:
            j = text.index('"', i + len('docs/science.md, "'))
            cited.add(" ".join(text[i + len('docs/science.md, "') : j].replace("#", "").split()))
            start = j
    headings = {line.lstrip("#").strip() for line in science.splitlines() if line.startswith("#")}
    assert cited and cited <= headings, f"cited sections missing from docs/science.md: {sorted(cited - headings)}"
