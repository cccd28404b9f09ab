"""Optimisers by name, with the papers' settings where they state them."""

from __future__ import annotations

import optax

OPTIMIZERS = ("adam", "rmsprop", "sgd")


def make_optimizer(
    name: str, lr: float, grad_clip: float | None = None, inject: bool = False
) -> optax.GradientTransformation:
    """``adam``; ``rmsprop`` as A3C's shared RMSProp (decay 0.99, epsilon 0.1, no momentum or
    centring; PAPERS.md 1.3); ``sgd``. ``grad_clip``: clip by global norm first (the paper's grid
    uses 20 or 40). ``inject=True``: the learning rate lives in the optimiser state
    (``optax.inject_hyperparams``), so members of a vmapped population can each have their own;
    change it with :func:`set_learning_rate`."""
    if lr <= 0:
        raise ValueError(f"learning rate must be positive, got {lr}")
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {OPTIMIZERS}")
    if inject:
        return optax.inject_hyperparams(lambda learning_rate: _build(name, learning_rate, grad_clip))(
            learning_rate=lr
        )
    return _build(name, lr, grad_clip)


def _build(name: str, lr, grad_clip: float | None) -> optax.GradientTransformation:
    """The optimiser; ``lr`` may be a traced value (inside ``inject_hyperparams``)."""
    if name == "adam":
        opt = optax.adam(lr)
    elif name == "rmsprop":
        opt = optax.rmsprop(lr, decay=0.99, eps=0.1, centered=False, momentum=None)
    else:
        opt = optax.sgd(lr)
    return optax.chain(optax.clip_by_global_norm(grad_clip), opt) if grad_clip else opt


def set_learning_rate(opt_state, lr: float):
    """``opt_state`` of an ``inject=True`` optimiser with its learning rate set to ``lr``."""
    import jax.numpy as jnp

    return opt_state._replace(
        hyperparams={**opt_state.hyperparams, "learning_rate": jnp.asarray(lr, jnp.float32)}
    )
