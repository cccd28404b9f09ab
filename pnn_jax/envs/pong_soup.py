"""Pong Soup (docs/papers.md 1.5): the seven variants of Pong as pure functions on observation batches.

Each transform maps uint8 frames ``[..., H, W]`` (envpool's Atari observations are
``[B, 4, 84, 84]``: the 4 stacked grayscale frames are the channel axis) to frames of the same
shape and dtype, and runs inside the compiled training iteration (``jit``-able, no host work):

* ``noisy``: a frozen Gaussian noise pattern (one ``[H, W]`` draw from ``seed``, the same for every
  frame and step) added to the input, clipped to 0..255;
* ``black`` / ``white``: background pixels (value ``PONG_BACKGROUND``) set to 0 / 255;
* ``zoom``: the frame scaled to 75% (linear, antialiased resampling) and translated, the uncovered
  border filled with the background;
* ``hflip``, ``vflip``, ``vhflip``: mirror images.

``PONG_BACKGROUND = 87`` is the grayscale value of Pong's playfield in envpool's 84x84 frames
(5,858 of 7,056 pixels of a mid-game frame; measured, and checked by a test when envpool can
make Pong).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp

PONG_BACKGROUND = 87
VARIANTS = ("pong", "noisy", "black", "white", "zoom", "hflip", "vflip", "vhflip")


def noise_pattern(shape: tuple[int, int], seed: int = 0, std: float = 32.0) -> jax.Array:
    """The frozen noise of the Noisy variant: ``[H, W]`` float32 N(0, std^2), fixed by ``seed``."""
    return std * jax.random.normal(jax.random.key(seed), shape, jnp.float32)


def add_noise(frames: jax.Array, noise: jax.Array) -> jax.Array:
    return jnp.clip(frames.astype(jnp.float32) + noise, 0, 255).round().astype(frames.dtype)


def replace_background(frames: jax.Array, value: int, background: int = PONG_BACKGROUND) -> jax.Array:
    """Background pixels (exactly ``background``) become ``value``; every other pixel is kept."""
    return jnp.where(frames == background, jnp.asarray(value, frames.dtype), frames)


def zoom(
    frames: jax.Array,
    scale: float = 0.75,
    shift: tuple[float, float] = (6.0, 10.0),
    fill: int = PONG_BACKGROUND,
) -> jax.Array:
    """The frame scaled by ``scale`` about the top-left corner, then moved by ``shift`` (rows,
    cols) pixels; pixels the scaled frame does not cover take ``fill``. Linear resampling with
    antialiasing (``jax.image.scale_and_translate``)."""
    h, w = frames.shape[-2:]
    flat = frames.reshape(-1, h, w).astype(jnp.float32)
    scale_v = jnp.array([scale, scale], jnp.float32)
    translate = jnp.array(shift, jnp.float32)
    out = jax.vmap(
        lambda f: jax.image.scale_and_translate(
            f, (h, w), (0, 1), scale_v, translate, "linear", antialias=True
        )
    )(flat)
    rows = jnp.arange(h, dtype=jnp.float32)[:, None]
    cols = jnp.arange(w, dtype=jnp.float32)[None, :]
    inside = (
        (rows >= shift[0])
        & (rows < shift[0] + scale * h)
        & (cols >= shift[1])
        & (cols < shift[1] + scale * w)
    )
    out = jnp.where(inside, out, float(fill))
    return jnp.clip(out.round(), 0, 255).astype(frames.dtype).reshape(frames.shape)


def transform(
    name: str, *, seed: int = 0, noise_std: float = 32.0, shape: tuple[int, int] = (84, 84)
) -> Callable:
    """The observation transform of variant ``name`` (one of :data:`VARIANTS`)."""
    if name not in VARIANTS:
        raise ValueError(f"unknown Pong Soup variant {name!r}; choose one of {', '.join(VARIANTS)}")
    if name == "pong":
        return lambda frames: frames
    if name == "noisy":
        return functools.partial(add_noise, noise=noise_pattern(shape, seed, noise_std))
    if name == "black":
        return functools.partial(replace_background, value=0)
    if name == "white":
        return functools.partial(replace_background, value=255)
    if name == "zoom":
        return zoom
    axes = {"hflip": (-1,), "vflip": (-2,), "vhflip": (-2, -1)}[name]
    return lambda frames: jnp.flip(frames, axis=axes)
