"""Training: the loop (:func:`persuaders.train.loop.train`), configs, checkpoints, summaries, SB3 and sweeps.

``persuaders-train --config kg_logit`` (or ``persuaders-train``) runs a bundled config.
"""

from persuaders.compat import install_aliases

install_aliases()  # the previous release's module names, deprecated (persuaders.compat)
