"""The readable transcript of one episode, for ``render()`` of :mod:`persuaders.envs.persuasion.persuasion`."""

from __future__ import annotations

from typing import Any

import numpy as np

from persuaders.envs.game.schemes import softmax_rows
from persuaders.envs.persuasion.batched import BatchedPersuasionEnv

__all__ = ["Transcript"]


class Transcript:
    """Lines describing episode 0 of a simulator, written as it is played."""

    def __init__(self, sim: BatchedPersuasionEnv, lines: list[str] | None = None):
        self.sim = sim
        self.game = sim.game
        self.lines: list[str] = lines if lines is not None else self._header()

    def text(self) -> str:
        return "\n".join(self.lines)

    # ------------------------------------------------------------------ labels
    def _signal_label(self, i: int, x: int) -> str:
        """Speaker ``i``'s signal (``i = -1``: the user's)."""
        g = self.game
        if i < 0:
            return f"s{x}" if g.user.observation_given else "none"
        return f"s{x}" if g.speakers[i].observation_given else g.states[x]

    def _posterior(self, p: np.ndarray) -> str:
        return ", ".join(f"{n} {v:.3f}" for n, v in zip(self.game.states, p, strict=True))

    def _user_says(self, t: int) -> str:
        g = self.game
        if g.user_message_counts[t] == 1:
            return f"{g.user.name} (silent)"
        return f"{g.user.name} says m{int(self.sim.user_messages[0, t])}"

    def _header(self) -> list[str]:
        g, sim = self.game, self.sim
        signals = ", ".join(
            f"{s.name} {self._signal_label(i, int(sim.signals[0, i]))}" for i, s in enumerate(g.speakers)
        )
        return [
            f"persuasion_v0: game {g.name}, protocol {sim.protocol.label()}, reward {sim.reward_mode}, "
            f"{g.visibility} messages",
            f"state: {g.states[int(sim.states[0])]}; "
            f"{g.user.name}'s signal: {self._signal_label(-1, int(sim.user_signals[0]))}; "
            f"signals: {signals}",
        ]

    # ------------------------------------------------------------------ events
    def after_step(self, t: int, logits: np.ndarray, node: int | None = None) -> None:
        """Round ``t`` has been played with these logits ``[k, X_max, M]`` (a selection protocol:
        the speakers committed them at thread ``node``, of round ``t``)."""
        g, sim = self.game, self.sim
        if sim.joint:
            said = "; ".join(f"{s.name} says m{int(sim.speaker_messages[0, t, i])}" for i, s in enumerate(g.speakers))
            self.lines.append(
                f"round {t + 1}/{g.rounds}: {self._user_says(t)}; {said}; "
                f"{g.user.name}'s posterior: {self._posterior(sim.user_posterior()[0])}"
            )
            return
        parts = []
        for i, s in enumerate(g.speakers):
            pi = softmax_rows(logits[i, : s.n_signals])
            rows = ", ".join(
                f"{self._signal_label(i, x)} -> [" + " ".join(f"{p:.2f}" for p in pi[x]) + "]"
                for x in range(s.n_signals)
            )
            parts.append(f"{s.name}: {rows}")
        self.lines.append(f"{self._node_label(node, t)} committed schemes: " + "; ".join(parts))

    def _node_label(self, node: int | None, t: int) -> str:
        """``round t/R`` and, when anything was said on the thread before, what (the user's, own)."""
        g, walk = self.game, self.sim.walk
        label = f"round {t + 1}/{g.rounds}"
        if node is None or walk is None:
            return label
        tab = walk.tree.table
        said = [f"{g.user.name} m{int(tab['user'][node, s])}" for s in range(t + 1) if g.user_message_counts[s] > 1]
        said += [f"own m{int(m)}" for m in tab["own"][node, :t]]
        return f"{label}, thread node {node + 1}/{walk.size}" + (f" (after {', '.join(said)})" if said else "")

    def outcome(self, outcome: dict[str, Any], scored: bool, n_eval: Any) -> None:
        """The episode ended with ``outcome`` (see :attr:`PersuasionEnv.outcome`)."""
        g, sim = self.game, self.sim
        if "selected" in outcome:
            sel = g.speaker_index(outcome["selected"])
            if scored:
                how = "exact" if n_eval == "exact" else f"mean of {n_eval} conversations each"
                scores = ", ".join(f"{n} {v:.4f}" for n, v in outcome["scores"].items())
                self.lines.append(f"evaluation ({how}): {scores}; selected: {outcome['selected']}")
            else:
                self.lines.append(f"selected: {outcome['selected']}")
            for t, post in enumerate(self._deployment_posteriors(sel)):
                self.lines.append(
                    f"deployment round {t + 1}/{g.rounds}: {self._user_says(t)}; "
                    f"{outcome['selected']} says m{int(sim.speaker_messages[0, t, sel])}; "
                    f"{g.user.name}'s posterior: {self._posterior(post)}"
                )
        probs = ", ".join(f"{n} {p:.3f}" for n, p in zip(g.actions, outcome["action_probs"], strict=True))
        self.lines.append(f"{g.user.name} acts: P = ({probs}) -> {outcome['user_action']}")
        pay = ", ".join(f"{n} {v:.3f}" for n, v in outcome["payoffs"].items())
        self.lines.append(
            f"payoffs ({sim.reward_mode}): {g.user.name} {outcome['user_utility']:.3f} "
            f"(expected {outcome['user_expected_utility']:.3f}); {pay}"
        )

    def _deployment_posteriors(self, sel: int) -> list[np.ndarray]:
        """The user's posterior after each deployment round (her signal and the selected speaker's messages)."""
        g, sim = self.game, self.sim
        spk = g.speakers[sel]
        schemes = sim.deployed_schemes[0, :, : spk.n_signals]  # [R, X, M]: the rule on the deployed thread
        w = np.ones(spk.n_signals)
        base = g.prior * g.user.observation[:, int(sim.user_signals[0])]
        out = []
        for t in range(g.rounds):
            w = w * schemes[t][:, int(sim.speaker_messages[0, t, sel])]
            post = base * (spk.observation @ w)
            out.append(post / post.sum())
        return out
