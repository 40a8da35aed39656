"""Training configs: one typed, validated :class:`RunConfig` per training run.

A config is a YAML file (the bundled ones are under ``configs/train``), ``--set key=value``
overrides on the command line, or Python (``RunConfig(game="kg_logit", total_steps=50_000)``).
Every key, what it means, its allowed values and its default is in the config reference,
docs/config.md, which :func:`config_reference_markdown` generates from the fields of
:class:`RunConfig` (a test fails when the page and the fields disagree).

A :class:`RunConfig` is validated once, when it is built: a bad key or value raises
:class:`~persuaders.envs.game.validation.SpecError` naming the key (``ppo.learning_rate: must be
> 0``). It also holds what its keys resolve to: the protocol (:attr:`RunConfig.resolved_protocol`),
the game with the rationality override applied (:attr:`RunConfig.resolved_game`, loaded on first
use) and the learner that plays each speaker (:meth:`RunConfig.speaker_learner`).
:meth:`RunConfig.to_dict` is the resolved config as plain data: what a run directory's
``config.yaml`` holds, what ``--resume`` compares and what a sweep's plan records.

Learners come from the registry of :mod:`persuaders.agents`; a config may hold a hyperparameter
section for any registered learner, under its name. ``--set key=value`` overrides any key (dotted
for nested ones: ``ppo.learning_rate=1e-3``, ``speakers.defence.learner=babbling``); values are
parsed as YAML.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import inspect
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from persuaders.agents.base import Learner, LearnerConfig, learner_class, learners
from persuaders.envs.game.catalog import game_in_file
from persuaders.envs.game.profiles import game_from_config, read_config
from persuaders.envs.game.protocols import REWARD_MODES, Protocol, protocols, resolve_protocol
from persuaders.envs.game.safe_yaml import parse_yaml
from persuaders.envs.game.spec import Game
from persuaders.envs.game.validation import SpecError, as_choice, as_float, as_int, as_seed, check_keys

__all__ = [
    "RunConfig",
    "Target",
    "RationalitySchedule",
    "SpeakerLearner",
    "load_config",
    "apply_override",
    "validate_config",
    "config_reference_markdown",
]


def _doc(
    text: str,
    *,
    allowed: str | None = None,
    choices: Callable[[], Sequence[str]] | None = None,
    minimum: int | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    """A field's documentation: ``text`` says what it is; ``allowed`` its values in words, or
    ``choices`` the registry they come from, or ``minimum`` (an integer at least that). ``key``
    is its name in a config file when that is not the field's name."""
    if minimum is not None:
        allowed = f"an integer >= {minimum}"
    return {"help": text, "allowed": allowed, "choices": choices, "minimum": minimum, "key": key}


def _reward_modes() -> tuple[str, ...]:
    return REWARD_MODES


# ---------------------------------------------------------------------------------- nested keys
@dataclass(frozen=True)
class Target:
    """An early stop: training ends at the first exact evaluation where ``|V_speaker - value| <= tol``.

    :meth:`to_dict` gives the keys in the order they were written, so that a run's ``config.yaml``
    repeats the file it was trained from.
    """

    speaker: str = field(metadata=_doc("The speaker whose exact value is watched.", allowed="a speaker of the game"))
    value: float = field(metadata=_doc("The value to reach.", allowed="a number"))
    tol: float = field(metadata=_doc("How close counts as reached.", allowed="a number > 0"))

    def __post_init__(self) -> None:
        as_float(self.value, "target.value")  # checked; kept as written (an integer stays one in config.yaml)
        as_float(self.tol, "target.tol", exclusive_minimum=0.0)
        if not isinstance(self.speaker, str) or not self.speaker:
            raise SpecError("target.speaker", f"expected a speaker's name, got {self.speaker!r}")

    @classmethod
    def from_mapping(cls, raw: Any) -> Target:
        """The target a config's ``target:`` mapping describes (every key required)."""
        keys = tuple(f.name for f in dataclasses.fields(cls))
        given = check_keys(raw, "target", keys, keys)
        out = cls(**{k: given[k] for k in keys})
        object.__setattr__(out, "_order", tuple(given))
        return out

    def reached(self, speaker_values: Mapping[str, float]) -> bool:
        """Whether exact speaker values meet the target; a speaker missing from them is named."""
        if self.speaker not in speaker_values:
            raise SpecError("target.speaker", f"no such speaker; speakers are {', '.join(speaker_values)}")
        return abs(speaker_values[self.speaker] - self.value) <= self.tol

    def to_dict(self) -> dict[str, Any]:
        order = self.__dict__.get("_order", tuple(f.name for f in dataclasses.fields(self)))
        return {k: getattr(self, k) for k in order}


