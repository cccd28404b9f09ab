"""CIFAR-10, "binary version" (``cifar-10-batches-bin``), read from ``data.root`` without pickle.

Each file is a sequence of 3,073-byte records: one label byte (0-9), then the 32x32 image as
1,024 red, 1,024 green and 1,024 blue bytes (row-major). The five training files hold 10,000
records each, ``test_batch.bin`` another 10,000. We never unpickle the Python version: unpickling
a downloaded file can run arbitrary code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pnn_jax.config import ConfigError

FILES = {
    "train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
    "test": ("test_batch.bin",),
}
RECORD = 1 + 32 * 32 * 3
SOURCE = "the CIFAR-10 binary version (cifar-10-binary.tar.gz from www.cs.toronto.edu/~kriz/cifar.html)"


def read_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(images [n, 32, 32, 3] uint8 NHWC, labels [n] int32)`` of one binary batch file."""
    raw = np.fromfile(path, np.uint8)
    if raw.size == 0 or raw.size % RECORD:
        raise ConfigError(
            f"{path} is not a CIFAR-10 binary batch: {raw.size} bytes is not a multiple of {RECORD}"
        )
    rec = raw.reshape(-1, RECORD)
    labels = rec[:, 0].astype(np.int32)
    if labels.max() > 9:
        raise ConfigError(f"{path} is not a CIFAR-10 binary batch: label {labels.max()} > 9")
    images = rec[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, labels


def load_cifar10(root: str | Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """``(x [n, 32, 32, 3] float32 in [0, 1], y [n] int32)`` from the binary files of ``split``."""
    if split not in FILES:
        raise ConfigError(f"split={split!r} is not allowed: choose one of {', '.join(FILES)}")
    root = Path(root)
    missing = [n for n in FILES[split] if not (root / n).is_file()]
    if missing:
        raise ConfigError(
            f"CIFAR-10 {split} files not found in {str(root)!r}: expected {', '.join(FILES[split])} "
            f"(missing {', '.join(missing)}), from {SOURCE}"
        )
    parts = [read_batch(root / n) for n in FILES[split]]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    return (x / 255.0).astype(np.float32), y
