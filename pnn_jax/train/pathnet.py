"""Training PathNet paths on the shared module bank, with exact freezing.

``PathNetState`` holds the bank, the optimiser state, the frozen mask ``[L, M]``, the training
counters ``[L, M]`` and the current task (head). Paths are arguments, never structure: one compiled
step serves every genotype (tested with 10,000 of them).

:func:`population_step` trains P paths at once on their own minibatches ("combined" mode): the
losses of the P paths are summed, so a module shared by several paths receives the sum of their
gradients in one optimiser step. This is the parallel mode for accelerators. The papers' serial
tournament (one path after the other, the second training on weights the first has just changed)
is a different schedule and comes with the search (pnn_jax/evolution.py).
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp
import optax

from pnn_jax import freezing
from pnn_jax.jit import counted_jit
from pnn_jax.nets.pathnet import Params, PathNet


@flax.struct.dataclass
class PathNetState:
    params: Params
    opt_state: optax.OptState
    frozen: jax.Array  # bool [L, M]
    counters: jax.Array  # int32 [L, M], training sessions per module
    task: jax.Array  # int32 [], the head being trained


def init_state(net: PathNet, params: Params, tx: optax.GradientTransformation, task: int = 0) -> PathNetState:
    shape = (net.num_layers, net.num_modules)
    return PathNetState(
        params=params,
        opt_state=tx.init(params),
        frozen=jnp.zeros(shape, bool),
        counters=jnp.zeros(shape, jnp.int32),
        task=jnp.asarray(task, jnp.int32),
    )


def population_step(net: PathNet, tx: optax.GradientTransformation, state: PathNetState, paths, batch):
    """One step of every path ``[P, L, N]`` on its minibatch ``(x [P, B, ...], y [P, B])``.

    Returns ``(state, {"loss": [P], "accuracy": [P]})``; frozen modules and other tasks' heads
    are returned bit for bit.
    """
    x, y = batch

    def objective(params):
        logits = net.apply_population(params, x, paths, state.task)  # [P, B, out]
        losses = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(axis=1)  # [P]
        acc = (jnp.argmax(logits, -1) == y).mean(axis=1)
        return losses.sum(), {"loss": losses, "accuracy": acc}

    grads, metrics = jax.grad(objective, has_aux=True)(state.params)
    trainable = net.trainable_mask(state.params, state.frozen, state.task)
    grads = freezing.zero_frozen(grads, trainable)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    updates = freezing.zero_frozen(updates, trainable)
    params = freezing.apply_updates(state.params, updates, trainable)
    return state.replace(params=params, opt_state=opt_state), metrics


def make_population_session(net: PathNet, tx: optax.GradientTransformation, batch_size: int) -> counted_jit:
    """Jitted ``session(state, paths [P, L, N], data, key, num_steps) -> (state, fitness [P])``.

    One training session: ``num_steps`` minibatches of ``batch_size`` per path (sampled with
    replacement, a different minibatch for each path), in a ``lax.scan``. Fitness is each path's
    mean training accuracy over the session (PAPERS.md 2.2); the counters of the modules each path
    used go up by one.
    """

    def session(state, paths, data, key, num_steps):
        n = jax.tree.leaves(data)[0].shape[0]
        p = paths.shape[0]

        def body(carry, step_key):
            idx = jax.random.randint(step_key, (p, batch_size), 0, n)
            batch = jax.tree.map(lambda a: a[idx], data)
            carry, metrics = population_step(net, tx, carry, paths, batch)
            return carry, metrics["accuracy"]

        state, acc = jax.lax.scan(body, state, jax.random.split(key, num_steps))
        state = state.replace(counters=net.count_training(state.counters, paths))
        return state, acc.mean(axis=0)

    return counted_jit(session, static_argnames=("num_steps",))
