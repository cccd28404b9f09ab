"""pathnet_atari: PathNet transfer between Atari games with speedup ratios (docs/papers.md 2.3-2.4).

The paper's settings: L/M/N = 4/10/4, conv modules of 8 kernels (8x8/4, 4x4/2, 3x3/1) and a
linear layer of 50 units per module, per-task policy and value heads, 64 A3C workers evolved in
parallel (compare with B others). Source then target; after the source the best path is locked,
the rest re-initialised (optionally the locked path stays active in the forward pass). Speedup =
steps to criterion from scratch / with transfer, also for fine-tuning. Games differ in their
action sets, so every task uses the full 18-action space. The protocol is
:mod:`pnn_jax.experiments.pathnet_rl`; published numbers in ``experiments/pathnet_atari/paper.yaml``.
"""

from pnn_jax.experiments.pathnet_rl import PathNetRL
from pnn_jax.experiments.runner import Experiment

experiment = Experiment(
    name="pathnet_atari",
    protocol=PathNetRL(),
    summary="PathNet paper: Atari game-to-game transfer, speedup vs scratch and fine-tuning",
    presets={
        "smoke": "~1 min (structure only)",
        "quick": "~30 min on 2 CPU cores (one pair, short: no learning yet)",
        "paper": "64 paths, 10M steps per game over several pairs: GPU days (not run)",
    },
)
