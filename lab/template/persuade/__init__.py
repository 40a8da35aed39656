"""The persuasion trial: the participant is the user, the speakers' committed schemes are fixed.

Every trial is drawn on the server when the session is created (state, signals, every round's
messages) and stored in the player's fields; a page receives only what it shows: the schemes,
and the messages of the rounds revealed so far. The choice is a form field: oTree accepts a page's
form once (a second post of a submitted page is redirected to the current page), and
``before_next_page`` keeps the first recorded outcome. The design (game, schemes, treatments)
is ``lab_design.json`` in the project folder; docs/lab.md of competing-persuaders describes it.
"""

import json
from pathlib import Path

import numpy as np
from otree.api import BaseConstants, BaseGroup, BasePlayer, BaseSubsession, Page, models, widgets

from persuaders.lab.design import DESIGN_FILE, draw_trial, read_design
from persuaders.lab.pages import percent, scheme_charts, transcript, utility_table

DESIGN = read_design(Path(__file__).resolve().parent.parent / DESIGN_FILE)
GAME = DESIGN.game
ROUNDS = GAME.rounds
PRIOR_TEXT = ", ".join(f"{s} {percent(p)}" for s, p in zip(GAME.states, GAME.prior, strict=True))

doc = f"Persuasion lab on game {GAME.name}: {DESIGN.trials} trials, treatments {[t.name for t in DESIGN.treatments]}."


class C(BaseConstants):
    NAME_IN_URL = "persuade"
    PLAYERS_PER_GROUP = None
    NUM_ROUNDS = DESIGN.trials


class Subsession(BaseSubsession):
    pass


class Group(BaseGroup):
    pass


class Player(BasePlayer):
    treatment = models.StringField(doc="the participant's treatment (design file)")
    speakers = models.StringField(doc="present speakers, comma-separated")
    show_schemes = models.BooleanField(doc="whether the committed schemes were shown")
    trial_state = models.IntegerField(doc="the drawn state (index into the game's states)")
    user_signal = models.IntegerField(doc="her own signal x0 (0 when she has none)")
    signals = models.LongStringField(doc="JSON: each speaker's signal")
    messages = models.LongStringField(doc="JSON [round][speaker]: message index, -1 for an absent speaker")
    schemes = models.LongStringField(doc="JSON {speaker: [round][signal][message]} of the present speakers")
    action = models.IntegerField(
        choices=[[a, name] for a, name in enumerate(GAME.actions)],
        widget=widgets.RadioSelect,
        label="Your choice",
        doc="the chosen action (index into the game's actions)",
    )
    points = models.FloatField(doc="points of the trial: points_per_utility * u[action, state]")
    q_points = models.IntegerField(
        choices=[
            [1, "Only on the messages"],
            [2, "On my choice and the true state"],
            [3, "On nothing: they are random"],
        ],
        widget=widgets.RadioSelect,
        label="What do your points in a trial depend on?",
    )
    q_state = models.IntegerField(
        choices=[
            [1, "The computer draws it at random with the chances shown, before anyone speaks"],
            [2, "The advisers choose it"],
            [3, "It is drawn after I choose"],
        ],
        widget=widgets.RadioSelect,
        label="How is the state of a trial decided?",
    )


def _assign(subsession: Subsession, rng: np.random.Generator) -> None:
    """Treatments at random, balanced: a random permutation of the players cycles through the arms."""
    allowed = subsession.session.config.get("treatments", "all")
    names = [t.name for t in DESIGN.treatments] if allowed == "all" else [n.strip() for n in allowed.split(",")]
    for name in names:
        DESIGN.treatment(name)  # an unknown name fails at session creation, naming the treatments
    players = subsession.get_players()
    for k, j in enumerate(rng.permutation(len(players))):
        players[int(j)].participant.treatment = names[k % len(names)]


