"""Pong Soup transforms on synthetic frames (and a real Pong frame when envpool can make one)."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from PIL import Image

from pnn_jax.envs import pong_soup as ps


def synthetic(seed=0, shape=(2, 4, 84, 84)):
    """A background of 87 with random non-background objects (values != 87)."""
    rng = np.random.default_rng(seed)
    frames = np.full(shape, ps.PONG_BACKGROUND, np.uint8)
    mask = rng.random(shape) < 0.15
    objects = rng.choice(np.setdiff1d(np.arange(256), [ps.PONG_BACKGROUND]), size=shape).astype(np.uint8)
    frames[mask] = objects[mask]
    return frames


@pytest.mark.parametrize("name", ["hflip", "vflip", "vhflip"])
def test_flips_invert_and_mirror(name):
    f = synthetic()
    t = jax.jit(ps.transform(name))
    out = np.asarray(t(f))
    np.testing.assert_array_equal(np.asarray(t(out)), f)  # a flip is its own inverse
    want = {"hflip": f[..., ::-1], "vflip": f[..., ::-1, :], "vhflip": f[..., ::-1, ::-1]}[name]
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize(("name", "value"), [("black", 0), ("white", 255)])
def test_background_replacement_changes_background_pixels_only(name, value):
    f = synthetic(1)
    out = np.asarray(jax.jit(ps.transform(name))(f))
    bg = f == ps.PONG_BACKGROUND
    assert np.all(out[bg] == value) and np.array_equal(out[~bg], f[~bg])


def test_noise_is_frozen_and_seeded():
    f = synthetic(2)
    t = jax.jit(ps.transform("noisy", seed=3))
    a, b = np.asarray(t(f)), np.asarray(t(f))
    np.testing.assert_array_equal(a, b)  # the same pattern every call
    grey = np.full((2, 4, 84, 84), 128, np.uint8)
    diff = np.asarray(t(grey)).astype(int) - 128
    np.testing.assert_array_equal(diff[0, 0], diff[1, 3])  # the same pattern for every frame
    assert diff.std() > 10 and a.dtype == np.uint8
    other = np.asarray(jax.jit(ps.transform("noisy", seed=4))(f))
    assert not np.array_equal(a, other)


def test_zoom_matches_a_reference_resampling():
    """Against PIL's antialiased bilinear resize of the frame to 63x63, pasted at the shift."""
    smooth = (np.add.outer(np.arange(84), np.arange(84)) * 1.5 % 200 + 20).astype(np.uint8)
    smooth[20:40, 30:34] = 236  # a paddle-like bar
    out = np.asarray(jax.jit(ps.zoom)(smooth))
    ref = np.asarray(Image.fromarray(smooth).resize((63, 63), Image.BILINEAR), np.int64)
    inner = out[6 + 1 : 6 + 62, 10 + 1 : 10 + 62].astype(np.int64)
    assert np.abs(inner - ref[1:62, 1:62]).max() <= 3
    assert np.all(out[:6] == ps.PONG_BACKGROUND) and np.all(out[:, :10] == ps.PONG_BACKGROUND)
    assert np.all(out[6 + 63 :] == ps.PONG_BACKGROUND) and np.all(out[:, 10 + 63 :] == ps.PONG_BACKGROUND)


def test_unknown_variant():
    with pytest.raises(ValueError, match="unknown Pong Soup variant 'tilt'"):
        ps.transform("tilt")


def test_real_pong_background_value():
    envpool = pytest.importorskip("envpool")
    env = envpool.make("Pong-v5", env_type="gymnasium", num_envs=1, seed=0)
    obs, _ = env.reset()
    for _ in range(60):
        obs, *_ = env.step(np.zeros(1, np.int32))
    values, counts = np.unique(obs[0, -1], return_counts=True)
    assert values[np.argmax(counts)] == ps.PONG_BACKGROUND
