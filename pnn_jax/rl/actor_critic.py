"""Actor-critic training of one progressive column over envpool batches, one compiled call per
iteration (docs/papers.md 1.3; environments stay inside jit).

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
TRUNCATION = ("bootstrap", "terminal")


@dataclasses.dataclass(frozen=True)
class ACConfig:
    """Settings of an actor-critic learner; defaults are A3C's (docs/papers.md 1.3) for ``a2c``."""

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
    truncation: str = "bootstrap"
    """An episode cut by a time limit: ``bootstrap`` from the value of the state at the cut, or
    treat it as ``terminal`` (:mod:`pnn_jax.rl.returns`)."""

    def __post_init__(self):
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {self.algorithm!r}")
        if self.truncation not in TRUNCATION:
            raise ValueError(f"truncation must be one of {TRUNCATION}, got {self.truncation!r}")
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


@dataclasses.dataclass(frozen=True)
class Policy:
    """How the generic iteration (:func:`build_iteration`) reads and updates a model.

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
    (member-major). Samples reach ``policy.train`` member-major. ``actor.key`` is one PRNG key,
    or one per member ``[groups]`` (each member then samples actions and orders its PPO
    minibatches from its own stream, whatever the split of members over devices). PPO advantages
    are normalised per member. The objective is the sum over members of each member's mean loss;
    ``reduce_grads`` combines gradients before the update (a ``psum`` across devices).

    Metrics: losses, entropy, and over the rollout the finished episodes (count, sum of returns and
    lengths, truncations, agent steps), in total and per env (``env_episodes``,
    ``env_return_sum``, ``env_steps`` ``[B]``) so windows of them can be averaged.
    """

    def split(key, num=2):
        """``num`` keys from one key, or ``[num, G]`` from per-member keys ``[G]``."""
        if key.ndim == 0:
            return jax.random.split(key, num)
        return jnp.swapaxes(jax.vmap(lambda k: jax.random.split(k, num))(key), 0, 1)

    def sample(key, logits):
        if key.ndim == 0:
            return jax.random.categorical(key, logits)
        per_member = logits.reshape(groups, -1, logits.shape[-1])  # per-member streams
        return jax.vmap(jax.random.categorical)(key, per_member).reshape(logits.shape[:-1])

    def act(state, obs, key):
        heads = policy.act(state, obs_fn(obs))
        action = sample(key, heads["policy"])
        logp = losses.log_prob(heads["policy"], action)
        return action, heads["value"][..., 0], logp

    def rollout(state, actor: Actor):
        def body(a: Actor, _):
            key, k = split(a.key)
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

        actor, traj = jax.lax.scan(body, actor, None, length=cfg.t_max)
        _, bootstrap, _ = act(state, actor.out.obs, actor.key)
        return actor, traj, bootstrap

    def by_member(x):
        """``[T, B, ...]`` -> ``[groups, T * B / groups, ...]``: each member's samples together."""
        t, b = x.shape[:2]
        x = x.reshape(t, groups, b // groups, *x.shape[2:])
        return jnp.swapaxes(x, 0, 1).reshape(groups, t * (b // groups), *x.shape[3:])

    def flat(x):
        return x.reshape(-1, *x.shape[2:])

    def update_with(state, objective):
        grads, metrics = jax.grad(objective, has_aux=True)(policy.params(state))
        if reduce_grads is not None:
            grads = reduce_grads(grads)
        return policy.apply_grads(state, grads), metrics

    def summed_over_members(loss_fn, logits, values, *arrays, **kw):
        """Sum over members of each member's (masked mean) loss; metrics averaged over members.
        Exact whatever the split of members over devices (each member's mean is its own)."""
        if groups == 1:
            return loss_fn(logits, values, *arrays, **kw)
        mask = kw.pop("mask")
        split = [a.reshape(groups, -1, *a.shape[1:]) for a in (logits, values, *arrays, mask)]
        loss, metrics = jax.vmap(lambda *a: loss_fn(*a[:-1], mask=a[-1], **kw))(*split)
        return loss.sum(), jax.tree.map(jnp.mean, metrics)

    def discounts_and_cuts(traj):
        """Discounts ``[T, B]`` and the time-limit cuts to bootstrap at (None: cut = terminal)."""
        if cfg.truncation == "terminal":
            return returns.discounts_from(traj["done"], cfg.gamma), None
        return returns.discounts_from(traj["terminated"], cfg.gamma), traj["truncated"]

    def a2c_update(state, traj, bootstrap):
        discounts, cut = discounts_and_cuts(traj)
        rets = returns.n_step_returns(
            traj["reward"], discounts, bootstrap, truncated=cut, values=traj["value"]
        )

        def objective(params):
            heads = policy.train(params, state, obs_fn(flat(by_member(traj["obs"]))))
            return summed_over_members(
                losses.a2c_loss,
                heads["policy"],
                heads["value"][..., 0],
                flat(by_member(traj["action"])),
                flat(by_member(rets)),
                value_cost=cfg.value_cost,
                entropy_cost=cfg.entropy_cost,
                mask=flat(by_member(traj["valid"])),
            )

        return update_with(state, objective)

    def ppo_update(state, traj, bootstrap, key):
        discounts, cut = discounts_and_cuts(traj)
        adv = returns.gae(traj["reward"], discounts, traj["value"], bootstrap, cfg.gae_lambda, truncated=cut)
        rets = adv + traj["value"]
        data = {  # [groups, n, ...]
            "obs": by_member(traj["obs"]),
            "action": by_member(traj["action"]),
            "log_prob": by_member(traj["log_prob"]),
            "adv": by_member(adv),
            "ret": by_member(rets),
            "valid": by_member(traj["valid"]),
        }
        if cfg.normalize_advantages:  # per member
            w = data["valid"].astype(jnp.float32)
            count = jnp.maximum(w.sum(1, keepdims=True), 1.0)
            mean = (data["adv"] * w).sum(1, keepdims=True) / count
            std = jnp.sqrt(((data["adv"] - mean) ** 2 * w).sum(1, keepdims=True) / count)
            data["adv"] = (data["adv"] - mean) / (std + 1e-8)
        n = data["action"].shape[1]
        size = n // cfg.ppo_minibatches

        def minibatch_step(st, idx):  # idx [groups, size]
            mb = jax.tree.map(lambda a: flat(jax.vmap(lambda x, i: x[i])(a, idx)), data)

            def objective(params):
                heads = policy.train(params, st, obs_fn(mb["obs"]))
                return summed_over_members(
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

            return update_with(st, objective)

        # Epochs and minibatches are unrolled at trace time, not a lax.scan: on XLA:CPU a conv
        # backward pass inside a while loop ran 10-14x slower than unrolled (measured; the
        # forward pass is unaffected), and the counts are small and static.
        # One key: the same order for every member; per-member keys: an order per member.
        def permutation(k):
            if k.ndim == 0:
                return jnp.broadcast_to(jax.random.permutation(k, n), (groups, n))
            return jax.vmap(lambda kk: jax.random.permutation(kk, n))(k)

        all_metrics = []
        for k in split(key, cfg.ppo_epochs):
            order = permutation(k)
            for j in range(cfg.ppo_minibatches):
                state, m = minibatch_step(state, order[:, j * size : (j + 1) * size])
                all_metrics.append(m)
        return state, jax.tree.map(lambda *v: jnp.mean(jnp.stack(v)), *all_metrics)

    def iteration(state, actor: Actor):
        actor, traj, bootstrap = rollout(state, actor)
        if cfg.algorithm == "a2c":
            state, metrics = a2c_update(state, traj, bootstrap)
        else:
            key, k = split(actor.key)
            actor = actor.replace(key=key)
            state, metrics = ppo_update(state, traj, bootstrap, k)
        metrics = {
            **metrics,
            "episodes": traj["finished"].sum(),
            "episode_return_sum": traj["episode_return"].sum(),
            "episode_length_sum": traj["episode_length"].sum(),
            "truncations": traj["truncated"].sum(),
            "agent_steps": traj["valid"].sum(),
            "env_episodes": traj["finished"].sum(0),
            "env_return_sum": traj["episode_return"].sum(0),
            "env_steps": traj["valid"].sum(0),
        }
        return state, actor, metrics

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


def start(env: VecEnv, key: jax.Array) -> Actor:
    """Reset the envs (host; waits for in-flight work, :meth:`VecEnv.reset`) and build the first
    :class:`Actor`."""
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
