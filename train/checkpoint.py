"""Training checkpoints: tensors and plain data only, written atomically, loaded with ``weights_only=True``.

A checkpoint holds the learners' state (parameters, optimiser moments), the batched
environment's episode arrays and random state, the current observations, torch's random state
and the shuffling generator's, and the loop's counters, so that a run killed at any moment and
resumed from its last checkpoint ends with the same ``summary.json`` as an uninterrupted run.
Numpy arrays are stored as tensors, so no pickled object is ever executed when a checkpoint is
read: a checkpoint received from someone else is safe to load.
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from persuaders.envs.game.validation import SpecError
from persuaders.train.rundir import atomic_write

__all__ = ["save_checkpoint", "load_checkpoint", "CHECKPOINT_VERSION"]

#: Layout version of the checkpoint dictionary.
CHECKPOINT_VERSION = 3


def _to_plain(x: Any) -> Any:
    """Numpy arrays (and scalars) as tensors / Python numbers, recursively."""
    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.array(x, copy=True))
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, dict):
        return {k: _to_plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_to_plain(v) for v in x)
    return x


def _to_numpy(x: Any) -> Any:
    """The inverse of :func:`_to_plain` for the environment's snapshot (tensors back to arrays)."""
    if isinstance(x, torch.Tensor):
        return x.numpy()
    if isinstance(x, dict):
        return {k: _to_numpy(v) for k, v in x.items()}
    return x


def save_checkpoint(
    path: Path,
    *,
    learners: list[dict[str, Any]],
    env_state: dict[str, Any],
    obs: np.ndarray,
    shuffle: torch.Generator,
    iteration: int,
    global_step: int,
    reached: dict[str, Any] | None,
    resumed: list[dict[str, Any]] | None = None,
    history: list[dict[str, Any]] | None = None,
) -> None:
    """Write a checkpoint atomically (a reader never sees half of one)."""
    state = {
        "version": CHECKPOINT_VERSION,
        "learners": learners,
        "env": _to_plain(env_state),
        "obs": torch.from_numpy(np.array(obs, copy=True)),
        "torch_rng": torch.get_rng_state(),
        "shuffle_rng": shuffle.get_state(),
        "iteration": int(iteration),
        "global_step": int(global_step),
        "reached": reached,
        "resumed": list(resumed or []),
        "history": list(history or []),
    }
    atomic_write(path, lambda fh: torch.save(state, fh))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``; a missing, truncated or foreign file raises
    :class:`SpecError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise SpecError("checkpoint", f"{path} does not exist")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = torch.load(path, weights_only=True)
    except pickle.UnpicklingError:
        raise SpecError(
            "checkpoint",
            f"{path} is not a readable checkpoint of this library: it holds objects other "
            "than tensors and plain data, which are never loaded (weights_only=True)",
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError, AttributeError, KeyError, TypeError, IndexError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SpecError("checkpoint", f"{path} is not a readable checkpoint of this library ({first[:160]})") from None
    need = (
        "version",
        "learners",
        "env",
        "obs",
        "torch_rng",
        "shuffle_rng",
        "iteration",
        "global_step",
        "reached",
        "resumed",
        "history",
    )
    if not isinstance(state, dict) or any(k not in state for k in need):
        raise SpecError("checkpoint", f"{path} is not a checkpoint of this library (missing entries)")
    if state["version"] != CHECKPOINT_VERSION:
        raise SpecError(
            "checkpoint", f"{path} has layout version {state['version']}, this library reads {CHECKPOINT_VERSION}"
        )
    state["env"] = _to_numpy(state["env"])
    state["obs"] = state["obs"].numpy()
    return state
