"""Actor-critic PathNet: a population of paths trained at once on one shared module bank over
envpool batches, evolved in parallel (docs/papers.md 2.1-2.3; the population axis is the
unit of parallelism).

**The population.** ``P`` paths ``[P, L, N]``, each with its own ``E`` envs. Every path runs the
actor-critic of :func:`pnn_jax.rl.actor_critic.build_iteration` (A2C, the synchronous form of
the paper's A3C workers, or PPO) on the modules it selects. The bank and the heads are shared: the
objective is the sum over paths of each path's mean loss, so a module used by one path gets that
path's gradient and a module used by several gets their sum (the synchronous counterpart of A3C
workers applying their gradients to shared weights one after another). Policy and value heads are
one linear head per task (``A + 1`` outputs: logits, then the value).

**Devices and hosts.** The population axis is split over a 1-D device mesh with ``shard_map``:
each device runs ``P / D`` paths and its own envpool batch of ``P / D * E`` envs (envpool's XLA
step is bound to one pool, so a device picks its pool with ``lax.switch`` on its mesh index); the
gradients of the shared parameters are summed over devices (``psum``) and every device applies
the same update to its replicated copy. Env ``j`` of path ``p`` is seeded ``seed + p * E + j``
however the population is split, and every path samples from its own PRNG stream, so 1, 2 or 4
devices (or 2 processes) run the same experiment (up to the order of the float sums).

**Evolution** (docs/papers.md 2.2, RL). Every ``evolve_every`` iterations each path's fitness is the
mean return of the episodes it finished in that window; each path compares with ``compare`` (B)
random others and takes a mutated copy of the best of them if that one is better
(:func:`pnn_jax.evolution.compare_and_copy`). The best path of the last window is the task's path.

**Between tasks** (:meth:`PathNetAC.next_task`): ``lock=True`` (PathNet) locks the best path's
modules (used, never updated again), re-initialises every other module (its initial weights, or
fresh ones) and resets their training counters; ``lock=False`` (fine-tuning) keeps everything
trainable and trained.
Both move to the next head and a fresh random population and optimiser state.
``keep_fixed_path=True`` keeps the previous task's path active in the forward pass of every new
path (its modules' outputs are summed in each layer with the new path's, set semantics).

Training counters ``[L, M]`` count path-iterations per module (one unit: one path trained through
the module for one iteration), frozen modules excluded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import flax.struct
import jax
import jax.numpy as jnp
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from pnn_jax import evolution, freezing, ranges
from pnn_jax.envs.envpool_env import EnvConfig
from pnn_jax.nets.columns import Conv
from pnn_jax.nets.pathnet import PathNet
from pnn_jax.rl.actor_critic import build_iteration, compile_loop
from pnn_jax.rl.policy import ACConfig, Policy, preprocess
from pnn_jax.rl.pools import DevicePools
from pnn_jax.rl.rollout import Actor
from pnn_jax.train import population as pop

FORWARDS = ("auto", "gather", "masked")


@dataclasses.dataclass
class EvolutionConfig:
    """Settings of the parallel path search (docs/papers.md 2.2-2.3: 64 workers, B others).

    The PathNet RL experiments use it directly as their ``search`` section (checked when built).
    Each path steps ``num_envs`` envs of the :class:`EnvConfig` given to :meth:`PathNetAC.make_envs`."""

    population: int = 8
    """P, paths trained at once (the paper: 64 A3C workers); 1 = a single path, never evolved."""
    evolve_every: int = 20
    """Iterations in a fitness window (the paper: T episodes per evaluation)."""
    compare: int = 1
    """B, others each path compares with."""
    mutation_prob: float | None = ranges.field(None, low=0, high=1, none="1/(N*L)")
    """Per-gene mutation probability; null = 1/(N*L) (docs/papers.md 2.2)."""
    mutation_range: int = 2
    """Genes move by randint[-r, r]."""
    keep_fixed_path: bool = False
    """Keep the previous task's path active in the forward pass of the new paths."""
    reset: str = "initial"
    """Unlocked modules after a task: their initial weights (initial) or a fresh draw (fresh)."""

    def __post_init__(self):
        for name in ("population", "evolve_every", "compare"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        ranges.check(self)
        if self.reset not in ("initial", "fresh"):
            raise ValueError(f"reset must be initial or fresh, got {self.reset!r}")


@flax.struct.dataclass
class Shared:
    """Replicated on every device."""

    params: dict
    opt_state: object
    frozen: jax.Array  # bool [L, M]
    counters: jax.Array  # float32 [L, M], path-iterations per module
    task: jax.Array  # int32 [], head slot
    fixed_path: jax.Array  # int32 [L, N], the previous task's path (if kept active)
    has_fixed: jax.Array  # bool []
    best_path: jax.Array  # int32 [L, N], best path of the last fitness window
    best_fitness: jax.Array  # float32 [], its fitness (-inf before the first window)
    iteration: jax.Array  # int32 [], iterations on this task
    key: jax.Array  # evolution's PRNG key


@flax.struct.dataclass
class Members:
    """One entry per path ``[P, ...]``, split over devices."""

    paths: jax.Array  # int32 [P, L, N]
    fitness: jax.Array  # float32 [P], last window's mean return, -inf if none
    window_return: jax.Array  # float32 [P], sum of returns finished in this window
    window_episodes: jax.Array  # int32 [P]


@flax.struct.dataclass
class State:
    shared: Shared
    members: Members


STATE_SPEC = State(shared=P(), members=P(pop.AXIS))  # type: ignore[arg-type]


class PathNetAC:
    """A PathNet actor-critic population on a device mesh.

    ``net`` is the super network (``head_size = actions + 1``), ``tx`` the optimiser of the shared
    parameters, ``mesh`` a 1-D ``"pop"`` mesh (default :func:`pnn_jax.train.population.global_mesh`).
    ``forward``: ``"gather"`` runs each path's N modules per layer (:meth:`PathNet.apply`);
    ``"masked"`` runs all M and masks them (:meth:`PathNet.apply_masked`: the same value, one
    ordinary convolution for all paths instead of per-path kernels); ``"auto"`` picks masked for
    banks with conv layers (measured much faster on XLA:CPU; not measured on GPUs yet).
    """

    def __init__(
        self,
        net: PathNet,
        tx,
        ac: ACConfig,
        evo: EvolutionConfig,
        *,
        mesh: Mesh | None = None,
        obs_fn: Callable = preprocess,
        forward: str = "auto",
    ):
        if forward not in FORWARDS:
            raise ValueError(f"forward must be one of {FORWARDS}, got {forward!r}")
        self.net, self.tx, self.ac, self.evo, self.obs_fn = net, tx, ac, evo, obs_fn
        if forward == "auto":  # conv banks: the masked form (one ordinary conv for all paths)
            forward = "masked" if any(isinstance(layer, Conv) for layer in net.layers) else "gather"
        self.forward = forward
        self.mesh = mesh if mesh is not None else pop.global_mesh()
        self.devices = self.mesh.devices.size
        if evo.population % self.devices:
            raise ValueError(
                f"a population of {evo.population} paths does not divide over {self.devices} devices: "
                f"use a multiple of {self.devices} (each device runs the same number of paths)"
            )
        self.local = evo.population // self.devices  # paths per device
        self.mine = pop.local_slice(self.mesh, self.local)  # this process's paths
        self.gene_prob = (
            evo.mutation_prob if evo.mutation_prob is not None else 1.0 / (net.num_layers * net.max_active)
        )

    # --------------------------------------------------------------------------------------------
    # Envs
    def make_envs(self, env_cfg: EnvConfig) -> DevicePools:
        """The population's envs: ``env_cfg.num_envs`` per path, one envpool batch per local device."""
        return DevicePools(env_cfg, self.mesh, self.evo.population, env_cfg.num_envs)

    def start(self, envs: DevicePools, key: jax.Array) -> Actor:
        """Reset the envs: the population's actor (one PRNG stream per path), on the mesh."""
        return envs.start(key)

    # --------------------------------------------------------------------------------------------
    # State
    def init(self, key: jax.Array) -> tuple[State, dict]:
        """A fresh state for task 0 (random paths, initial bank) and the initial parameters (kept
        for ``reset="initial"``); identical on every process for the same key."""
        k_params, k_paths, k_evo = jax.random.split(key, 3)
        params = self.net.init(k_params)
        lm = (self.net.num_layers, self.net.num_modules)
        shared = Shared(
            params=params,
            opt_state=self.tx.init(params),
            frozen=jnp.zeros(lm, bool),
            counters=jnp.zeros(lm, jnp.float32),
            task=jnp.zeros((), jnp.int32),
            fixed_path=jnp.zeros((self.net.num_layers, self.net.max_active), jnp.int32),
            has_fixed=jnp.zeros((), bool),
            best_path=jnp.zeros((self.net.num_layers, self.net.max_active), jnp.int32),
            best_fitness=jnp.asarray(-jnp.inf, jnp.float32),
            iteration=jnp.zeros((), jnp.int32),
            key=k_evo,
        )
        members = self._new_members(k_paths)
        # until a window has a finished episode, the "best" path is the first member's
        return self._place(shared.replace(best_path=members.paths[0]), members), params

    def _new_members(self, key) -> Members:
        p, shape = self.evo.population, (self.net.num_layers, self.net.max_active)
        return Members(
            paths=jax.random.randint(key, (p, *shape), 0, self.net.num_modules, jnp.int32),
            fitness=jnp.full((p,), -jnp.inf, jnp.float32),
            window_return=jnp.zeros((p,), jnp.float32),
            window_episodes=jnp.zeros((p,), jnp.int32),
        )

    def to_checkpoint(self, state: State) -> State:
        """This process's copy of ``state`` as numpy (PRNG key as key data): what a checkpoint
        holds (shared parameters replicated, this process's members)."""
        return pop.to_host(state)

    def from_checkpoint(self, host: State) -> State:
        """The inverse of :meth:`to_checkpoint`: ``host`` placed on the mesh again."""
        shared = jax.tree.map(jnp.asarray, host.shared)
        shared = shared.replace(key=jax.random.wrap_key_data(shared.key))
        members = jax.tree.map(jnp.asarray, host.members)
        return State(pop.put_replicated(shared, self.mesh), pop.put_members(members, self.mesh))

    def _place(self, shared: Shared, members: Members) -> State:
        mine = jax.tree.map(lambda a: a[self.mine], members)
        return State(pop.put_replicated(shared, self.mesh), pop.put_members(mine, self.mesh))

    def next_task(self, state: State, key: jax.Array, initial_params: dict, lock: bool = True) -> State:
        """After a task: lock the best path (``lock``, PathNet) or keep training everything
        (fine-tuning); next head, fresh random paths and optimiser state (host side, between
        tasks)."""
        shared = jax.tree.map(jnp.asarray, pop.to_host(state.shared))
        shared = shared.replace(key=jax.random.wrap_key_data(shared.key))
        k_reset, k_paths, k_evo = jax.random.split(key, 3)
        params, frozen, counters = shared.params, shared.frozen, shared.counters
        if lock:
            params, frozen, counters = self.net.lock_path(
                params,
                frozen,
                counters,
                shared.best_path,
                reset=self.evo.reset,
                initial_params=initial_params,
                key=k_reset,
            )
        shared = shared.replace(
            params=params,
            opt_state=self.tx.init(params),
            frozen=frozen,
            counters=counters,
            task=shared.task + 1,
            fixed_path=shared.best_path,
            has_fixed=jnp.asarray(self.evo.keep_fixed_path and lock),
            best_fitness=jnp.asarray(-jnp.inf, jnp.float32),
            iteration=jnp.zeros((), jnp.int32),
            key=k_evo,
        )
        members = self._new_members(k_paths)
        return self._place(shared.replace(best_path=members.paths[0]), members)

    # --------------------------------------------------------------------------------------------
    # The compiled iteration
    def forward_paths(self, state: State, paths: jax.Array) -> jax.Array:
        """``[L, N]`` or ``[L, 2N]`` paths as run: with the fixed path appended when it is kept."""
        shared = state.shared
        fixed = jnp.where(shared.has_fixed, shared.fixed_path[None], paths)  # own path = no-op (sets)
        return jnp.concatenate([paths, fixed], axis=-1) if self.evo.keep_fixed_path else paths

    def policy(self) -> Policy:
        net, tx, local = self.net, self.tx, self.local

        def heads(params, state: State, x):
            """``x`` member-major ``[local * n, ...]`` -> heads ``[local * n, ...]``."""
            xs = x.reshape(local, -1, *x.shape[1:])
            run = self.forward_paths(state, state.members.paths)

            def one(path, xp):
                if self.forward == "masked":
                    return net.apply_masked(params, xp, path, state.shared.task)
                rows, head = net.gather(params, path, state.shared.task)
                return net.apply_rows(rows, head, xp, path)

            out = jax.vmap(one)(run, xs).reshape(-1, net.head_size)
            return {"policy": out[:, :-1], "value": out[:, -1:]}

        def apply_grads(state: State, grads):
            sh = state.shared
            trainable = net.trainable_mask(sh.params, sh.frozen, sh.task)
            params, opt_state = freezing.optax_step(tx, sh.params, sh.opt_state, grads, trainable)
            return state.replace(shared=sh.replace(params=params, opt_state=opt_state))

        return Policy(
            act=lambda state, x: heads(state.shared.params, state, x),
            train=heads,
            params=lambda state: state.shared.params,
            apply_grads=apply_grads,
        )

    def iteration_fn(self, envs: DevicePools, reward_fn: Callable | None = None) -> Callable:
        """The per-device iteration ``(state, actor) -> (state, actor, metrics)`` under the mesh."""
        net, evo, local = self.net, self.evo, self.local
        axis = pop.AXIS

        inner = build_iteration(
            self.policy(),
            envs.step,
            self.ac,
            obs_fn=self.obs_fn,
            reward_fn=reward_fn,
            groups=local,
            reduce_grads=lambda g: pop.sum_over_devices(g, axis),
        )
        mutate = jax.tree_util.Partial(
            evolution.mutate_path,
            num_modules=net.num_modules,
            prob=self.gene_prob,
            mutation_range=evo.mutation_range,
        )

        def iteration(state: State, actor: Actor):
            state, actor, m = inner(state, actor)
            sh, mem = state.shared, state.members
            ret = m["env_return_sum"].reshape(local, -1).sum(1)
            eps = m["env_episodes"].reshape(local, -1).sum(1).astype(jnp.int32)
            window_return = mem.window_return + ret
            window_episodes = mem.window_episodes + eps
            all_paths = pop.gather_members(mem.paths, axis)  # [P, L, N]
            counters = net.count_training(sh.counters, all_paths, sh.frozen)
            # Evolution at the end of each fitness window (docs/papers.md 2.2).
            it = sh.iteration + 1
            evolve = it % evo.evolve_every == 0
            fitness = jnp.where(
                window_episodes > 0, window_return / jnp.maximum(window_episodes, 1), -jnp.inf
            )
            all_fitness = pop.gather_members(fitness, axis)
            key, k = jax.random.split(sh.key)
            new_paths, copied = evolution.compare_and_copy(k, all_paths, all_fitness, evo.compare, mutate)
            best = jnp.argmax(all_fitness)
            found = evolve & jnp.isfinite(all_fitness[best])
            mem = Members(
                paths=jnp.where(evolve, pop.local_members(new_paths, local, axis), mem.paths),
                fitness=jnp.where(evolve, fitness, mem.fitness),
                window_return=jnp.where(evolve, 0.0, window_return),
                window_episodes=jnp.where(evolve, 0, window_episodes),
            )
            sh = sh.replace(
                counters=counters,
                iteration=it,
                key=key,
                best_path=jnp.where(found, all_paths[best], sh.best_path),
                best_fitness=jnp.where(found, all_fitness[best], sh.best_fitness),
            )
            metrics = {
                **pop.sum_over_devices({k: m[k] for k in SUMMED}, axis),
                **pop.mean_over_devices({k: m[k] for k in self._loss_keys()}, axis),
                "path_episodes": eps,
                "path_return_sum": ret,
                "evolved": evolve,
                "copied": jnp.where(evolve, pop.local_members(copied, local, axis), False),
                "best_fitness": sh.best_fitness,
            }
            return State(sh, mem), actor, metrics

        return iteration

    def make_loop(self, envs: DevicePools, num_iterations: int, *, reward_fn=None, mode: str = "auto"):
        """``loop(state, actor) -> (state, actor, metrics [num_iterations, ...])`` across the mesh:
        ``path_*`` and ``copied`` metrics per path ``[P]``, the rest totals or means."""
        split = P(pop.AXIS)
        actor_spec = Actor(split, split, split, split)  # type: ignore[arg-type]
        metric_spec = {
            **{k: P() for k in (*SUMMED, *self._loss_keys(), "evolved", "best_fitness")},
            **{k: split for k in ("path_episodes", "path_return_sum", "copied")},
        }
        sharded = jax.shard_map(
            self.iteration_fn(envs, reward_fn),
            mesh=self.mesh,
            in_specs=(STATE_SPEC, actor_spec),
            out_specs=(STATE_SPEC, actor_spec, metric_spec),
            check_vma=False,
        )
        return compile_loop(sharded, num_iterations, mode)

    def _loss_keys(self) -> tuple[str, ...]:
        extra = ("clip_fraction",) if self.ac.algorithm == "ppo" else ()
        return ("policy_loss", "value_loss", "entropy", *extra)


SUMMED = ("episodes", "episode_return_sum", "episode_length_sum", "truncations", "agent_steps")
