"""The learner's settings and how an actor-critic iteration reads and updates a model.

:class:`ACConfig` holds the settings of both algorithms (A2C, the synchronous form of A3C; PPO);
:class:`Policy` is the interface between the generic iteration (:mod:`pnn_jax.rl.actor_critic`)
and a model: a progressive column (:func:`column_policy`), a population of columns
(:mod:`pnn_jax.rl.column_population`) or PathNet paths (:mod:`pnn_jax.rl.pathnet_ac`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp

from pnn_jax import freezing, ranges
from pnn_jax.nets.progressive import ProgressiveNet
from pnn_jax.train.progressive import TrainState

ALGORITHMS = ("a2c", "ppo")
TRUNCATION = ("bootstrap", "terminal")


@dataclasses.dataclass
class ACConfig:
    """Settings of an actor-critic learner; defaults are A3C's (docs/papers.md 1.3) for ``a2c``.

    The RL experiments use it directly as their ``rl`` config section (checked when built)."""

    algorithm: str = "a2c"
    """a2c (A3C's synchronous form) or ppo."""
    t_max: int = 5
    """Steps of every env per update: A3C's n-step horizon (docs/papers.md 1.3)."""
    gamma: float = ranges.field(0.99, low=0, high=1)
    """Discount factor."""
    value_cost: float = ranges.field(0.5, low=0)
    """Weight of the value loss."""
    entropy_cost: float = ranges.field(0.01, low=0)
    """Weight of the entropy bonus (the PNN paper's grid: 1e-2, 1e-3, 1e-4)."""
    clip_rewards: bool = True
    """Learn from rewards clipped to [-1, 1] (Atari); reported returns stay raw."""
    gae_lambda: float = ranges.field(0.95, low=0, high=1)
    """PPO: lambda of generalised advantage estimation."""
    ppo_clip: float = ranges.field(0.2, low=0, low_open=True)
    """PPO: clip range of the probability ratio."""
    ppo_epochs: int = 4
    """PPO: passes over each rollout."""
    ppo_minibatches: int = 4
    """PPO: minibatches per pass."""
    normalize_advantages: bool = True
    """PPO: normalise advantages per population member over its valid samples."""
    truncation: str = "bootstrap"
    """An episode cut by a time limit: bootstrap from the value of its last state, or terminal
    (:mod:`pnn_jax.rl.returns`)."""

    def __post_init__(self):
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {self.algorithm!r}")
        if self.truncation not in TRUNCATION:
            raise ValueError(f"truncation must be one of {TRUNCATION}, got {self.truncation!r}")
        if self.t_max < 1:
            raise ValueError(f"t_max must be at least 1, got {self.t_max}")
        ranges.check(self)


def preprocess(obs: jax.Array) -> jax.Array:
    """Observations for the network: uint8 frames ``[B, C, H, W]`` -> float ``[B, H, W, C]`` in
    [0, 1]; vectors as float32."""
    if obs.dtype == jnp.uint8 and obs.ndim == 4:
        return jnp.transpose(obs, (0, 2, 3, 1)).astype(jnp.float32) / 255.0
    return obs.astype(jnp.float32)


@dataclasses.dataclass(frozen=True)
class Policy:
    """How the generic iteration (:func:`pnn_jax.rl.actor_critic.build_iteration`) reads and
    updates a model.

    ``act(state, obs [B, ...]) -> heads`` while acting (no gradient); ``train(params, state, obs
    [n, ...]) -> heads`` inside the objective, where ``obs`` is member-major (``groups`` blocks of
    ``n / groups`` samples, one block per population member); ``params(state)`` is what is
    differentiated; ``apply_grads(state, grads) -> state`` the update. Heads: ``{"policy": [., A],
    "value": [., 1]}``.
    """

    act: Callable
    train: Callable
    params: Callable
    apply_grads: Callable


def column_policy(net: ProgressiveNet, tx) -> Policy:
    """Column ``state.column`` of a progressive net; only that column is differentiated and the
    updates of frozen slices are zeroed (exact freezing)."""

    def apply_grads(state: TrainState, grads):
        params, opt_state = freezing.optax_step(tx, state.params, state.opt_state, grads, state.trainable)
        return state.replace(params=params, opt_state=opt_state, step=state.step + 1)

    return Policy(
        act=lambda state, obs: net.apply(state.params, obs, state.column),
        train=lambda params, state, obs: net.apply_train(params, obs, state.column),
        params=lambda state: state.params,
        apply_grads=apply_grads,
    )
