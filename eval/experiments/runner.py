"""Running an experiment's games: one task per game, on local processes or a Ray cluster, resumable.

An experiment is a list of jobs (picklable arguments, each a seeded game) and a function that plays
one (``fn(job) -> record``, a JSON-ready mapping). :func:`run_games` runs them

* on ``workers`` local processes (``concurrent.futures``; one worker runs in this process), or
* with ``ray`` (``"local"``, or a cluster's address such as ``auto`` or ``HOST:PORT``) as one Ray
  task per game (the ``ray`` extra): ``ray.init`` starts a local instance with ``workers`` CPUs or
  joins the cluster, a task whose worker dies is retried (``max_retries``), and the results are
  those of the local run for the same seeds, since each game depends only on its own job;

and writes every finished game to a **journal** (``journal``: JSON lines, one per game, flushed as
it lands). Run again with the same journal, it skips the games already there: a run interrupted,
or a cluster that lost a worker for good, resumes without redoing finished games. The journal's
first line holds a fingerprint of the jobs, so a journal of other jobs is refused rather than mixed
in (docs/results/index.md, "Running experiments on a cluster").
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from persuaders.envs.game.validation import SpecError

__all__ = ["RAY_HINT", "fingerprint", "run_games"]

#: What to do when Ray is asked for but not installed.
RAY_HINT = 'Ray is not installed: pip install -e ".[ray]" (or drop --ray to run on local processes)'

Record = dict[str, Any]


def fingerprint(jobs: Sequence[Any]) -> str:
    """A short hash of the jobs (their JSON form), written at the top of a journal."""
    text = json.dumps([repr(j) for j in jobs], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _read_journal(path: Path, print_: str) -> dict[int, Record]:
    """Finished games of a journal (by job index); refuses one written for other jobs."""
    done: dict[int, Record] = {}
    if not path.exists():
        return done
    lines = path.read_text().splitlines()
    if not lines:
        return done
    try:
        head = json.loads(lines[0])
    except (json.JSONDecodeError, RecursionError):
        raise SpecError("journal", f"{path} is not a journal of games (its first line is not JSON)") from None
    if not isinstance(head, dict) or head.get("jobs") != print_:
        theirs = head.get("jobs") if isinstance(head, dict) else head
        raise SpecError(
            "journal",
            f"{path} was written for other games (fingerprint {theirs!r}, these are {print_}); "
            "choose another --out or remove it",
        )
    for n, line in enumerate(lines[1:], start=2):
        try:
            entry = json.loads(line)
            done[int(entry["index"])] = entry["record"]
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, RecursionError):
            if n == len(lines):  # a line cut short by an interruption: that game runs again
                continue
            raise SpecError("journal", f"{path}, line {n}: not a finished game") from None
    return done


class _Journal:
    """Appends finished games to a journal, one flushed JSON line each."""

    def __init__(self, path: Path | None, print_: str):
        self.fh = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            fresh = not path.exists() or path.stat().st_size == 0
            if not fresh:  # drop a line an interruption cut short (it was not read as finished)
                text = path.read_bytes()
                if not text.endswith(b"\n"):
                    path.write_bytes(text[: text.rfind(b"\n") + 1])
            self.fh = open(path, "a")  # noqa: SIM115  (closed in close())
            if fresh:
                self._write({"jobs": print_})

    def _write(self, obj: Any) -> None:
        assert self.fh is not None
        self.fh.write(json.dumps(obj) + "\n")
        self.fh.flush()
        os.fsync(self.fh.fileno())

    def add(self, index: int, record: Record) -> None:
        if self.fh is not None:
            self._write({"index": index, "record": record})

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()


def _local(fn: Callable[[Any], Record], todo: list[tuple[int, Any]], workers: int) -> Iterable[tuple[int, Record]]:
    if workers <= 1:
        for index, job in todo:
            yield index, fn(job)
        return
    with ProcessPoolExecutor(workers) as pool:
        futures = {pool.submit(fn, job): index for index, job in todo}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()


def _ray(
    fn: Callable[[Any], Record], todo: list[tuple[int, Any]], workers: int, address: str, max_retries: int
) -> Iterable[tuple[int, Record]]:
    try:
        import ray
    except ImportError:
        raise SpecError("--ray", RAY_HINT) from None
    started = not ray.is_initialized()
    if started:
        if address == "local":
            ray.init(address="local", num_cpus=workers, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    try:
        task = ray.remote(max_retries=max_retries)(fn)
        refs = {task.remote(job): index for index, job in todo}
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                yield refs[ref], ray.get(ref)
    finally:
        if started:
            ray.shutdown()


def run_games(
    fn: Callable[[Any], Record],
    jobs: Sequence[Any],
    *,
    workers: int = 2,
    ray: str | None = None,
    journal: Path | None = None,
    progress: bool = True,
    desc: str = "games",
    max_retries: int = 3,
) -> list[Record]:
    """Every job's record, in job order (module docstring). ``fn`` must be importable (a module-level
    function) so that local processes and Ray workers can run it."""
    print_ = fingerprint(jobs)
    done = _read_journal(journal, print_) if journal is not None else {}
    todo = [(n, job) for n, job in enumerate(jobs) if n not in done]
    log = _Journal(journal, print_)
    bar = tqdm(total=len(jobs), initial=len(done), disable=None if progress else True, desc=desc)
    try:
        source = _local(fn, todo, workers) if ray is None else _ray(fn, todo, workers, ray, max_retries)
        for index, record in source:
            done[index] = record
            log.add(index, record)
            bar.update(1)
    finally:
        bar.close()
        log.close()
    return [done[n] for n in range(len(jobs))]
