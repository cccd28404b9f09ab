"""Returns and advantages, time-major ``[T, B]``, as pure functions (PAPERS.md 1.3).

``discounts[t] = gamma * (1 - done[t])``, where ``done[t]`` ends the episode after the action of
step t; ``bootstrap [B]`` is the value of the state after the last step. An episode that ends by
truncation (a time limit) is cut like a termination: envpool resets it at once, so the value of
its last state is not available to bootstrap from.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def discounts_from(dones: jax.Array, gamma: float) -> jax.Array:
    """``gamma * (1 - dones)`` as float32 ``[T, B]``."""
    return gamma * (1.0 - dones.astype(jnp.float32))


def n_step_returns(rewards: jax.Array, discounts: jax.Array, bootstrap: jax.Array) -> jax.Array:
    """A3C's returns (``t_max``-step, bootstrapped): ``R_t = r_t + d_t R_{t+1}``, ``R_T = bootstrap``."""

    def back(carry, x):
        r, d = x
        ret = r + d * carry
        return ret, ret

    _, out = jax.lax.scan(back, bootstrap.astype(jnp.float32), (rewards, discounts), reverse=True)
    return out


def gae(
    rewards: jax.Array, discounts: jax.Array, values: jax.Array, bootstrap: jax.Array, lam: float
) -> jax.Array:
    """Generalised advantage estimates ``[T, B]`` (Schulman et al., 2016):
    ``delta_t = r_t + d_t V_{t+1} - V_t``, ``A_t = delta_t + d_t lam A_{t+1}``, ``V_T = bootstrap``."""
    next_values = jnp.concatenate([values[1:], bootstrap[None]], axis=0)
    deltas = rewards + discounts * next_values - values

    def back(carry, x):
        delta, d = x
        adv = delta + d * lam * carry
        return adv, adv

    _, out = jax.lax.scan(back, jnp.zeros_like(bootstrap, jnp.float32), (deltas, discounts), reverse=True)
    return out