@dataclass(frozen=True)
class RationalitySchedule:
    """A homotopy of users: logit users of rising rationality, then the game's own user.

    At fraction ``f`` of training the user is logit with ``lam = start (end / start)^(f / until)``
    while ``f < until`` (geometric from ``start`` to ``end``), and the game's user afterwards.
    """

    start: float = field(metadata=_doc("The first logit rationality.", allowed="a number > 0"))
    end: float = field(metadata=_doc("The rationality reached at `until`.", allowed="a number >= start"))
    until: float = field(
        default=1.0,
        metadata=_doc("The fraction of training the homotopy lasts.", allowed="a number in (0, 1]"),
    )

    def __post_init__(self) -> None:
        start = as_float(self.start, "rationality_schedule.start", exclusive_minimum=0.0)
        end = as_float(self.end, "rationality_schedule.end", minimum=start)
        until = as_float(self.until, "rationality_schedule.until", exclusive_minimum=0.0, maximum=1.0)
        for name, value in (("start", start), ("end", end), ("until", until)):
            object.__setattr__(self, name, value)

    @classmethod
    def from_mapping(cls, raw: Any) -> RationalitySchedule:
        """The schedule a config's ``rationality_schedule:`` mapping describes."""
        given = check_keys(raw, "rationality_schedule", ("start", "end", "until"), ("start", "end"))
        return cls(**given)

    def rationality(self, fraction: float) -> float:
        """The logit rationality at ``fraction`` of training: ``start (end / start)^min(1, fraction / until)``."""
        x = min(1.0, fraction / self.until)
        return float(self.start * (self.end / self.start) ** x)

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "until": self.until}


@dataclass(frozen=True)
class SpeakerLearner:
    """The learner that plays one speaker, resolved from a config."""

    speaker: str
    #: The learner's registered name (the config's ``learner:``).
    name: str
    cls: type[Learner]
    #: The speaker's options for its learner (its ``speakers:`` entry without ``learner``).
    options: dict[str, Any]
    #: The learner's hyperparameters (a fresh copy: a learner may keep it).
    hyperparameters: LearnerConfig


