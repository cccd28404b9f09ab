"""The experiments ``pnn-jax`` can run, by name, found without a registry to edit.

An experiment is a folder ``experiments/<name>/`` (``config.yaml``, a Hydra primary config; the group
``preset/<preset>.yaml``; ``paper.yaml``, the published numbers) and a module
``pnn_jax.experiments.<name>`` with ``NAME``, ``SUMMARY`` (what it reproduces), ``PRESETS``
(``{preset: expected time}``), a config dataclass ``Config``, ``validate(cfg)`` and
``run(cfg, run_dir, resume=False)``. :func:`names` lists the folders that have both.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from pnn_jax.config import EXPERIMENTS_DIR, ConfigError

MAIN = "thesis_first_path"
"""The main job (``make run``), listed first."""


def names() -> list[str]:
    """Every experiment: the main job, then the rest by name."""
    found = sorted(
        d.name
        for d in EXPERIMENTS_DIR.iterdir()
        if (d / "config.yaml").is_file() and importlib.util.find_spec(f"{__name__}.{d.name}") is not None
    )
    return sorted(found, key=lambda n: n != MAIN)


def get(name: str) -> ModuleType:
    """The module of experiment ``name``; a one-line error naming the known ones if there is none."""
    known = names()
    if name not in known:
        raise ConfigError(f"experiment={name!r} is unknown; choose one of {', '.join(known)} (pnn-jax list)")
    return importlib.import_module(f"{__name__}.{name}")
