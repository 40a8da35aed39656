"""The game and its simulators: the ground floor of the library.

* :mod:`persuaders.envs.game`: the game (specs, user models, protocols, conversations, schemes);
* :mod:`persuaders.envs.payoff`: exact expected payoffs by enumeration (numpy, and torch for gradients);
* :mod:`persuaders.envs.persuasion`: the PettingZoo environment, its batched twin and a
  single-speaker Gymnasium view; :mod:`persuaders.envs.persuasion_v0` is the versioned module
  (``env``, ``raw_env``, ``parallel_env``), as PettingZoo's own environments have.

Importing this package registers ``persuasion_v0`` with PettingZoo's registry (1.27+), so that
``pettingzoo.make("parallel", "persuasion_v0", game="kg")`` works. The entry point is a string:
the environment module itself is imported only when an environment is made.
"""

from persuaders.compat import install_aliases


def _register() -> None:
    try:
        import pettingzoo
    except ImportError:  # pragma: no cover - PettingZoo is a dependency; its absence only disables the registry
        return
    register = getattr(pettingzoo, "register", None)
    registry = getattr(pettingzoo, "parallel_registry", None)
    if register is None or registry is None:  # PettingZoo older than 1.27: no registry
        return
    if any(spec.name == "persuasion" and spec.version == 0 for spec in registry.values()):
        return  # already registered (e.g. on a module reload)
    register("parallel", "persuasion_v0", entry_point="persuaders.envs.persuasion_v0:parallel_env")


_register()
install_aliases()  # the previous release's module names (persuaders.envs.batched, ...), deprecated
