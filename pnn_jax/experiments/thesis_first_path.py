"""thesis_first_path: the PathNet thesis study, search + search vs pick + search on binary MNIST,
module reuse (docs/papers.md 3.1); the protocol is
:mod:`pnn_jax.experiments.pathnet_supervised.first_path`. The main job (``make run``)."""

from pnn_jax.experiments.pathnet_supervised.first_path import FirstPath
from pnn_jax.experiments.runner import Experiment

experiment = Experiment(
    name="thesis_first_path",
    protocol=FirstPath(),
    summary="PathNet thesis: search+search vs pick+search on binary MNIST {3,4} -> {1,2}, module reuse "
    "(thesis 3.1)",
    presets={
        "smoke": "~20 s",
        "quick": "~40 s digits, ~1.5 min MNIST (default; `make run`)",
        "paper": "hours (256 repetitions, MNIST)",
        "thesis": "the thesis's code's protocol (raw pixels, Glorot, sizes 1..N, refill; 40 repetitions, "
        "MNIST)",
    },
)
