"""Every hidden activation and output of every column equals a NumPy implementation of Eq. 1 / Eq. 2."""

from __future__ import annotations

import jax
import numpy as np
import pytest
import reference
from conftest import host, tiny_conv, tiny_mlp
from tolerance import assert_within

from pnn_jax.nets.columns import atari_column
from pnn_jax.nets.progressive import ProgressiveNet

K = 3
COLUMNS = {
    "mlp": (tiny_mlp, (5, 6)),
    "conv": (tiny_conv, (3, 12, 12, 2)),
    "atari": (lambda: atari_column(6), (2, 84, 84, 4)),
}


def randomized_params(net, key):
    """Initial parameters with random biases and adapter scales, so every term is exercised.

    The masked (unused) lateral slots keep their random draws: if a mask leaked, results would differ.
    """
    params = net.init(key)
    rng = np.random.default_rng(int(jax.random.randint(key, (), 0, 2**31 - 1)))

    def draw(path, leaf):
        name = path[-1].key
        if name == "b":
            return (0.3 * rng.standard_normal(leaf.shape)).astype(np.float32)
        if name == "alpha":
            return rng.uniform(0.05, 1.5, leaf.shape).astype(np.float32)
        return np.asarray(leaf)

    return jax.tree_util.tree_map_with_path(draw, params)


@pytest.mark.parametrize("lateral", ["plain", "adapter"])
@pytest.mark.parametrize("column", list(COLUMNS))
def test_all_columns_match_numpy_reference(column, lateral, variant):
    make_spec, x_shape = COLUMNS[column]
    net = ProgressiveNet(make_spec(), K, lateral=lateral)
    params = randomized_params(net, jax.random.key(0))
    x = np.asarray(jax.random.uniform(jax.random.key(1), x_shape))

    heads, hidden = host(variant(net.apply_all)(params, x))
    ref_hidden, ref_heads = reference.forward(net, params, x)
    tol_hidden, tol_heads = reference.error_bounds(net, params, x)  # float32 round-off, any summation order
    for k in range(K):
        for i, h in enumerate(hidden):
            assert_within(h[k], ref_hidden[k][i], tol_hidden[k][i], f"column {k} hidden layer {i}")
        for name, out in heads.items():
            assert_within(out[k], ref_heads[k][name], tol_heads[k][name], f"column {k} head {name}")
    # The training forward (frozen stacked pass + one differentiable column) gives the same values.
    train_fwd = variant(net.apply_train)
    for k in range(K):
        out = host(train_fwd(params, x, k))
        for name in out:
            assert_within(
                out[name], ref_heads[k][name], tol_heads[k][name], f"apply_train column {k} head {name}"
            )


@pytest.mark.parametrize("lateral", ["plain", "adapter"])
def test_head_laterals_option(lateral):
    net = ProgressiveNet(tiny_mlp(), K, lateral=lateral, head_laterals=False)
    params = randomized_params(net, jax.random.key(2))
    assert params["heads"]["logits"]["lateral"] == {}
    x = np.asarray(jax.random.normal(jax.random.key(3), (4, 6)))
    heads, _ = host(jax.jit(net.apply_all)(params, x))
    _, ref_heads = reference.forward(net, params, x)
    _, tol = reference.error_bounds(net, params, x)
    for k in range(K):
        assert_within(heads["logits"][k], ref_heads[k]["logits"], tol[k]["logits"], f"column {k}")
        train = jax.jit(net.apply_train)(params, x, k)["logits"]
        assert_within(train, ref_heads[k]["logits"], tol[k]["logits"], f"apply_train column {k}")


@pytest.mark.parametrize(
    ("width", "adapter_v"), [("out", "1x1"), (5, "1x1"), ("in", "dense"), ("out", "dense")]
)
def test_adapter_options(width, adapter_v):
    net = ProgressiveNet(tiny_conv(), K, lateral="adapter", adapter_width=width, adapter_v=adapter_v)
    params = randomized_params(net, jax.random.key(4))
    expect = 3 if width == "out" else 5  # second conv layer has 3 maps
    if adapter_v == "1x1":
        assert params["hidden"][1]["lateral"]["v"].shape[-1] == expect
    # The fc layer reads 3x3x3 maps: V is [3 maps, A] per source (1x1) or [27, A] (dense).
    v_fc = params["hidden"][2]["lateral"]["v"]
    assert v_fc.shape[-2] == (3 if adapter_v == "1x1" else 27)
    x = np.asarray(jax.random.uniform(jax.random.key(5), (2, 12, 12, 2)))
    heads, hidden = host(jax.jit(net.apply_all)(params, x))
    ref_hidden, ref_heads = reference.forward(net, params, x)
    tol_hidden, tol_heads = reference.error_bounds(net, params, x)
    for k in range(K):
        assert_within(heads["policy"][k], ref_heads[k]["policy"], tol_heads[k]["policy"], f"column {k}")
        assert_within(hidden[-1][k], ref_hidden[k][-1], tol_hidden[k][-1], f"column {k} last hidden")


def test_apply_returns_column_and_all_hidden():
    net = ProgressiveNet(tiny_mlp(), K)
    params = randomized_params(net, jax.random.key(6))
    x = np.asarray(jax.random.normal(jax.random.key(7), (4, 6)))
    out, hidden = net.apply(params, x, 2, return_hidden=True)
    _, ref_heads = reference.forward(net, params, x)
    _, tol = reference.error_bounds(net, params, x)
    assert_within(out["logits"], ref_heads[2]["logits"], tol[2]["logits"], "column 2")
    assert [h.shape for h in hidden] == [(K, 4, 8), (K, 4, 7)]
