"""Progressive nets trained side by side: columns, baselines, seeds and task variants as members of
one compiled program (the population axis is the unit of parallelism).

Every member has its own parameters ``[M, ...]`` (one progressive net each, all with the same
number of columns), optimiser state, trained column and trainable mask (so baselines 1-4 and
progressive columns differ only in data), its own observation transform (an index into
``transforms``: Pong Soup variants, vector transforms) and its own ``E`` envs. A step runs the
actor-critic of :func:`pnn_jax.rl.actor_critic.build_iteration` over members (vmapped on
accelerators, one after another on CPU: :func:`resolve_member_loop`); members share nothing, so
across devices (``shard_map`` over the ``"pop"`` mesh) nothing is communicated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import flax.struct
import jax
import jax.numpy as jnp
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from pnn_jax import freezing
from pnn_jax.envs.envpool_env import update_episodes
from pnn_jax.jit import counted_jit
from pnn_jax.nets.progressive import ProgressiveNet
from pnn_jax.rl.actor_critic import build_iteration, compile_loop
from pnn_jax.rl.policy import ACConfig, Policy, preprocess
from pnn_jax.rl.pools import DevicePools
from pnn_jax.rl.rollout import Actor
from pnn_jax.train import population as pop
from pnn_jax.train.progressive import TrainState


@flax.struct.dataclass
class Members:
    """``[M, ...]``: each member's training state and its observation transform (an index)."""

    state: TrainState
    variant: jax.Array  # int32 [M]


LOSS_KEYS = ("policy_loss", "value_loss", "entropy", "clip_fraction")
MEMBER_LOOPS = ("auto", "vmap", "map", "unroll")


def resolve_member_loop(member_loop: str, mesh: Mesh) -> str:
    """How a device runs its members' networks (``auto`` resolved by the mesh's backend).

    * ``vmap``: one batched program. On GPU this is one wide kernel per layer; on CPU every conv
      with per-member kernels and inputs becomes a grouped convolution, which XLA:CPU runs far
      slower than the same convolutions one by one (2x in a forward pass, 35-40x in a training
      pass, measured below).
    * ``map``: ``lax.map`` over members: one member's program, compiled once. Forward passes run
      as fast as unrolled; XLA:CPU runs backward convolutions inside a loop body several times
      slower than outside one.
    * ``unroll``: forward passes (acting, evaluation) as ``map``; the training pass's members
      written out one after another (ordinary convolutions, each backward pass outside a loop;
      compile time grows with the members per device).

    ``auto``: ``unroll`` on CPU, ``vmap`` elsewhere. Measured on the 2-core CPU, 10 members of
    the paper's Atari column (2 columns), 20 samples each, one forward+backward: vmap 5.2-6.1 s,
    map 0.64-0.70 s, unroll 0.14-0.16 s; benchmarks/bench_sweep.py times a whole sweep.
    """
    if member_loop not in MEMBER_LOOPS:
        raise ValueError(f"member_loop must be one of {MEMBER_LOOPS}, got {member_loop!r}")
    if member_loop != "auto":
        return member_loop
    return "unroll" if mesh.devices.flat[0].platform == "cpu" else "vmap"


