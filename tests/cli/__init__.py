"""Tests of the console commands (persuaders.cli) as installed: one run of each in its own process."""
