"""Training and searching PathNet paths on the shared module bank, with exact freezing.

``PathNetState`` holds the bank, the optimiser state, the frozen mask ``[L, M]``, the training
counters ``[L, M]`` and the current task (head). Paths are arguments, never structure: one compiled
step serves every genotype (tested with 10,000 of them).

**Who trains the shared modules in a generation** (``SessionConfig.schedule``). Contestants of a
tournament often share modules. Three schedules, all on the same minibatches for every contestant
of a tournament (docs/papers.md 3.1):

* ``"serial"`` (default of the paper and thesis presets; the papers' serial tournament, docs/papers.md
  2.2): contestants train one after the other, each for T minibatches; the second starts from the
  weights the first has just changed. This is the published protocol and it is *not* symmetric:
  a module shared by both has had T extra updates when the second contestant starts. The order is
  the random order in which ``Tournament.ask`` drew them, so the advantage does not favour any
  genotype systematically, but within one tournament the two fitness values are measured on
  different weights. Every contestant's training is kept.
* ``"isolated"`` (a fair tournament): every contestant trains from the *same* weights (vmapped
  copies); the winner's trained weights (and optimiser state) are kept, the others' updates are
  discarded, and only the winner's modules count a training session. Serial search only.
* ``"combined"`` (the parallel mode for accelerators): all contestants train at once; their losses
  are summed, so a shared module receives the sum of their gradients in one optimiser step. Also
  symmetric.

Tasks are padded to common shapes (:class:`TaskData`), so one compiled search serves every task
of a curriculum, and the repetitions of a study are vmapped over (see the experiments).
"""

from __future__ import annotations

import dataclasses

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax

from pnn_jax import freezing
from pnn_jax.data.noise import salt_and_pepper
from pnn_jax.jit import counted_jit
from pnn_jax.nets.pathnet import Params, PathNet

SCHEDULES = ("serial", "isolated", "combined")
LOSSES = ("cross_entropy", "keras_bce")
KERAS_EPSILON = 1e-7  # Keras's backend epsilon, the clip of probabilities in its cross-entropies


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


@flax.struct.dataclass
class TaskData:
    """One classification task, zero-padded to a common size so tasks share compiled code.

    ``x_train [n, ...]``, ``y_train [n]`` with the first ``n_train`` rows real; likewise the test
    part; ``num_classes`` masks the unused logits of a head wider than the task.
    """

    x_train: jax.Array
    y_train: jax.Array
    n_train: jax.Array  # int32 []
    x_test: jax.Array
    y_test: jax.Array
    n_test: jax.Array  # int32 []
    num_classes: jax.Array  # int32 []


def task_data(tasks) -> list[TaskData]:
    """:class:`TaskData` of each :class:`pnn_jax.data.Task`, padded to the largest train/test size."""
    n_tr = max(len(t.y_train) for t in tasks)
    n_te = max(len(t.y_test) for t in tasks)

    def pad(a, n):
        return np.concatenate([a, np.zeros((n - len(a), *a.shape[1:]), a.dtype)])

    return [
        TaskData(
            x_train=jnp.asarray(pad(t.x_train, n_tr)),
            y_train=jnp.asarray(pad(t.y_train, n_tr)),
            n_train=jnp.asarray(len(t.y_train), jnp.int32),
            x_test=jnp.asarray(pad(t.x_test, n_te)),
            y_test=jnp.asarray(pad(t.y_test, n_te)),
            n_test=jnp.asarray(len(t.y_test), jnp.int32),
            num_classes=jnp.asarray(t.num_classes, jnp.int32),
        )
        for t in tasks
    ]


def masked_logits(logits: jax.Array, num_classes) -> jax.Array:
    """Logits of classes ``>= num_classes`` set to -1e9 (a head wider than its task)."""
    if num_classes is None:
        return logits
    return jnp.where(jnp.arange(logits.shape[-1]) < num_classes, logits, -1e9)


