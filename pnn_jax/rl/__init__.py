"""Reinforcement learning: returns, advantages and actor-critic losses (pure functions)."""

from pnn_jax.rl.losses import a2c_loss, entropy, log_prob, ppo_loss
from pnn_jax.rl.returns import discounts_from, gae, n_step_returns

__all__ = ["a2c_loss", "discounts_from", "entropy", "gae", "log_prob", "n_step_returns", "ppo_loss"]
