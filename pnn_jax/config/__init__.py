"""Structured configs: dataclass schemas, YAML files and ``key=value`` overrides, validated early.

Every config error is a :class:`ConfigError` whose message is one line naming the key, the bad
value and what is allowed. Entry points print it and exit with code 2.
"""

from __future__ import annotations

import dataclasses
import sys
import typing
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException, MissingConfigException
from omegaconf import OmegaConf
from omegaconf import errors as oc_errors

from pnn_jax import methods, ranges

T = TypeVar("T")

# Each experiment's folder of Hydra configs (config.yaml, preset/, paper.yaml): in a checkout a link
# to the top-level experiments/, in an installed wheel a copy of it.
EXPERIMENTS_DIR = Path(__file__).resolve().parents[1] / "_experiments"


class ConfigError(ValueError):
    """A bad configuration; the message is one line that says what is wrong and how to fix it."""


def _first_line(msg: str) -> str:
    return str(msg).strip().splitlines()[0] if str(msg).strip() else type(msg).__name__


def _check_overrides(overrides: Sequence[str]) -> None:
    for item in overrides:
        if "=" not in item or item.startswith("="):
            raise ConfigError(f"override {item!r} is not of the form key=value (e.g. train.lr=1e-3)")


RENAMED = {
    "evolution": "search",
    "model.num_modules": "model.modules",
    "model.max_active": "model.active",
    "optim.reset": "search.reset",
}
"""Keys renamed so that a concept has one name in every experiment (PathNet RL's ``evolution``
section and ``model.num_modules`` / ``model.max_active``; supervised PathNet's ``optim.reset``):
old key -> new key. Config files written before (a run directory's ``config.yaml``) still load."""


def upgrade(node: Any, source: Path | str = "config") -> Any:
    """``node`` (a loaded YAML file) with :data:`RENAMED` keys moved to their new names, a line on
    stderr for each. ``evolution.mutation_prob: 0`` meant the default 1/(N*L), and a supervised
    ``search.threshold`` above 1 meant no early stop; both become null."""
    container = OmegaConf.to_container(node)
    if not isinstance(container, dict):
        return node
    if (container.get("evolution") or {}).get("mutation_prob") == 0:
        container["evolution"]["mutation_prob"] = None
    search = container.get("search")
    threshold = search.get("threshold") if isinstance(search, dict) else None
    if isinstance(threshold, int | float) and threshold > 1:
        search["threshold"] = None  # an accuracy above 1 meant no early stop
    changed = threshold is not None and search["threshold"] is None
    for old, new in RENAMED.items():
        *head, leaf = old.split(".")
        parent = container
        for part in head:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if not isinstance(parent, dict) or leaf not in parent:
            continue
        value = parent.pop(leaf)
        *new_head, new_leaf = new.split(".")
        target = container
        for part in new_head:
            target = target.setdefault(part, {})
        if isinstance(target.get(new_leaf), dict) and isinstance(value, dict):
            value = {**value, **target[new_leaf]}
        target[new_leaf] = value
        changed = True
        print(f"{source}: key '{old}' is now '{new}' (read as such)", file=sys.stderr)
    return OmegaConf.create(container) if changed else node


def load(
    schema: type[T], yaml_paths: Path | Sequence[Path] | None = None, overrides: Sequence[str] = ()
) -> T:
    """``schema`` defaults, then each of ``yaml_paths`` in order, then ``key=value`` overrides."""
    if yaml_paths is None:
        yaml_paths = []
    elif isinstance(yaml_paths, str | Path):
        yaml_paths = [yaml_paths]
    _check_overrides(overrides)
    layers = []
    for path in yaml_paths:
        if not Path(path).is_file():
            raise ConfigError(f"config file {path} not found")
        layers.append(upgrade(OmegaConf.load(path), path))
    try:
        merged = OmegaConf.merge(*layers, OmegaConf.from_dotlist(list(overrides)))
    except oc_errors.OmegaConfBaseException as e:
        raise ConfigError(f"bad config: {_first_line(str(e))}") from None
    return structured(schema, merged)


def _keys_near(schema: type, full_key: str) -> str:
    """'; allowed keys here: a, b, c' for the section of ``schema`` that holds ``full_key``."""
    node: Any = schema
    for part in full_key.split(".")[:-1]:
        if not dataclasses.is_dataclass(node):
            return ""
        hints = typing.get_type_hints(node)
        if part not in hints:
            return ""
        node = hints[part]
    if not dataclasses.is_dataclass(node):
        return ""
    return "; allowed keys here: " + ", ".join(f.name for f in dataclasses.fields(node))


def to_yaml(cfg: Any) -> str:
    return OmegaConf.to_yaml(OmegaConf.structured(cfg))


def check(condition: bool, key: str, value: Any, allowed: str) -> None:
    """Raise ``ConfigError("key=value: allowed")`` unless ``condition``."""
    if not condition:
        raise ConfigError(f"{key}={value!r} is not allowed: {allowed}")


def check_ranges(cfg: Any) -> None:
    """Every float key of ``cfg`` within the range its field declares (:mod:`pnn_jax.ranges`), as
    a one-line :class:`ConfigError` naming the key, its value and the range."""
    try:
        ranges.check(cfg)
    except ValueError as e:
        raise ConfigError(str(e)) from None


