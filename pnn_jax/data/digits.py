"""scikit-learn's 8x8 digits: 1,797 images of 10 classes, shipped inside scikit-learn (no download)."""

from __future__ import annotations

import numpy as np


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """Returns ``(x [1797, 64] float32 in [0, 1], y [1797] int32 in 0..9)``."""
    # scikit-learn (and with it scipy's BLAS threads) loads when data is asked for: see
    # pnn_jax/analysis/speedup.py
    from sklearn.datasets import load_digits as _load  # noqa: PLC0415

    data = _load()
    return (data.data / 16.0).astype(np.float32), data.target.astype(np.int32)
