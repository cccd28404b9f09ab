"""Actor-critic training of one progressive column over envpool batches, one compiled call per
iteration (PAPERS.md 1.3; DESIGN.md "environments stay inside jit").

An iteration: a rollout of ``t_max`` steps of ``B`` envs (``lax.scan`` over the env's step, the
policy sampled from column ``k``), then the update: A2C (the synchronous form of A3C: n-step
returns, one gradient step) or PPO (GAE, ``epochs`` x ``minibatches`` clipped steps). Only column
``k`` is differentiated; earlier columns run forward, frozen (exact freezing of
:mod:`pnn_jax.train.progressive`). Baselines 1-4 are the same code with another trainable mask.

Transitions that lead into an envpool auto-reset step (``EnvOutput.first``) are masked out of the
loss: their action was ignored by the env.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import flax.struct
import jax
import jax.numpy as jnp

from pnn_jax import freezing
from pnn_jax.envs.envpool_env import EnvOutput, Episodes, VecEnv, update_episodes
from pnn_jax.jit import counted_jit
from pnn_jax.nets.progressive import ProgressiveNet
from pnn_jax.rl import losses, returns
from pnn_jax.train.progressive import TrainState

ALGORITHMS = ("a2c", "ppo")


@dataclasses.dataclass(frozen=True)
class ACConfig:
    """Settings of an actor-critic learner; defaults are A3C's (PAPERS.md 1.3) for ``a2c``."""

    algorithm: str = "a2c"
    t_max: int = 5
    """Rollout length per iteration (A3C's n-step 5)."""
    gamma: float = 0.99
    value_cost: float = 0.5
    entropy_cost: float = 0.01
    clip_rewards: bool = True
    """Learn from rewards clipped to [-1, 1] (Atari); reported returns stay raw."""
    gae_lambda: float = 0.95
    """PPO only."""
    ppo_clip: float = 0.2
    ppo_epochs: int = 4
    ppo_minibatches: int = 4
    normalize_advantages: bool = True

    def __post_init__(self):
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {self.algorithm!r}")
        if self.t_max < 1:
            raise ValueError(f"t_max must be at least 1, got {self.t_max}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma}")
        if self.entropy_cost < 0 or self.value_cost < 0:
            raise ValueError("entropy_cost and value_cost must be >= 0")


@flax.struct.dataclass
class Actor:
    """What a rollout carries from one iteration to the next."""

    handle: jax.Array
    out: EnvOutput
    episodes: Episodes
    key: jax.Array


def preprocess(obs: jax.Array) -> jax.Array:
    """Observations for the network: uint8 frames ``[B, C, H, W]`` -> float ``[B, H, W, C]`` in
    [0, 1]; vectors as float32."""
    if obs.dtype == jnp.uint8 and obs.ndim == 4:
        return jnp.transpose(obs, (0, 2, 3, 1)).astype(jnp.float32) / 255.0
    return obs.astype(jnp.float32)