def classification_loss(logits: jax.Array, y: jax.Array, loss: str = "cross_entropy") -> jax.Array:
    """Per-example loss ``[...]`` of ``logits [..., C]`` against integer labels ``y [...]``.

    ``cross_entropy``: softmax cross-entropy from the logits. ``keras_bce``: the thesis's Keras
    head, ``Dense(C, softmax)`` trained with ``binary_crossentropy``: probabilities clipped to
    ``[1e-7, 1 - 1e-7]``, the binary cross-entropy of each output against the one-hot target,
    averaged over the C outputs. For C = 2 its value equals the cross-entropy, but the clip has no
    gradient: a path whose softmax is saturated on the wrong class (p < 1e-7) gets none at all.
    """
    if loss == "cross_entropy":
        return optax.softmax_cross_entropy_with_integer_labels(logits, y)
    p = jnp.clip(jax.nn.softmax(logits, axis=-1), KERAS_EPSILON, 1.0 - KERAS_EPSILON)
    target = jax.nn.one_hot(y, logits.shape[-1], dtype=p.dtype)
    bce = -(target * jnp.log(p + KERAS_EPSILON) + (1 - target) * jnp.log(1 - p + KERAS_EPSILON))
    return bce.mean(axis=-1)


def population_step(
    net: PathNet,
    tx: optax.GradientTransformation,
    state: PathNetState,
    paths,
    batch,
    num_classes=None,
    loss: str = "cross_entropy",
):
    """One step of every path ``[P, L, N]`` on its minibatch ``(x [P, B, ...], y [P, B])``.

    The P losses are summed (a module shared by several paths gets the sum of their gradients).
    Returns ``(state, {"loss": [P], "accuracy": [P]})``; frozen modules and other tasks' heads
    are returned bit for bit.
    """
    x, y = batch

    def objective(params):
        logits = masked_logits(net.apply_population(params, x, paths, state.task), num_classes)
        losses = classification_loss(logits, y, loss).mean(axis=1)  # [P]
        acc = (jnp.argmax(logits, -1) == y).mean(axis=1)
        return losses.sum(), {"loss": losses, "accuracy": acc}

    grads, metrics = jax.grad(objective, has_aux=True)(state.params)
    trainable = net.trainable_mask(state.params, state.frozen, state.task)
    params, opt_state = freezing.optax_step(tx, state.params, state.opt_state, grads, trainable)
    return state.replace(params=params, opt_state=opt_state), metrics


def make_population_session(net: PathNet, tx: optax.GradientTransformation, batch_size: int) -> counted_jit:
    """Jitted ``session(state, paths [P, L, N], data, key, num_steps) -> (state, fitness [P])``.

    ``num_steps`` combined steps (:func:`population_step`), a different minibatch of
    ``batch_size`` per path, sampled with replacement; fitness is each path's mean training
    accuracy over the session (docs/papers.md 2.2); the counters of the trainable modules used go up by one.
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
        state = state.replace(counters=net.count_training(state.counters, paths, state.frozen))
        return state, acc.mean(axis=0)

    return counted_jit(session, static_argnames=("num_steps",))


# --------------------------------------------------------------------------------------------
# Training sessions of tournament contestants


@dataclasses.dataclass(frozen=True)
class SessionConfig:
    """One training session: ``steps`` minibatches of ``batch_size`` (T = 50 of 16, docs/papers.md 2.2)."""

    steps: int = 50
    batch_size: int = 16
    schedule: str = "serial"
    sparse_sgd_lr: float | None = None
    """Set (to the learning rate) when the optimiser is plain SGD: single-path steps then compute
    gradients for the path's N modules per layer only and update those rows in place, instead of
    a gradient and an update over the whole bank: the same arithmetic (bit-identical to the dense
    step in the tests; inside larger compiled programs XLA may fuse the two differently, so long
    runs can differ in the last bits), and much less memory traffic when the bank is large."""
    noise: float = 0.0
    """Salt-and-pepper probability drawn afresh on every training minibatch (0 = none;
    :mod:`pnn_jax.data.noise`). Contestants of a tournament see the same noisy minibatches."""
    noise_high: float = 1.0
    """The value of a white noise pixel in the data's scale (1, or 255 for raw pixels)."""
    loss: str = "cross_entropy"
    """Training loss of the head (:func:`classification_loss`): cross_entropy or keras_bce."""

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("a session needs steps >= 1 and batch_size >= 1")
        if not 0.0 <= self.noise <= 1.0:
            raise ValueError(f"noise must be a probability in [0, 1], got {self.noise}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")

    def noise_keys(self, key: jax.Array, leading: tuple[int, ...]) -> jax.Array | None:
        """One noise key per minibatch ``[*leading]``, or None without noise. Folded from the
        minibatch key, so the minibatches themselves are the same with and without noise."""
        if not self.noise:
            return None
        return jax.random.split(jax.random.fold_in(key, 1), leading)

    def batch(self, data: TaskData, i: jax.Array, key: jax.Array | None):
        """Training minibatch ``(x [B, ...], y [B])`` of rows ``i`` (noised with ``key``)."""
        x = data.x_train[i]
        if key is not None:
            x = salt_and_pepper(key, x, self.noise, self.noise_high)
        return x, data.y_train[i]


