"""CIFAR-10 binary batches and cropped SVHN .mat files: generated files round-trip, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from fake_data import write_cifar, write_svhn

from pnn_jax.config import ConfigError
from pnn_jax.data import load_cifar10, load_svhn
from pnn_jax.data.cifar import read_batch


def test_cifar_binary_records_are_decoded_channel_major(tmp_path):
    label, image = 7, np.arange(3 * 32 * 32, dtype=np.uint32).reshape(3, 32, 32) % 251
    (tmp_path / "one.bin").write_bytes(bytes([label]) + image.astype(np.uint8).tobytes())
    x, y = read_batch(tmp_path / "one.bin")
    assert x.shape == (1, 32, 32, 3) and y.tolist() == [7]
    np.testing.assert_array_equal(x[0, 5, 9], image[:, 5, 9])  # NHWC pixel = the three planes' bytes


def test_cifar_loader(tmp_path):
    write_cifar(tmp_path, per_class=3)
    x, y = load_cifar10(tmp_path, "train")
    assert x.shape == (5 * 30, 32, 32, 3) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert np.bincount(y).tolist() == [15] * 10
    xt, _ = load_cifar10(tmp_path, "test")
    assert xt.shape == (30, 32, 32, 3)


def test_cifar_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"expected data_batch_1\.bin.*binary version"):
        load_cifar10(tmp_path, "train")
    write_cifar(tmp_path, per_class=1)
    (tmp_path / "data_batch_3.bin").write_bytes(b"\x01" * 100)
    with pytest.raises(ConfigError, match="not a multiple of 3073"):
        load_cifar10(tmp_path, "train")


def test_svhn_loader_maps_label_10_to_digit_0(tmp_path):
    write_svhn(tmp_path, per_class=4)
    x, y = load_svhn(tmp_path, "train")
    assert x.shape == (40, 32, 32, 3) and x.dtype == np.float32
    assert sorted(set(y.tolist())) == list(range(10)) and np.bincount(y).tolist() == [4] * 10


def test_svhn_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"train_32x32\.mat.*cropped-digits SVHN"):
        load_svhn(tmp_path, "train")
    (tmp_path / "train_32x32.mat").write_bytes(b"not a mat file")
    with pytest.raises(ConfigError, match="not a readable MATLAB file"):
        load_svhn(tmp_path, "train")
