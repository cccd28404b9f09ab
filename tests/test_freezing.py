"""Frozen columns stay bit-identical while later columns train, whatever the optimiser."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import host, tiny_mlp, toy_classification
from tolerance import assert_same_training

from pnn_jax import freezing
from pnn_jax.nets.progressive import ProgressiveNet
from pnn_jax.train import progressive as ptrain
from pnn_jax.train.optim import make_optimizer

STEPS = 300


def assert_trees_bit_equal(a, b, what):
    for (path, x), y in zip(jax.tree_util.tree_flatten_with_path(a)[0], jax.tree.leaves(b), strict=True):
        x, y = np.asarray(x), np.asarray(y)
        assert x.tobytes() == y.tobytes(), f"{what}: {jax.tree_util.keystr(path)} changed"


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop"])
@pytest.mark.parametrize("lateral", ["adapter", "plain"])
def test_columns_stay_bit_identical(optimizer, lateral):
    net = ProgressiveNet(tiny_mlp(), 3, lateral=lateral)
    tx = make_optimizer(optimizer, 3e-2 if optimizer == "adam" else 1e-2)
    loop = ptrain.make_train_loop(net, tx, ptrain.classification_loss(), batch_size=16)
    data = toy_classification(jax.random.key(0))
    probe = data[0][:32]  # a fixed batch to compare outputs on
    params = net.init(jax.random.key(1))

    snapshots = []  # after training column k: (params of column k, outputs of column k, checksum)
    for column in range(3):
        state = ptrain.init_state(net, params, tx, column)
        before = host(state.params)
        state, metrics = loop(state, data, jax.random.key(10 + column), num_steps=STEPS)
        params = state.params
        assert np.isfinite(float(metrics["loss"]))
        # The trained column moved; every earlier column is bit-identical, and so are its outputs.
        after = host(params)
        assert not np.array_equal(after["hidden"][0]["w"][column], before["hidden"][0]["w"][column])
        for k, (col_params, outputs, digest) in enumerate(snapshots):
            assert_trees_bit_equal(
                jax.tree.map(lambda a, k=k: a[k], after),
                col_params,
                f"column {k} after training column {column}",
            )
            out = np.asarray(net.apply(params, probe, k)["logits"])
            assert out.tobytes() == outputs.tobytes(), f"outputs of column {k} changed"
            assert net.column_checksums(params)[k] == digest
        frozen_digest = freezing.frozen_checksum(params, host(state.trainable))
        assert frozen_digest == freezing.frozen_checksum(before, host(state.trainable))
        snapshots.append(
            (
                jax.tree.map(lambda a, c=column: a[c], after),
                np.asarray(net.apply(params, probe, column)["logits"]),
                net.column_checksums(params)[column],
            )
        )


@pytest.mark.parametrize(
    "make_tx",
    [
        lambda: optax.adam(1e-2),
        lambda: optax.adamw(1e-2, weight_decay=0.1),
        lambda: optax.rmsprop(1e-2, momentum=0.9),
    ],
    ids=["adam", "adamw", "rmsprop-momentum"],
)
def test_stale_optimizer_state_cannot_move_frozen_weights(make_tx):
    """Moments left from training column 0 would move it if only gradients were zeroed."""
    net = ProgressiveNet(tiny_mlp(), 2)
    tx = make_tx()
    step = ptrain.make_train_step(net, tx, ptrain.classification_loss())
    x, y = toy_classification(jax.random.key(0), n=32)
    state = ptrain.init_state(net, net.init(jax.random.key(1)), tx, 0)
    for _ in range(20):
        state, _ = step(state, (x, y))
    column0 = host(jax.tree.map(lambda a: a[0], state.params))
    # Switch to column 1 but keep the optimiser state with column 0's moments.
    state = state.replace(column=jnp.asarray(1, jnp.int32), trainable=net.trainable_mask(state.params, 1))
    for _ in range(20):
        state, _ = step(state, (x, y))
    assert_trees_bit_equal(jax.tree.map(lambda a: a[0], state.params), column0, "column 0")
    # Zeroing only the gradients would not have been enough: the raw update for column 0 is non-zero.
    zero_grads = jax.tree.map(jnp.zeros_like, state.params)
    raw, _ = tx.update(zero_grads, state.opt_state, state.params)
    assert float(jnp.abs(raw["hidden"][0]["w"][0]).max()) > 0


def test_apply_updates_returns_frozen_bits_exactly():
    p = jnp.array([[-0.0, 1.0], [2.0, -0.0]])
    u = jnp.array([[0.0, jnp.nan], [1.0, 0.0]])
    trainable = jnp.array([False, True])
    out = np.asarray(freezing.apply_updates(p, u, trainable))
    assert np.signbit(out[0, 0]) and out[0, 1] == 1.0  # -0.0 kept, nan never applied
    np.testing.assert_array_equal(out[1], [3.0, 0.0])


def test_checksum_sees_any_bit():
    tree = {"a": np.zeros((2, 3), np.float32), "b": [np.arange(3)]}
    digest = freezing.checksum(tree)
    flipped = {"a": tree["a"].copy(), "b": tree["b"]}
    flipped["a"][1, 2] = -0.0
    assert freezing.checksum(flipped) != digest
    assert freezing.checksum(tree) == digest and len(digest) == 64


def test_train_step_with_and_without_jit(variant):
    """A few steps op by op and compiled: frozen column bit-identical in both, same trained values."""
    net = ProgressiveNet(tiny_mlp(), 2)
    tx = optax.adam(1e-2)
    loss_fn = ptrain.classification_loss()
    step = variant(lambda s, b: ptrain.train_step(net, tx, loss_fn, s, b))
    reference_step = jax.jit(lambda s, b: ptrain.train_step(net, tx, loss_fn, s, b))
    batch = toy_classification(jax.random.key(0), n=16)
    state = ptrain.init_state(net, net.init(jax.random.key(1)), tx, 1)
    expected = state
    column0 = host(jax.tree.map(lambda a: a[0], state.params))
    for _ in range(3):
        state, _ = step(state, batch)
        expected, _ = reference_step(expected, batch)
    assert_trees_bit_equal(jax.tree.map(lambda a: a[0], state.params), column0, "column 0")
    # 3 Adam steps of a 6-8-7-3 MLP column with laterals from column 0: forward (7 + 9 + 8 + 8
    # + 7 + 7, the laterals included), the same backward, and the gradients' sum over 16 examples
    assert_same_training(state.params, expected.params, steps=3, terms=2 * 46 + 16 + 2)
