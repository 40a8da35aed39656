"""Tests of the evaluation layer (persuaders.eval): the theory, best responses, exploitability and dynamics."""
