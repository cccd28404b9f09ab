"""Salt-and-pepper noise on images, as public reimplementations of PathNet's binary MNIST add it
(docs/papers.md 2.2): each pixel, with probability ``prob``, becomes black (0) or white (``high``)
with equal chance.

One function for both places it is drawn: once over a dataset (eagerly, from a key fixed by the
data split) and afresh for every training minibatch (inside the compiled session).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

NOISE_MODES = ("dataset", "minibatch")


def salt_and_pepper(key: jax.Array, x: jax.Array, prob: float, high: float = 1.0) -> jax.Array:
    """``x`` (any shape) with each entry, independently with probability ``prob``, replaced by 0
    or ``high`` (equal chance). ``high`` is white in the data's scale: 1 for [0, 1], 255 for raw."""
    k_hit, k_salt = jax.random.split(key)
    hit = jax.random.bernoulli(k_hit, prob, x.shape)
    salt = jax.random.bernoulli(k_salt, 0.5, x.shape)
    return jnp.where(hit, jnp.where(salt, high, 0.0), x).astype(x.dtype)
