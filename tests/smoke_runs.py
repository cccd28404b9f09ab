"""Every experiment's smoke preset, run once per test session through the CLI and shared by the
tests that read it (the registry-wide checks in ``test_experiments.py`` and each experiment's own).

A run is a subprocess in its own session, its working directory a temporary folder and its streams
in a file: envpool's ViZDoom starts one Doom process per env, which inherit the parent's streams
(in a pytest-xdist worker, the channel to the controller) and write ``_vizdoom.ini`` into the
working directory; killing the session afterwards leaves no orphan holding a pipe. Tests of one
experiment share an ``xdist_group`` (:func:`group`), so one worker runs it once.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fake_data import write_cifar, write_svhn

from pnn_jax import config as cfglib
from pnn_jax import experiments

TIMEOUT_S = 400


def group(name: str):
    """The mark that puts every test of experiment ``name``'s smoke run on one xdist worker."""
    return pytest.mark.xdist_group(f"smoke-{name}")


def extra_overrides(name: str, root: Path) -> list[str]:
    """What a smoke run needs besides ``preset=smoke``: generated CIFAR/SVHN files for the one
    experiment whose data is not on this machine."""
    if name == "pathnet_cifar_svhn":
        cifar, svhn = write_cifar(root / "cifar", per_class=4), write_svhn(root / "svhn", per_class=20)
        return [f"data.cifar_root={cifar}", f"data.svhn_root={svhn}"]
    return []


def run_smoke(name: str, root: Path) -> Path:
    """``pnn-jax run experiment=<name> preset=smoke`` under ``root``; returns the run directory."""
    command = [
        sys.executable,
        "-m",
        "pnn_jax.cli",
        "run",
        f"experiment={name}",
        "preset=smoke",
        f"out_dir={root / 'runs'}",
        "quiet=true",
        *extra_overrides(name, root),
    ]
    work = root / "cwd"
    work.mkdir(parents=True, exist_ok=True)
    log = root / "stdout.log"
    with log.open("w") as stream:
        child = subprocess.Popen(
            command,
            cwd=work,
            stdin=subprocess.DEVNULL,
            stdout=stream,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code = child.wait(timeout=TIMEOUT_S)
        finally:
            with contextlib.suppress(ProcessLookupError):  # Doom processes, if any are left
                os.killpg(child.pid, signal.SIGKILL)
    assert code == 0, log.read_text()[-3000:]
    (run_dir,) = (root / "runs" / name).iterdir()
    return run_dir


def smoke_dir(name: str, smoke_run) -> tuple:
    """The session's smoke run of ``name`` (the ``smoke_run`` fixture): ``(experiment, cfg, run
    directory, summary)``."""
    experiment, run_dir = experiments.get(name), smoke_run(name)
    cfg = cfglib.load(experiment.Config, [run_dir / "config.yaml"])
    return experiment, cfg, run_dir, json.loads((run_dir / "summary.json").read_text())
