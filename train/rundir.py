"""The run-directory contract: the files a training run writes, and how they are read back.

A run directory holds (docs/results.md describes their use):

* ``config.yaml``: the resolved training config (the game it names, overrides applied);
* ``checkpoint.pt``: the learners and every random state (written by :mod:`persuaders.train`);
* ``summary.json``: the exact outcome of the final profile beside the theory, with the committed
  schemes; ``timing.json``; ``tb/``: TensorBoard logs;
* ``.run_files.json``: the list of the files the library wrote there (the only ones it will ever
  remove, with ``--overwrite``), and ``.lock`` while a process trains there.

Every file is written atomically (a temporary file in the same directory, then a rename), so a
reader never sees half a file. Reading a run's profile and game back is
:mod:`persuaders.envs.game.profiles` (:func:`~persuaders.envs.game.profiles.load_profile`), which turns a
missing or corrupt file into a :class:`SpecError` that names it.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path, PurePath
from typing import IO, Any

import yaml

from persuaders.envs.game.profiles import CONFIG, SUMMARY
from persuaders.envs.game.safe_yaml import parse_json
from persuaders.envs.game.validation import SpecError

__all__ = [
    "RESUMABLE_KEYS",
    "RunLock",
    "inside",
    "check_boundary",
    "prepare_run_dir",
    "resume_changes",
    "owned_files",
    "claim",
    "MANIFEST",
    "CONFIG",
    "SUMMARY",
    "CHECKPOINT",
    "TIMING",
    "TENSORBOARD",
    "RUN_FILES",
    "atomic_write",
    "write_json",
    "write_yaml",
]

CHECKPOINT = "checkpoint.pt"
TIMING = "timing.json"
TENSORBOARD = "tb"
LOCK = ".lock"
#: The list of the files the library wrote in a run directory: the only files it ever removes.
MANIFEST = ".run_files.json"
#: The files a run directory may hold: training's, then ``persuaders-report``'s, beside
#: TensorBoard event files under ``tb/``.
RUN_FILES = (CONFIG, SUMMARY, CHECKPOINT, TIMING, "report.md", "learning_curves.png", "schemes.png")
#: Settings a resumed run may change: they decide how long it runs and what it logs, not what
#: it has computed so far. The change is recorded in config.yaml and summary.json ("resumed").
RESUMABLE_KEYS = ("total_steps", "eval_interval", "checkpoint_interval", "exploitability_interval", "threads", "target")


# ---------------------------------------------------------------------------------- writing
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def atomic_write(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Write through a temporary file in the same directory, then rename: never half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # the permissions of an ordinary new file (mkstemp makes it 0600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    """``data`` as indented JSON, atomically."""
    atomic_write(path, lambda fh: fh.write((json.dumps(data, indent=2) + "\n").encode()))


def write_yaml(path: Path, data: Any) -> None:
    """``data`` as YAML (keys in their order), atomically."""
    atomic_write(path, lambda fh: fh.write(yaml.safe_dump(data, sort_keys=False).encode()))


# ---------------------------------------------------------------------------------- the boundary
def _within(run_dir: Path, path: Path) -> bool:
    """True when ``path``, with every symlink followed, lies in ``run_dir`` (itself resolved)."""
    try:
        path.resolve().relative_to(run_dir.resolve())
    except ValueError:
        return False
    return True


def inside(run_dir: Path, entry: Any, field: str = MANIFEST) -> Path:
    """The path of ``entry`` (a name relative to ``run_dir``) if it stays inside ``run_dir``, else :class:`SpecError`.

    A run directory may come from someone else (docs/trust.md): an entry that is not a relative
    path, holds ``..``, is absolute, or leads out through a symlink is refused, naming the entry.
    """
    run_dir = Path(run_dir)
    if not isinstance(entry, str) or entry in ("", "."):
        raise SpecError(field, f"entry {entry!r} in {run_dir} is not a file name inside the run directory")
    rel = PurePath(entry)
    if rel.is_absolute() or rel.anchor or ".." in rel.parts or "\x00" in entry:
        raise SpecError(field, f"entry {entry!r} leaves the run directory {run_dir}: nothing was deleted")
    path = run_dir / rel
    if not _within(run_dir, path):
        raise SpecError(field, f"entry {entry!r} leads out of the run directory {run_dir} through a symlink")
    return path


def check_boundary(run_dir: Path) -> None:
    """Refuse a run directory whose own files (:data:`RUN_FILES`, ``tb/``, the manifest, the lock)
    are symlinks leading out of it: reading, writing or removing them would reach other files."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return
    for name in (MANIFEST, LOCK, TENSORBOARD, *RUN_FILES):
        path = run_dir / name
        if path.is_symlink() and not _within(run_dir, path):
            raise SpecError(name, f"{path} is a symlink leading out of the run directory; remove it")


