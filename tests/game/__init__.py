"""Tests of the game layer (persuaders.envs.game): game files, validation, bundled and random games."""
