"""Several hosts, one population (across hosts, ``jax.distributed.initialize``).

Every process runs the same program on its own devices and steps its own envs; the population
mesh (:func:`pnn_jax.train.population.global_mesh`) spans all processes' devices, and gradients
of shared parameters are summed over it. On CPU the collectives are gloo's
(``jax_cpu_collectives_implementation``); GPUs use NCCL.

Settings come from the ``distributed`` config section, else from the usual environment
variables ``JAX_COORDINATOR_ADDRESS`` (``host:port`` of process 0), ``JAX_NUM_PROCESSES`` and
``JAX_PROCESS_ID``; with neither, the run is a single process (or, with
``auto=True``, JAX's cluster auto-detection: SLURM, Open MPI, Cloud TPU).
"""

from __future__ import annotations

import dataclasses
import os

import jax


@dataclasses.dataclass
class DistributedConfig:
    """How this process joins a multi-host run (empty / 0 / -1: from the environment)."""

    coordinator_address: str = ""
    """host:port of process 0's coordinator, e.g. 10.0.0.1:1234."""
    num_processes: int = 0
    process_id: int = -1
    cpu_collectives: str = "gloo"
    """CPU cross-process collectives: gloo (or mpi where jax was built with it)."""
    auto: bool = False
    """Let JAX detect the cluster (SLURM, Open MPI, TPU) when nothing is set."""


def resolve(cfg: DistributedConfig) -> DistributedConfig:
    """``cfg`` with unset fields filled from the environment, validated (one-line errors)."""
    address = cfg.coordinator_address or os.environ.get("JAX_COORDINATOR_ADDRESS", "")
    count = cfg.num_processes or int(os.environ.get("JAX_NUM_PROCESSES", "0") or 0)
    pid = cfg.process_id if cfg.process_id >= 0 else int(os.environ.get("JAX_PROCESS_ID", "-1") or -1)
    out = dataclasses.replace(cfg, coordinator_address=address, num_processes=count, process_id=pid)
    if count > 1:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(
                f"distributed.coordinator_address must be host:port (e.g. 127.0.0.1:12345), got {address!r}"
            )
        if not 0 <= pid < count:
            raise ValueError(f"distributed.process_id must be in 0..{count - 1}, got {pid}")
    if cfg.cpu_collectives not in ("gloo", "mpi"):
        raise ValueError(f"distributed.cpu_collectives must be gloo or mpi, got {cfg.cpu_collectives!r}")
    return out


def initialize(cfg: DistributedConfig | None = None) -> bool:
    """Join the multi-host run described by ``cfg`` (and the environment). Call before anything
    else touches JAX. Returns whether this is a multi-process run."""
    cfg = resolve(cfg or DistributedConfig())
    if cfg.num_processes <= 1 and not cfg.auto:
        return False
    jax.config.update("jax_cpu_collectives_implementation", cfg.cpu_collectives)
    if cfg.num_processes > 1:
        jax.distributed.initialize(cfg.coordinator_address, cfg.num_processes, cfg.process_id)
    else:
        jax.distributed.initialize()
    return jax.process_count() > 1