# ---------------------------------------------------------------------------------- the config
@dataclass(frozen=True)
class RunConfig:
    """One training run's settings, validated; the keys are documented in docs/config.md.

    Build it from a file with :func:`load_config`, from a mapping with :func:`validate_config`,
    or directly; a mapping may stand for :attr:`target`, :attr:`rationality_schedule` and each
    hyperparameter section. :meth:`to_dict` is the resolved config (defaults filled in, a complete
    hyperparameter section for every learner used).
    """

    game: str = field(
        metadata=_doc(
            "The game: a bundled game's name (`kg_logit`), the path of a game YAML file, or a random "
            "game `random:k=3,states=2,actions=2,seed=0,regime=inside` (options `k`, `states`, "
            "`actions`, `seed`, `regime`, `epsilon`, `rationality`, `messages`, `rounds`, `visibility`).",
            allowed="a bundled name, a YAML path or `random:...`",
        )
    )
    rationality: float | None = field(
        default=None,
        metadata=_doc(
            "Replaces the game's user by a logit user of this rationality (`inf`: a best responder); "
            "`null` keeps the game's own user.",
            allowed="a number > 0, `inf` or `null`",
        ),
    )
    protocol: str = field(
        default="simultaneous",
        metadata=_doc(
            "How the conversations are arranged: `simultaneous` (every speaker talks in one "
            "conversation) or `best_ai` (the user evaluates each speaker alone, then deploys the "
            "best), or any registered protocol.",
            choices=protocols,
        ),
    )
    n_eval: int | Literal["exact"] = field(
        default="exact",
        metadata=_doc(
            "How `best_ai` scores each speaker: `exact` (the user's exact expected utility with it "
            "alone) or the mean realised utility of this many solo conversations. Protocols without "
            "an evaluation ignore it.",
            allowed="`exact` or an integer >= 1",
        ),
    )
    reward_mode: str = field(
        default="expect_all",
        metadata=_doc(
            "The speakers' rewards, unbiased for the same objective with decreasing variance: "
            "`sample` (the realised payoff), `expect_action` (the expectation over the user's action), "
            "`expect_all` (the expectation given the transcript), `expect_round` (joint protocols: the "
            "expectation given the transcript before the last round and the last round's schemes).",
            choices=_reward_modes,
        ),
    )
    seed: int = field(
        default=0,
        metadata=_doc(
            "Seeds the environment, the learners' initial parameters and minibatch shuffling: one seed, "
            "one `summary.json`.",
            minimum=0,
        ),
    )
    total_steps: int = field(
        default=100_000,
        metadata=_doc(
            "Environment steps over the run, summed over parallel episodes; the run has "
            "`max(1, total_steps // (n_envs x rollout_episodes x steps per episode))` iterations. "
            "May change on `--resume`.",
            minimum=1,
        ),
    )
    n_envs: int = field(default=1024, metadata=_doc("Parallel episodes.", minimum=1))
    rollout_episodes: int = field(
        default=1, metadata=_doc("Episodes of each parallel environment per iteration (one rollout).", minimum=1)
    )
    eval_interval: int = field(
        default=10,
        metadata=_doc(
            "Iterations between exact evaluations of the committed schemes (TensorBoard `eval/*`, "
            "`summary.json`'s `history`, the `target` check); the last iteration is always evaluated. "
            "May change on `--resume`.",
            minimum=1,
        ),
    )
    checkpoint_interval: int = field(
        default=25,
        metadata=_doc(
            "Iterations between checkpoints (one is also written at the end and when the target is "
            "reached). May change on `--resume`.",
            minimum=1,
        ),
    )
    exploitability_interval: int = field(
        default=50,
        metadata=_doc(
            "Iterations between exploitability logs (TensorBoard `eval/exploitability`); 0: only at the "
            "end (`summary.json` always has it). May change on `--resume`.",
            minimum=0,
        ),
    )
    target: Target | None = field(
        default=None,
        metadata=_doc(
            "An early stop, `{speaker: NAME, value: X, tol: Y}`: training ends at the first evaluation "
            "where the speaker's exact value is within `tol` of `value`; `null`: train for `total_steps`. "
            "May change on `--resume`.",
            allowed="`null` or a mapping with keys `speaker`, `value`, `tol` (`tol` > 0)",
        ),
    )
    rationality_schedule: RationalitySchedule | None = field(
        default=None,
        metadata=_doc(
            "A homotopy, `{start: 10, end: 1000, until: 0.6}`: logit users with the rationality rising "
            "geometrically from `start` to `end` over the first `until` of training, then the game's own "
            "user; `null`: the game's user throughout.",
            allowed="`null` or a mapping with keys `start` (> 0), `end` (>= start), `until` (in (0, 1], default 1)",
        ),
    )
    share_parameters: bool = field(
        default=False,
        metadata=_doc(
            "One network for all the speakers of a shareable learner (`ppo`), which then sees a one-hot "
            "of the speaker's id; `false`: one learner per speaker.",
            allowed="`true` or `false`",
        ),
    )
    threads: int = field(default=1, metadata=_doc("Torch threads. May change on `--resume`.", minimum=1))
    learner: str = field(
        default="ppo",
        metadata=_doc("Every speaker's learner, unless `speakers` says otherwise.", choices=learners),
    )
    speakers: dict[str, dict[str, Any]] = field(
        default_factory=dict,
        metadata=_doc(
            "Per speaker of the game: its learner and that learner's options, e.g. "
            "`{defence: {learner: babbling}, prosecutor: {learner: fixed, path: schemes.yaml}}` (`fixed` "
            "takes `path`, a schemes file); a speaker not listed plays `learner`.",
            allowed="a mapping from speaker name to `{learner: NAME, <options>}`",
        ),
    )
    hyperparameters: dict[str, LearnerConfig] = field(
        default_factory=dict,
        metadata=_doc(
            "A learner's hyperparameters, under the learner's name at the top of the file "
            "(`ppo: {learning_rate: 0.001}`), validated by its config class. Unset ones take the "
            "defaults below; the resolved config holds a complete section for every learner it uses "
            "that has hyperparameters, and for every section given.",
            allowed="a mapping of that learner's hyperparameters",
            key="<learner>",
        ),
    )
    #: The protocol object :attr:`protocol` and :attr:`n_eval` name.
    resolved_protocol: Protocol = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._check_values()
        self._check_learners()

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)  # a normalised value, while the frozen instance is built

    def _choice(self, name: str) -> None:
        choices: Callable[[], Sequence[str]] = _FIELDS[name].metadata["choices"]
        as_choice(getattr(self, name), name, choices())

    def _check_values(self) -> None:
        """Every key but the learners', in the order errors are reported."""
        if not isinstance(self.game, str) or not self.game:
            raise SpecError("game", f"expected a bundled game name, a YAML path or random:..., got {self.game!r}")
        if self.rationality is not None:
            self._set("rationality", as_float(self.rationality, "rationality", exclusive_minimum=0.0, allow_inf=True))
        self._choice("protocol")
        self._choice("reward_mode")
        if self.n_eval != "exact":
            self._set("n_eval", as_int(self.n_eval, "n_eval", minimum=1))
        self._set("resolved_protocol", resolve_protocol(self.protocol, self.n_eval))
        for f in _FIELDS.values():
            if f.metadata.get("minimum") is not None:
                self._set(f.name, as_int(getattr(self, f.name), f.name, minimum=f.metadata["minimum"]))
        self._set("seed", as_seed(self.seed, "seed"))
        if not isinstance(self.share_parameters, bool):
            raise SpecError("share_parameters", f"expected true or false, got {self.share_parameters!r}")
        if self.target is not None and not isinstance(self.target, Target):
            self._set("target", Target.from_mapping(self.target))
        if self.rationality_schedule is not None and not isinstance(self.rationality_schedule, RationalitySchedule):
            self._set("rationality_schedule", RationalitySchedule.from_mapping(self.rationality_schedule))

    def _check_learners(self) -> None:
        """``learner``, ``speakers`` and the hyperparameter sections (complete ones for the learners used)."""
        names = learners()
        learner_class(self.learner, "learner")
        given_speakers = self.speakers
        check_keys(given_speakers, "speakers", allowed=list(given_speakers) if isinstance(given_speakers, dict) else [])
        speakers: dict[str, dict[str, Any]] = {}
        used = {self.learner}
        for name, given in given_speakers.items():
            spec = {} if given is None else given
            where = f"speakers.{name}"
            check_keys(spec, where, ("learner", *(o for n in names for o in learner_class(n).speaker_options)))
            cls = learner_class(spec.get("learner", self.learner), f"{where}.learner")
            # A speaker option of another learner is allowed and unused (a sweep may switch learners).
            cls.check_speaker_options({k: v for k, v in spec.items() if k != "learner"}, where)
            used.add(cls.name)
            speakers[name] = spec
        self._set("speakers", speakers)
        given_sections = check_keys(self.hyperparameters, "", names)
        sections: dict[str, LearnerConfig] = {}
        for name in names:  # validated in the registry's order
            config_class = learner_class(name).config_class
            if name in given_sections or (name in used and dataclasses.fields(config_class)):
                raw = given_sections.get(name)
                raw = raw.to_dict() if isinstance(raw, LearnerConfig) else raw
                sections[name] = config_class.from_mapping(raw or {}, name)
        # The sections given keep their order; the others follow in the registry's.
        ordered = {n: sections[n] for n in given_sections} | {
            n: s for n, s in sections.items() if n not in given_sections
        }
        self._set("hyperparameters", ordered)
        n = self.n_envs * self.rollout_episodes  # each speaker's fewest samples per update: one an episode
        for name, mb in ((key, getattr(section, "num_minibatches", None)) for key, section in ordered.items()):
            if isinstance(mb, int) and mb > n:
                raise SpecError(f"{name}.num_minibatches", f"{mb} exceed the {n} samples (n_envs x rollout_episodes)")

    @functools.cached_property
    def resolved_game(self) -> Game:
        """The game, with the :attr:`rationality` override applied; loaded on first use.

        Raises :class:`SpecError` for a game that does not load, a speaker under :attr:`speakers`
        or :attr:`target` that the game does not have.
        """
        game = game_from_config(self.to_dict())
        if self.target is not None and self.target.speaker not in game.speaker_names:
            raise SpecError(
                "target.speaker",
                f"no such speaker in game '{game.name}'; speakers are {', '.join(game.speaker_names)}",
            )
        return game

    def speaker_learner(self, speaker: str) -> SpeakerLearner:
        """The learner that plays ``speaker``: its own under :attr:`speakers`, else :attr:`learner`."""
        spec = self.speakers.get(speaker, {})
        name: str = spec.get("learner", self.learner)
        cls = learner_class(name)
        section = self.hyperparameters.get(name)
        config = copy.deepcopy(section) if section is not None else cls.config_class.from_mapping({}, name)
        options = {k: v for k, v in spec.items() if k != "learner"}
        return SpeakerLearner(speaker=speaker, name=name, cls=cls, options=options, hyperparameters=config)

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as plain data, keys in the file's order (a run's ``config.yaml``)."""
        out: dict[str, Any] = {}
        for name in _KEYS:
            value = getattr(self, name)
            if name == "rationality" and value is not None and math.isinf(value):
                value = "inf"
            out[name] = value.to_dict() if isinstance(value, (Target, RationalitySchedule)) else copy.deepcopy(value)
        out.update({name: section.to_dict() for name, section in self.hyperparameters.items()})
        return out


_FIELDS = {f.name: f for f in dataclasses.fields(RunConfig) if f.init}
#: The keys of a config file besides the hyperparameter sections, in their order.
_KEYS = tuple(name for name, f in _FIELDS.items() if f.metadata.get("key") is None)


# ---------------------------------------------------------------------------------- reading
def load_config(
    path: str | Path | None, overrides: list[str] | tuple[str, ...] = (), confine_paths: bool = True
) -> RunConfig:
    """Read a config file (none: only the overrides), apply ``key=value`` overrides, and validate;
    with ``confine_paths``, a game file the config file names resolves against its folder and may
    not leave it (docs/trust.md); a run's own ``config.yaml`` (``--resume``) is read without it."""
    raw = read_config(path, "config") if path is not None else {}
    given_game = any(item.split("=", 1)[0].strip() == "game" for item in overrides)
    if path is not None and confine_paths and "game" in raw and not given_game:
        raw["game"] = game_in_file(raw["game"], Path(path).parent, str(path))
    for item in overrides:
        apply_override(raw, item)
    return validate_config(raw)


