"""How the cost of a round grows with speakers, states, messages and rounds.

Each dimension grows alone from a small base game (``random_game(k=2, n_states=4, n_actions=2,
messages=4, rounds=2, rationality=10)``; speakers see the state, so ``|X| = |Y|``). For every size
four things are timed on ``N`` episodes at once, fed random logits from a bank drawn beforehand:

* ``env step``: :meth:`envs.batched.BatchedPersuasionEnv.step`, everything included (the schemes'
  softmax, sampling, the belief update, the user's messages, the rewards and automatic resets at
  the end of an episode, and the observations it returns);
* ``update``: the same step without the observation encoding;
* ``obs``: the observation encoding alone (:meth:`BatchedPersuasionEnv.observe`), so that
  ``env step = update + obs`` exactly (the two are timed back to back inside the same steps);
* ``belief``: the exact factorised update of :class:`envs.conversation.BeliefState` (the one
  ``persuasion_v0`` runs), batched over the same ``N`` episodes: per round, the user's message and
  then every speaker's, with fixed schemes and messages (construction excluded).

Costs are reported per episode-round (seconds for one round of ``N`` episodes, divided by ``N``)
and as speaker-decisions per second (``N k`` decisions per round). Each figure is the best of
``--repeats`` measurements of at least ``--seconds`` each. Peak memory is the peak of Python's
``tracemalloc`` (numpy reports its buffers to it) during one full episode of the complete
environment (resp. one round of ``BeliefState`` updates), above what was held before it started;
it is taken in a separate, untimed pass because tracing slows the code down.

The log-log slope of cost against size is fitted per dimension over every size (``slope``) and
over the upper half of the sizes (``tail``, where fixed per-call overheads no longer dominate).
Linear cost means slope 1; for rounds the cost *per round* should be flat (slope 0).

Working set. ``N`` is the same for every size by default, so the arrays of one step grow with
the game (the logits alone are ``8 N k |X| |M|`` bytes: 8 MiB at 256 states) and at some size
leave the processor's caches; from there every element costs a trip to main memory, and a slope
fitted across that size measures the memory hierarchy as well as the algorithm (a step of about
1.3x in the cost per element, once). ``--working-set MiB`` instead halves ``N`` (down to 64)
until the estimated working set fits, at the price of per-call overheads growing at the largest
sizes.

What to expect. Per episode and round the update costs O(k (|X| |M| + |Y|)) (softmax of the
logits, sampling, the belief weights; the likelihoods are a gather when channels are deterministic,
O(k |X| |Y|) otherwise). The observation has ``D = R + 1 + |Y| + R Z + R n_heard M`` entries per
speaker. With public messages every speaker sees the same thing, so the environment builds one
``[D]`` block per episode, O(k R M + |Y|), and returns it broadcast over the speakers (a read-only
view; ``shared_observation``): linear in ``k``. In private threads ``n_heard = 1`` and each speaker
has its own block, again O(k D) with ``D`` independent of ``k``. ``BeliefState`` updates a party
with a deterministic channel in O(|Y|) (``l(y) = pi[f(y), m]``, no gather at all when the party
sees the state), otherwise through its ``[Y, X]`` conditional table in O(|Y| |X|).

BLAS threads: on a machine shared with other jobs, OpenBLAS worker threads can make every large
enough matrix product wait for a scheduler time slice (10x slower steps were seen). With
deterministic channels the simultaneous step's only matrix products are thin (``[N, Y] x [Y, A]``);
with noisy channels the likelihoods are a batched product ``[N, X] x [X, Y]`` per speaker, and
``OPENBLAS_NUM_THREADS=1`` avoids the stalls. The header of the output records the setting.

    python benchmarks/scaling.py [--out results/scaling] [--n-envs 1024] [--repeats 3] [--seconds 0.15]

Prints Markdown tables and writes ``scaling.png`` (log-log, matplotlib Agg), ``scaling.md`` and
``scaling.json`` to ``--out``. Under a minute on two cores.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

from persuaders.envs.game import Game, random_game
from persuaders.envs.game.conversation import BeliefState
from persuaders.envs.game.observations import ObservationLayout
from persuaders.envs.persuasion.batched import BatchedPersuasionEnv

BASE = {"k": 2, "n_states": 4, "messages": 4, "rounds": 2}
SWEEPS = {
    "speakers": ("k", [1, 2, 4, 8, 16, 32, 64]),
    "states": ("n_states", [2, 4, 8, 16, 32, 64, 128, 256]),
    "messages": ("messages", [2, 4, 8, 16, 32, 64]),
    "rounds": ("rounds", [1, 2, 4, 8]),
}
BANK = 4  # distinct random logit arrays cycled through
LAM = 10.0
#: Default working set per step (MiB) above which N is halved; see the module docstring.
WORKING_SET_MIB = 0.0


class _UpdateOnly(BatchedPersuasionEnv):
    """The batched environment with the observation encoding left out of ``step``."""

    def observe(self) -> None:  # type: ignore[override]
        return None


def make_game(k: int, n_states: int, messages: int, rounds: int) -> Game:
    return random_game(k, n_states, 2, seed=0, messages=messages, rounds=rounds, rationality=LAM)


def episodes_for(game: Game, n_envs: int, working_set_mib: float = WORKING_SET_MIB) -> int:
    """``n_envs``, halved (not below 64) until the estimated per-step working set fits
    ``working_set_mib``; ``0`` keeps ``n_envs`` for every size."""
    k, x, m = game.n_speakers, max(s.n_signals for s in game.speakers), game.messages
    # float32 observations [D] (shared: public messages) plus float64 logits, softmax weights and beliefs
    # [k, X, M], [k, Y]
    views = 1 if game.visibility == "public" else k
    per_episode = 4 * views * ObservationLayout.for_game(game).size + 8 * (3 * k * x * m + 4 * k * game.n_states)
    n = n_envs
    while working_set_mib > 0 and n > 64 and n * per_episode > working_set_mib * 2**20:
        n //= 2
    return n


def logit_bank(game: Game, n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = (n, game.n_speakers, max(s.n_signals for s in game.speakers), game.messages)
    # float64, as the training loop passes them (no conversion inside the step)
    return [rng.normal(size=shape) for _ in range(BANK)]


def time_env(game: Game, n: int, repeats: int, seconds: float) -> dict[str, float]:
    """Best seconds per round (all ``n`` episodes) of the full step, the update and the encoding."""
    env = _UpdateOnly(game, n, seed=0)
    bank = logit_bank(game, n)
    observe = BatchedPersuasionEnv.observe
    env.reset()
    R = game.rounds
    for t in range(R):  # warm-up: one episode
        env.step(bank[t % BANK])
        observe(env)
    best = {"step": math.inf, "update": math.inf, "obs": math.inf}
    for _ in range(repeats):
        upd = obs = 0.0
        steps = 0
        start = time.perf_counter()
        while True:
            for t in range(R):
                t0 = time.perf_counter()
                env.step(bank[(steps + t) % BANK])
                t1 = time.perf_counter()
                observe(env)
                t2 = time.perf_counter()
                upd += t1 - t0
                obs += t2 - t1
            steps += R
            if time.perf_counter() - start >= seconds:
                break
        best["step"] = min(best["step"], (upd + obs) / steps)
        best["update"] = min(best["update"], upd / steps)
        best["obs"] = min(best["obs"], obs / steps)
    return best


def belief_inputs(game: Game, n: int, seed: int = 0) -> tuple[list[list[np.ndarray]], np.ndarray, np.ndarray]:
    """Schemes ``[R][k] -> [n, X_i, M]`` (softmax of random logits) and messages for ``BeliefState``."""
    rng = np.random.default_rng(seed)
    schemes = []
    for _ in range(game.rounds):
        per = []
        for s in game.speakers:
            z = rng.normal(size=(n, s.n_signals, game.messages))
            e = np.exp(z - z.max(axis=-1, keepdims=True))
            per.append(e / e.sum(axis=-1, keepdims=True))
        schemes.append(per)
    msgs = rng.integers(game.messages, size=(game.rounds, game.n_speakers, n))
    user_msgs = np.stack([rng.integers(c.shape[1], size=n) for c in game.user.conversation])
    return schemes, msgs, user_msgs


def belief_episode(game: Game, n: int, schemes, msgs, user_msgs) -> float:
    """One episode of ``BeliefState`` updates; returns the seconds spent updating."""
    bs = BeliefState(game, n)
    t0 = time.perf_counter()
    for t in range(game.rounds):
        bs.update(0, game.user.conversation[t], user_msgs[t])
        for i in range(game.n_speakers):
            bs.update(i + 1, schemes[t][i], msgs[t, i])
    return time.perf_counter() - t0


def time_belief(game: Game, n: int, repeats: int, seconds: float) -> float:
    """Best seconds per round (all ``n`` episodes) of the exact factorised update."""
    inputs = belief_inputs(game, n)
    belief_episode(game, n, *inputs)  # warm-up
    best = math.inf
    for _ in range(repeats):
        spent, rounds = 0.0, 0
        start = time.perf_counter()
        while True:
            spent += belief_episode(game, n, *inputs)
            rounds += game.rounds
            if time.perf_counter() - start >= seconds:
                break
        best = min(best, spent / rounds)
    return best


def peak_memory(game: Game, n: int) -> tuple[float, float]:
    """Peak traced bytes above the baseline: one episode of the environment, one round of BeliefState."""
    bank = logit_bank(game, n)
    inputs = belief_inputs(game, n)
    env = BatchedPersuasionEnv(game, n, seed=0)
    obs = env.reset()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for t in range(game.rounds):
            obs = env.step(bank[t % BANK])[0]
        env_peak = tracemalloc.get_traced_memory()[1] - base
        del obs
        schemes, msgs, user_msgs = inputs
        bs = BeliefState(game, n)
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        bs.update(0, game.user.conversation[0], user_msgs[0])
        for i in range(game.n_speakers):
            bs.update(i + 1, schemes[0][i], msgs[0, i])
        belief_peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return float(env_peak), float(belief_peak)


def slope(xs: list[float], ys: list[float]) -> float:
    if len(xs) < 2:
        return float("nan")
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def fits(rows: list[dict], key: str) -> tuple[float, float]:
    """Log-log slope of ``key`` against size over every size and over the upper half of sizes."""
    xs = [r["value"] for r in rows]
    ys = [r[key] for r in rows]
    half = len(xs) // 2
    return slope(xs, ys), slope(xs[half:], ys[half:])


def exact_refusal_line() -> str:
    """Check that the exact evaluator refuses a large game at once rather than allocating it."""
    from persuaders.envs.payoff import MAX_ENUMERATION, evaluate

    game = random_game(8, 8, 8, seed=0, messages=8, rounds=3, rationality=LAM)
    profile = {s.name: np.full((s.n_signals, game.messages), 1.0 / game.messages) for s in game.speakers}
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        evaluate(game, profile)
    except ValueError as err:
        elapsed = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        if "too large to enumerate" not in str(err):
            raise
        return (
            f"persuaders.envs.payoff.evaluate on random_game(8, 8, 8, messages=8, rounds=3) (8^24 message histories, "
            f"limit {MAX_ENUMERATION:,} entries) raised ValueError in {elapsed * 1e3:.2f} ms with a traced "
            f'peak of {peak / 1024:.0f} KiB: "{str(err)[:110]}..."'
        )
    tracemalloc.stop()
    raise AssertionError("persuaders.envs.payoff.evaluate enumerated a game far beyond MAX_ENUMERATION")


def run(
    n_envs: int,
    repeats: int,
    seconds: float,
    dims: list[str],
    quiet: bool = False,
    working_set_mib: float = WORKING_SET_MIB,
) -> dict[str, list[dict]]:
    results: dict[str, list[dict]] = {}
    for dim in dims:
        param, values = SWEEPS[dim]
        rows = []
        for v in values:
            sizes = dict(BASE, **{param: v})
            game = make_game(**sizes)
            n = episodes_for(game, n_envs, working_set_mib)
            env_t = time_env(game, n, repeats, seconds)
            belief_t = time_belief(game, n, repeats, seconds)
            env_mem, belief_mem = peak_memory(game, n)
            k = game.n_speakers
            row = {
                "dimension": dim,
                "value": v,
                **sizes,
                "n_envs": n,
                "obs_size": ObservationLayout.for_game(game).size,
                "step_us": env_t["step"] / n * 1e6,
                "update_us": env_t["update"] / n * 1e6,
                "obs_us": env_t["obs"] / n * 1e6,
                "belief_us": belief_t / n * 1e6,
                "step_dps": n * k / env_t["step"],
                "update_dps": n * k / env_t["update"],
                "belief_dps": n * k / belief_t,
                "env_peak_mb": env_mem / 2**20,
                "belief_peak_mb": belief_mem / 2**20,
                "env_peak_kb_per_episode": env_mem / n / 1024,
                "belief_peak_kb_per_episode": belief_mem / n / 1024,
            }
            rows.append(row)
            if not quiet:
                print(
                    f"  {dim}={v}: N={n} step {row['step_us']:.3f} us/episode-round "
                    f"(update {row['update_us']:.3f}, obs {row['obs_us']:.3f}), belief {row['belief_us']:.3f}",
                    file=sys.stderr,
                    flush=True,
                )
        results[dim] = rows
    return results


def tables(results: dict[str, list[dict]], repeats: int, seconds: float, working_set_mib: float) -> str:
    ws = f"working set <= {working_set_mib:g} MiB per step (N halved to fit)" if working_set_mib > 0 else "N fixed"
    lines = [
        f"numpy {np.__version__}, Python {platform.python_version()}, {os.cpu_count()} cores (shared with other "
        "jobs: absolute figures are indicative), "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; "
        f"best of {repeats} measurements of >= {seconds:g} s each; {ws}. "
        f"Base game: random_game(k={BASE['k']}, states={BASE['n_states']}, actions=2, messages={BASE['messages']}, "
        f"rounds={BASE['rounds']}, lam={LAM:g}), speakers see the state (|X| = |Y|); one dimension varies at a time.",
        "",
        "Costs in microseconds per episode-round (one round of N episodes, divided by N); decisions/s = "
        "speaker-decisions per second; peak memory by tracemalloc (numpy buffers included), above the state "
        "held before, for one episode of the environment / one round of BeliefState updates.",
        "",
        "| dimension | size | N | obs size | env step ms (N episodes) | env step us | update us | obs us | obs share "
        "| env decisions/s | BeliefState us | BeliefState decisions/s | env peak MiB | BeliefState peak MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines.extend(
        f"| {dim} | {r['value']} | {r['n_envs']} | {r['obs_size']} | {r['step_us'] * r['n_envs'] / 1e3:.3f} "
        f"| {r['step_us']:.3f} | {r['update_us']:.3f} "
        f"| {r['obs_us']:.3f} | {r['obs_us'] / r['step_us']:.0%} | {r['step_dps']:,.0f} | {r['belief_us']:.3f} "
        f"| {r['belief_dps']:,.0f} | {r['env_peak_mb']:.2f} | {r['belief_peak_mb']:.2f} |"
        for dim, rows in results.items()
        for r in rows
    )
    lines += [
        "",
        "Log-log slopes of the cost per episode-round against the size (all sizes / upper half of the sizes); "
        "memory: peak bytes per episode.",
        "",
        "| dimension | env step | update | obs | BeliefState | env peak memory | BeliefState peak memory |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for dim, rows in results.items():
        cells = []
        for key in (
            "step_us",
            "update_us",
            "obs_us",
            "belief_us",
            "env_peak_kb_per_episode",
            "belief_peak_kb_per_episode",
        ):
            a, b = fits(rows, key)
            cells.append(f"{a:.2f} / {b:.2f}")
        lines.append(f"| {dim} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(results: dict[str, list[dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dims = list(results)
    fig, axes = plt.subplots(1, len(dims), figsize=(4.2 * len(dims), 3.8), squeeze=False)
    series = [
        ("step_us", "env step", "C0", "o-"),
        ("update_us", "update only", "C1", "s--"),
        ("obs_us", "observation encoding", "C2", "^:"),
        ("belief_us", "BeliefState update", "C3", "d-."),
    ]
    for ax, dim in zip(axes[0], dims, strict=True):
        rows = results[dim]
        xs = np.array([r["value"] for r in rows], dtype=float)
        for key, label, color, style in series:
            ys = np.array([r[key] for r in rows])
            s_all, s_tail = fits(rows, key)
            ax.plot(xs, ys, style, color=color, label=f"{label} ({s_all:.2f}/{s_tail:.2f})", markersize=4)
        ref = rows[0]["step_us"]
        ax.plot(xs, ref * xs / xs[0], color="0.6", linewidth=0.8, label="slope 1")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(SWEEPS[dim][0] if dim != "speakers" else "k (speakers)")
        ax.set_title(f"{dim}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("microseconds per episode-round")
    fig.suptitle(
        "BatchedPersuasionEnv and BeliefState: cost per episode-round (log-log; legend: slope all/upper half)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("results/scaling"), help="directory for the figure and tables")
    parser.add_argument("--n-envs", type=int, default=1024, help="episodes per step (halved for the largest sizes)")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per size (the best is kept)")
    parser.add_argument("--seconds", type=float, default=0.15, help="minimum time per measurement")
    parser.add_argument(
        "--working-set",
        type=float,
        default=WORKING_SET_MIB,
        help="MiB of arrays per step above which N is halved (0: the same N for every size)",
    )
    parser.add_argument("--dims", nargs="+", choices=list(SWEEPS), default=list(SWEEPS), help="dimensions to sweep")
    args = parser.parse_args(argv)

    refusal = exact_refusal_line()
    results = run(args.n_envs, args.repeats, args.seconds, args.dims, working_set_mib=args.working_set)
    text = tables(results, args.repeats, args.seconds, args.working_set) + "\n\n" + refusal + "\n"
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scaling.md").write_text(text)
    (args.out / "scaling.json").write_text(json.dumps({"base": BASE, "lam": LAM, "results": results}, indent=1))
    plot(results, args.out / "scaling.png")
    print(f"\nwrote {args.out / 'scaling.png'}, {args.out / 'scaling.md'}, {args.out / 'scaling.json'}")


if __name__ == "__main__":
    main()
