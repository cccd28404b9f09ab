"""The Street View House Numbers, cropped-digits format (``train_32x32.mat``, ``test_32x32.mat``).

MATLAB files read with scipy: ``X`` is ``[32, 32, 3, n]`` uint8, ``y`` is ``[n, 1]`` with labels
1..10, where 10 stands for the digit 0. We return labels 0..9 (the digit itself).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pnn_jax.config import ConfigError

FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat", "extra": "extra_32x32.mat"}
SOURCE = "the cropped-digits SVHN files (Format 2, ufldl.stanford.edu/housenumbers)"


def load_svhn(root: str | Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """``(x [n, 32, 32, 3] float32 in [0, 1], y [n] int32 digits 0..9)`` of ``split``."""
    if split not in FILES:
        raise ConfigError(f"split={split!r} is not allowed: choose one of {', '.join(FILES)}")
    path = Path(root) / FILES[split]
    if not path.is_file():
        raise ConfigError(f"SVHN {split} file not found: expected {str(path)!r}, from {SOURCE}")
    try:
        # scipy (its BLAS threads) loads when a file is read: see pnn_jax/analysis/speedup.py
        from scipy.io import loadmat  # noqa: PLC0415

        mat = loadmat(path)
    except Exception as e:  # scipy raises several types for a damaged file
        raise ConfigError(f"{path} is not a readable MATLAB file ({type(e).__name__}: {e})") from None
    if "X" not in mat or "y" not in mat:
        raise ConfigError(
            f"{path} has no X and y arrays (found {sorted(k for k in mat if not k.startswith('__'))})"
        )
    x, y = mat["X"], mat["y"].reshape(-1).astype(np.int32)
    if x.shape[:3] != (32, 32, 3) or x.shape[3] != len(y):
        raise ConfigError(f"{path}: X has shape {x.shape}, expected [32, 32, 3, {len(y)}]")
    if y.min() < 1 or y.max() > 10:
        raise ConfigError(f"{path}: labels must be 1..10 (10 = digit 0), found {y.min()}..{y.max()}")
    return (np.transpose(x, (3, 0, 1, 2)) / 255.0).astype(np.float32), y % 10
