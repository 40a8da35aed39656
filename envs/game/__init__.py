"""The game layer: specifications, user models, protocols, conversations, schemes and run files.

Everything else in :mod:`persuaders` builds on this layer and it imports nothing above it.
The science is in docs/science.md; the main names are re-exported here::

    from persuaders.game import load_game, random_game, register_user_model, register_protocol
"""

from persuaders.game.catalog import bundled_games, load_game
from persuaders.game.protocols import (
    BestAI,
    Protocol,
    SelectionProtocol,
    Simultaneous,
    protocols,
    register_protocol,
    resolve_protocol,
)
from persuaders.game.random_games import random_game
from persuaders.game.spec import Game, SpeakerSpec, UserSpec
from persuaders.game.users import BestResponseUser, LogitUser, UserModel, register_user_model, user_models
from persuaders.game.validation import SpecError

__all__ = [
    "Game",
    "UserSpec",
    "SpeakerSpec",
    "SpecError",
    "load_game",
    "bundled_games",
    "random_game",
    "UserModel",
    "LogitUser",
    "BestResponseUser",
    "register_user_model",
    "user_models",
    "Protocol",
    "Simultaneous",
    "SelectionProtocol",
    "BestAI",
    "register_protocol",
    "resolve_protocol",
    "protocols",
]