def check_choice(key: str, value: Any, choices: Iterable[Any]) -> None:
    choices = tuple(choices)
    check(value in choices, key, value, f"choose one of {', '.join(map(str, choices))}")


def check_section(key: str, section: Any) -> None:
    """A library config used as a section checks itself when built (``__post_init__``); re-run
    that check on ``section`` as it is now (it may have been changed since), as a one-line error."""
    try:
        dataclasses.replace(section)
    except ValueError as e:
        raise ConfigError(f"{key}: {_first_line(str(e))}") from None


def check_methods(key: str, names: Iterable[str], family: str, need_reference: bool = True) -> None:
    """``names`` are distinct methods of ``family`` (:mod:`pnn_jax.methods`), at least one, and
    include the family's reference method if ``need_reference`` (what the scores are relative to)."""
    names = list(names)
    check(len(names) > 0, key, names, f"a non-empty list from {', '.join(methods.names(family))}")
    for name in names:
        check_choice(key, name, methods.names(family))
    check(len(set(names)) == len(names), key, names, "each method at most once")
    ref = methods.reference(family).name
    if need_reference:
        check(ref in names, key, names, f"must include {ref} (the reference the scores are relative to)")


SCHEMA_NODE = "schema"
"""Name under which an experiment's dataclass schema is stored in Hydra's ConfigStore; each
``experiments/<name>/config.yaml`` starts its defaults list with it, so the YAML holds only what
the experiment changes and Hydra knows (and type-checks) every key."""


def register_schema(schema: type) -> None:
    """Store ``schema`` as the node ``config.yaml`` builds on (before any composition or sweep; the
    launchers hand the ConfigStore to their workers)."""
    ConfigStore.instance().store(name=SCHEMA_NODE, node=schema)


def compose(experiment_dir: Path, overrides: Sequence[str], schema: type):
    """The experiment's Hydra config: ``schema``'s defaults, ``config.yaml`` and its defaults (the
    preset group), then ``overrides``. Hydra's composition errors become one-line
    :class:`ConfigError`s (an unknown key lists the allowed keys of its section)."""
    _check_overrides(overrides)
    register_schema(schema)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(Path(experiment_dir).resolve()), version_base=None):
            return hydra_compose(config_name="config", overrides=list(overrides))
    except MissingConfigException as e:
        group = e.missing_cfg_file or ""
        options = e.options or []
        if "/" in group:
            name, _, value = group.partition("/")
            raise ConfigError(
                f"{name}={value!r} is not allowed: choose one of {', '.join(options)}"
            ) from None
        raise ConfigError(f"bad config: {_first_line(str(e))}") from None
    except HydraException as e:
        cause = e.__cause__
        if isinstance(cause, oc_errors.ValidationError | oc_errors.ConfigTypeError):  # typed by the schema
            raise ConfigError(f"bad value for '{cause.full_key}': {_first_line(cause.msg)}") from None
        if isinstance(cause, oc_errors.ConfigKeyError):
            key = cause.full_key
            raise ConfigError(f"unknown config key '{key}'{_keys_near(schema, key)}") from None
        msg = str(e)
        if msg.startswith("Could not override '"):
            key = msg.split("'", 2)[1]
            raise ConfigError(f"unknown config key '{key}'{_keys_near(schema, key)}") from None
        raise ConfigError(f"bad override: {_first_line(msg)}") from None
    finally:
        GlobalHydra.instance().clear()


def structured(schema: type[T], cfg) -> T:
    """``cfg`` (a DictConfig or mapping) checked against the dataclass ``schema``.

    A section that is a library config checks itself when built (``__post_init__``, e.g.
    :class:`~pnn_jax.rl.policy.ACConfig`); its ``ValueError`` becomes a one-line error naming
    the section."""
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), cfg)
        return OmegaConf.to_object(merged)
    except oc_errors.ConfigKeyError as e:
        allowed = _keys_near(schema, e.full_key)
        raise ConfigError(f"unknown config key '{e.full_key}'{allowed}") from None
    except (oc_errors.ValidationError, oc_errors.ConfigTypeError) as e:
        raise ConfigError(f"bad value for '{e.full_key}': {_first_line(e.msg)}") from None
    except oc_errors.OmegaConfBaseException as e:
        raise ConfigError(f"bad config: {_first_line(str(e))}") from None
    except ConfigError:
        raise
    except ValueError as e:  # a library config section's own check
        raise ConfigError(f"{_failing_section(schema, merged)}{_first_line(str(e))}") from None


def _failing_section(schema: type, merged) -> str:
    """``"rl: "`` for the first dataclass section of ``schema`` that does not build from
    ``merged`` (a library config whose own checks failed), else ``""``."""
    hints = typing.get_type_hints(schema)
    for f in dataclasses.fields(schema):
        if dataclasses.is_dataclass(hints.get(f.name)):
            try:
                OmegaConf.to_object(merged[f.name])
            except ValueError:
                return f"{f.name}: "
    return ""


def load_paper(experiment: str) -> dict:
    """``experiments/<experiment>/paper.yaml``: the published numbers we compare with ({} if none)."""
    path = EXPERIMENTS_DIR / experiment / "paper.yaml"
    return OmegaConf.to_container(OmegaConf.load(path)) if path.exists() else {}
