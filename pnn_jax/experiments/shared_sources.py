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
``tests/test_classic_transfer.py``).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import jax
import numpy as np


def _stem(run_dir: Path, task: str, seed: int) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", task)
    return Path(run_dir) / "sources" / f"{safe}__seed{seed}"


def load(run_dir: Path, task: str, seed: int):
    """``(weights, stage record)`` of column 0 trained on ``task`` with ``seed``, or None."""
    stem = _stem(run_dir, task, seed)
    if not (stem.with_suffix(".json").exists() and stem.with_suffix(".npz").exists()):
        return None
    record = json.loads(stem.with_suffix(".json").read_text())
    with np.load(stem.with_suffix(".npz")) as data:
        leaves = [data[f"leaf_{i}"] for i in range(len(data.files))]
    treedef = jax.tree.structure(record.pop("structure_template"))
    return jax.tree.unflatten(treedef, leaves), record


def save(run_dir: Path, task: str, seed: int, weights: dict, record: dict) -> None:
    """Store column 0's ``weights`` (:func:`pnn_jax.train.transfer.column_weights`) and its stage
    ``record``; the record is written last, so a partial save is never loaded."""
    stem = _stem(run_dir, task, seed)
    stem.parent.mkdir(parents=True, exist_ok=True)
    leaves, treedef = jax.tree.flatten(weights)
    tmp = stem.with_name(stem.name + ".tmp.npz")
    np.savez(tmp, **{f"leaf_{i}": np.asarray(x) for i, x in enumerate(leaves)})
    os.replace(tmp, stem.with_suffix(".npz"))
    template = jax.tree.unflatten(treedef, [0] * len(leaves))
    tmp_json = stem.with_name(stem.name + ".tmp.json")
    tmp_json.write_text(json.dumps({**record, "structure_template": template}))
    os.replace(tmp_json, stem.with_suffix(".json"))
