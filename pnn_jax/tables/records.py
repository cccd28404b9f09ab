"""The schema of each protocol's run records (one line of ``runs.jsonl`` per run and condition).

A run writes its records' schema name and version into ``summary.json`` (``"records"``); the
tables read a run directory through that schema (:meth:`RecordSchema.read`, :data:`SCHEMAS`): a
directory written under another version, or records that lack a field, fail with one line naming
the schema, the versions and the field. Directories written before versions were recorded are read
as they are (they hold version 1 of their protocol's schema).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pnn_jax.config import ConfigError


@dataclasses.dataclass(frozen=True)
class RecordSchema:
    """``name`` and ``version`` of one record type and its ``fields`` (``{key: one-line doc}``),
    the keys every record holds. Raise ``version`` whenever a field changes meaning or goes."""

    name: str
    version: int
    fields: dict[str, str]

    def stamp(self) -> dict:
        """What ``summary.json`` stores under ``"records"``."""
        return {"schema": self.name, "version": self.version}

    def read(self, run_dir: Path, stamp: dict, records: list[dict]) -> list[dict]:
        """``records`` of the run in ``run_dir``, written under ``stamp``, checked against this schema."""
        if stamp.get("schema") != self.name or int(stamp.get("version", 0)) != self.version:
            raise ConfigError(
                f"{run_dir}: its records are {stamp.get('schema')} version {stamp.get('version')}, this "
                f"pnn_jax reads {self.name} version {self.version}; rerun it or use the pnn_jax it ran with"
            )
        for i, r in enumerate(records):
            missing = [k for k in self.fields if k not in r]
            if missing:
                raise ConfigError(
                    f"{run_dir}: record {i} of runs.jsonl lacks {', '.join(missing)} "
                    f"({self.name} version {self.version} needs them)"
                )
        return records


PNN_RL = RecordSchema(
    "pnn_rl_transfer",
    1,
    {
        "pair": "index of the pair in the config's pairs",
        "pair_label": "sources -> target, as written in the config",
        "sources": "the pair's source tasks (<env id>[:<transform>])",
        "target": "the pair's target task",
        "method": "progressive, baseline1..4 (pnn_jax.train.transfer)",
        "seed": "the seed of this (pair, method) run",
        "columns": "columns of the method's net",
        "stages": "per stage: task, env task, column, scope, learning curve, agent steps",
        "target_curve": "the target stage's learning curve: mean raw return per window of agent steps",
        "auc": "area under the target curve (docs/papers.md 1.4), after score_offset",
        "final": "the mean of the target curve's last points",
        "eval_return": "greedy evaluation return of the trained target column",
    },
)

PATHNET_RL = RecordSchema(
    "pathnet_rl_transfer",
    1,
    {
        "sequence": "index of the task sequence in the config",
        "sequence_label": "the sequence as written (task -> task ...)",
        "method": "pathnet, scratch or finetune",
        "seed": "the seed of this run",
        "stages": "per task: agent steps to criterion, curve, winner path, reuse",
        "target_steps": "agent steps the target task needed to reach the criterion",
        "target_reached": "whether the target task reached the criterion",
        "target_auc": "area under the target task's learning curve",
        "target_final": "the target curve's last points' mean return",
        "earlier_steps": "agent steps spent on the tasks before the target",
    },
)

BINARY_MNIST = RecordSchema(
    "pathnet_binary_mnist",
    1,
    {
        "pair": "index of the (task A, task B) pair",
        "run": "repetition within the pair (methods of a repetition share task B's streams)",
        "method": "pathnet, scratch or finetune",
        "generations_b": "generations to the threshold on task B (the limit if not reached)",
        "solved_b": "whether task B reached the threshold",
        "test_acc_b": "held-out accuracy of the task-B winner",
        "path_b": "the task-B winner's path [L, N]",
    },
)

CIFAR_SVHN = RecordSchema(
    "pathnet_cifar_svhn",
    1,
    {
        "direction": "source->target",
        "method": "scratch or transfer",
        "run": "repetition",
        "target": "the target data set",
        "test_acc": "held-out accuracy on the target after the generation budget",
        "train_fitness": "the winner's training fitness at the end",
    },
)

THESIS_FIRST_PATH = RecordSchema(
    "thesis_first_path",
    1,
    {
        "run": "repetition (S+S and P+S of a repetition share the bank and task 2's stream)",
        "condition": "S+S or P+S",
        "path1": "path of task 1 [L, N] (S+S: the search winner; P+S: the picked path)",
        "path2": "the task-2 search winner [L, N]",
        "generations1": "S+S's generations on task 1 (P+S trains its path as many sessions)",
        "generations2": "generations to the threshold on task 2",
        "solved2": "whether task 2 reached the threshold",
        "test_acc1": "held-out accuracy of path 1 on task 1",
        "test_acc2": "held-out accuracy of path 2 on task 2",
        "training1": "mean training counter of path 1's modules (sessions)",
        "training2": "mean training counter of path 2's modules (sessions)",
        "reuse": "modules of path 2 in path 1 (same layer)",
        "reuse_per_layer": "reuse per layer [L]",
        "random_reuse_counts": "histogram of the random-selection baseline's reuse",
        "random_reuse_expected": "the baseline's exact expected reuse",
        "random_reuse_layer_mean": "the baseline's mean reuse per layer [L]",
        "curve1": "fitness per generation (P+S: per training session) on task 1",
        "curve2": "fitness per generation on task 2",
    },
)

SELECTION_PRESSURE = RecordSchema(
    "thesis_selection_pressure",
    1,
    {
        "scheme": "the selection scheme's name",
        "task": "index of the task in the curriculum",
        "task_label": "the task's classes",
        "run": "repetition",
        "generations": "generations to the threshold",
        "sessions": "training sessions (generations x tournament members trained)",
        "test_acc": "held-out accuracy of the winner",
        "reuse": "share of the winner's modules locked by earlier tasks",
        "capacity_used": "share of L x M modules locked after the task",
        "diversity_curve": "population diversity (distinct modules) per generation",
        "reuse_curve": "share of the best path's modules reused, per generation",
    },
)

PNN_DIGITS = RecordSchema(
    "pnn_digits",
    1,
    {
        "method": "progressive or baseline1..4",
        "member": "population member (a seed, learning rate and alpha)",
        "seed": "the member's seed",
        "lr": "the member's learning rate",
        "alpha_init": "the member's initial adapter scale",
        "columns": "columns of the method's net",
        "a_before": "task-A accuracy before learning B (None: the method never learns A)",
        "a_after": "task-A accuracy of the column that answers A, after learning B",
        "a_column_unchanged": "whether that column's SHA-256 is the same before and after B",
        "b": "task-B accuracy",
        "param_count": "parameters of the method's net",
    },
)

SCHEMAS: dict[str, RecordSchema] = {
    s.name: s
    for s in (PNN_RL, PATHNET_RL, BINARY_MNIST, CIFAR_SVHN, THESIS_FIRST_PATH, SELECTION_PRESSURE, PNN_DIGITS)
}
"""Every record schema by name: a run directory names its own (``summary.json``, ``"records"``)."""
