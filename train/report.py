"""A report of one training run against theory: ``persuaders-report RUN_DIR [--out DIR]``.

Writes ``report.md`` with PNG figures beside it (default: in the run directory):

* ``learning_curves.png``: the exact value of the committed schemes over training, the user's
  with her no-information, full-information, Bayes-optimal and competition-bound lines, and each
  speaker's with its single-sender optimum;
* ``schemes.png``: the final schemes as heatmaps (P(message | signal), one panel per speaker and
  round);
* a table of the learned outcome beside every analytic quantity, and the profile's
  exploitability (each speaker's best unilateral gain).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from persuaders.envs.game.profiles import game_from_config, read_config, read_json
from persuaders.envs.game.spec import Game
from persuaders.envs.game.validation import SpecError, is_number
from persuaders.eval.exploitability import exploitability
from persuaders.train.rundir import CONFIG, SUMMARY, TENSORBOARD, atomic_write, check_boundary, claim, owned_files
from persuaders.train.summary import exploitability_label

#: The files a report writes (beside its run's files; see persuaders.train.rundir).
REPORT_FILES = ("report.md", "learning_curves.png", "schemes.png")

__all__ = [
    "read_curves",
    "plot_curves",
    "plot_schemes",
    "outcome_table",
    "attach_exploitability",
    "write_report",
]


def read_curves(tb_dir: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Scalars under ``eval/`` from a run's TensorBoard logs: tag -> (steps, values)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # optional and slow to import

    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    files = sorted(tb_dir.rglob("events.out.tfevents.*"))
    for f in files:
        acc = EventAccumulator(str(f), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            if not tag.startswith("eval/"):
                continue
            ev = acc.Scalars(tag)
            steps = np.array([e.step for e in ev])
            vals = np.array([e.value for e in ev])
            if tag in out:  # a resumed run: later files win at equal steps
                s0, v0 = out[tag]
                keep = ~np.isin(s0, steps)
                steps, vals = np.r_[s0[keep], steps], np.r_[v0[keep], vals]
            order = np.argsort(steps, kind="stable")
            out[tag] = (steps[order], vals[order])
    return out


def plot_curves(curves: dict[str, Any], summary: dict[str, Any], path: Path) -> None:
    """The user's and each speaker's exact value over training, beside the theory's lines."""
    names = list(summary["speaker_values"])
    b = summary["bounds"]
    fig, axes = plt.subplots(1, 1 + len(names), figsize=(4.2 * (1 + len(names)), 3.4), squeeze=False)
    ax = axes[0, 0]
    if "eval/user_value" in curves:
        ax.plot(*curves["eval/user_value"], color="black", label="user (learned)")
    lines = [
        ("no_information", "no information", "tab:red", ":"),
        ("full_information", "full information", "tab:green", "--"),
        ("bayes_optimal", "Bayes-optimal", "tab:gray", "-."),
        ("competition_bound", "competition bound", "tab:blue", ":"),
    ]
    for key, label, color, style in lines:
        if b.get(key) is not None:
            ax.axhline(b[key], color=color, linestyle=style, label=label, linewidth=1)
    ax.set_title("user's exact utility")
    ax.set_xlabel("environment steps")
    ax.legend(fontsize=7)
    for j, name in enumerate(names):
        ax = axes[0, j + 1]
        tag = f"eval/{name}/value"
        if tag in curves:
            ax.plot(*curves[tag], color="tab:orange", label=f"{name} (learned)")
        optimum = b["single_sender"][name]["sender_value"]
        if optimum is not None:
            ax.axhline(optimum, color="tab:purple", linestyle="--", linewidth=1, label="single-sender optimum")
        ax.set_title(f"{name}'s exact value")
        ax.set_xlabel("environment steps")
        ax.legend(fontsize=7)
    fig.tight_layout()
    atomic_write(Path(path), lambda fh: fig.savefig(fh, format="png", dpi=110))
    plt.close(fig)