def apply_override(cfg: dict[str, Any], item: str) -> None:
    """Apply one ``dotted.key=value`` override to a raw config in place (value parsed as a YAML scalar)."""
    if "=" not in item:
        raise SpecError("--set", f"expected key=value, got {item!r}")
    key, text = item.split("=", 1)
    try:
        value = parse_yaml(text, f"--set {key.strip()}", key.strip() or "--set")
    except SpecError as exc:
        if "not valid YAML" not in exc.message:
            raise  # an alias, a duplicate key or deep nesting: refused, never expanded
        value = text
    parts = key.strip().split(".")
    if not all(parts):
        raise SpecError("--set", f"expected a dotted key, got {key!r}")
    node = cfg
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise SpecError(key, "cannot set a sub-key of a non-mapping")
    node[parts[-1]] = value


def validate_config(raw: Mapping[str, Any]) -> RunConfig:
    """The :class:`RunConfig` of a config mapping (as read from a file); the inverse of :meth:`RunConfig.to_dict`.

    Raises :class:`SpecError` naming the first bad key; ``game`` is the only required one.
    """
    names = learners()
    check_keys(raw, "", _KEYS + names, ["game"])
    given = copy.deepcopy(dict(raw))
    return RunConfig(
        **{k: v for k, v in given.items() if k in _KEYS},
        hyperparameters={k: v for k, v in given.items() if k in names},
    )


