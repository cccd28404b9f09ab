"""The device side of AFS and APS (PNN paper, docs/papers.md 1.7): Fisher sums of a trained policy,
states collected from it, and the noisy evaluations, jitted over fixed shapes; the measures
themselves are NumPy (:mod:`pnn_jax.analysis.sensitivity`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from pnn_jax.analysis.sensitivity import afs, aps, halving_variance, normalised_fisher
from pnn_jax.envs.envpool_env import update_episodes
from pnn_jax.rl.actor_critic import make_evaluate
from pnn_jax.rl.policy import preprocess
from pnn_jax.rl.rollout import Actor, start

# ------------------------------------------------------------------------------------------------
# JAX: gradients and states of a progressive net's policy


def make_fisher(net, head: str = "policy") -> Callable:
    """Jitted ``fisher(params, x [B, ...], actions [B], column) -> (raw, s1, s2)``, lists over hidden
    layers of ``[K, F]`` sums over the batch (and positions) of ``(d log pi(a|s) / d h)^2``, ``h``
    and ``h^2`` for every column's post-ReLU activations (the inputs of :func:`normalised_fisher`).

    ``d log pi / d h`` of each state comes from one gradient of the batch's summed log-likelihood
    with respect to an additive perturbation of the activations (``ProgressiveNet.apply(perturb=)``):
    states do not interact, so the gradient at state ``b`` is that state's own.
    """
    shapes = net.column.hidden_shapes()

    def fisher(params, x, actions, column):
        b = x.shape[0]
        zeros = [jnp.zeros((net.max_columns, b, *s), jnp.float32) for s in shapes]

        def loglik(perturb):
            out, hidden = net.apply(params, x, column, return_hidden=True, perturb=perturb)
            logp = jax.nn.log_softmax(out[head])
            return jnp.take_along_axis(logp, actions[:, None], 1).sum(), hidden

        grads, hidden = jax.grad(loglik, has_aux=True)(zeros)

        def over_batch(a):  # [K, B, *spatial, F] -> [K, F]
            return a.reshape(a.shape[0], -1, a.shape[-1]).sum(1)

        raw = [over_batch(g**2) for g in grads]
        s1 = [over_batch(h) for h in hidden]
        s2 = [over_batch(h**2) for h in hidden]
        return raw, s1, s2

    return jax.jit(fisher)


def layer_fisher(net, params, x: np.ndarray, actions: np.ndarray, column: int, batch: int = 256):
    """``(fisher, std)``, lists over hidden layers of ``[K, F]``: normalised Fisher diagonals
    (:func:`normalised_fisher`) of ``column``'s policy over the states ``x [n, ...]`` and their
    ``actions [n]``, and each unit's (map's) activation std over them (APS scales its noise by it).
    Batches of ``batch`` states (a shorter last batch compiles once more)."""
    fn = make_fisher(net)
    n = len(x)
    totals = None
    for first in range(0, n, batch):
        part = jax.device_get(fn(params, x[first : first + batch], actions[first : first + batch], column))
        totals = part if totals is None else jax.tree.map(np.add, totals, part)
    raw, s1, s2 = totals
    spatial = [int(np.prod(s[:-1])) for s in net.column.hidden_shapes()]
    fisher = [normalised_fisher(r, a, b, n * p, n) for r, a, b, p in zip(raw, s1, s2, spatial, strict=True)]
    std = [
        np.sqrt(np.maximum(b / (n * p) - (a / (n * p)) ** 2, 0.0))
        for a, b, p in zip(s1, s2, spatial, strict=True)
    ]
    return fisher, std


def make_collect(net, env, steps: int, transform: Callable | None = None) -> Callable:
    """Jitted ``collect(params, column, actor) -> (actor, x [steps * E, ...], actions [steps * E])``:
    states (preprocessed, as the policy sees them) and actions sampled from the policy of
    ``column`` for ``steps`` steps of every env (``rho(s, a)`` of docs/papers.md 1.7)."""
    obs_fn = (lambda o: preprocess(transform(o))) if transform is not None else preprocess

    def collect(params, column, actor):
        def body(a: Actor, _):
            key, k = jax.random.split(a.key)
            x = obs_fn(a.out.obs)
            action = jax.random.categorical(k, net.apply(params, x, column)["policy"]).astype(jnp.int32)
            handle, out = env.step(a.handle, action)
            episodes, _ = update_episodes(a.episodes, out)
            return Actor(handle, out, episodes, key), (x, action)

        actor, (xs, actions) = jax.lax.scan(body, actor, None, length=steps)
        return actor, xs.reshape(-1, *xs.shape[2:]), actions.reshape(-1)

    return jax.jit(collect)


def noise_scales(net, stds: Sequence[np.ndarray], layer: int, column: int, sigma: float) -> list[np.ndarray]:
    """Per hidden layer, ``[K, 1, *1, F]`` standard deviations of the APS noise (``stds``: ``[K, F]``
    per layer): ``sigma * std`` of
    ``column``'s units at ``layer``, zero everywhere else (broadcast over batch and positions)."""
    out = []
    for i, (shape, std) in enumerate(zip(net.column.hidden_shapes(), stds, strict=True)):
        scale = np.zeros((net.max_columns, *([1] * len(shape)), shape[-1]), np.float32)
        if i == layer:
            scale[column] = sigma * np.asarray(std, np.float32)[column].reshape(scale.shape[1:])
        out.append(scale)
    return out


