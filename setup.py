"""Build hook: the wheel carries the top-level ``experiments/`` folder (each experiment's Hydra
config, presets, ``paper.yaml`` and README) as ``pnn_jax/_experiments``, so an installed pnn_jax
runs every experiment without the source tree. Everything else is in ``pyproject.toml``.

setuptools' package data only reaches files inside a package; the configs stay at the top level,
where a researcher looks for them, and are copied into the package at build time.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithExperiments(build_py):
    def run(self):
        super().run()
        source = Path(__file__).resolve().parent / "experiments"
        target = Path(self.build_lib) / "pnn_jax" / "_experiments"
        shutil.copytree(source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))


setup(cmdclass={"build_py": BuildPyWithExperiments})
