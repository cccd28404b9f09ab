"""The experiments ``pnn-jax`` can run, by name.

Each experiment is a module with ``NAME``, ``SUMMARY`` (what it reproduces), ``PRESETS``
(``{preset: expected time}``), a config dataclass ``Config``, ``validate(cfg)`` and
``run(cfg, run_dir, resume=False)``. Its config files live in ``experiments/<NAME>/``:
``config.yaml`` (a Hydra primary config) and the group ``preset/<preset>.yaml``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

EXPERIMENTS = {
    "thesis_first_path": "pnn_jax.experiments.thesis_first_path",
    "pathnet_binary_mnist": "pnn_jax.experiments.pathnet_binary_mnist",
    "pathnet_cifar_svhn": "pnn_jax.experiments.pathnet_cifar_svhn",
    "thesis_selection_pressure": "pnn_jax.experiments.thesis_selection_pressure",
    "pnn_classic_transfer": "pnn_jax.experiments.pnn_classic_transfer",
    "pnn_pong_soup": "pnn_jax.experiments.pnn_pong_soup",
    "pnn_atari": "pnn_jax.experiments.pnn_atari",
    "pnn_digits": "pnn_jax.experiments.pnn_digits",
    "pnn_labyrinth_vizdoom": "pnn_jax.experiments.pnn_labyrinth_vizdoom",
    "pathnet_lunarlander_curriculum": "pnn_jax.experiments.pathnet_lunarlander_curriculum",
    "pathnet_atari": "pnn_jax.experiments.pathnet_atari",
}


def get(name: str) -> ModuleType:
    from pnn_jax.config import ConfigError

    if name not in EXPERIMENTS:
        raise ConfigError(
            f"experiment={name!r} is unknown; choose one of {', '.join(EXPERIMENTS)} (pnn-jax list)"
        )
    return importlib.import_module(EXPERIMENTS[name])
