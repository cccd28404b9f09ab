"""Every float key of every experiment's config declares its range, and a value outside it is a
one-line error (exit 2) before anything compiles (issue 25: ``search.threshold=2`` used to run to
the generation limit)."""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import typing

import jax.monitoring
import pytest

from pnn_jax import cli, experiments, ranges
from pnn_jax.config import ConfigError, load
from pnn_jax.experiments.pathnet_supervised.cifar_svhn import CifarSvhn


def float_fields(schema: type, prefix: str = "") -> list[tuple[str, type, dataclasses.Field]]:
    """``(dotted key, owning dataclass, field)`` of every float, optional float or list of floats
    in ``schema`` and its sections (a list of sections is entered at its first element, ``[0]``)."""
    found = []
    hints = typing.get_type_hints(schema)
    for f in dataclasses.fields(schema):
        hint = hints[f.name]
        inner = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
        inner = inner[0] if typing.get_origin(hint) in (typing.Union, type(int | None)) else hint
        item = typing.get_args(inner)[0] if typing.get_origin(inner) in (list, tuple) else inner
        if dataclasses.is_dataclass(item):
            index = "[0]" if item is not inner else ""
            found += float_fields(item, f"{prefix}{f.name}{index}.")
        elif item is float:
            found.append((prefix + f.name, schema, f))
    return found


CASES = {}  # one case per (dataclass, field): each declaration is tried once
for _name in experiments.names():
    for _key, _owner, _field in float_fields(experiments.get(_name).Config):
        CASES.setdefault((_owner.__qualname__, _field.name), (_name, _key, _field))


def test_every_float_key_of_every_schema_declares_a_range():
    missing = [f"{name}: {key}" for name, key, f in CASES.values() if ranges.range_of(f) is None]
    assert not missing, f"float keys without a declared range (pnn_jax.ranges.field): {missing}"
    assert len(CASES) >= 20  # the walk reached the sections (rl, search, env, optim, ...)


def _set(cfg, key: str, value) -> None:
    """Set the dotted ``key`` (``pairs[0].x`` enters a list) of ``cfg`` in place, frozen or not."""
    *head, leaf = key.split(".")
    node = cfg
    for part in head:
        name, _, index = part.partition("[")
        node = getattr(node, name)
        if index:
            node = node[int(index.rstrip("]"))]
    object.__setattr__(node, leaf, value)


@pytest.fixture(scope="module")
def configs():
    return {name: experiments.get(name).config(["preset=smoke"]) for name in {c[0] for c in CASES.values()}}


@pytest.mark.parametrize(
    "case", sorted(CASES.values(), key=lambda c: (c[0], c[1])), ids=lambda c: f"{c[0]}:{c[1]}"
)
def test_a_value_outside_the_declared_range_is_a_one_line_error(case, configs):
    name, key, f = case
    declared = ranges.range_of(f)
    experiment = experiments.get(name)
    is_list = typing.get_origin(f.type) is list or str(f.type).startswith("list")
    for bad in declared.outside():
        cfg = copy.deepcopy(configs[name])
        _set(cfg, key, [bad] if is_list else bad)
        with pytest.raises(ConfigError) as info:
            experiment.validate(cfg)
        message = str(info.value)
        assert "\n" not in message and message.startswith(f"{key}="), message
        assert message.endswith(f"is not allowed: {declared.describe()}"), message
    if declared.none is None and not is_list:
        cfg = copy.deepcopy(configs[name])
        _set(cfg, key, None)
        with pytest.raises(ConfigError, match="^" + re.escape(f"{key}=None")):
            experiment.validate(cfg)


def test_range_ends_and_null():
    r = ranges.Range(low=0, high=1, low_open=True, none="no early stop")
    assert 1.0 in r and 0.5 in r and None in r
    assert 0.0 not in r and 1.0 + 1e-9 not in r and math.nan not in r and math.inf not in r and True not in r
    assert r.describe() == "a number in (0, 1], or null (no early stop)"
    assert ranges.Range(low=0).describe() == "a number >= 0" and -1e-12 not in ranges.Range(low=0)
    assert ranges.Range().describe() == "a finite number" and None not in ranges.Range()


def test_a_threshold_above_one_is_refused_before_anything_compiles(capsys, tmp_path):
    compiled = []

    def listener(event, seconds, **kwargs):
        if event.startswith("/jax/core/compile/"):  # tracing and lowering too: a cache hit compiles nothing
            compiled.append(event)

    jax.monitoring.register_event_duration_secs_listener(listener)
    args = [
        "run",
        "experiment=thesis_first_path",
        "preset=smoke",
        "search.threshold=2",
        f"out_dir={tmp_path}",
    ]
    try:
        assert cli.main(args) == 2
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert "search.threshold=2.0 is not allowed: a number in (0, 1], or null (no early stop)" in err
    assert not compiled and not list(tmp_path.iterdir())


def test_an_old_run_config_with_threshold_above_one_reads_as_no_early_stop(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("search:\n  threshold: 2.0\n")
    assert load(CifarSvhn.Config, path).search.threshold is None
