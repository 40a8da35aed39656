"""The payoff layer: exact expected payoffs by enumeration, in numpy and (for gradients) in torch.

One engine (:class:`ExactEngine`) enumerates every conversation history; :func:`evaluate` scores a
profile under a protocol with it, and :class:`TorchPayoff` runs the same algorithm on torch
tensors (docs/science.md, "Exact payoffs")::

    from persuaders.payoff import evaluate
    evaluate(load_game("kg"), {"prosecutor": [[4/7, 3/7], [0, 1]]}).speaker_values   # 0.6
"""

from persuaders.payoff.engine import MAX_ENUMERATION, EnumerationTooLarge, ExactEngine, check_enumerable, enumeration_size
from persuaders.payoff.exact import (
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
