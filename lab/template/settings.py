"""oTree settings of a persuasion lab session, read from the design file beside this one.

One session config per treatment of the design (every participant in that arm) and ``persuade``,
which assigns the treatments at random, balanced across participants. Written by
``persuaders-lab create``; the design itself lives in ``lab_design.json``.
"""

import json
from os import environ
from pathlib import Path

_DESIGN = json.loads((Path(__file__).resolve().parent / "lab_design.json").read_text(encoding="utf-8"))
_TREATMENTS = [t["name"] for t in _DESIGN["treatments"]]

SESSION_CONFIGS = [
    dict(
        name="persuade",
        display_name=f"{_DESIGN['game']['name']}: treatments at random ({', '.join(_TREATMENTS)})",
        app_sequence=["persuade"],
        num_demo_participants=max(2, len(_TREATMENTS)),
        treatments="all",
    ),
] + [
    dict(
        name=f"persuade_{name}".replace("+", "_").replace("-", "_"),
        display_name=f"{_DESIGN['game']['name']}: {name}",
        app_sequence=["persuade"],
        num_demo_participants=2,
        treatments=name,
    )
    for name in _TREATMENTS
]

# seed: draws of states and messages (empty: fresh randomness); bot_rationality, bot_alpha,
# bot_beta: the user model of the bots (`otree test`): a logit response ("inf": the best response)
# at Grether's belief mu0^alpha L^beta (1, 1: the exact posterior). All can be set from the
# environment (LAB_SEED, LAB_BOT_RATIONALITY, LAB_BOT_ALPHA, LAB_BOT_BETA) for a bot run.
SESSION_CONFIG_DEFAULTS = dict(
    real_world_currency_per_point=_DESIGN["payment_per_point"],
    participation_fee=0.00,
    seed=environ.get("LAB_SEED", ""),
    bot_rationality=environ.get("LAB_BOT_RATIONALITY", "inf"),
    bot_alpha=environ.get("LAB_BOT_ALPHA", "1"),
    bot_beta=environ.get("LAB_BOT_BETA", "1"),
    doc="Persuasion lab: the participant plays the user against committed speakers.",
)

PARTICIPANT_FIELDS = ["treatment"]
SESSION_FIELDS = []

LANGUAGE_CODE = "en"
REAL_WORLD_CURRENCY_CODE = "USD"
USE_POINTS = True
POINTS_DECIMAL_PLACES = 2

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = environ.get("OTREE_ADMIN_PASSWORD")

DEMO_PAGE_INTRO_HTML = "A persuasion experiment written by persuaders-lab."

SECRET_KEY = environ.get("OTREE_SECRET_KEY", "persuaders-lab-development-key")
