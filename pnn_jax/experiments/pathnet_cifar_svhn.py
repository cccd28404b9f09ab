"""pathnet_cifar_svhn: the PathNet paper's CIFAR-10 / cropped SVHN transfer, held-out accuracy after
a fixed generation budget against scratch (docs/papers.md 2.3, 2.4); the protocol is
:mod:`pnn_jax.experiments.pathnet_supervised.cifar_svhn`."""

from pnn_jax.experiments.pathnet_supervised.cifar_svhn import CifarSvhn
from pnn_jax.experiments.runner import Experiment

experiment = Experiment(
    name="pathnet_cifar_svhn",
    protocol=CifarSvhn(),
    summary="PathNet paper: CIFAR-10 <-> cropped SVHN accuracy after a fixed generation budget, vs scratch "
    "(2.4)",
    presets={
        "smoke": "~20 s (generated files)",
        "quick": "not measured (needs the real files)",
        "paper": "hours (500 generations per task)",
    },
)
