"""Optimisers by name, with the papers' settings where they state them."""

from __future__ import annotations

import jax.numpy as jnp
import optax

OPTIMIZERS = ("adam", "rmsprop", "sgd")


def make_optimizer(
    name: str,
    lr: float,
    grad_clip: float | None = None,
    inject: bool = False,
    *,
    eps: float | None = None,
    eps_in_sqrt: bool = True,
) -> optax.GradientTransformation:
    """``adam``; ``rmsprop`` as A3C's shared RMSProp (decay 0.99, no momentum or centring;
    docs/papers.md 1.3); ``sgd``. ``grad_clip``: clip by global norm first (the paper's grid uses 20 or
    40). ``inject=True``: the learning rate lives in the optimiser state
    (``optax.inject_hyperparams``), so members of a vmapped population can each have their own;
    change it with :func:`set_learning_rate`.

    ``eps``: RMSProp's default is A3C's 0.1, Adam's 1e-8. RMSProp divides by ``sqrt(nu + eps)``
    (``eps_in_sqrt``, as TensorFlow and optax do) or by ``sqrt(nu) + eps`` (PyTorch). With eps 0.1
    inside the root every denominator is at least 0.32: for gradients of a loss *averaged* over a
    batch (far below 0.1 in RMS) the step is then nearly plain SGD at ``lr / 0.32``, much smaller
    than the normalised step of eps 1e-5 (docs/rl_learner.md)."""
    if lr <= 0:
        raise ValueError(f"learning rate must be positive, got {lr}")
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {OPTIMIZERS}")
    if eps is not None and eps <= 0:
        raise ValueError(f"eps must be positive, got {eps}")
    if inject:
        return optax.inject_hyperparams(
            lambda learning_rate: _build(name, learning_rate, grad_clip, eps, eps_in_sqrt)
        )(learning_rate=lr)
    return _build(name, lr, grad_clip, eps, eps_in_sqrt)


def _build(
    name: str, lr, grad_clip: float | None, eps=None, eps_in_sqrt=True
) -> optax.GradientTransformation:
    """The optimiser; ``lr`` may be a traced value (inside ``inject_hyperparams``)."""
    if name == "adam":
        opt = optax.adam(lr, eps=1e-8 if eps is None else eps)
    elif name == "rmsprop":
        opt = optax.rmsprop(
            lr,
            decay=0.99,
            eps=0.1 if eps is None else eps,
            eps_in_sqrt=eps_in_sqrt,
            centered=False,
            momentum=None,
        )
    else:
        opt = optax.sgd(lr)
    return optax.chain(optax.clip_by_global_norm(grad_clip), opt) if grad_clip else opt


def set_learning_rate(opt_state, lr: float):
    """``opt_state`` of an ``inject=True`` optimiser with its learning rate set to ``lr``."""
    return opt_state._replace(
        hyperparams={**opt_state.hyperparams, "learning_rate": jnp.asarray(lr, jnp.float32)}
    )
