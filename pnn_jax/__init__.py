"""pnn_jax: Progressive Neural Networks and PathNet in JAX.

The public API: columns and progressive nets (:mod:`pnn_jax.nets`), training with exact freezing
(:mod:`pnn_jax.train`), the paper's transfer setups (:mod:`pnn_jax.train.transfer`), checksums
(:mod:`pnn_jax.freezing`) and supervised data (:mod:`pnn_jax.data`).
"""

from pnn_jax import freezing, train
from pnn_jax.nets import ColumnSpec, Conv, Dense, ProgressiveNet, atari_column, mlp_column

__version__ = "0.1.0"

__all__ = [
    "ColumnSpec",
    "Conv",
    "Dense",
    "ProgressiveNet",
    "atari_column",
    "freezing",
    "mlp_column",
    "train",
]
