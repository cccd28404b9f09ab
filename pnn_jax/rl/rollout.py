"""The rollout both actor-critic updates share: ``t_max`` steps of ``B`` envs inside jit
(``lax.scan`` over the env's step), the population layout of those envs, and the episode metrics.

Transitions that lead into an envpool auto-reset step (``EnvOutput.first``) are marked invalid:
their action was ignored by the env, so the updates mask them out of the loss.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import flax.struct
import jax
import jax.numpy as jnp

from pnn_jax.envs.envpool_env import EnvOutput, Episodes, VecEnv, update_episodes
from pnn_jax.rl import losses
from pnn_jax.rl.policy import ACConfig, Policy


@flax.struct.dataclass
class Actor:
    """What a rollout carries from one iteration to the next."""

    handle: jax.Array
    out: EnvOutput
    episodes: Episodes
    key: jax.Array


def start(env: VecEnv, key: jax.Array) -> Actor:
    """Reset the envs (host; waits for in-flight work, :meth:`VecEnv.reset`) and build the first
    :class:`Actor`."""
    handle, out = env.reset()
    return Actor(handle, out, Episodes.zeros(env.cfg.num_envs), key)


@dataclasses.dataclass(frozen=True)
class Members:
    """The population layout: the ``B`` envs are ``groups`` members of ``B / groups`` envs each
    (member-major). A PRNG key is one key, or one per member ``[groups]``: each member then
    samples and shuffles from its own stream, whatever the split of members over devices."""

    groups: int = 1

    def split(self, key: jax.Array, num: int = 2) -> jax.Array:
        """``num`` keys from one key, or ``[num, G]`` from per-member keys ``[G]``."""
        if key.ndim == 0:
            return jax.random.split(key, num)
        return jnp.swapaxes(jax.vmap(lambda k: jax.random.split(k, num))(key), 0, 1)

    def sample(self, key: jax.Array, logits: jax.Array) -> jax.Array:
        """Actions ``[B]`` from ``logits [B, A]``, each member from its own key if it has one."""
        if key.ndim == 0:
            return jax.random.categorical(key, logits)
        per_member = logits.reshape(self.groups, -1, logits.shape[-1])
        return jax.vmap(jax.random.categorical)(key, per_member).reshape(logits.shape[:-1])

    def by_member(self, x: jax.Array) -> jax.Array:
        """``[T, B, ...]`` -> ``[groups, T * B / groups, ...]``: each member's samples together."""
        t, b = x.shape[:2]
        x = x.reshape(t, self.groups, b // self.groups, *x.shape[2:])
        return jnp.swapaxes(x, 0, 1).reshape(self.groups, t * (b // self.groups), *x.shape[3:])


def flat(x: jax.Array) -> jax.Array:
    """``[G, n, ...]`` (or ``[T, B, ...]``) -> ``[G * n, ...]``."""
    return x.reshape(-1, *x.shape[2:])


def make_rollout(
    policy: Policy,
    env_step: Callable,
    cfg: ACConfig,
    members: Members,
    obs_fn: Callable,
    reward_fn: Callable | None = None,
) -> Callable:
    """``rollout(state, actor) -> (actor, traj, bootstrap)``: ``cfg.t_max`` steps of the sampling
    policy; ``traj`` holds ``[T, B]`` arrays (raw observations ``[T, B, ...]``), ``bootstrap``
    the value ``[B]`` of the state after the last step.

    ``env_step(handle, actions [B]) -> (handle, EnvOutput)``; ``obs_fn`` maps raw observations to
    network inputs; ``reward_fn(obs, out) -> [B]`` replaces the env's reward (a shaped sub-task
    reward), for learning and for the episode returns.
    """

    def act(state, obs, key):
        heads = policy.act(state, obs_fn(obs))
        action = members.sample(key, heads["policy"])
        logp = losses.log_prob(heads["policy"], action)
        return action, heads["value"][..., 0], logp

    def body(state, a: Actor):
        key, k = members.split(a.key)
        action, value, logp = act(state, a.out.obs, k)
        handle, out = env_step(a.handle, action.astype(jnp.int32))
        if reward_fn is not None:
            out = out.replace(reward=reward_fn(a.out.obs, out))
        episodes, info = update_episodes(a.episodes, out)
        reward = jnp.clip(out.reward, -1.0, 1.0) if cfg.clip_rewards else out.reward
        tr = {
            "obs": a.out.obs,
            "action": action,
            "reward": reward,
            "done": out.done,
            "terminated": out.terminated,
            "valid": ~out.first,
            "value": value,
            "log_prob": logp,
            "finished": info["finished"],
            "episode_return": jnp.where(info["finished"], info["episode_return"], 0.0),
            "episode_length": info["episode_length"],
            "truncated": info["truncated"],
        }
        return Actor(handle, out, episodes, key), tr

    def rollout(state, actor: Actor):
        actor, traj = jax.lax.scan(lambda a, _: body(state, a), actor, None, length=cfg.t_max)
        _, bootstrap, _ = act(state, actor.out.obs, actor.key)
        return actor, traj, bootstrap

    return rollout


def episode_metrics(traj: dict) -> dict:
    """The rollout's finished episodes (count, sums of returns and lengths, truncations, agent
    steps), in total and per env (``env_episodes``, ``env_return_sum``, ``env_steps`` ``[B]``) so
    that windows of them can be averaged."""
    return {
        "episodes": traj["finished"].sum(),
        "episode_return_sum": traj["episode_return"].sum(),
        "episode_length_sum": traj["episode_length"].sum(),
        "truncations": traj["truncated"].sum(),
        "agent_steps": traj["valid"].sum(),
        "env_episodes": traj["finished"].sum(0),
        "env_return_sum": traj["episode_return"].sum(0),
        "env_steps": traj["valid"].sum(0),
    }
