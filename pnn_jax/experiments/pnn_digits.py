"""pnn_digits: the PNN transfer protocol (progressive vs. baselines 1-4) on scikit-learn's digits,
0-4 -> 5-9 (docs/papers.md 1.3; no paper numbers); the protocol is
:mod:`pnn_jax.experiments.pnn_supervised`."""

from pnn_jax.experiments.pnn_supervised import PnnDigits
from pnn_jax.experiments.runner import Experiment

experiment = Experiment(
    name="pnn_digits",
    protocol=PnnDigits(),
    summary="PNN transfer protocol (progressive vs. baselines 1-4) on digits 0-4 -> 5-9 (no paper numbers)",
    presets={"smoke": "~15 s", "quick": "~20 s (default)", "paper": "~30 s"},
)
