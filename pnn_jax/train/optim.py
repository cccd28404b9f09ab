"""Optimisers by name, with the papers' settings where they state them."""

from __future__ import annotations

import optax

OPTIMIZERS = ("adam", "rmsprop", "sgd")


def make_optimizer(name: str, lr: float, grad_clip: float | None = None) -> optax.GradientTransformation:
    """``adam``; ``rmsprop`` as A3C's shared RMSProp (decay 0.99, epsilon 0.1, no momentum or
    centring; PAPERS.md 1.3); ``sgd``. ``grad_clip``: clip by global norm first (the paper's grid
    uses 20 or 40)."""
    if lr <= 0:
        raise ValueError(f"learning rate must be positive, got {lr}")
    if name == "adam":
        opt = optax.adam(lr)
    elif name == "rmsprop":
        opt = optax.rmsprop(lr, decay=0.99, eps=0.1, centered=False, momentum=None)
    elif name == "sgd":
        opt = optax.sgd(lr)
    else:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {OPTIMIZERS}")
    return optax.chain(optax.clip_by_global_norm(grad_clip), opt) if grad_clip else opt