class ColumnPopulation:
    """``M`` progressive-net learners on ``mesh``; ``transforms[i]`` maps raw observations of
    variant ``i`` (inside the compiled step)."""

    def __init__(
        self,
        net: ProgressiveNet,
        tx,
        ac: ACConfig,
        transforms: Sequence[Callable],
        *,
        mesh: Mesh | None = None,
        member_loop: str = "auto",
    ):
        self.net, self.tx, self.ac = net, tx, ac
        self.transforms = list(transforms)
        self.mesh = mesh if mesh is not None else pop.global_mesh()
        self.member_loop = resolve_member_loop(member_loop, self.mesh)

    def observe(self, variant: jax.Array, obs: jax.Array) -> jax.Array:
        """One member's raw observations through its transform, then preprocessed."""
        if len(self.transforms) == 1:
            return preprocess(self.transforms[0](obs))
        return preprocess(jax.lax.switch(variant, self.transforms, obs))

    def members(self, states: Sequence[TrainState], variants: Sequence[int]) -> Members:
        """Stack per-member states (host side) into a population placed on the mesh."""
        stacked = jax.tree.map(lambda *a: jnp.stack(a), *states)
        return pop.put_members(Members(stacked, jnp.asarray(variants, jnp.int32)), self.mesh)

    def policy(self, groups: int) -> Policy:
        net, tx = self.net, self.tx

        def heads(params, members: Members, x, train: bool):
            xs = x.reshape(groups, -1, *x.shape[1:])
            apply = net.apply_train if train else net.apply

            def one(p, column, variant, xm):
                return apply(p, self.observe(variant, xm), column)

            args = (params, members.state.column, members.variant, xs)
            if self.member_loop == "vmap":
                out = jax.vmap(one)(*args)
            elif self.member_loop == "map" or not train:
                out = jax.lax.map(lambda a: one(*a), args)
            else:  # unroll: a static loop over this device's members
                outs = [one(*jax.tree.map(lambda a, i=i: a[i], args)) for i in range(groups)]
                out = jax.tree.map(lambda *o: jnp.stack(o), *outs)
            return jax.tree.map(lambda v: v.reshape(-1, *v.shape[2:]), out)

        def update(state: TrainState, grads):
            params, opt_state = freezing.optax_step(tx, state.params, state.opt_state, grads, state.trainable)
            return state.replace(params=params, opt_state=opt_state, step=state.step + 1)

        return Policy(
            act=lambda m, x: heads(m.state.params, m, x, False),
            train=lambda params, m, x: heads(params, m, x, True),
            params=lambda m: m.state.params,
            apply_grads=lambda m, grads: m.replace(state=jax.vmap(update)(m.state, grads)),
        )

    def make_loop(self, pools: DevicePools, num_iterations: int, mode: str = "auto"):
        """``loop(members, actor) -> (members, actor, metrics [num_iterations, M])``: per member
        and iteration, finished ``episodes``, their ``return_sum`` and valid agent ``steps``; the
        losses and entropy ``[num_iterations, D]`` (each device's mean over its members)."""
        groups = pools.per_device
        inner = build_iteration(self.policy(groups), pools.step, self.ac, obs_fn=lambda o: o, groups=groups)

        def iteration(members: Members, actor: Actor):
            members, actor, m = inner(members, actor)

            def per_member(v):
                return v.reshape(groups, -1).sum(1)

            return (
                members,
                actor,
                {
                    "episodes": per_member(m["env_episodes"]),
                    "return_sum": per_member(m["env_return_sum"]),
                    "steps": per_member(m["env_steps"]),
                    # this device's members' mean losses, [1] per device ([D] in all)
                    **{k: m[k][None] for k in LOSS_KEYS if k in m},
                },
            )

        split = P(pop.AXIS)
        sharded = jax.shard_map(
            iteration,
            mesh=self.mesh,
            in_specs=(split, Actor(split, split, split, split)),
            out_specs=(split, Actor(split, split, split, split), split),
            check_vma=False,
        )
        return compile_loop(sharded, num_iterations, mode)

    def make_evaluate(self, pools: DevicePools, num_episodes: int, max_steps: int = 100_000) -> counted_jit:
        """``evaluate(members, actor) -> [M]`` mean raw return of each member's first
        ``num_episodes`` greedy episodes (its trained column; stops at ``max_steps`` steps)."""
        groups = pools.per_device
        policy = self.policy(groups)

        def evaluate(members: Members, actor: Actor):
            def cond(c):
                return (jnp.min(c[1]) < num_episodes) & (c[3] < max_steps)

            def body(c):
                a, count, total, t = c
                logits = policy.act(members, a.out.obs)["policy"]
                handle, out = pools.step(a.handle, jnp.argmax(logits, -1).astype(jnp.int32))
                episodes, info = update_episodes(a.episodes, out)
                f = info["finished"].reshape(groups, -1)
                take = f & (count[:, None] + jnp.cumsum(f, axis=1) <= num_episodes)  # first n only
                ret = jnp.where(take, info["episode_return"].reshape(groups, -1), 0.0).sum(1)
                a = a.replace(handle=handle, out=out, episodes=episodes)
                return a, count + take.sum(1), total + ret, t + 1

            zeros = jnp.zeros((groups,), jnp.int32)
            init = (actor, zeros, jnp.zeros((groups,), jnp.float32), jnp.zeros((), jnp.int32))
            _, count, total, _ = jax.lax.while_loop(cond, body, init)
            return total / jnp.maximum(count, 1)

        split = P(pop.AXIS)
        return counted_jit(
            jax.shard_map(
                evaluate,
                mesh=self.mesh,
                in_specs=(split, Actor(split, split, split, split)),
                out_specs=split,
                check_vma=False,
            )
        )
