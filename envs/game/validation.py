"""Small validation helpers shared by game files and training configs.

Every check raises :class:`SpecError` whose message starts with the dotted path of the bad
field (``user.utility``, ``speakers[1].observation``, ``ppo.lr``) and says what was expected, so
that a user editing a YAML file sees at once what to fix, never a traceback from inside numpy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

#: Tolerance for "sums to one" checks on priors and channel rows.
SUM_TOL = 1e-6


class SpecError(ValueError):
    """A game file or config is invalid. ``field`` names the offending key."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")

    def __reduce__(self) -> tuple[Any, ...]:  # picklable (e.g. raised in a Ray worker)
        return (type(self), (self.field, self.message))


def check_keys(
    value: Any,
    field: str,
    allowed: Iterable[str],
    required: Iterable[str] = (),
) -> Mapping[str, Any]:
    """Check that ``value`` is a mapping with only ``allowed`` keys and all ``required`` ones."""
    if not isinstance(value, Mapping):
        raise SpecError(field, f"expected a mapping, got {type(value).__name__}")
    allowed = list(allowed)
    for key in value:
        if key not in allowed:
            raise SpecError(
                _join(field, str(key)),
                f"unknown key '{key}'; allowed keys are: {', '.join(allowed)}",
            )
    for key in required:
        if key not in value:
            raise SpecError(_join(field, key), "missing required key")
    return value


def _join(field: str, key: str) -> str:
    return key if not field else f"{field}.{key}"


