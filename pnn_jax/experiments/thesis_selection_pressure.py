"""thesis_selection_pressure: the thesis's proposed second study, selection pressure over a task
curriculum (docs/papers.md 3.2, our extension); the protocol is
:mod:`pnn_jax.experiments.pathnet_supervised.selection_pressure`."""

from pnn_jax.experiments.pathnet_supervised.selection_pressure import SelectionPressure
from pnn_jax.experiments.runner import Experiment

experiment = Experiment(
    name="thesis_selection_pressure",
    protocol=SelectionPressure(),
    summary="PathNet thesis follow-up: selection pressure (tournament size, replacement schemes) "
    "over a task curriculum (3.2)",
    presets={"smoke": "~20 s", "quick": "~1-2 min", "paper": "hours (six tasks incl. SVHN, k up to 64)"},
)