DEFAULT_GRID = tuple(float(v) for v in np.geomspace(1e-2, 1e2, 9))  # sigma^2 (x activation variance)


def policy_sensitivity(
    net,
    params,
    column: int,
    env,
    key,
    *,
    transform: Callable | None = None,
    states: int = 1024,
    aps_episodes: int = 0,
    grid: Sequence[float] = DEFAULT_GRID,
    score_offset: float = 0.0,
) -> dict:
    """AFS (and APS when ``aps_episodes > 0``) of the policy of ``column`` over columns ``0..column``.

    Samples about ``states`` states and actions from the policy on ``env`` (``rho``), computes every
    hidden layer's AFS, then for APS evaluates the greedy score (``aps_episodes`` episodes per point)
    unperturbed and at each noise variance of ``grid`` on each (layer, column). Scores are shifted
    by ``score_offset`` before halving (negative-score games). Returns lists over hidden layers of
    lists over columns: ``afs`` (share), ``afs_sum`` (``sum_m``), and with APS ``aps``,
    ``aps_sigma2`` (inf = never halved) and ``aps_scores`` ``[layer][column][grid]`` with
    ``aps_base`` and ``aps_grid``.
    """
    cols = column + 1
    steps = max(1, -(-states // env.cfg.num_envs))
    k_collect, k_eval = jax.random.split(key)
    _, x, actions = make_collect(net, env, steps, transform)(params, column, start(env, k_collect))
    x, actions = np.asarray(x), np.asarray(actions)
    fisher, std = layer_fisher(net, params, x, actions, column)
    per_layer = [afs(f[:cols]) for f in fisher]
    out = {
        "afs": [p["share"].tolist() for p in per_layer],
        "afs_sum": [p["per_layer"].tolist() for p in per_layer],
        "afs_states": len(x),
    }
    if aps_episodes > 0:
        evaluate = make_evaluate(net, env, aps_episodes, transform=transform)

        def score(noise, k):
            _, ev = evaluate(params, column, start(env, k), noise)
            return float(ev["return"]) + score_offset

        zero = noise_scales(net, std, 0, 0, 0.0)
        base = score(zero, k_eval)
        sigma2, scores = [], []
        for i in range(len(std)):
            row_s, row_scores = [], []
            for k in range(cols):
                vals = [score(noise_scales(net, std, i, k, float(np.sqrt(v))), k_eval) for v in grid]
                row_scores.append(vals)
                row_s.append(halving_variance(grid, vals, base))
            sigma2.append(row_s)
            scores.append(row_scores)
        out.update(
            aps=[aps(s).tolist() for s in sigma2],
            aps_sigma2=sigma2,
            aps_scores=scores,
            aps_base=base,
            aps_grid=list(grid),
        )
    return out
