"""pathnet_lunarlander_curriculum: the thesis's proposed LunarLander curriculum (docs/papers.md 3.2),
never run in the thesis.

Sub-tasks of rising difficulty on envpool's LunarLander (:mod:`pnn_jax.envs.lunar_curriculum`):
``stabilise`` (stay slow and upright), ``approach`` (fly slowly to the pad), ``land`` (the
environment's own reward). A path is searched per sub-task by a PathNet population; after each,
its path is locked and the rest re-initialised. Reported: module reuse of each sub-task's path
with the earlier locked paths against a random-selection baseline, and the training saved on the
full task (``land``) against learning it from scratch, with and without the curriculum's own
steps. The protocol is :mod:`pnn_jax.experiments.pathnet_rl`. No published numbers exist.
"""

from pnn_jax.experiments.pathnet_rl import PathNetRL
from pnn_jax.experiments.runner import Experiment

experiment = Experiment(
    name="pathnet_lunarlander_curriculum",
    protocol=PathNetRL(),
    summary="PathNet LunarLander curriculum (stabilise -> approach -> land): reuse per sub-task, "
    "training saved",
    presets={
        "smoke": "~30 s (structure only)",
        "quick": "~12 min on 2 CPU cores (2 seeds; every sub-task learns; results in docs/results.md)",
        "paper": "5 seeds, 64 paths, 3M steps per sub-task (GPU)",
    },
)
