"""Every experiment's config.yaml holds only what it changes from its dataclass schema, every preset
composes, every key is documented in the schema, and `pnn-jax show` prints the resolved config with
that documentation."""

from __future__ import annotations

import dataclasses

import pytest
import yaml
from omegaconf import OmegaConf

from pnn_jax import cli, experiments
from pnn_jax import config as cfglib
from pnn_jax.config import docs


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


def _changed(raw, default, prefix=""):
    """Keys of ``raw`` whose value differs from ``default``'s; ``None`` marks a key not in the schema."""
    out = {}
    for k, v in raw.items():
        if k not in default:
            out[prefix + k] = None
        elif isinstance(v, dict) and isinstance(default[k], dict):
            out |= _changed(v, default[k], f"{prefix}{k}.")
        elif v != default[k]:
            out[prefix + k] = v
    return out


@pytest.mark.parametrize("name", experiments.names())
def test_config_yaml_holds_only_what_the_experiment_changes(name):
    """Config is written once: the schema holds every key and default, config.yaml builds on it
    (its defaults list starts with the schema) and sets only the keys this experiment changes."""
    module = experiments.get(name)
    raw = OmegaConf.to_container(OmegaConf.load(cfglib.EXPERIMENTS_DIR / name / "config.yaml"))
    assert raw.pop("defaults")[:2] == [cfglib.SCHEMA_NODE, "_self_"]
    raw.pop("hydra")
    default = OmegaConf.to_container(OmegaConf.structured(module.Config))
    changed = _changed(raw, default)
    assert None not in changed.values(), f"keys not in the schema: {changed}"
    assert set(raw) <= set(default)
    assert schema_keys(module.Config()) >= yaml_keys(raw)
    # every key it sets differs from the schema's default, except the experiment's name
    assert yaml_keys(raw) - set(changed) <= {"experiment"}, yaml_keys(raw) - set(changed)


@pytest.mark.parametrize("name", experiments.names())
def test_every_preset_composes_and_names_its_experiment(name):
    module = experiments.get(name)
    folder = cfglib.EXPERIMENTS_DIR / name
    presets = sorted(p.stem for p in (folder / "preset").glob("*.yaml"))
    assert presets == sorted(module.presets)
    for preset in presets:
        cfg = cfglib.structured(module.Config, cfglib.compose(folder, [f"preset={preset}"], module.Config))
        assert cfg.experiment == name and cfg.preset == preset


@pytest.mark.parametrize("name", experiments.names())
def test_every_key_is_documented_in_the_schema(name):
    """`pnn-jax show` takes each key's documentation from the schema: none may be missing."""
    undocumented = [key for key, doc in docs.keys(experiments.get(name).Config) if not doc]
    assert not undocumented, f"{name}: no docstring in the schema for {undocumented}"


@pytest.mark.parametrize("name", experiments.names())
def test_show_prints_the_resolved_config_with_each_keys_documentation(name, capsys):
    module = experiments.get(name)
    preset = sorted(module.presets)[-1]
    # 2 where the preset's data files are not on this machine: the config is printed before the check
    assert cli.main(["show", f"experiment={name}", f"preset={preset}", "seed=7"]) in (0, 2)
    out = capsys.readouterr().out
    composed = cfglib.compose(cfglib.EXPERIMENTS_DIR / name, [f"preset={preset}", "seed=7"], module.Config)
    cfg = cfglib.structured(module.Config, composed)
    # the printed text is YAML whose values are the resolved config's (comments aside)
    assert yaml.safe_load(out) == dataclasses.asdict(cfg)
    assert out.startswith(f"# {name}, preset {preset}: {module.summary}")
    # every leaf line carries its key's documentation
    documented = dict(docs.keys(module.Config))
    for key, doc in documented.items():
        if key not in ("experiment", "preset", "out_dir"):
            assert f"# {doc}" in out, (key, doc)


def test_docs_one_line_takes_the_first_sentence():
    assert docs.one_line("Runs per pair: seeds seed .. seed+seeds-1 (streams). More text.") == (
        "Runs per pair: seeds seed .. seed+seeds-1 (streams)"
    )
    assert docs.one_line("A\n    wrapped   line") == "A wrapped line"
    assert docs.one_line("x" * 200).endswith("...") and len(docs.one_line("x" * 200)) == 110


def test_show_rejects_bad_input_in_one_line(capsys):
    assert cli.main(["show"]) == 2
    assert cli.main(["show", "experiment=pnn_digits", "train.lrr=1"]) == 2
    assert cli.main(["show", "experiment=pnn_digits", "train.lr=-1"]) == 2
    assert cli.main(["show", "experiment=pnn_digits", "preset=smoke"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and "experiment=<name> is required" in err[0]
    assert "unknown config key 'train.lrr'" in err[1] and "train.lr=-1" in err[2]


def test_config_files_written_before_a_key_was_renamed_still_load(tmp_path, capsys):
    """A run directory's config.yaml from before the renames (PathNet RL's evolution section and
    model.num_modules / max_active, supervised PathNet's optim.reset) loads with the new names, a
    line on stderr for each; ``mutation_prob: 0`` meant the default and becomes null."""
    old = tmp_path / "config.yaml"
    old.write_text(
        "experiment: pathnet_atari\n"
        "evolution: {population: 4, mutation_prob: 0.0, reset: fresh}\n"
        "model: {num_modules: 10, max_active: 4}\n"
    )
    cfg = cfglib.load(experiments.get("pathnet_atari").Config, [old])
    assert (cfg.search.population, cfg.search.mutation_prob, cfg.search.reset) == (4, None, "fresh")
    assert (cfg.model.modules, cfg.model.active) == (10, 4)
    assert "key 'evolution' is now 'search'" in capsys.readouterr().err
    old.write_text("experiment: thesis_first_path\nsearch: {population: 8}\noptim: {reset: fresh, lr: 0.1}\n")
    cfg = cfglib.load(experiments.get("thesis_first_path").Config, [old])
    assert (cfg.search.population, cfg.search.reset, cfg.optim.lr) == (8, "fresh", 0.1)
    for name in experiments.names():  # no schema uses an old name again
        keys = [k for k, _ in docs.keys(experiments.get(name).Config)]
        for old in cfglib.RENAMED:
            assert not any(k == old or k.startswith(old + ".") for k in keys), (name, old)
