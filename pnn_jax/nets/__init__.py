"""Pure-functional building blocks: columns, laterals, progressive nets."""

from pnn_jax.nets.columns import ColumnSpec, Conv, Dense, atari_column, mlp_column
from pnn_jax.nets.progressive import ProgressiveNet

__all__ = ["ColumnSpec", "Conv", "Dense", "ProgressiveNet", "atari_column", "mlp_column"]
