"""Actor-critic training of one progressive column over envpool batches, one compiled call per
iteration (docs/papers.md 1.3; environments stay inside jit).

An iteration (:func:`build_iteration`) is a rollout of ``t_max`` steps of ``B`` envs
(:mod:`pnn_jax.rl.rollout`), then the algorithm's update (:mod:`pnn_jax.rl.updates`): A2C (the
synchronous form of A3C: n-step returns, one gradient step) or PPO (GAE, ``epochs`` x
``minibatches`` clipped steps). For a progressive column (:func:`column_policy`) only column ``k``
is differentiated; earlier columns run forward, frozen (exact freezing of
:mod:`pnn_jax.train.progressive`). Baselines 1-4 are the same code with another trainable mask.
This module also compiles iterations into loops and evaluates a column's greedy policy.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from pnn_jax.envs.envpool_env import VecEnv, update_episodes
from pnn_jax.jit import counted_jit
from pnn_jax.nets.progressive import ProgressiveNet
from pnn_jax.rl.policy import ALGORITHMS, TRUNCATION, ACConfig, Policy, column_policy, preprocess
from pnn_jax.rl.rollout import Actor, Members, episode_metrics, make_rollout, start
from pnn_jax.rl.updates import UPDATES

__all__ = [
    "ALGORITHMS",
    "TRUNCATION",
    "ACConfig",
    "Actor",
    "Policy",
    "build_iteration",
    "column_policy",
    "compile_loop",
    "make_evaluate",
    "make_iteration",
    "make_loop",
    "preprocess",
    "start",
]


def build_iteration(
    policy: Policy,
    env_step: Callable,
    cfg: ACConfig,
    *,
    obs_fn: Callable = preprocess,
    reward_fn: Callable | None = None,
    groups: int = 1,
    reduce_grads: Callable | None = None,
) -> Callable:
    """Un-jitted ``iteration(state, actor) -> (state, actor, metrics)``: one rollout and its update.

    ``env_step(handle, actions [B]) -> (handle, EnvOutput)``. ``obs_fn`` maps raw observations to
    network inputs (preprocessing, Pong Soup transforms). ``reward_fn(obs, out) -> [B]`` replaces the
    env's reward (a shaped sub-task reward); learning and episode returns then use it.

    Population layout: the ``B`` envs are ``groups`` members of ``B / groups`` envs each
    (member-major, :class:`~pnn_jax.rl.rollout.Members`); ``actor.key`` is one PRNG key or one
    per member. ``reduce_grads`` combines gradients before the update (a ``psum`` across devices).

    Metrics: the update's losses and entropy, and the rollout's finished episodes
    (:func:`~pnn_jax.rl.rollout.episode_metrics`).
    """
    members = Members(groups)
    rollout = make_rollout(policy, env_step, cfg, members, obs_fn, reward_fn)
    update = UPDATES[cfg.algorithm](policy, cfg, members, obs_fn, reduce_grads)

    def iteration(state, actor: Actor):
        actor, traj, bootstrap = rollout(state, actor)
        state, actor, metrics = update(state, actor, traj, bootstrap)
        return state, actor, {**metrics, **episode_metrics(traj)}

    return iteration


def make_iteration(
    net: ProgressiveNet,
    tx,
    env: VecEnv,
    cfg: ACConfig,
    transform: Callable[[jax.Array], jax.Array] | None = None,
) -> counted_jit:
    """Jitted ``iteration(state, actor) -> (state, actor, metrics)`` of column ``state.column``
    (:func:`build_iteration` with :func:`column_policy`).

    ``transform`` is applied to raw observations inside the call (e.g. a Pong Soup variant).
    """
    obs_fn = (lambda o: preprocess(transform(o))) if transform is not None else preprocess
    return counted_jit(build_iteration(column_policy(net, tx), env.step, cfg, obs_fn=obs_fn))


def make_loop(
    net: ProgressiveNet,
    tx,
    env: VecEnv,
    cfg: ACConfig,
    num_iterations: int,
    transform: Callable[[jax.Array], jax.Array] | None = None,
    mode: str = "auto",
):
    """``loop(state, actor) -> (state, actor, metrics [num_iterations])``: that many iterations.

    ``mode="scan"``: one compiled ``lax.scan`` over the iterations (one dispatch; best on GPU/TPU).
    ``mode="dispatch"``: the compiled single iteration called ``num_iterations`` times without
    reading anything back in between (asynchronous dispatch), metrics stacked at the end. On
    XLA:CPU a conv backward pass inside a while loop runs 10-14x slower than outside one
    (measured on this project's CPU; dense layers and forward passes are unaffected), so
    ``"auto"`` picks ``dispatch`` on CPU and ``scan`` elsewhere. ``.traces`` counts compilations.
    """
    obs_fn = (lambda o: preprocess(transform(o))) if transform is not None else preprocess
    iteration = build_iteration(column_policy(net, tx), env.step, cfg, obs_fn=obs_fn)
    return compile_loop(iteration, num_iterations, mode)


def compile_loop(iteration: Callable, num_iterations: int, mode: str = "auto"):
    """``loop(state, actor) -> (state, actor, metrics [num_iterations, ...])`` from an un-jitted
    ``iteration(state, actor) -> (state, actor, metrics)``; ``mode`` as in :func:`make_loop`."""
    if mode not in ("auto", "scan", "dispatch"):
        raise ValueError(f"mode must be auto, scan or dispatch, got {mode!r}")
    if mode == "auto":
        mode = "dispatch" if jax.default_backend() == "cpu" else "scan"
    if mode == "dispatch":
        return _Dispatch(counted_jit(iteration), num_iterations)

    def loop(state, actor):
        def body(carry, _):
            st, ac = carry
            st, ac, m = iteration(st, ac)
            return (st, ac), m

        (state, actor), metrics = jax.lax.scan(body, (state, actor), None, length=num_iterations)
        return state, actor, metrics

    return counted_jit(loop)


class _Dispatch:
    """``num_iterations`` calls of one compiled iteration, metrics stacked once at the end."""

    def __init__(self, iteration: counted_jit, num_iterations: int):
        self.iteration = iteration
        self.num_iterations = num_iterations

    @property
    def traces(self) -> int:
        return self.iteration.traces

    def __call__(self, state, actor):
        metrics = []
        for _ in range(self.num_iterations):
            state, actor, m = self.iteration(state, actor)
            metrics.append(m)
        return state, actor, jax.tree.map(lambda *v: jnp.stack(v), *metrics)


def make_evaluate(
    net: ProgressiveNet,
    env: VecEnv,
    num_episodes: int,
    *,
    greedy: bool = True,
    max_steps: int = 100_000,
    transform: Callable[[jax.Array], jax.Array] | None = None,
) -> counted_jit:
    """Jitted ``evaluate(params, column, actor) -> (actor, {"return", "length", "episodes"})``.

    Steps all envs with the greedy (argmax) or sampling policy of ``column`` until
    ``num_episodes`` episodes have finished (or ``max_steps`` steps of the batch), inside one
    ``lax.while_loop``; returns the mean raw return and length of the finished episodes. Start from
    a fresh :func:`start` so no episode began under another policy.

    ``evaluate(params, column, actor, noise)`` adds fresh Gaussian noise to the hidden activations
    at every step, with standard deviations ``noise`` (one array per hidden layer broadcastable to
    ``[K, B, *shape]``, e.g. :func:`pnn_jax.rl.sensitivity.noise_scales`; traced, so every
    noise level reuses one compilation). For APS (docs/papers.md 1.7).
    """
    obs_fn = (lambda o: preprocess(transform(o))) if transform is not None else preprocess
    shapes = net.column.hidden_shapes()

    def evaluate(params, column, actor: Actor, noise=None):
        def cond(c):
            return (c[1] < num_episodes) & (c[4] < max_steps)

        def body(c):
            a, count, total, length, t = c
            key, k = jax.random.split(a.key)
            x = obs_fn(a.out.obs)
            perturb = None
            if noise is not None:
                k, k_noise = jax.random.split(k)
                keys = jax.random.split(k_noise, len(shapes))
                perturb = [
                    s * jax.random.normal(kk, (net.max_columns, x.shape[0], *shape))
                    for s, kk, shape in zip(noise, keys, shapes, strict=True)
                ]
            logits = net.apply(params, x, column, perturb=perturb)["policy"]
            action = jnp.argmax(logits, -1) if greedy else jax.random.categorical(k, logits)
            handle, out = env.step(a.handle, action.astype(jnp.int32))
            episodes, info = update_episodes(a.episodes, out)
            f = info["finished"]
            return (
                Actor(handle, out, episodes, key),
                count + f.sum(),
                total + jnp.where(f, info["episode_return"], 0.0).sum(),
                length + info["episode_length"].sum(),
                t + 1,
            )

        zero = jnp.zeros((), jnp.float32)
        init = (actor, jnp.zeros((), jnp.int32), zero, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))
        actor, count, total, length, _ = jax.lax.while_loop(cond, body, init)
        n = jnp.maximum(count, 1)
        return actor, {"return": total / n, "length": length / n, "episodes": count}

    return counted_jit(evaluate)
