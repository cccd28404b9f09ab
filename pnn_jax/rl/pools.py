"""Envs for a population on a device mesh: one envpool batch per device (each member
has its own batch of envs).

A population of ``P`` members with ``E`` envs each, split over ``D`` devices, steps ``P / D * E``
envs per device. envpool's XLA step is bound to one pool (its address is a constant of the
custom call), so under ``shard_map`` a device picks its own pool's step with ``lax.switch`` on its
mesh index. Env ``j`` of member ``p`` is seeded ``seed + p * E + j`` however the population is
split (envpool seeds env ``i`` of a pool ``seed + i``), and the actor carries one PRNG stream per
member, so a population runs the same on 1, 2 or 4 devices, or across processes (each process
makes the pools of its own devices).
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
from jax.sharding import Mesh

from pnn_jax.envs.envpool_env import EnvConfig, EnvOutput, Episodes, VecEnv
from pnn_jax.rl.rollout import Actor
from pnn_jax.train import population as pop


class DevicePools:
    """``members`` members x ``envs_per_member`` envs of ``env_cfg`` over ``mesh``."""

    def __init__(self, env_cfg: EnvConfig, mesh: Mesh, members: int, envs_per_member: int):
        devices = mesh.devices.size
        if members % devices:
            raise ValueError(
                f"a population of {members} does not divide over {devices} devices: use a multiple "
                f"of {devices} (each device runs the same number of members)"
            )
        self.mesh = mesh
        self.members = members
        self.per_device = members // devices  # members per device
        self.envs_per_member = envs_per_member
        self.offset = pop.local_device_offset(mesh)  # this process's first device in the mesh
        self.local = pop.local_slice(mesh, self.per_device)  # this process's members
        n = self.per_device * envs_per_member
        self.envs = [
            VecEnv(dataclasses.replace(env_cfg, num_envs=n, seed=env_cfg.seed + (self.offset + d) * n))
            for d in range(pop.local_device_count(mesh))
        ]
        self.obs_shape = self.envs[0].obs_shape
        self.num_actions = self.envs[0].num_actions

    def start(self, key: jax.Array) -> Actor:
        """Reset every pool: an :class:`Actor` with handles ``[D]``, env outputs ``[P * E, ...]``
        (member-major) and one key per member, placed on the mesh."""
        outs = [env.reset() for env in self.envs]
        handles = np.stack([np.asarray(h) for h, _ in outs])
        out = jax.tree.map(lambda *a: np.concatenate([np.asarray(x) for x in a]), *[o for _, o in outs])
        keys = jax.random.split(key, self.members)[self.local]
        episodes = Episodes.zeros(len(self.envs) * self.envs[0].cfg.num_envs)
        return pop.put_members(Actor(handles, out, episodes, keys), self.mesh)

    def step(self, handle: jax.Array, actions: jax.Array) -> tuple[jax.Array, EnvOutput]:
        """Inside ``shard_map``: step this device's pool (``handle [1, ...]``, actions ``[P/D * E]``)."""
        steps = [env.step for env in self.envs]
        if len(steps) == 1:
            h, out = steps[0](handle[0], actions)
        else:
            index = jax.lax.axis_index(pop.AXIS) - self.offset
            h, out = jax.lax.switch(index, steps, handle[0], actions)
        return h[None], out
