"""pathnet_binary_mnist: the PathNet paper's binary-MNIST transfer, PathNet vs scratch vs
fine-tuning, generations to threshold and speedup (docs/papers.md 2.4); the protocol is
:mod:`pnn_jax.experiments.pathnet_supervised.binary_mnist`."""

from pnn_jax.experiments.pathnet_supervised.binary_mnist import BinaryMnist
from pnn_jax.experiments.runner import Experiment

experiment = Experiment(
    name="pathnet_binary_mnist",
    protocol=BinaryMnist(),
    summary="PathNet paper: binary MNIST generations to threshold, PathNet vs scratch vs fine-tuning, "
    "speedup (2.4)",
    presets={
        "smoke": "~20 s",
        "quick": "~2 min",
        "paper": "author-checked: noise 0.5, population 20, mean last layer, clamp (3 pairs x 32, MNIST)",
        "paper_text": "the paper's text: noise 0.5, population 64, sums, wrap (3 pairs x 32, MNIST)",
    },
)