def sparse_sgd_path_step(
    net: PathNet, lr: float, state: PathNetState, path, batch, num_classes=None, loss: str = "cross_entropy"
):
    """One plain-SGD step of one path ``[L, N]`` on ``(x [B, ...], y [B])``, touching only its rows.

    The same arithmetic as :func:`population_step` with ``optax.sgd(lr)`` and one path: the
    gradient is taken with respect to the gathered rows (:meth:`PathNet.gather`); each trainable
    row listed first in its layer gets ``p + (-lr) * g``; frozen rows and repeated listings are
    dropped from the write. Returns ``(state, {"loss": [], "accuracy": []})``.
    """
    x, y = batch
    rows, head = net.gather(state.params, path, state.task)

    def objective(rows, head):
        logits = masked_logits(net.apply_rows(rows, head, x, path), num_classes)
        value = classification_loss(logits, y, loss).mean()
        return value, {"loss": value, "accuracy": (jnp.argmax(logits, -1) == y).mean()}

    (g_rows, g_head), metrics = jax.grad(objective, argnums=(0, 1), has_aux=True)(rows, head)
    first = net.first_occurrence(path) > 0  # [L, N]
    modules = []
    for layer, (bank, r, g, idx) in enumerate(zip(state.params["modules"], rows, g_rows, path, strict=True)):
        write = first[layer] & ~state.frozen[layer][idx]  # [N]
        target = jnp.where(write, idx, net.num_modules)  # out of range: dropped
        modules.append(
            jax.tree.map(lambda b, p, gg, t=target: b.at[t].set(p + (-lr) * gg, mode="drop"), bank, r, g)
        )
    heads = jax.tree.map(
        lambda b, p, gg: b.at[state.task].set(p + (-lr) * gg), state.params["heads"], head, g_head
    )
    return state.replace(params={**state.params, "modules": modules, "heads": heads}), metrics


def _single_path_session(net, tx, session: SessionConfig, state, path, idx, data, noise_keys=None):
    """``path [L, N]`` trained on minibatches ``idx [T, B]`` (noised with ``noise_keys [T]``);
    returns ``(state, accuracy [T])``."""

    def body(st, step):
        i, key = step
        x, y = session.batch(data, i, key)
        if session.sparse_sgd_lr is not None:
            st, m = sparse_sgd_path_step(
                net, session.sparse_sgd_lr, st, path, (x, y), data.num_classes, session.loss
            )
            return st, m["accuracy"]
        st, m = population_step(net, tx, st, path[None], (x[None], y[None]), data.num_classes, session.loss)
        return st, m["accuracy"][0]

    state, acc = jax.lax.scan(body, state, (idx, noise_keys))
    return state.replace(counters=net.count_training(state.counters, path, state.frozen)), acc