def make_iteration(
    net: ProgressiveNet,
    tx,
    env: VecEnv,
    cfg: ACConfig,
    transform: Callable[[jax.Array], jax.Array] | None = None,
) -> counted_jit:
    """Jitted ``iteration(state, actor) -> (state, actor, metrics)``: one rollout and its update.

    ``transform`` is applied to raw observations inside the call (e.g. a Pong Soup variant).
    Metrics: losses, entropy, and over the rollout ``episodes`` (finished episodes), the sum of
    their raw returns and lengths and the number truncated, so windows of them can be averaged.
    """
    obs_fn = (lambda o: preprocess(transform(o))) if transform is not None else preprocess

    def act(params, column, obs, key):
        heads = net.apply(params, obs_fn(obs), column)
        action = jax.random.categorical(key, heads["policy"])
        logp = losses.log_prob(heads["policy"], action)
        return action, heads["value"][..., 0], logp

    def rollout(state: TrainState, actor: Actor):
        def body(a: Actor, _):
            key, k = jax.random.split(a.key)
            action, value, logp = act(state.params, state.column, a.out.obs, k)
            handle, out = env.step(a.handle, action.astype(jnp.int32))
            episodes, info = update_episodes(a.episodes, out)
            reward = jnp.clip(out.reward, -1.0, 1.0) if cfg.clip_rewards else out.reward
            tr = {
                "obs": a.out.obs,
                "action": action,
                "reward": reward,
                "done": out.done,
                "valid": ~out.first,
                "value": value,
                "log_prob": logp,
                "finished": info["finished"],
                "episode_return": jnp.where(info["finished"], info["episode_return"], 0.0),
                "episode_length": info["episode_length"],
                "truncated": info["truncated"],
            }
            return Actor(handle, out, episodes, key), tr

        actor, traj = jax.lax.scan(body, actor, None, length=cfg.t_max)
        _, bootstrap, _ = act(state.params, state.column, actor.out.obs, actor.key)
        return actor, traj, bootstrap

    def apply_grads(state: TrainState, grads):
        grads = freezing.zero_frozen(grads, state.trainable)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        updates = freezing.zero_frozen(updates, state.trainable)
        params = freezing.apply_updates(state.params, updates, state.trainable)
        return state.replace(params=params, opt_state=opt_state, step=state.step + 1)

    def flat(x):
        return x.reshape(-1, *x.shape[2:])

    def a2c_update(state, traj, bootstrap):
        discounts = returns.discounts_from(traj["done"], cfg.gamma)
        rets = returns.n_step_returns(traj["reward"], discounts, bootstrap)

        def objective(params):
            heads = net.apply_train(params, obs_fn(flat(traj["obs"])), state.column)
            return losses.a2c_loss(
                heads["policy"],
                heads["value"][..., 0],
                flat(traj["action"]),
                flat(rets),
                value_cost=cfg.value_cost,
                entropy_cost=cfg.entropy_cost,
                mask=flat(traj["valid"]),
            )

        grads, metrics = jax.grad(objective, has_aux=True)(state.params)
        return apply_grads(state, grads), metrics

    def ppo_update(state, traj, bootstrap, key):
        discounts = returns.discounts_from(traj["done"], cfg.gamma)
        adv = returns.gae(traj["reward"], discounts, traj["value"], bootstrap, cfg.gae_lambda)
        rets = adv + traj["value"]
        data = {
            "obs": flat(traj["obs"]),
            "action": flat(traj["action"]),
            "log_prob": flat(traj["log_prob"]),
            "value": flat(traj["value"]),
            "adv": flat(adv),
            "ret": flat(rets),
            "valid": flat(traj["valid"]),
        }
        if cfg.normalize_advantages:
            w = data["valid"].astype(jnp.float32)
            mean = (data["adv"] * w).sum() / jnp.maximum(w.sum(), 1.0)
            std = jnp.sqrt(((data["adv"] - mean) ** 2 * w).sum() / jnp.maximum(w.sum(), 1.0))
            data["adv"] = (data["adv"] - mean) / (std + 1e-8)
        n = data["action"].shape[0]
        size = n // cfg.ppo_minibatches

        def minibatch_step(st, idx):
            mb = jax.tree.map(lambda a: a[idx], data)

            def objective(params):
                heads = net.apply_train(params, obs_fn(mb["obs"]), st.column)
                return losses.ppo_loss(
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

            grads, metrics = jax.grad(objective, has_aux=True)(st.params)
            return apply_grads(st, grads), metrics

        # Epochs and minibatches are unrolled at trace time, not a lax.scan: on XLA:CPU a conv
        # backward pass inside a while loop ran 10-14x slower than unrolled (measured; the
        # forward pass is unaffected), and the counts are small and static.
        all_metrics = []
        for k in jax.random.split(key, cfg.ppo_epochs):
            order = jax.random.permutation(k, n)[: size * cfg.ppo_minibatches].reshape(
                cfg.ppo_minibatches, size
            )
            for idx in order:
                state, m = minibatch_step(state, idx)
                all_metrics.append(m)
        return state, jax.tree.map(lambda *v: jnp.mean(jnp.stack(v)), *all_metrics)

    def iteration(state: TrainState, actor: Actor):
        actor, traj, bootstrap = rollout(state, actor)
        if cfg.algorithm == "a2c":
            state, metrics = a2c_update(state, traj, bootstrap)
        else:
            key, k = jax.random.split(actor.key)
            actor = actor.replace(key=key)
            state, metrics = ppo_update(state, traj, bootstrap, k)
        metrics = {
            **metrics,
            "episodes": traj["finished"].sum(),
            "episode_return_sum": traj["episode_return"].sum(),
            "episode_length_sum": traj["episode_length"].sum(),
            "truncations": traj["truncated"].sum(),
            "agent_steps": traj["valid"].sum(),
        }
        return state, actor, metrics

    return counted_jit(iteration)


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
    if mode not in ("auto", "scan", "dispatch"):
        raise ValueError(f"mode must be auto, scan or dispatch, got {mode!r}")
    if mode == "auto":
        mode = "dispatch" if jax.default_backend() == "cpu" else "scan"
    it = make_iteration(net, tx, env, cfg, transform)
    if mode == "dispatch":
        return _Dispatch(it, num_iterations)
    one = it.__wrapped__  # the un-jitted iteration

    def loop(state, actor):
        def body(carry, _):
            st, ac = carry
            st, ac, m = one(st, ac)
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


def start(env: VecEnv, key: jax.Array) -> Actor:
    """Reset the envs (host) and build the first :class:`Actor`."""
    handle, out = env.reset()
    return Actor(handle, out, Episodes.zeros(env.cfg.num_envs), key)


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
    """
    obs_fn = (lambda o: preprocess(transform(o))) if transform is not None else preprocess

    def evaluate(params, column, actor: Actor):
        def cond(c):
            return (c[1] < num_episodes) & (c[4] < max_steps)

        def body(c):
            a, count, total, length, t = c
            key, k = jax.random.split(a.key)
            logits = net.apply(params, obs_fn(a.out.obs), column)["policy"]
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
