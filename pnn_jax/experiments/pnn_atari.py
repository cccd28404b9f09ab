"""pnn_atari: the PNN paper's Atari transfer (docs/papers.md 1.5): sources Seaquest, River Raid, Pong;
12 targets; 2, 3 and 4 columns (multi-column order Seaquest, then River Raid, then Pong).

Games have different action sets, so every column uses the full 18-action space
(``env.full_action_space=true``). The protocol is :mod:`pnn_jax.experiments.rl_transfer`.
"""

from pnn_jax.experiments.rl_transfer import RLTransfer
from pnn_jax.experiments.runner import Experiment

experiment = Experiment(
    name="pnn_atari",
    protocol=RLTransfer(),
    summary="PNN paper: Atari transfer (Seaquest/River Raid/Pong -> 12 games, 2-4 columns) vs baselines 1-4",
    presets={
        "smoke": "~1 min (structure only)",
        "quick": "~1 h on 2 CPU cores (2 pairs, short stages: no learning yet)",
        "paper": "4e7 agent steps per stage over 36 pairs: weeks of GPU time (not run)",
    },
)
