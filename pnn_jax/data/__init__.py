"""Supervised tasks. Embedded default: scikit-learn's digits (shipped with scikit-learn); MNIST from
IDX files in ``data.root``."""

from pnn_jax.data.digits import load_digits
from pnn_jax.data.mnist import load_mnist
from pnn_jax.data.tasks import Task, class_task

__all__ = ["Task", "class_task", "load_digits", "load_mnist"]
