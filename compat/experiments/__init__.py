"""Deprecated: ``persuaders.experiments`` is the previous release's name (see :mod:`persuaders.compat`)."""

from persuaders.compat import alias_package

alias_package(__name__)
