"""Bundled YAML files, shipped as package data: games, training configs, sweeps and experiments.

Read them through :mod:`persuaders.envs.game.catalog` (``load_game("kg")``, ``bundled_configs("train")``).
"""
