"""oTree bots (``otree test``): simulated participants who play every page of the session.

Each bot answers the comprehension check (first a wrong answer, which must be refused), goes
through the conversation rounds and chooses by a logit response ``softmax(lambda EU)`` at Grether's
belief ``p~ ∝ mu0^alpha L^beta`` of what it heard (the session config's ``bot_rationality``,
``inf`` for the best response, ``bot_alpha`` and ``bot_beta``, 1 for the exact posterior), from a
random stream of its own (the session's ``seed``, its id and the trial).
"""

import json

import numpy as np
from otree.api import Bot, SubmissionMustFail, expect

from persuaders.lab.pages import bot_choice

from . import DESIGN, ROUND_PAGES, Choice, Comprehension, Instructions, Outcome


class PlayerBot(Bot):
    def play_round(self):
        if self.round_number == 1:
            yield Instructions
            yield SubmissionMustFail(Comprehension, dict(q_points=1, q_state=1))
            yield Comprehension, dict(q_points=2, q_state=1)
        yield from ROUND_PAGES
        seed = self.session.config.get("seed")
        rng = np.random.default_rng([int(seed or 0), self.participant.id_in_session, self.round_number, 7])
        config = self.session.config
        action = bot_choice(
            DESIGN,
            self.player.user_signal,
            json.loads(self.player.messages),
            float(config.get("bot_rationality", "inf")),
            rng,
            alpha=float(config.get("bot_alpha", 1.0)),
            beta=float(config.get("bot_beta", 1.0)),
        )
        yield Choice, dict(action=action)
        expect(self.player.action, action)
        yield Outcome
