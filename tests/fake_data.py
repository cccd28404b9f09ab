"""Small files in the real formats (CIFAR-10 binary batches, SVHN .mat, MNIST IDX), made by tests.

Each class gets its own mean image plus noise, so the tasks are learnable.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
from scipy.io import savemat


def _images(labels: np.ndarray, shape: tuple[int, ...], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    means = rng.integers(0, 256, (10, *shape))
    noise = rng.integers(-40, 41, (len(labels), *shape))
    return np.clip(means[labels] + noise, 0, 255).astype(np.uint8)


def write_cifar(root: Path, per_class: int = 6, seed: int = 0) -> Path:
    """``data_batch_1..5.bin`` and ``test_batch.bin``: records of 1 label byte + 3,072 CHW bytes."""
    root.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    for j, name in enumerate(names):
        labels = np.repeat(np.arange(10, dtype=np.uint8), per_class)
        images = _images(labels, (3, 32, 32), seed + j)  # CHW, as the binary version stores them
        records = np.concatenate([labels[:, None], images.reshape(len(labels), -1)], axis=1)
        (root / name).write_bytes(records.astype(np.uint8).tobytes())
    return root


def write_svhn(root: Path, per_class: int = 20, seed: int = 0) -> Path:
    """``train_32x32.mat`` and ``test_32x32.mat``: X [32, 32, 3, n] uint8, y [n, 1] in 1..10."""
    root.mkdir(parents=True, exist_ok=True)
    for j, name in enumerate(("train_32x32.mat", "test_32x32.mat")):
        digits = np.repeat(np.arange(10), per_class)
        images = _images(digits, (32, 32, 3), seed + 10 + j)
        y = np.where(digits == 0, 10, digits).astype(np.uint8)[:, None]
        savemat(root / name, {"X": np.transpose(images, (1, 2, 3, 0)), "y": y})
    return root


def write_mnist(root: Path, per_class: int = 30, seed: int = 0, gz: bool = True) -> Path:
    """``t10k-images-idx3-ubyte[.gz]`` and ``t10k-labels-idx1-ubyte[.gz]``."""
    root.mkdir(parents=True, exist_ok=True)
    labels = np.repeat(np.arange(10, dtype=np.uint8), per_class)
    images = _images(labels, (28, 28), seed + 20)
    files = {
        "t10k-images-idx3-ubyte": b"\x00\x00\x08\x03"
        + np.array([len(labels), 28, 28], ">i4").tobytes()
        + images.tobytes(),
        "t10k-labels-idx1-ubyte": b"\x00\x00\x08\x01"
        + np.array([len(labels)], ">i4").tobytes()
        + labels.tobytes(),
    }
    for name, raw in files.items():
        if gz:
            (root / (name + ".gz")).write_bytes(gzip.compress(raw))
        else:
            (root / name).write_bytes(raw)
    return root
