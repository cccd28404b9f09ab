"""MNIST IDX loading: generated files (gz and raw), clear errors, and the real test set when present."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from tolerance import assert_within, gamma

from pnn_jax.config import ConfigError
from pnn_jax.data.mnist import load_mnist, read_idx

SHARED_MNIST = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist-test10k"


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, ">i4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def write_mnist(root: Path, n: int = 12, gz: bool = True, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    for name, arr in (("t10k-images-idx3-ubyte", images), ("t10k-labels-idx1-ubyte", labels)):
        data = idx_bytes(arr)
        if gz:
            (root / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (root / name).write_bytes(data)
    return images, labels


@pytest.mark.parametrize("gz", [True, False])
def test_generated_idx_files_round_trip(tmp_path, gz):
    images, labels = write_mnist(tmp_path, gz=gz)
    x, y = load_mnist(tmp_path, "test")
    assert x.shape == (12, 784) and x.dtype == np.float32 and y.dtype == np.int32
    # x = fl(byte / 255); x * 255 rounds once more: within gamma(2) of the byte
    stored = images.reshape(12, -1).astype(np.float64)
    assert_within(x * np.float32(255.0), stored, gamma(2) * stored, "pixels")
    np.testing.assert_array_equal(y, labels)


def test_missing_files_name_what_is_expected(tmp_path):
    with pytest.raises(
        ConfigError, match=r"expected t10k-images-idx3-ubyte\[\.gz\] and t10k-labels-idx1-ubyte\[\.gz\]"
    ):
        load_mnist(tmp_path, "test")
    with pytest.raises(ConfigError, match="split='val'"):
        load_mnist(tmp_path, "val")


def test_corrupt_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(idx_bytes(np.zeros((4, 2, 2)))[:-3])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "short")


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="../shared/data/mnist-test10k is not present")
def test_real_mnist_test_set():
    x, y = load_mnist(SHARED_MNIST, "test")
    assert x.shape == (10000, 784) and 0.0 <= x.min() and x.max() <= 1.0
    counts = np.bincount(y, minlength=10)
    assert counts.sum() == 10000 and counts.min() == 892 and counts.max() == 1135
