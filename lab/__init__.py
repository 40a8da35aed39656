"""The lab: people play the user against committed speakers in an oTree experiment.

:mod:`~persuaders.lab.design` holds what a session needs from the theory (the design file, drawing
a trial on the server, the exact likelihood of what a participant heard);
:mod:`~persuaders.lab.project` writes a ready oTree project from a game and a profile;
:mod:`~persuaders.lab.export` turns the session's database into the choice-data table the user
models are fitted on; :mod:`~persuaders.lab.cli` is the ``persuaders-lab`` command. The lab is
the top layer: it may import every other layer and nothing imports it. It needs the ``lab`` extra
(oTree) only to run a session, not to create or export one. See docs/lab.md.
"""
