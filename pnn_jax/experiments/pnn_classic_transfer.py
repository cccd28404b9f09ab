"""pnn_classic_transfer: progressive nets vs baselines 1-4 on a CPU-scale RL transfer (docs/papers.md 1.4).

Source and target are the same envpool environment (default CartPole-v1) seen through different
observation transforms (:mod:`pnn_jax.envs.transforms`; default: source ``identity``, target
``mirror`` = negated and reversed features). The protocol is :mod:`pnn_jax.experiments.rl_transfer`
(A2C or PPO inside compiled loops; transfer = target AUC / baseline 1's). It exists so that every
change to the RL stack is checked on real learning in minutes, not only on smoke runs. No
published numbers exist for this setting (no paper.yaml).
"""

from pnn_jax.experiments.rl_transfer import RLTransfer
from pnn_jax.experiments.runner import Experiment

experiment = Experiment(
    name="pnn_classic_transfer",
    protocol=RLTransfer(),
    summary="PNN transfer on CartPole with transformed observations: progressive vs baselines 1-4, "
    "transfer %",
    presets={
        "smoke": "~30 s",
        "quick": "~4 min (transfer, AFS and APS; docs/results.md)",
        "paper": "~25 min",
    },
)
