"""Actor-critic losses as pure functions: A2C (the synchronous form of A3C) and PPO (clipped).

Shapes: ``logits [..., A]``, everything else ``[...]`` (e.g. ``[T, B]``); losses are means over
all leading axes, or over the entries where ``mask`` is true when one is given (transitions into
an auto-reset step carry no learning signal). Each returns ``(loss, metrics)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def log_prob(logits: jax.Array, actions: jax.Array) -> jax.Array:
    logp = jax.nn.log_softmax(logits)
    return jnp.take_along_axis(logp, actions[..., None].astype(jnp.int32), axis=-1)[..., 0]


def _mean(x: jax.Array, mask: jax.Array | None) -> jax.Array:
    if mask is None:
        return x.mean()
    w = mask.astype(x.dtype)
    return (x * w).sum() / jnp.maximum(w.sum(), 1.0)


def entropy(logits: jax.Array) -> jax.Array:
    logp = jax.nn.log_softmax(logits)
    return -(jnp.exp(logp) * logp).sum(axis=-1)


def a2c_loss(
    logits: jax.Array,
    values: jax.Array,
    actions: jax.Array,
    returns: jax.Array,
    *,
    value_cost: float = 0.5,
    entropy_cost: float = 0.01,
    mask: jax.Array | None = None,
):
    """A3C's loss (Mnih et al., 2016): ``-log pi(a|s) (R - V)`` with the advantage held constant,
    plus ``value_cost * 0.5 (R - V)^2``, minus ``entropy_cost * H(pi)``."""
    advantage = jax.lax.stop_gradient(returns - values)
    policy = -_mean(log_prob(logits, actions) * advantage, mask)
    value = 0.5 * _mean((returns - values) ** 2, mask)
    ent = _mean(entropy(logits), mask)
    loss = policy + value_cost * value - entropy_cost * ent
    return loss, {"policy_loss": policy, "value_loss": value, "entropy": ent}


def ppo_loss(
    logits: jax.Array,
    values: jax.Array,
    actions: jax.Array,
    old_log_prob: jax.Array,
    advantages: jax.Array,
    returns: jax.Array,
    *,
    clip: float = 0.2,
    value_cost: float = 0.5,
    entropy_cost: float = 0.01,
    old_values: jax.Array | None = None,
    value_clip: float | None = None,
    mask: jax.Array | None = None,
):
    """PPO's clipped surrogate (Schulman et al., 2017): ``-min(rho A, clip(rho, 1-e, 1+e) A)`` with
    ``rho = pi/pi_old``; value loss ``0.5 (R - V)^2`` (optionally clipped around ``old_values``);
    minus ``entropy_cost * H(pi)``. ``advantages`` are used as given (normalise them before)."""
    ratio = jnp.exp(log_prob(logits, actions) - old_log_prob)
    surrogate = jnp.minimum(ratio * advantages, jnp.clip(ratio, 1 - clip, 1 + clip) * advantages)
    policy = -_mean(surrogate, mask)
    value_err = (returns - values) ** 2
    if value_clip is not None and old_values is not None:
        clipped = old_values + jnp.clip(values - old_values, -value_clip, value_clip)
        value_err = jnp.maximum(value_err, (returns - clipped) ** 2)
    value = 0.5 * _mean(value_err, mask)
    ent = _mean(entropy(logits), mask)
    loss = policy + value_cost * value - entropy_cost * ent
    clip_frac = _mean((jnp.abs(ratio - 1) > clip).astype(jnp.float32), mask)
    return loss, {"policy_loss": policy, "value_loss": value, "entropy": ent, "clip_fraction": clip_frac}