def train_contestants(
    net: PathNet, tx, session: SessionConfig, state: PathNetState, paths, idx, data: TaskData, noise_keys=None
):
    """Train contestants ``paths [C, L, N]`` on minibatches ``idx [C, T, B]`` by ``session.schedule``
    (noised with ``noise_keys [C, T]`` when the session has noise).

    Returns ``(state, accuracy [C, T])``. For ``"isolated"`` the contestants must form one
    tournament (the winner, by mean accuracy, keeps its weights).
    """
    if session.schedule == "serial":

        def one(st, contestant):
            path, i, keys = contestant
            return _single_path_session(net, tx, session, st, path, i, data, keys)

        return jax.lax.scan(one, state, (paths, idx, noise_keys))
    if session.schedule == "isolated":
        trained, acc = jax.vmap(
            lambda p, i, keys: _single_path_session(net, tx, session, state, p, i, data, keys)
        )(paths, idx, noise_keys)
        best = jnp.argmax(acc.mean(axis=1))
        return jax.tree.map(lambda a: a[best], trained), acc

    def step(st, batch_step):  # combined
        i, keys = batch_step  # [C, B], [C] keys or None
        if keys is None:
            batch = (data.x_train[i], data.y_train[i])  # [C, B, ...]
        else:
            batch = jax.vmap(lambda ic, kc: session.batch(data, ic, kc))(i, keys)
        st, m = population_step(net, tx, st, paths, batch, data.num_classes, session.loss)
        return st, m["accuracy"]

    keys_by_step = None if noise_keys is None else jnp.swapaxes(noise_keys, 0, 1)
    state, acc = jax.lax.scan(step, state, (jnp.swapaxes(idx, 0, 1), keys_by_step))
    state = state.replace(counters=net.count_training(state.counters, paths, state.frozen))
    return state, acc.T


# --------------------------------------------------------------------------------------------
# Search for one task, fixed-path training, evaluation, transfer


def make_fixed_training(net: PathNet, tx, session: SessionConfig, max_sessions: int):
    """``train(state, path [L, N], sessions [], key, data) -> (state, curve [max_sessions])``.

    Trains one path without search for ``sessions`` sessions of T minibatches (the thesis's
    "pick": docs/papers.md 3.1); ``curve`` holds each session's mean training accuracy (NaN after).
    """

    def train(state: PathNetState, path, sessions, key, data: TaskData):
        def body(c):
            st, key, i, curve = c
            key, k = jax.random.split(key)
            idx = jax.random.randint(k, (session.steps, session.batch_size), 0, data.n_train)
            noise_keys = session.noise_keys(k, (session.steps,))
            st, acc = _single_path_session(net, tx, session, st, path, idx, data, noise_keys)
            return st, key, i + 1, curve.at[i].set(acc.mean())

        init = (state, key, jnp.zeros((), jnp.int32), jnp.full((max_sessions,), jnp.nan, jnp.float32))
        state, _, _, curve = jax.lax.while_loop(
            lambda c: c[2] < jnp.minimum(sessions, max_sessions), body, init
        )
        return state, curve

    return train


def test_accuracy(net: PathNet, params: Params, path, task, data: TaskData) -> jax.Array:
    """Accuracy of ``path [L, N]`` with head ``task`` on the real rows of ``data``'s test part."""
    logits = masked_logits(net.apply(params, data.x_test, path, task), data.num_classes)
    hit = (jnp.argmax(logits, -1) == data.y_test) & (jnp.arange(data.y_test.shape[0]) < data.n_test)
    return hit.sum() / data.n_test


def next_task(
    net: PathNet,
    tx,
    state: PathNetState,
    path,
    *,
    initial_params: Params | None = None,
    reset: str = "initial",
    key=None,
    lock: bool = True,
) -> PathNetState:
    """Move to the next task (docs/papers.md 2.2, 3.1).

    ``lock=True`` (PathNet transfer): lock ``path``'s modules for good, reset every unlocked
    module (``reset="initial"``: its saved initial weights; ``"fresh"``: a new draw from ``key``)
    and its counter. ``lock=False`` (fine-tuning): keep every weight trainable as it is.
    Either way: the next head, and a fresh optimiser state.
    """
    params, frozen, counters = state.params, state.frozen, state.counters
    if lock:
        params, frozen, counters = net.lock_path(
            params, frozen, counters, path, reset=reset, initial_params=initial_params, key=key
        )
    return PathNetState(
        params=params, opt_state=tx.init(params), frozen=frozen, counters=counters, task=state.task + 1
    )