def is_number(x: Any) -> bool:
    """True for ints and floats (not bools)."""
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def as_int(value: Any, field: str, minimum: int | None = None) -> int:
    """An integer (bools and non-integral floats rejected) at least ``minimum``."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)):
        raise SpecError(field, f"expected an integer, got {value!r}")
    number = int(value)
    if minimum is not None and number < minimum:
        raise SpecError(field, f"must be >= {minimum}, got {number}")
    return number


#: The largest seed accepted: seeds are unsigned 32-bit integers (numpy's and torch's common range).
MAX_SEED = 2**32 - 1


def as_seed(value: Any, field: str = "seed") -> int:
    """A seed: an integer in ``[0, MAX_SEED]`` (named in the error, never numpy's or torch's overflow)."""
    seed = as_int(value, field, minimum=0)
    if seed > MAX_SEED:
        raise SpecError(field, f"must be at most {MAX_SEED} (2**32 - 1), got {float(seed):.6g}")
    return seed


def as_real_array(value: Any, field: str) -> np.ndarray:
    """``value`` as a float64 array; complex numbers are refused (never silently cut to their real part)."""
    arr = np.asarray(value)
    if np.iscomplexobj(arr):
        raise SpecError(field, "expected real numbers, got complex values")
    if arr.dtype == object and any(isinstance(x, complex) for x in arr.reshape(-1)):
        raise SpecError(field, "expected real numbers, got complex values")
    return np.asarray(arr, dtype=np.float64)


def as_float(
    value: Any,
    field: str,
    *,
    minimum: float | None = None,
    exclusive_minimum: float | None = None,
    maximum: float | None = None,
    allow_inf: bool = False,
) -> float:
    """A real number within the given range. ``"inf"``/``".inf"`` accepted when ``allow_inf``."""
    if isinstance(value, str) and allow_inf and value.strip().lower() in {"inf", ".inf", "+inf", "infinity"}:
        return math.inf
    if not is_number(value):
        raise SpecError(field, f"expected a number{' or inf' if allow_inf else ''}, got {value!r}")
    number = float(value)
    if math.isnan(number) or (math.isinf(number) and not allow_inf):
        raise SpecError(field, f"expected a finite number, got {number}")
    if minimum is not None and number < minimum:
        raise SpecError(field, f"must be >= {minimum}, got {number}")
    if exclusive_minimum is not None and number <= exclusive_minimum:
        raise SpecError(field, f"must be > {exclusive_minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise SpecError(field, f"must be <= {maximum}, got {number}")
    return number


def as_choice(value: Any, field: str, choices: Sequence[str]) -> str:
    """One of ``choices``."""
    if value not in choices:
        raise SpecError(field, f"expected one of {', '.join(map(str, choices))}; got {value!r}")
    choice: str = value  # one of the strings in choices
    return choice


def as_names(value: Any, field: str, min_len: int = 1) -> tuple[str, ...]:
    """A list of distinct, non-empty names."""
    if not isinstance(value, (list, tuple)):
        raise SpecError(field, f"expected a list of names, got {type(value).__name__}")
    if len(value) < min_len:
        raise SpecError(field, f"expected at least {min_len} name(s), got {len(value)}")
    names = []
    for j, v in enumerate(value):
        if not isinstance(v, (str, int)) or isinstance(v, bool) or str(v) == "":
            raise SpecError(f"{field}[{j}]", f"expected a non-empty name, got {v!r}")
        names.append(str(v))
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SpecError(field, f"duplicate names: {', '.join(dup)}")
    return tuple(names)


def as_matrix(value: Any, field: str, shape: tuple[int | None, ...], what: str) -> np.ndarray:
    """A finite real array of the given shape (``None`` in ``shape`` means any length >= 1).

    ``what`` describes the axes for the error message, e.g. ``"[action][state]"``.
    """
    arr_in: np.ndarray | list[Any] | tuple[Any, ...]
    if isinstance(value, np.ndarray):
        arr_in = value
    else:
        if not isinstance(value, (list, tuple)):
            raise SpecError(field, f"expected a {len(shape)}-d list {what}, got {value!r}")
        arr_in = value
    try:
        arr = np.asarray(arr_in, dtype=object)
    except ValueError:  # ragged on some numpy versions
        raise SpecError(field, f"expected a rectangular {len(shape)}-d list {what}") from None
    if arr.ndim != len(shape) or any(s is not None and a != s for a, s in zip(arr.shape, shape, strict=True)):
        # A ragged list shows up as a lower-dimensional object array.
        want = "x".join("?" if s is None else str(s) for s in shape)
        got = "x".join(map(str, arr.shape)) if arr.ndim == len(shape) else f"a {arr.ndim}-d or ragged list"
        raise SpecError(field, f"expected shape {want} {what}, got {got}")
    if any(a < 1 for a in arr.shape):
        raise SpecError(field, f"expected non-empty axes {what}, got shape {arr.shape}")
    flat = arr.reshape(-1)
    for x in flat:
        if not is_number(x):
            raise SpecError(field, f"expected numbers {what}, found {x!r}")
    out = np.asarray(flat, dtype=np.float64).reshape(arr.shape)
    if not np.all(np.isfinite(out)):
        raise SpecError(field, f"entries must be finite reals (no NaN or inf) {what}")
    return out


def as_distribution(value: Any, field: str, n: int | None = None) -> np.ndarray:
    """A probability vector: nonnegative entries summing to 1 (within ``SUM_TOL``)."""
    arr = as_matrix(value, field, (n,), "[state]" if n is not None else "")
    _check_rows(arr[None, :], field, "entries")
    out: np.ndarray = arr / arr.sum()
    return out


def as_channel(value: Any, field: str, rows: int, what: str) -> np.ndarray:
    """A row-stochastic matrix with ``rows`` rows: each row a distribution over columns."""
    arr = as_matrix(value, field, (rows, None), what)
    _check_rows(arr, field, "row")
    out: np.ndarray = arr / arr.sum(axis=1, keepdims=True)
    return out


def _check_rows(arr: np.ndarray, field: str, label: str) -> None:
    if np.any(arr < 0):
        r = int(np.argwhere(arr < 0)[0][0])
        where = f" (row {r})" if arr.shape[0] > 1 else ""
        raise SpecError(field, f"probabilities must be nonnegative{where}")
    sums = arr.sum(axis=1)
    bad = np.abs(sums - 1.0) > SUM_TOL
    if np.any(bad):
        r = int(np.argmax(bad))
        where = f" row {r}" if arr.shape[0] > 1 else ""
        raise SpecError(field, f"{label}{where} must sum to 1, sums to {sums[r]:.6g}")
