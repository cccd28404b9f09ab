"""Sweeps: ``pnn-jax run -m experiment=<name> seed=0,1,2 train.lr=1e-3,5e-4`` through Hydra multirun.

Every combination is composed and validated first (one-line error, exit code 2, nothing launched);
then Hydra's launcher runs the jobs: by default ``joblib`` (parallel local processes, as many at a
time as there are cores); ``hydra/launcher=submitit_slurm`` submits them to SLURM through
hydra-submitit-launcher (``submitit_local`` runs the same path on this machine). Each job is a
normal run directory ``<sweep dir>/<job number>/``; the sweep directory also holds Hydra's
``multirun.yaml`` (the sweep's config) and, at the end, the report (:mod:`pnn_jax.report`).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException

from pnn_jax import config as cfglib
from pnn_jax import experiments
from pnn_jax.config import ConfigError


def expand(overrides: Sequence[str]) -> list[list[str]]:
    """The jobs of a sweep: the cartesian product of the comma-separated values, in Hydra's order."""
    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as e:
        raise ConfigError(f"bad override: {str(e).splitlines()[0]}") from None
    choices = []
    for o in parsed:
        if o.is_sweep_override():
            choices.append([f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()])
        else:
            choices.append([o.input_line])
    return [list(job) for job in itertools.product(*choices)]


def _is_hydra_key(item: str) -> bool:
    return item.startswith(("hydra.", "hydra/", "+hydra", "~hydra"))


def validate_all(experiment, overrides: Sequence[str]) -> list[list[str]]:
    """Compose and validate every job of the sweep; returns the jobs' overrides."""
    task_overrides = [o for o in overrides if not _is_hydra_key(o)]
    jobs = expand(task_overrides)
    for job in jobs:
        experiment.validate(experiment.config(job))
    return jobs


def launch(experiment, overrides: Sequence[str], out_dir: str) -> Path:
    """Run the sweep with Hydra multirun; returns the sweep directory.

    The sweep directory is ``<out_dir>/<experiment>/sweeps/<date>_<time>_<id>/`` unless the
    overrides set ``hydra.sweep.dir``. Jobs may run in other processes (joblib, submitit), so the
    job function is a module-level function that needs only picklable arguments.
    """
    given = [o.split("=", 1)[1] for o in overrides if o.startswith("hydra.sweep.dir=")]
    if given:
        sweep_dir = Path(given[0])
    else:
        stamp = dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
        sweep_dir = Path(out_dir) / experiment.name / "sweeps" / f"{stamp}_{uuid.uuid4().hex[:6]}"
        overrides = [*overrides, f"hydra.sweep.dir={sweep_dir.resolve()}"]
    saved = sys.argv
    sys.argv = ["pnn-jax", "--multirun", *overrides]
    try:
        cfglib.register_schema(experiment.Config)
        folder = experiment.folder.resolve()
        app = hydra.main(config_path=str(folder), config_name="config", version_base=None)
        app(functools.partial(_hydra_job, experiment.name))()
    except SystemExit as e:  # hydra.main exits after printing its own error
        if e.code not in (0, None):
            raise RuntimeError("the sweep failed; see the messages above") from None
    finally:
        sys.argv = saved
    return sweep_dir


def _hydra_job(name: str, cfg) -> dict:
    """Hydra's task function for one job (runs in the launcher's worker process)."""
    hc = HydraConfig.get()
    return run_job(experiments.get(name), list(hc.overrides.task), Path(hc.runtime.output_dir))


def run_job(experiment, job_overrides: Sequence[str], run_dir: Path) -> dict:
    """One job of a sweep: compose its config and run it in ``run_dir`` (Hydra's job folder)."""
    cfg = experiment.config([o for o in job_overrides if not _is_hydra_key(o)])
    experiment.validate(cfg)
    summary = experiment.run(cfg, run_dir, quiet=True)
    return {"run_dir": str(run_dir), **{k: v for k, v in summary.items() if k.endswith("_sha256")}}
