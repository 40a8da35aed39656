"""Training: the loop (:func:`persuaders.train.loop.train`), configs, checkpoints, summaries, SB3 and sweeps.

``persuaders-train --config kg_logit`` (or ``python -m persuaders.train``) runs a bundled config.
"""
