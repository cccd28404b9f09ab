"""LunarLander sub-tasks of rising difficulty for the PathNet curriculum (docs/papers.md 3.2: proposed
by the thesis, never run there).

LunarLander's own reward is potential-based shaping plus costs: with the potential
``phi = -100 |(x, y)| - 100 |(vx, vy)| - 100 |angle| + 10 (leg1 + leg2)``, a step earns
``phi(s') - phi(s)``, minus fuel, and the episode ends with -100 (crash, or off screen) or +100
(at rest). The sub-tasks keep growing subsets of those terms, all computed from envpool's
observation ``[x, y, vx, vy, angle, angular velocity, leg1, leg2]`` inside the compiled rollout:

* ``stabilise``: stay slow and upright for as long as possible: each step earns
  ``1 - min(1, |angle| + |v| / 2)`` (in [0, 1]); a crash just ends the episode (no more reward).
* ``approach``: fly slowly and upright to the pad: ``phi_a = -100 |v| - 100 |angle| - 100 |(x, y)|``
  as the potential; -100 on a crash.
* ``land``: the environment's own reward (legs, fuel costs, +100 for coming to rest).

A crash is recognised as a terminal step whose environment reward is below -50 (only the -100
terminal gives that; a landing ends with +100).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from pnn_jax.envs.envpool_env import EnvOutput

SUBTASKS = ("stabilise", "approach", "land")


def _approach(obs: jax.Array) -> jax.Array:
    speed, tilt = jnp.hypot(obs[..., 2], obs[..., 3]), jnp.abs(obs[..., 4])
    return -100.0 * (speed + tilt + jnp.hypot(obs[..., 0], obs[..., 1]))


def _stable(obs: jax.Array) -> jax.Array:
    speed, tilt = jnp.hypot(obs[..., 2], obs[..., 3]), jnp.abs(obs[..., 4])
    return 1.0 - jnp.minimum(1.0, tilt + speed / 2)


def reward_fn(name: str) -> Callable[[jax.Array, EnvOutput], jax.Array] | None:
    """``reward(obs [B, 8], out) -> [B]`` of sub-task ``name`` (``None`` for ``land``: the env's)."""
    if name not in SUBTASKS:
        raise ValueError(f"unknown LunarLander sub-task {name!r}; choose one of {', '.join(SUBTASKS)}")
    if name == "land":
        return None
    if name == "stabilise":
        return lambda obs, out: _stable(out.obs).astype(jnp.float32)

    def reward(obs: jax.Array, out: EnvOutput) -> jax.Array:
        crash = out.terminated & (out.reward < -50.0)
        shaped = _approach(out.obs) - _approach(obs)
        return jnp.where(crash, -100.0, shaped).astype(jnp.float32)

    return reward
