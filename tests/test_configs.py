"""Every experiment's config.yaml mirrors its dataclass schema, and every preset composes."""

from __future__ import annotations

import dataclasses

import pytest
from omegaconf import OmegaConf

from pnn_jax import config as cfglib
from pnn_jax import experiments


def schema_keys(node, prefix=""):
    out = set()
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        nested = dataclasses.is_dataclass(value)
        out |= schema_keys(value, f"{prefix}{f.name}.") if nested else {prefix + f.name}
    return out


def yaml_keys(d, prefix=""):
    out = set()
    for k, v in d.items():
        out |= yaml_keys(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k}
    return out


@pytest.mark.parametrize("name", list(experiments.EXPERIMENTS))
def test_config_yaml_declares_every_schema_key(name):
    """Hydra overrides only keys that the YAML has: it must mirror the dataclass schema."""
    module = experiments.get(name)
    raw = OmegaConf.to_container(OmegaConf.load(cfglib.EXPERIMENTS_DIR / name / "config.yaml"))
    raw.pop("defaults"), raw.pop("hydra")
    assert yaml_keys(raw) == schema_keys(module.Config())


@pytest.mark.parametrize("name", list(experiments.EXPERIMENTS))
def test_every_preset_composes_and_names_its_experiment(name):
    module = experiments.get(name)
    folder = cfglib.EXPERIMENTS_DIR / name
    presets = sorted(p.stem for p in (folder / "preset").glob("*.yaml"))
    assert presets == sorted(module.PRESETS)
    for preset in presets:
        cfg = cfglib.structured(module.Config, cfglib.compose(folder, [f"preset={preset}"], module.Config))
        assert cfg.experiment == name and cfg.preset == preset
