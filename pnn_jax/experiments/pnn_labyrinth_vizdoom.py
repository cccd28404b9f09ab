"""pnn_labyrinth_vizdoom: a progressive sequence over envpool's ViZDoom scenarios, a **substitute**
for the PNN paper's DeepMind Lab Labyrinth domain (docs/papers.md 1.5), which is not available here.

Labyrinth's tasks were first-person 3D navigation with items to collect or avoid. The closest
scenarios envpool ships share one observation (RGB, 4 stacked frames at 84x84 = 12 channels) and
six combined button actions: ``HealthGathering`` (collect medkits on an acid floor),
``HealthGatheringSupreme`` (a maze, medkits to collect and poison vials to avoid) and ``Basic``
(aim at a monster in a room). Every number this experiment reports is a ViZDoom number and must
not be read as a Labyrinth one. The protocol is :mod:`pnn_jax.experiments.rl_transfer` with the
paper's Atari column (docs/papers.md 1.2) on the 12-channel frames.
"""

from pnn_jax.experiments.rl_transfer import RLTransfer
from pnn_jax.experiments.runner import Experiment

experiment = Experiment(
    name="pnn_labyrinth_vizdoom",
    protocol=RLTransfer(),
    summary="PNN on ViZDoom scenarios (SUBSTITUTE for DeepMind Lab Labyrinth): progressive vs baselines 1-4",
    presets={
        "smoke": "~1 min (structure only)",
        "quick": "~1 h on 2 CPU cores (3 pairs, 100k agent steps per stage: no learning yet)",
        "paper": "the paper's Labyrinth budget on the substitute scenarios: GPU days (not run)",
    },
)
