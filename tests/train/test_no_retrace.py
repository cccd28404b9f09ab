"""Training steps trace once: over many steps, across columns, scopes and baselines."""

from __future__ import annotations

import jax
import numpy as np
from conftest import tiny_conv, tiny_mlp, toy_classification

from pnn_jax.nets.progressive import ProgressiveNet
from pnn_jax.train import progressive as ptrain
from pnn_jax.train.optim import make_optimizer


def test_train_step_traces_once_over_steps_and_columns():
    net = ProgressiveNet(tiny_mlp(), 3)
    tx = make_optimizer("rmsprop", 1e-3)
    step = ptrain.make_train_step(net, tx, ptrain.classification_loss())
    params = net.init(jax.random.key(0))
    for column in range(3):  # activating the next column reuses the compiled step
        for scope in ("column", "heads"):
            state = ptrain.init_state(net, params, tx, column, scope)
            for i in range(20):
                batch = toy_classification(jax.random.key(100 * column + i), n=16)
                state, _metrics = step(state, batch)
            params = state.params
    assert step.traces == 1
    assert int(state.step) == 20


def test_scanned_loop_and_evaluate_trace_once():
    net = ProgressiveNet(tiny_mlp(), 3, lateral="plain")
    tx = make_optimizer("adam", 1e-3)
    loop = ptrain.make_train_loop(net, tx, ptrain.classification_loss(), batch_size=8)
    evaluate = ptrain.make_evaluate(net, batch_size=16)
    data = toy_classification(jax.random.key(0), n=40)
    params = net.init(jax.random.key(1))
    for column in range(3):
        state = ptrain.init_state(net, params, tx, column)
        for chunk in range(3):
            state, _ = loop(state, data, jax.random.key(chunk), num_steps=7)
        params = state.params
        acc = float(evaluate(params, data[0], data[1], column))
        assert 0.0 <= acc <= 1.0
    assert loop.traces == 1 and evaluate.traces == 1


def test_conv_train_step_traces_once():
    net = ProgressiveNet(tiny_conv(), 2)
    tx = make_optimizer("adam", 1e-3)

    def loss_fn(outputs, batch):
        loss = (outputs["value"][:, 0] - batch[1]).var() + outputs["policy"].var()
        return loss, {"loss": loss}

    step = ptrain.make_train_step(net, tx, loss_fn)
    params = net.init(jax.random.key(0))
    for column in (0, 1):
        state = ptrain.init_state(net, params, tx, column)
        for i in range(5):
            x = jax.random.uniform(jax.random.key(i), (4, 12, 12, 2))
            state, _m = step(state, (x, np.arange(4, dtype=np.float32)))
        params = state.params
    assert step.traces == 1
