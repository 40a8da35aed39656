"""Tests of the payoff engine (persuaders.envs.payoff): the exact evaluator against brute-force joints."""
