"""Returns and advantages, time-major ``[T, B]``, as pure functions (docs/papers.md 1.3).

``discounts[t] = gamma * (1 - terminated[t])``, where ``terminated[t]`` ends the episode in a
terminal state after the action of step t; ``bootstrap [B]`` is the value of the state after the
last step.

**Time limits.** An episode cut by a time limit (``truncated[t]``, not terminal) did not end in a
terminal state: its return continues past the cut, so the target bootstraps from the value of
the state reached at the cut, ``V(s_{t+1})`` (Pardo et al., 2018, "Time limits in reinforcement
learning"). envpool 1.x makes this possible: the step that reports ``truncated`` returns the real
next observation (it obeys the dynamics; only the following auto-reset step jumps to a new
episode), so ``V(s_{t+1})`` is the value the rollout computed when it acted on that observation,
``values[t + 1]`` (or ``bootstrap`` at the last step). Pass ``truncated`` to bootstrap there and cut
the recursion (nothing after the cut belongs to the episode); leave it out, and use
``discounts_from(terminated | truncated)``, to treat a time limit as a termination instead.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def discounts_from(dones: jax.Array, gamma: float) -> jax.Array:
    """``gamma * (1 - dones)`` as float32 ``[T, B]``."""
    return gamma * (1.0 - dones.astype(jnp.float32))


def next_values(values: jax.Array, bootstrap: jax.Array) -> jax.Array:
    """``V(s_{t+1})`` for every step ``[T, B]``: ``values[1:]`` followed by ``bootstrap``."""
    return jnp.concatenate([values[1:], bootstrap[None]], axis=0).astype(jnp.float32)


def n_step_returns(
    rewards: jax.Array,
    discounts: jax.Array,
    bootstrap: jax.Array,
    *,
    truncated: jax.Array | None = None,
    values: jax.Array | None = None,
) -> jax.Array:
    """A3C's returns (``t_max``-step, bootstrapped): ``R_t = r_t + d_t R_{t+1}``, ``R_T = bootstrap``.

    With ``truncated [T, B]`` (and the rollout's ``values [T, B]``): where an episode was cut by a
    time limit at step t, ``R_t = r_t + d_t V(s_{t+1})`` instead (the recursion restarts there).
    """
    cont = _continuation(rewards, bootstrap, truncated, values)

    def back(carry, x):
        r, d, cut, v_next = x
        ret = r + d * jnp.where(cut, v_next, carry)
        return ret, ret

    _, out = jax.lax.scan(back, bootstrap.astype(jnp.float32), (rewards, discounts, *cont), reverse=True)
    return out


def gae(
    rewards: jax.Array,
    discounts: jax.Array,
    values: jax.Array,
    bootstrap: jax.Array,
    lam: float,
    *,
    truncated: jax.Array | None = None,
) -> jax.Array:
    """Generalised advantage estimates ``[T, B]`` (Schulman et al., 2016):
    ``delta_t = r_t + d_t V_{t+1} - V_t``, ``A_t = delta_t + d_t lam A_{t+1}``, ``V_T = bootstrap``.

    With ``truncated [T, B]``: at a time-limit cut ``delta_t`` still bootstraps from ``V_{t+1}``
    (the real next state) but ``A_t = delta_t`` (the next step belongs to another episode).
    """
    v_next = next_values(values, bootstrap)
    deltas = rewards + discounts * v_next - values
    cut = jnp.zeros(rewards.shape, bool) if truncated is None else truncated.astype(bool)

    def back(carry, x):
        delta, d, c = x
        adv = delta + jnp.where(c, 0.0, d * lam * carry)
        return adv, adv

    _, out = jax.lax.scan(
        back, jnp.zeros_like(bootstrap, jnp.float32), (deltas, discounts, cut), reverse=True
    )
    return out


def _continuation(rewards, bootstrap, truncated, values):
    """``(cut [T, B] bool, V(s_{t+1}) [T, B])`` for :func:`n_step_returns`."""
    if truncated is None:
        return jnp.zeros(rewards.shape, bool), jnp.zeros(rewards.shape, jnp.float32)
    if values is None:
        raise ValueError("n_step_returns: bootstrapping truncated episodes needs the rollout's values")
    return truncated.astype(bool), next_values(values, bootstrap)