def plot_schemes(game: Game | None, summary: dict[str, Any], path: Path) -> None:
    """The final schemes as heatmaps, one panel per speaker and round."""
    schemes = summary["schemes"]
    names = list(schemes)
    rounds = max(len(schemes[n]) for n in names)
    fig, axes = plt.subplots(len(names), rounds, figsize=(3.2 * rounds, 2.6 * len(names)), squeeze=False)
    for i, name in enumerate(names):
        for t, scheme in enumerate(schemes[name]):
            s = np.asarray(scheme)
            ax = axes[i, t]
            ax.imshow(s, vmin=0, vmax=1, cmap="Blues", aspect="auto")
            rows = _signal_names(game, name, s.shape[0])
            ax.set_yticks(range(s.shape[0]), rows, fontsize=8)
            ax.set_xticks(range(s.shape[1]), [f"m{m}" for m in range(s.shape[1])], fontsize=8)
            for (r, c), v in np.ndenumerate(s):
                ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=8, color="white" if v > 0.6 else "black")
            ax.set_title(f"{name}, round {t + 1}", fontsize=9)
    fig.suptitle("P(message | signal)", fontsize=10)
    fig.tight_layout()
    atomic_write(Path(path), lambda fh: fig.savefig(fh, format="png", dpi=110))
    plt.close(fig)


def _signal_names(game: Game | None, name: str, n: int) -> list[str]:
    if game is not None and name in game.speaker_names:
        s = game.speakers[game.speaker_index(name)]
        if not s.observation_given:
            return list(game.states)
    return [f"x{j}" for j in range(n)]


def _cell(v: Any) -> str:
    return "n/a" if v is None else (f"{v:.6f}" if isinstance(v, float) else str(v))


def outcome_table(summary: dict[str, Any]) -> str:
    """A markdown table of the learned outcome beside every analytic quantity and the exploitability."""
    b = summary["bounds"]
    rows = [("user: learned profile (exact)", summary["user_value"])]
    for key, label in [
        ("no_information", "user: no information"),
        ("full_information", "user: full information"),
        ("bayes_optimal", "user: Bayes-optimal"),
        ("competition_bound", "user: competition bound (full information - 2 eps)"),
        ("best_ai_bound", "user: best-AI bound"),
    ]:
        rows.append((label, b.get(key)))
    rows.append(
        (
            "hull distance eps (weights)",
            f"{b['hull']['epsilon']:.6f} ({', '.join(f'{w:.3f}' for w in b['hull']['weights'])})",
        )
    )
    if "cone" in b:
        rows.append(("cone distance eps", b["cone"]["epsilon"]))
    for name, v in summary["speaker_values"].items():
        ss = b["single_sender"][name]
        rows.append((f"{name}: learned (exact)", v))
        rows.append(
            (f"{name}: single-sender optimum (user gets)", f"{_cell(ss['sender_value'])} ({_cell(ss['user_value'])})")
        )
    ex = summary.get("exploitability")
    if ex and "exploitability" in ex:
        for name, g in ex["gain"].items():
            flag = exploitability_label(ex, name)
            rows.append((f"{name}: best unilateral gain{flag} [{ex['method'][name].split(' ')[0]}]", g))
        label = exploitability_label(ex)
        rows.append(("exploitability (largest gain)" + label, ex["exploitability"]))
        if label and ex.get("upper") is not None:
            rows.append(("exploitability: certified upper bound (gap)", f"{_cell(ex['upper'])} (gap {ex['gap']:.3g})"))
    elif ex:
        rows.append(("exploitability", f"not computed: {ex.get('error')}"))
    lines = ["| quantity | value |", "|---|---:|"]
    for label, v in rows:
        lines.append(f"| {label} | {_cell(v)} |")
    return "\n".join(lines)


def attach_exploitability(summary: dict[str, Any], game: Game | None) -> None:
    """Compute the profile's exploitability when the summary lacks it and a method applies."""
    if summary.get("exploitability") or game is None:
        return
    try:
        res = exploitability(
            {n: np.asarray(s) for n, s in summary["schemes"].items()},
            game,
            summary.get("protocol", "simultaneous"),
            summary.get("n_eval", "exact"),
        )
    except (ValueError, NotImplementedError) as exc:
        summary["exploitability"] = {"error": str(exc)}
        return
    summary["exploitability"] = res.to_dict()


