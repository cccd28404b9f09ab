"""The two actor-critic updates over one rollout (:mod:`pnn_jax.rl.rollout`).

Each builder returns ``update(state, actor, traj, bootstrap) -> (state, actor, metrics)``:

- :func:`a2c_update`: A2C, the synchronous form of A3C (docs/papers.md 1.3): n-step returns, one
  gradient step on all ``T x B`` samples.
- :func:`ppo_update`: PPO: GAE advantages, ``ppo_epochs`` x ``ppo_minibatches`` clipped steps;
  it draws the minibatch order from ``actor.key``.

Population members (:class:`~pnn_jax.rl.rollout.Members`) are exact: the objective is the sum
over members of each member's masked mean loss, so a member's gradient is its own whatever the
split of members over devices; ``reduce_grads`` combines gradients before the update (a ``psum``
across devices). PPO advantages are normalised per member.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from pnn_jax.rl import losses, returns
from pnn_jax.rl.policy import ACConfig, Policy
from pnn_jax.rl.rollout import Members, flat


def _step(policy: Policy, reduce_grads: Callable | None, state, objective):
    """One gradient step of ``objective(params) -> (loss, metrics)``."""
    grads, metrics = jax.grad(objective, has_aux=True)(policy.params(state))
    if reduce_grads is not None:
        grads = reduce_grads(grads)
    return policy.apply_grads(state, grads), metrics


def _summed_over_members(members: Members, loss_fn, logits, values, *arrays, **kw):
    """Sum over members of each member's (masked mean) loss; metrics averaged over members."""
    if members.groups == 1:
        return loss_fn(logits, values, *arrays, **kw)
    mask = kw.pop("mask")
    split = [a.reshape(members.groups, -1, *a.shape[1:]) for a in (logits, values, *arrays, mask)]
    loss, metrics = jax.vmap(lambda *a: loss_fn(*a[:-1], mask=a[-1], **kw))(*split)
    return loss.sum(), jax.tree.map(jnp.mean, metrics)


def _discounts_and_cuts(cfg: ACConfig, traj: dict):
    """Discounts ``[T, B]`` and the time-limit cuts to bootstrap at (None: a cut is terminal)."""
    if cfg.truncation == "terminal":
        return returns.discounts_from(traj["done"], cfg.gamma), None
    return returns.discounts_from(traj["terminated"], cfg.gamma), traj["truncated"]


def a2c_update(
    policy: Policy, cfg: ACConfig, members: Members, obs_fn: Callable, reduce_grads: Callable | None = None
) -> Callable:
    """A2C: n-step returns bootstrapped from the last state's value, one step on all samples."""

    def update(state, actor, traj, bootstrap):
        discounts, cut = _discounts_and_cuts(cfg, traj)
        rets = returns.n_step_returns(
            traj["reward"], discounts, bootstrap, truncated=cut, values=traj["value"]
        )

        def objective(params):
            heads = policy.train(params, state, obs_fn(flat(members.by_member(traj["obs"]))))
            return _summed_over_members(
                members,
                losses.a2c_loss,
                heads["policy"],
                heads["value"][..., 0],
                flat(members.by_member(traj["action"])),
                flat(members.by_member(rets)),
                value_cost=cfg.value_cost,
                entropy_cost=cfg.entropy_cost,
                mask=flat(members.by_member(traj["valid"])),
            )

        state, metrics = _step(policy, reduce_grads, state, objective)
        return state, actor, metrics

    return update


def _ppo_data(cfg: ACConfig, members: Members, traj: dict, bootstrap) -> dict:
    """Member-major samples ``[groups, n, ...]`` with GAE advantages and their returns."""
    discounts, cut = _discounts_and_cuts(cfg, traj)
    adv = returns.gae(traj["reward"], discounts, traj["value"], bootstrap, cfg.gae_lambda, truncated=cut)
    rets = adv + traj["value"]
    data = {
        "obs": members.by_member(traj["obs"]),
        "action": members.by_member(traj["action"]),
        "log_prob": members.by_member(traj["log_prob"]),
        "adv": members.by_member(adv),
        "ret": members.by_member(rets),
        "valid": members.by_member(traj["valid"]),
    }
    if cfg.normalize_advantages:  # per member, over its valid samples
        w = data["valid"].astype(jnp.float32)
        count = jnp.maximum(w.sum(1, keepdims=True), 1.0)
        mean = (data["adv"] * w).sum(1, keepdims=True) / count
        std = jnp.sqrt(((data["adv"] - mean) ** 2 * w).sum(1, keepdims=True) / count)
        data["adv"] = (data["adv"] - mean) / (std + 1e-8)
    return data


def ppo_update(
    policy: Policy, cfg: ACConfig, members: Members, obs_fn: Callable, reduce_grads: Callable | None = None
) -> Callable:
    """PPO: ``ppo_epochs`` passes over the rollout in ``ppo_minibatches`` clipped steps each."""

    def minibatch_step(state, data, idx):  # idx [groups, size]
        mb = jax.tree.map(lambda a: flat(jax.vmap(lambda x, i: x[i])(a, idx)), data)

        def objective(params):
            heads = policy.train(params, state, obs_fn(mb["obs"]))
            return _summed_over_members(
                members,
                losses.ppo_loss,
                heads["policy"],
                heads["value"][..., 0],
                mb["action"],
                mb["log_prob"],
                mb["adv"],
                mb["ret"],
                clip=cfg.ppo_clip,
                value_cost=cfg.value_cost,
                entropy_cost=cfg.entropy_cost,
                mask=mb["valid"],
            )

        return _step(policy, reduce_grads, state, objective)

    def permutation(k, n):
        """One key: the same order for every member; per-member keys: an order per member."""
        if k.ndim == 0:
            return jnp.broadcast_to(jax.random.permutation(k, n), (members.groups, n))
        return jax.vmap(lambda kk: jax.random.permutation(kk, n))(k)

    def update(state, actor, traj, bootstrap):
        key, k = members.split(actor.key)
        actor = actor.replace(key=key)
        data = _ppo_data(cfg, members, traj, bootstrap)
        n = data["action"].shape[1]
        size = n // cfg.ppo_minibatches
        # Epochs and minibatches are unrolled at trace time, not a lax.scan: on XLA:CPU a conv
        # backward pass inside a while loop ran 10-14x slower than unrolled (measured; the
        # forward pass is unaffected), and the counts are small and static.
        all_metrics = []
        for k_epoch in members.split(k, cfg.ppo_epochs):
            order = permutation(k_epoch, n)
            for j in range(cfg.ppo_minibatches):
                state, m = minibatch_step(state, data, order[:, j * size : (j + 1) * size])
                all_metrics.append(m)
        return state, actor, jax.tree.map(lambda *v: jnp.mean(jnp.stack(v)), *all_metrics)

    return update


UPDATES = {"a2c": a2c_update, "ppo": ppo_update}
"""The update builder of each :data:`pnn_jax.rl.policy.ALGORITHMS` entry."""
