"""Exact freezing: trainable masks, masked updates and checksums of frozen parameters.

A trainable mask is a pytree shaped like the parameters whose leaves are bool arrays over the
leading (column or module) axes, e.g. ``[K]`` for a progressive net. Its values may be traced, so
switching the trained column or the trained subset never recompiles.

Freezing zeroes the *updates*, not only the gradients: Adam or RMSProp moments left over from an
earlier phase would otherwise keep moving frozen weights. Gradients are zeroed too, so that frozen
parameters never enter moment estimates or global-norm clipping. Updates are applied with a select
(``where(trainable, p + u, p)``), so a frozen value is returned as the same bits (even ``-0.0``,
and even if an optimiser produced ``nan`` for it).
"""

from __future__ import annotations

import hashlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

PyTree = Any


def _expand(mask: jax.Array, leaf: jax.Array) -> jax.Array:
    """Broadcast a mask over the leading axes of ``leaf`` to the leaf's rank."""
    mask = jnp.asarray(mask)
    return mask.reshape(mask.shape + (1,) * (leaf.ndim - mask.ndim))


def zero_frozen(tree: PyTree, trainable: PyTree) -> PyTree:
    """``tree`` with every frozen slice set to zero (for gradients and updates)."""
    return jax.tree.map(lambda x, m: jnp.where(_expand(m, x), x, jnp.zeros_like(x)), tree, trainable)


def apply_updates(params: PyTree, updates: PyTree, trainable: PyTree) -> PyTree:
    """``params + updates`` on trainable slices; frozen slices are returned bit for bit."""
    return jax.tree.map(
        lambda p, u, m: jnp.where(_expand(m, p), (p + u).astype(p.dtype), p), params, updates, trainable
    )


def optax_step(tx, params: PyTree, opt_state, grads: PyTree, trainable: PyTree):
    """One optax step that cannot move frozen slices: frozen gradients and frozen updates are
    zeroed and the update is applied by select. Returns ``(params, opt_state)``."""
    grads = zero_frozen(grads, trainable)
    updates, opt_state = tx.update(grads, opt_state, params)
    updates = zero_frozen(updates, trainable)
    return apply_updates(params, updates, trainable), opt_state


def _leaf_bytes(path, leaf) -> bytes:
    arr = np.ascontiguousarray(np.asarray(leaf))
    header = f"{jax.tree_util.keystr(path)}|{arr.dtype.str}|{arr.shape}|".encode()
    return header + arr.tobytes()


def checksum(tree: PyTree) -> str:
    """SHA-256 (hex) over every leaf's path, dtype, shape and bytes, in tree order."""
    h = hashlib.sha256()
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        h.update(_leaf_bytes(path, leaf))
    return h.hexdigest()


def select(tree: PyTree, mask: PyTree) -> PyTree:
    """The slices of each leaf where ``mask`` (over its leading axes) is True, as NumPy arrays."""
    return jax.tree.map(lambda x, m: np.asarray(x)[np.asarray(m, bool)], tree, mask)


def frozen_checksum(params: PyTree, trainable: PyTree) -> str:
    """Checksum of the frozen part of ``params`` (the slices where ``trainable`` is False)."""
    return checksum(select(params, jax.tree.map(lambda m: ~np.asarray(m, bool), trainable)))
