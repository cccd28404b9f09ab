"""First source columns trained once per run and reused by every unit that needs them.

Progressive nets and baselines 2 and 3 all begin by training column 0 on a source task. Within a
run that stage is the same computation for every method and target (the same initial weights, since
a column's own weights depend only on the seed's key and its index; the same stage keys; the same
env seeds and observation transform), so a sequential run does it once: the first unit that needs
``(source task, seed)`` saves the trained column and its stage record under ``sources/`` in the run
directory, later units load them (``share_sources``, off by default). The population mode does the same
in its first phase. Only column 0 is shared: a later source column depends on the columns before it.

A unit that trains the source itself then runs its target stage on the same envpool env object
(same env id), continuing that env's random stream; a unit that loads it starts the env fresh. The
target stages therefore agree in distribution, not bit for bit (the source stage does, bit for bit:
``tests/experiments/test_classic_transfer.py``).
"""

from __future__ import annotations

import re
from pathlib import Path

from pnn_jax.checkpoint import Checkpointer


def _directory(run_dir: Path, task: str, seed: int) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", task)
    return Path(run_dir) / "sources" / f"{safe}__seed{seed}"


def load(run_dir: Path, task: str, seed: int, template: dict):
    """``(weights, stage record)`` of column 0 trained on ``task`` with ``seed``, or None if no
    unit has finished it. ``template``: weights of the same structure
    (:func:`pnn_jax.train.transfer.column_weights` of the loading unit's parameters)."""
    directory = _directory(run_dir, task, seed)
    if not directory.exists():
        return None
    ckpt = Checkpointer(directory, max_to_keep=1)
    try:
        if not ckpt.steps():  # orbax lists finalised saves only: a partial save is never loaded
            return None
        _, weights, record = ckpt.restore_latest(lambda meta: template)
        return weights, record
    finally:
        ckpt.close()


def save(run_dir: Path, task: str, seed: int, weights: dict, record: dict) -> None:
    """Store column 0's ``weights`` (:func:`pnn_jax.train.transfer.column_weights`) and its stage
    ``record`` (the run's orbax checkpointing, one checkpoint per source)."""
    ckpt = Checkpointer(_directory(run_dir, task, seed), max_to_keep=1)
    ckpt.save(0, weights, record)
    ckpt.close()
