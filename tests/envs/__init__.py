"""Tests of the environments (persuaders.envs.persuasion): persuasion_v0, its batched twin, best-AI
threads, and the MARL libraries that use them."""
