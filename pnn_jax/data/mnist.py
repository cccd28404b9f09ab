"""MNIST from the standard IDX files (gzipped or raw), read from ``data.root``.

The IDX format: a 4-byte magic number (two zero bytes, a type code, the number of dimensions),
then each dimension as a big-endian int32, then the data. MNIST uses unsigned bytes (type 0x08):
``*-images-idx3-ubyte`` holds ``[N, 28, 28]`` images, ``*-labels-idx1-ubyte`` ``[N]`` labels.

The 10,000-image test files are enough for the binary-MNIST experiments here (a fixed split of
them into training and held-out parts); the 60,000-image training files are read the same way
when present.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from pnn_jax.config import ConfigError

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
SOURCE = "the MNIST database (yann.lecun.com/exdb/mnist, or a mirror of it)"
_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in an IDX file (``.gz`` or raw)."""
    path = Path(path)
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _TYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    dims = tuple(int(d) for d in np.frombuffer(raw, ">i4", count=ndim, offset=4))
    dtype = np.dtype(_TYPES[raw[2]])
    data = np.frombuffer(raw, dtype, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(
            f"{path} is truncated: header says {dims} ({int(np.prod(dims))} values), found {data.size}"
        )
    return data.reshape(dims)


def _find(root: Path, name: str) -> Path | None:
    for candidate in (root / (name + ".gz"), root / name):
        if candidate.is_file():
            return candidate
    return None


def load_mnist(root: str | Path, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """``(x [N, 784] float32 in [0, 1], y [N] int32)`` from the IDX files of ``split`` in ``root``."""
    if split not in FILES:
        raise ConfigError(f"split={split!r} is not allowed: choose one of {', '.join(FILES)}")
    root = Path(root)
    images, labels = (_find(root, n) for n in FILES[split])
    if images is None or labels is None:
        want = " and ".join(f"{n}[.gz]" for n in FILES[split])
        raise ConfigError(
            f"MNIST {split} files not found in data.root={str(root)!r}: expected {want}, from {SOURCE}"
        )
    x, y = read_idx(images), read_idx(labels)
    if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
        raise ConfigError(f"MNIST files in {str(root)!r} do not match: images {x.shape}, labels {y.shape}")
    return (x.reshape(len(x), -1) / 255.0).astype(np.float32), y.astype(np.int32)
