"""pnn_pong_soup: the PNN paper's Pong Soup (docs/papers.md 1.5, Table 1 and the Pong Soup matrix).

First columns on Pong, Noisy or H-flip; a second column on each of the eight variants
(Pong, Noisy, Black, White, Zoom, V-flip, H-flip, VH-flip); baselines 1-4 on the same pairs;
3-column runs as pairs with two sources. The protocol is :mod:`pnn_jax.experiments.rl_transfer`
with the paper's Atari column and A2C (t_max 5; public A2C's RMSProp, eps 1e-5 outside the root,
and orthogonal initialisation: see docs/rl_learner.md). The published numbers are in
``experiments/pnn_pong_soup/paper.yaml``.
"""

from pnn_jax.experiments.rl_transfer import RLTransfer
from pnn_jax.experiments.runner import Experiment

experiment = Experiment(
    name="pnn_pong_soup",
    protocol=RLTransfer(),
    summary="PNN paper: Pong Soup transfer (sources Pong/Noisy/H-flip, 8 targets), progressive vs "
    "baselines 1-4",
    presets={
        "smoke": "~1 min (structure only)",
        "quick": "~1 h on 2 CPU cores (2 pairs, 200k agent steps per stage: no learning yet)",
        "pong": "~1-2 h on 2 CPU cores: one column on Pong, 5M agent steps of A2C (the learner check)",
        "cpu": "~2 h on 2 CPU cores: Pong -> H-flip, progressive vs baselines 1 and 3 (3M / 1M agent steps)",
        "paper": "4e7 agent steps per stage, 24 pairs x 5 methods: days on one GPU (not run)",
    },
)
