"""Supervised tasks. Embedded default: scikit-learn's digits (shipped with scikit-learn); MNIST
(IDX), CIFAR-10 (binary version) and cropped SVHN (.mat) from files in a data root."""

from pnn_jax.data.cifar import load_cifar10
from pnn_jax.data.digits import load_digits
from pnn_jax.data.mnist import load_mnist
from pnn_jax.data.svhn import load_svhn
from pnn_jax.data.tasks import Task, class_task

__all__ = ["Task", "class_task", "load_cifar10", "load_digits", "load_mnist", "load_svhn"]
