"""The game layer: specifications, user models, protocols, conversations, schemes and profile files.

Everything else in :mod:`persuaders` builds on this layer and it imports nothing above it.
The science is in docs/science.md; the main names are re-exported here::

    from persuaders.envs.game import load_game, random_game, register_user_model, register_protocol
"""

from persuaders.envs.game import nonbayesian as _nonbayesian  # registers grether and shrinkage
from persuaders.envs.game.catalog import bundled_games, load_game
from persuaders.envs.game.protocols import (
    BestAI,
    Protocol,
    SelectionProtocol,
    Simultaneous,
    protocols,
    register_protocol,
    resolve_protocol,
)
from persuaders.envs.game.random_games import random_game
from persuaders.envs.game.spec import Game, SpeakerSpec, UserSpec
from persuaders.envs.game.users import BestResponseUser, LogitUser, UserModel, register_user_model, user_models
from persuaders.envs.game.validation import SpecError

GretherUser, ShrinkageUser = _nonbayesian.GretherUser, _nonbayesian.ShrinkageUser

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
    "GretherUser",
    "ShrinkageUser",
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
