"""Tests of training (persuaders.train): configs, run directories, reports, stable-baselines3, Ray sweeps and RLlib."""