def _mapping(value: Any, field: str, path: Path) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SpecError(field, f"{path}: expected a mapping, got {type(value).__name__}")
    out: dict[str, Any] = value
    return out


def check_summary(summary: Any, path: Path) -> dict[str, Any]:
    """The entries of a ``summary.json`` that a report reads, checked: a missing or mistyped one is named."""
    out = _mapping(summary, "summary", path)
    summary = out
    for key in ("game", "protocol", "user_value", "speaker_values", "schemes", "bounds"):
        if key not in summary:
            raise SpecError(f"summary.{key}", f"{path} has no '{key}': not a summary.json written by a run")
    for key in ("game", "protocol"):
        if not isinstance(summary[key], str):
            raise SpecError(f"summary.{key}", f"{path}: expected a name, got {summary[key]!r}")
    if not is_number(summary["user_value"]):
        raise SpecError("summary.user_value", f"{path}: expected a number, got {summary['user_value']!r}")
    values = _mapping(summary["speaker_values"], "summary.speaker_values", path)
    for name, v in values.items():
        if not is_number(v):
            raise SpecError(f"summary.speaker_values.{name}", f"{path}: expected a number, got {v!r}")
    _mapping(summary["schemes"], "summary.schemes", path)
    bounds = _mapping(summary["bounds"], "summary.bounds", path)
    single = _mapping(bounds.get("single_sender"), "summary.bounds.single_sender", path)
    for name in values:
        _mapping(single.get(name), f"summary.bounds.single_sender.{name}", path)
    return out


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write ``report.md`` and its figures for a run directory; returns the report's path."""
    run_dir = Path(run_dir)
    out = Path(out) if out else run_dir
    summary_path = run_dir / SUMMARY
    check_boundary(run_dir)
    check_boundary(out)
    if not summary_path.exists():
        raise SpecError("run_dir", f"{run_dir} holds no {SUMMARY}: not a finished run directory")
    owned = {p.name for p in owned_files(out)}
    for name in REPORT_FILES:
        if (out / name).exists() and name not in owned:
            raise SpecError("--out", f"{out / name} was not written by this library; it is kept: choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    summary = check_summary(read_json(summary_path, "summary"), summary_path)
    game = _game_of(run_dir)
    attach_exploitability(summary, game)
    curves = read_curves(run_dir / TENSORBOARD) if (run_dir / TENSORBOARD).exists() else {}
    try:
        plot_curves(curves, summary, out / "learning_curves.png")
        plot_schemes(game, summary, out / "schemes.png")
        table = outcome_table(summary)
    except (KeyError, TypeError, IndexError, AttributeError) as exc:  # a summary edited by hand
        raise SpecError("summary", f"{summary_path} lacks or mistypes the entry {exc}") from None
    cfg_text = (run_dir / CONFIG).read_text() if (run_dir / CONFIG).exists() else ""
    md = [
        f"# Run report: {summary['game']} ({summary['protocol']})",
        "",
        f"Seed {summary.get('seed')}, {summary.get('global_step')} environment steps, "
        f"reward mode {summary.get('reward_mode')}. "
        "Every value is exact (enumeration over conversations), for the committed (mean) schemes.",
        "",
        "## Outcome against theory",
        "",
        table,
        "",
        "## Learning curves",
        "",
        "![learning curves](learning_curves.png)",
        "",
        "## Final schemes",
        "",
        "![schemes](schemes.png)",
        "",
    ]
    if cfg_text:
        md += ["## Config", "", "```yaml", cfg_text.rstrip(), "```", ""]
    path = out / "report.md"
    atomic_write(path, lambda fh: fh.write("\n".join(md).encode()))
    claim(out, *(out / name for name in REPORT_FILES))
    return path


def _game_of(run_dir: Path) -> Game | None:
    """The run's game, rebuilt from its ``config.yaml`` (None without one)."""
    cfg_path = run_dir / CONFIG
    if not cfg_path.exists():
        return None
    return game_from_config({**read_config(cfg_path), "speakers": {}})
