"""Tests of the learners (persuaders.agents) reaching the theory."""