def creating_session(subsession: Subsession) -> None:
    seed = subsession.session.config.get("seed")
    entropy = [int(seed), subsession.round_number] if seed not in (None, "") else None
    rng = np.random.default_rng(entropy)
    if subsession.round_number == 1:
        _assign(subsession, rng)
    for p in subsession.get_players():
        treatment = DESIGN.treatment(p.participant.treatment)
        trial = draw_trial(DESIGN, treatment, rng)
        p.treatment = treatment.name
        p.speakers = ",".join(GAME.speakers[i].name for i in treatment.speakers)
        p.show_schemes = treatment.show_schemes
        p.trial_state = trial.state
        p.user_signal = trial.user_signal
        p.signals = json.dumps(trial.signals)
        p.messages = json.dumps(trial.messages)
        p.schemes = json.dumps({GAME.speakers[i].name: DESIGN.schemes[i].tolist() for i in treatment.speakers})


def _treatment(player: Player):
    return DESIGN.treatment(player.treatment)


def _round_vars(player: Player, round_index: int) -> dict:
    """What a conversation page shows: the schemes of this round (if shown) and the messages up to it."""
    t = _treatment(player)
    has_signal = GAME.user.observation.shape[1] > 1
    return dict(
        trial=player.round_number,
        trials=C.NUM_ROUNDS,
        game_round=round_index + 1,
        game_rounds=ROUNDS,
        show_schemes=t.show_schemes,
        charts=scheme_charts(DESIGN, t, round_index) if t.show_schemes else [],
        transcript=transcript(DESIGN, t, json.loads(player.messages), round_index),
        own_signal=f"signal {player.user_signal + 1}" if has_signal else "",
        prior_text=PRIOR_TEXT,
    )


class Instructions(Page):
    @staticmethod
    def is_displayed(player: Player):
        return player.round_number == 1

    @staticmethod
    def vars_for_template(player: Player):
        t = _treatment(player)
        return dict(
            trials=C.NUM_ROUNDS,
            game_rounds=ROUNDS,
            states=GAME.states,
            states_text=", ".join(GAME.states),
            prior_text=PRIOR_TEXT,
            table=utility_table(DESIGN),
            several=len(t.speakers) > 1,
            speakers_text=", ".join(GAME.speakers[i].name for i in t.speakers),
            show_schemes=t.show_schemes,
            payment_per_point=DESIGN.payment_per_point,
        )


class Comprehension(Page):
    form_model = "player"
    form_fields = ("q_points", "q_state")

    @staticmethod
    def is_displayed(player: Player):
        return player.round_number == 1

    @staticmethod
    def error_message(player: Player, values):
        wrong = {}
        if values["q_points"] != 2:
            wrong["q_points"] = "Not quite: your points depend on your choice and on the true state."
        if values["q_state"] != 1:
            wrong["q_state"] = "Not quite: the computer draws the state at random before anyone speaks."
        return wrong or None


class Conversation(Page):
    """Round ``round_index + 1`` of the conversation (the last round is shown with the choice)."""

    template_name = "persuade/Conversation.html"
    round_index = 0

    @classmethod
    def vars_for_template(cls, player: Player):
        return _round_vars(player, cls.round_index)


ROUND_PAGES = [
    type(f"Round{t + 1}", (Conversation,), {"round_index": t, "__module__": __name__}) for t in range(ROUNDS - 1)
]
for _page in ROUND_PAGES:
    globals()[_page.__name__] = _page


class Choice(Page):
    form_model = "player"
    form_fields = ("action",)

    @staticmethod
    def vars_for_template(player: Player):
        return _round_vars(player, ROUNDS - 1)

    @staticmethod
    def before_next_page(player: Player, timeout_happened):
        if player.field_maybe_none("points") is not None:  # recorded once, never changed
            return
        u = float(GAME.user.utility[player.action, player.trial_state])
        player.points = round(DESIGN.points_per_utility * u, 6)
        player.payoff = player.points


class Outcome(Page):
    @staticmethod
    def vars_for_template(player: Player):
        total = sum(p.points for p in player.in_all_rounds())
        return dict(
            state=GAME.states[player.trial_state],
            action=GAME.actions[player.action],
            points=player.points,
            total=round(total, 2),
            last=player.round_number == C.NUM_ROUNDS,
            payment=round(total * DESIGN.payment_per_point, 2),
        )


page_sequence = [Instructions, Comprehension, *ROUND_PAGES, Choice, Outcome]
