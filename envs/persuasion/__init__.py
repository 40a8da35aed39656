"""The persuasion environments: the PettingZoo environment and the simulator it runs on.

* :mod:`.persuasion`: the PettingZoo ``ParallelEnv`` (``persuaders.envs.persuasion_v0`` is its
  versioned module);
* :mod:`.batched`: :class:`~persuaders.envs.persuasion.batched.BatchedPersuasionEnv`, thousands of
  episodes in lockstep (the PettingZoo environment is this simulator with one episode), with
  :mod:`.arrays` (its episode state), :mod:`.selection` (selection protocols' solo threads) and
  :mod:`.transcript` (the readable record of an episode);
* :mod:`.single_speaker`: a Gymnasium view where one speaker learns and the others are fixed.
"""