# ---------------------------------------------------------------------------------- run directories
def _manifest(run_dir: Path) -> list[str]:
    """The manifest's entries, each checked to stay inside ``run_dir`` (all of them, before any use)."""
    path = Path(run_dir) / MANIFEST
    if not path.is_file():
        return []
    try:
        data = parse_json(path.read_text(), str(path), MANIFEST)
    except (SpecError, UnicodeDecodeError, OSError):
        return []  # a corrupt manifest (or one with duplicate keys or deep nesting): nothing is the library's
    files = data.get("files", []) if isinstance(data, dict) else []
    if not isinstance(files, list):
        raise SpecError(MANIFEST, f"'files' in {path} must be a list of names, got {type(files).__name__}")
    for entry in files:
        inside(Path(run_dir), entry)
    return [str(f) for f in files]


def claim(run_dir: Path, *paths: Path) -> None:
    """Record that the library wrote ``paths`` (inside ``run_dir``), in the directory's manifest."""
    run_dir = Path(run_dir)
    files = _manifest(run_dir)
    for p in paths:
        rel = str(Path(p).resolve().relative_to(run_dir.resolve()))
        if rel not in files:
            files.append(rel)
    atomic_write(run_dir / MANIFEST, lambda fh: fh.write((json.dumps({"files": files}, indent=1) + "\n").encode()))


def owned_files(run_dir: Path) -> list[Path]:
    """The files in ``run_dir`` that the library wrote there (its manifest ``.run_files.json``)."""
    run_dir = Path(run_dir)
    names = dict.fromkeys(os.path.normpath(f) for f in _manifest(run_dir))  # each file once, in order
    return [run_dir / f for f in names if (run_dir / f).is_file() or (run_dir / f).is_symlink()]


def prepare_run_dir(
    run_dir: Path, overwrite: bool = False, writes: tuple[str, ...] = (CONFIG, SUMMARY, CHECKPOINT, TIMING)
) -> None:
    """Make ``run_dir`` ready for a fresh run without losing anything the library did not write.

    A missing or empty directory is used as it is. A non-empty one is refused with a clear error,
    unless ``overwrite``: then only the files a previous run wrote there (its manifest) are
    removed; everything else (a user's notes, other folders) stays, and if one of the files the
    new run will write (``writes``) is there but was not written by a run, it is refused too.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise SpecError("--out", f"{run_dir} exists and is not a directory")
    if not run_dir.exists():
        return
    check_boundary(run_dir)
    entries = sorted(p.name for p in run_dir.iterdir() if p.name not in (LOCK, MANIFEST))
    if not entries:
        return
    if not overwrite:
        shown = ", ".join(entries[:6]) + (", ..." if len(entries) > 6 else "")
        raise SpecError(
            "--out",
            f"{run_dir} is not empty ({shown}); pass --overwrite to replace the files a previous run wrote "
            f"there (nothing else is touched), or --resume {run_dir} to continue that run, or choose another --out",
        )
    for path in owned_files(run_dir):  # every entry checked first: a bad one deletes nothing
        path.unlink(missing_ok=True)
    for parent in sorted({p.parent for p in run_dir.rglob("*") if p.is_file()} | {run_dir / TENSORBOARD}, reverse=True):
        if parent != run_dir and not parent.is_symlink() and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
    (run_dir / MANIFEST).unlink(missing_ok=True)
    foreign = [name for name in writes if (run_dir / name).exists()]
    if foreign:
        raise SpecError(
            "--out",
            f"{run_dir / foreign[0]} was not written by a run of this library: it is kept, "
            "so the new run cannot write there; move it or choose another --out",
        )


class RunLock:
    """An exclusive lock on a run directory (``.lock``, ``fcntl.flock``), held while a run trains.

    A second process that tries to train in the same directory is refused at once with the
    holder's pid; the lock dies with its process, so a killed run never leaves a stale lock (its
    ``.lock`` file may remain, and is ignored), and a run that ends removes the file.
    """

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        import fcntl  # POSIX; the lock is a no-op where fcntl is missing (Windows)

        if self.path.parent.exists() and not self.path.parent.is_dir():
            raise SpecError("--out", f"{self.path.parent} exists and is not a directory: choose a folder")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        check_boundary(self.path.parent)
        try:  # never through a symlink: the lock file is truncated and written
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            raise SpecError(LOCK, f"{self.path} is a symlink; remove it") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise SpecError(
                "--out",
                f"{self.path.parent} is in use by another training process (pid {holder}); "
                "wait for it to finish or choose another --out",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            self.path.unlink(missing_ok=True)  # while still held: no litter is left in the directory
            os.close(self._fd)  # closing releases the lock
            self._fd = None


def resume_changes(saved: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The settings ``new`` changes from a run's ``saved`` config: ``{key: {"from": old, "to": new}}``.

    Only :data:`RESUMABLE_KEYS` may change on resume; any other change raises :class:`SpecError`
    naming the key and both values (a resumed run must continue the computation it checkpointed).
    """
    changes = {}
    for key in sorted(set(saved) | set(new)):
        if saved.get(key) != new.get(key):
            if key not in RESUMABLE_KEYS:
                raise SpecError(
                    key,
                    f"cannot change on --resume: the run was trained with {saved.get(key)!r}, not {new.get(key)!r} "
                    f"(resumable settings: {', '.join(RESUMABLE_KEYS)}); start a new run with --out for other changes",
                )
            changes[key] = {"from": saved.get(key), "to": new.get(key)}
    return changes
