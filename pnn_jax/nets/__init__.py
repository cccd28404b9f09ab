"""Pure-functional building blocks: columns, laterals, progressive nets, the PathNet module bank."""

from pnn_jax.nets.columns import ColumnSpec, Conv, Dense, atari_column, mlp_column, nature_cnn_column
from pnn_jax.nets.pathnet import PathNet, mlp_pathnet
from pnn_jax.nets.progressive import ProgressiveNet

__all__ = [
    "ColumnSpec",
    "Conv",
    "Dense",
    "PathNet",
    "ProgressiveNet",
    "atari_column",
    "mlp_column",
    "mlp_pathnet",
    "nature_cnn_column",
]
