"""The payoff layer: exact expected payoffs by enumeration, in numpy and (for gradients) in torch.

One engine (:class:`ExactEngine`) enumerates every conversation history; :func:`evaluate` scores a
profile under a protocol with it, and :class:`TorchPayoff` runs the same algorithm on torch
tensors (docs/science.md, "Exact payoffs")::

    from persuaders.envs.game import load_game
    from persuaders.envs.payoff import evaluate
    evaluate(load_game("kg"), {"prosecutor": [[1, 0], [0, 1]]}).user_value   # 1.0: full revelation
"""

from persuaders.envs.payoff.engine import (
    MAX_ENUMERATION,
    EnumerationTooLarge,
    ExactEngine,
    check_enumerable,
    enumeration_size,
)
from persuaders.envs.payoff.exact import (
    ExactOutcome,
    SoloValues,
    evaluate,
    history_distribution,
    outcome_values,
    solo_outcomes,
    solo_user_values,
)

__all__ = [
    "MAX_ENUMERATION",
    "EnumerationTooLarge",
    "ExactEngine",
    "check_enumerable",
    "enumeration_size",
    "ExactOutcome",
    "SoloValues",
    "evaluate",
    "history_distribution",
    "outcome_values",
    "solo_outcomes",
    "solo_user_values",
]