# ---------------------------------------------------------------------------------- the reference page
#: Where the page of :func:`config_reference_markdown` is kept, from the repository's root.
REFERENCE_PAGE = "docs/config.md"
_NESTED: dict[str, type] = {"target": Target, "rationality_schedule": RationalitySchedule}


def _yaml(value: Any) -> str:
    """``value`` as a config file writes it, on one line."""
    return yaml.safe_dump(value, default_flow_style=True, width=1_000_000).removesuffix("...\n").strip()


def _default(f: dataclasses.Field[Any]) -> str:
    if f.default is not dataclasses.MISSING:
        return f"`{_yaml(f.default)}`"
    if f.default_factory is not dataclasses.MISSING:
        return f"`{_yaml(f.default_factory())}`"
    return "required"


def _allowed(f: dataclasses.Field[Any]) -> str:
    choices = f.metadata.get("choices")
    return "one of " + ", ".join(f"`{c}`" for c in choices()) if choices is not None else str(f.metadata["allowed"])


def _heading(f: dataclasses.Field[Any]) -> str:
    key = f.metadata.get("key")
    return f"`{f.name}`" if key is None else f"`{key}` ({f.name})"


def _anchor(heading: str) -> str:
    """The anchor of a heading, as the docs site (Python-Markdown's toc) and GitHub make it."""
    text = re.sub(r"[^\w\s-]", "", heading.replace("`", "")).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def _learner_sections() -> list[str]:
    """Each registered learner's hyperparameters (name, type, default) and speaker options."""
    lines: list[str] = []
    shown: dict[type, str] = {}
    plain = []
    for name in learners():
        cls = learner_class(name)
        config_class = cls.config_class
        options = ", ".join(f"`{o}`" for o in cls.speaker_options)
        if not dataclasses.fields(config_class):
            plain.append(f"`{name}`" + (f" (speaker options: {options})" if options else ""))
            continue
        lines += ["", f"### `{name}`", ""]
        if options:
            lines += [f"Speaker options: {options}.", ""]
        if config_class in shown:
            lines.append(
                f"The hyperparameters of `{shown[config_class]}` ({config_class.__name__}), in a section of its own."
            )
            continue
        shown[config_class] = name
        summary = (inspect.getdoc(config_class) or "").split("\n\n")[0].replace("\n", " ").replace("``", "`")
        lines += [f"{config_class.__name__}: {summary}", "", "| key | type | default |", "| --- | --- | --- |"]
        lines += [
            f"| `{f.name}` | `{str(f.type).replace(' | ', ' or ')}` | {_default(f)} |"
            for f in dataclasses.fields(config_class)
        ]
    if plain:
        lines += ["", "### Learners without hyperparameters", "", ", ".join(plain) + "."]
    return lines


