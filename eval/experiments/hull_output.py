"""The convex-hull experiment's figure and JSON conversion, shared by every input (docs/science.md, "Experiments").

:func:`plot` draws the two panels (sup-norm distances; mean squared errors) against the number of
models with a band around each mean; :func:`json_ready` turns numpy values into JSON ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["BAND_ORDERINGS", "plot", "json_ready"]

#: The legend's title for the synthetic and CSV modes' bands.
BAND_ORDERINGS = "mean, 2.5-97.5 percentile band"


def _set_yscale(ax: Any, values: list[np.ndarray]) -> None:
    v = np.concatenate([np.ravel(x) for x in values])
    pos = v[v > 1e-12]
    if pos.size == 0:
        return
    if v.min() > 1e-12:
        ax.set_yscale("log")
    else:  # some values are (numerically) zero: linear near zero, logarithmic above
        ax.set_yscale("symlog", linthresh=float(pos.min()))


def plot(
    path: Path,
    summary: dict[str, dict[str, np.ndarray]],
    title: str,
    band: str = BAND_ORDERINGS,
    xlabel: str = "number of models n",
) -> None:
    """Two panels: sup-norm eps (hull, cone) and MSE (simplex, nonnegative, best single, average)
    against ``n``, each mean with its band (``summary[metric]`` has ``mean``, ``lo``, ``hi``;
    ``band`` titles the legends)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = np.arange(1, len(summary["eps_hull"]["mean"]) + 1)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    panels = [
        (
            axes[0],
            {"eps_hull": "hull (simplex weights)", "eps_cone": "cone (nonnegative weights)"},
            "sup-norm distance eps (free offset)",
            "distance of the user's utility to combinations",
        ),
        (
            axes[1],
            {
                "mse_simplex": "simplex-weighted fit",
                "mse_nonneg": "nonnegative fit",
                "mse_best_single": "best single model",
                "mse_average": "plain average",
            },
            "mean squared error (no offset)",
            "fit to the user's utility",
        ),
    ]
    for ax, metrics, ylabel, sub in panels:
        shown = []
        for m, label in metrics.items():
            s = summary[m]
            (line,) = ax.plot(n, s["mean"], marker="o", ms=3, label=label)
            ax.fill_between(n, s["lo"], s["hi"], color=line.get_color(), alpha=0.2, lw=0)
            shown += [s["mean"], s["lo"], s["hi"]]
        _set_yscale(ax, shown)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(sub, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, title=band, title_fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def json_ready(x: Any) -> Any:
    """``x`` with numpy arrays, scalars and tuples turned into JSON lists and numbers."""
    if isinstance(x, np.ndarray):
        return [json_ready(v) for v in x.tolist()]
    if isinstance(x, dict):
        return {k: json_ready(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_ready(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return float(x)
    if isinstance(x, np.integer):
        return int(x)
    return x
