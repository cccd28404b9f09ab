"""Training one column of a progressive net with the earlier columns frozen.

``TrainState`` holds the parameters of all columns, the optimiser state, the column being trained
and the trainable mask. ``column`` and ``trainable`` are values, not structure: one compiled step
serves every column and every baseline (a step is traced once; see :class:`pnn_jax.jit.counted_jit`).

A step: gradients of the loss of column ``k`` (only column ``k`` is differentiated, see
:meth:`ProgressiveNet.apply_train`), frozen slices of the gradients zeroed, the optax update, frozen
slices of the updates zeroed, and the update applied by select so frozen parameters stay bit-exact
whatever the optimiser (Adam or RMSProp moments from earlier columns included).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax

from pnn_jax import freezing
from pnn_jax.jit import counted_jit
from pnn_jax.nets.progressive import Params, ProgressiveNet

Batch = Any
# loss_fn(outputs {head: [B, size]}, batch) -> (scalar loss, {name: scalar metric})
LossFn = Callable[[dict[str, jax.Array], Batch], tuple[jax.Array, dict[str, jax.Array]]]


@flax.struct.dataclass
class TrainState:
    """Everything a column's training changes. All fields are arrays (a pytree)."""

    params: Params
    opt_state: optax.OptState
    column: jax.Array  # int32 [], the column being trained (0-based)
    trainable: Params  # bool [K] per leaf
    step: jax.Array  # int32 [], steps taken on this column


def init_state(
    net: ProgressiveNet, params: Params, tx: optax.GradientTransformation, column: int, scope="column"
) -> TrainState:
    """State to train ``column`` (``scope="heads"``: its output layer only), others frozen.

    The optimiser state is fresh: moments from training an earlier column are dropped (they could
    not move frozen weights anyway, since updates are masked). Same shapes for every column, so
    switching columns does not retrace the step.
    """
    column = jnp.asarray(column, jnp.int32)
    return TrainState(
        params=params,
        opt_state=tx.init(params),
        column=column,
        trainable=net.trainable_mask(params, column, scope),
        step=jnp.zeros((), jnp.int32),
    )


def classification_loss(head: str = "logits") -> LossFn:
    """Softmax cross-entropy on head ``head`` for batches ``(x [B, ...], y int [B])``."""

    def loss_fn(outputs, batch):
        logits = outputs[head]
        labels = batch[1]
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
        acc = (jnp.argmax(logits, -1) == labels).mean()
        return loss, {"loss": loss, "accuracy": acc}

    return loss_fn


def train_step(
    net: ProgressiveNet,
    tx: optax.GradientTransformation,
    loss_fn: LossFn,
    state: TrainState,
    batch: Batch,
) -> tuple[TrainState, dict[str, jax.Array]]:
    """One optimisation step of ``state.column`` on ``batch`` (pure; jit it or scan it)."""

    def objective(params):
        outputs = net.apply_train(params, batch[0], state.column)
        return loss_fn(outputs, batch)

    grads, metrics = jax.grad(objective, has_aux=True)(state.params)
    params, opt_state = freezing.optax_step(tx, state.params, state.opt_state, grads, state.trainable)
    new = state.replace(params=params, opt_state=opt_state, step=state.step + 1)
    return new, metrics


def make_train_step(net: ProgressiveNet, tx: optax.GradientTransformation, loss_fn: LossFn) -> counted_jit:
    """Jitted ``step(state, batch) -> (state, metrics)``; ``.traces`` counts its compilations."""
    return counted_jit(lambda state, batch: train_step(net, tx, loss_fn, state, batch))


def train_loop(net: ProgressiveNet, tx: optax.GradientTransformation, loss_fn: LossFn, batch_size: int):
    """Pure ``loop(state, data, key, num_steps) -> (state, metrics)`` for data held on device.

    ``data = (x [N, ...], y [N])``. Each of the ``num_steps`` steps samples a minibatch of
    ``batch_size`` indices with replacement inside a ``lax.scan``: no host round trip per step.
    Metrics are averaged over the steps (scalars only, never stacked per step).
    """

    def loop(state, data, key, num_steps):
        n = jax.tree.leaves(data)[0].shape[0]

        def body(carry, step_key):
            idx = jax.random.randint(step_key, (batch_size,), 0, n)
            batch = jax.tree.map(lambda a: a[idx], data)
            carry, metrics = train_step(net, tx, loss_fn, carry, batch)
            return carry, metrics

        state, metrics = jax.lax.scan(body, state, jax.random.split(key, num_steps))
        return state, jax.tree.map(jnp.mean, metrics)

    return loop


def make_train_loop(
    net: ProgressiveNet, tx: optax.GradientTransformation, loss_fn: LossFn, batch_size: int
) -> counted_jit:
    """Jitted :func:`train_loop` (``num_steps`` static); ``.traces`` counts its compilations."""
    return counted_jit(train_loop(net, tx, loss_fn, batch_size), static_argnames=("num_steps",))


def make_population_train_loop(
    net: ProgressiveNet, tx: optax.GradientTransformation, loss_fn: LossFn, batch_size: int
) -> counted_jit:
    """:func:`train_loop` vmapped over a population: ``loop(states [P], data, keys [P], num_steps)``.

    Every member has its own parameters, optimiser state (hyperparameters injected with
    ``optax.inject_hyperparams`` may differ per member) and PRNG key; the data are shared. One
    compiled call trains all members.
    """
    loop = train_loop(net, tx, loss_fn, batch_size)

    def population_loop(states, data, keys, num_steps):
        return jax.vmap(lambda s, k: loop(s, data, k, num_steps))(states, keys)

    return counted_jit(population_loop, static_argnames=("num_steps",))


def make_evaluate(
    net: ProgressiveNet, head: str = "logits", batch_size: int = 1024, population: bool = False
) -> counted_jit:
    """Jitted ``evaluate(params, x, y, column) -> accuracy`` over a whole dataset (any size).

    The dataset is padded to a multiple of ``batch_size`` and scanned in fixed-size chunks. With
    ``population=True``, ``params`` carry a leading member axis and the result is ``[P]``.
    """

    def evaluate(params, x, y, column):
        n = x.shape[0]
        chunks = -(-n // batch_size)
        pad = chunks * batch_size - n
        xs = jnp.pad(x, [(0, pad)] + [(0, 0)] * (x.ndim - 1)).reshape(chunks, batch_size, *x.shape[1:])
        ys = jnp.pad(y, (0, pad), constant_values=-1).reshape(chunks, batch_size)

        def body(total, chunk):
            cx, cy = chunk
            pred = jnp.argmax(net.apply(params, cx, column)[head], -1)
            return total + jnp.sum((pred == cy) & (cy >= 0)), None

        correct, _ = jax.lax.scan(body, jnp.zeros((), jnp.int32), (xs, ys))
        return correct / n

    if population:
        return counted_jit(jax.vmap(evaluate, in_axes=(0, None, None, None)))
    return counted_jit(evaluate)