def config_reference_markdown() -> str:
    """The config reference page (docs/config.md), generated from the fields of :class:`RunConfig`.

    One table of every key with its default and allowed values, then a section per key with its
    meaning, and the hyperparameters of every registered learner; the choices of a registry
    (protocols, learners) are the names registered when it runs.
    """
    keys = list(_FIELDS.values())
    regenerate = (
        "python -c \"from persuaders.train.config import config_reference_markdown as m; print(m(), end='')\""
        f" > {REFERENCE_PAGE}"
    )
    lines = [
        "# Training config reference",
        "",
        f"<!-- Generated from the fields of persuaders.train.config.RunConfig: edit them, then {regenerate} -->",
        "",
        "A training config is a YAML mapping of the keys below (the bundled ones are under `configs/train`). "
        "`persuaders-train --config FILE --set key=value` overrides any key, dotted for nested ones "
        "(`--set ppo.learning_rate=1e-3`, `--set speakers.defence.learner=babbling`); in Python, "
        "`load_config(path, overrides)` or `RunConfig(game=..., ...)` of `persuaders.train.config` builds it. "
        "A config is validated once, when it is built: an unknown key or a bad value is an error that names the key. "
        "A run directory's `config.yaml` holds the resolved config, every default filled in.",
        "",
        "| key | default | allowed values |",
        "| --- | --- | --- |",
        *(
            f"| [`{f.metadata.get('key') or f.name}`](#{_anchor(_heading(f))}) | {_default(f)} | {_allowed(f)} |"
            for f in keys
        ),
    ]
    for f in keys:
        lines += [
            "",
            f"## {_heading(f)}",
            "",
            f.metadata["help"],
            "",
            f"Allowed: {_allowed(f)}. Default: {_default(f)}.",
        ]
        nested = _NESTED.get(f.name)
        if nested is not None:
            lines += ["", "| key | meaning | allowed values | default |", "| --- | --- | --- | --- |"]
            lines += [
                f"| `{s.name}` | {s.metadata['help']} | {_allowed(s)} | {_default(s)} |"
                for s in dataclasses.fields(nested)
            ]
    return "\n".join([*lines, *_learner_sections()]) + "\n"
