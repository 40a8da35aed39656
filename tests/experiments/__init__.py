"""Tests of the paper's experiments (persuaders.eval.experiments): competition and the convex hull."""
