"""Progressive net structure: gradients reach only the trained column, parameter counts, validation."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference
from conftest import tiny_conv, tiny_mlp
from tolerance import assert_within, gamma

from pnn_jax.nets.columns import ColumnSpec, Conv, Dense, _orthonormal_columns, atari_column, mlp_column
from pnn_jax.nets.progressive import ProgressiveNet


@pytest.mark.parametrize("lateral", ["adapter", "plain"])
@pytest.mark.parametrize("column", [0, 1, 2])
def test_gradient_reaches_only_the_trained_column(lateral, column):
    net = ProgressiveNet(tiny_conv(), 3, lateral=lateral)
    params = net.init(jax.random.key(0))
    x = jax.random.uniform(jax.random.key(1), (3, 12, 12, 2))

    def loss(p):
        out = net.apply_train(p, x, column)
        return jnp.sum(out["policy"] ** 2) + jnp.sum(out["value"])

    grads = jax.jit(jax.grad(loss))(params)
    live = net.live_mask(params)
    for (path, g), m in zip(
        jax.tree_util.tree_flatten_with_path(grads)[0], jax.tree.leaves(live), strict=True
    ):
        g = np.asarray(g)
        for k in range(3):
            nonzero = bool(np.any(g[k] != 0))
            assert nonzero == (k == column and bool(np.any(m[k]))), f"{jax.tree_util.keystr(path)}[{k}]"


ATARI_COLUMN = (  # docs/papers.md 1.2, 84x84x4 input, 18 actions: conv1, conv2, conv3, fc, policy, value
    (8 * 8 * 4 * 12 + 12)
    + (4 * 4 * 12 * 12 + 12)
    + (3 * 3 * 12 * 12 + 12)
    + (7 * 7 * 12 * 256 + 256)
    + (256 * 18 + 18)
    + (256 + 1)
)


def test_param_counts_by_hand():
    spec = atari_column(18)
    assert ProgressiveNet(spec, 1).param_count() == ATARI_COLUMN
    assert ProgressiveNet(spec, 4, lateral="none").param_count() == 4 * ATARI_COLUMN
    # Plain laterals: one U (shape of W) per pair j < k for conv2, conv3, fc and both heads.
    u = (4 * 4 * 12 * 12) + (3 * 3 * 12 * 12) + (7 * 7 * 12 * 256) + 256 * 18 + 256
    for k in (2, 3, 5):
        pairs = k * (k - 1) // 2
        assert ProgressiveNet(spec, k, lateral="plain").param_count() == k * ATARI_COLUMN + pairs * u

    # Adapters (width n_{i-1}): per column k >= 2, alpha + V (1x1, 12 maps per source) + U per layer.
    def adapter(k):
        sources = k - 1
        conv2 = 1 + sources * 12 * 12 + 4 * 4 * 12 * 12
        conv3 = 1 + sources * 12 * 12 + 3 * 3 * 12 * 12
        fc = 1 + sources * 12 * 12 + 7 * 7 * 12 * 256
        heads = sum(1 + sources * 256 * 256 + 256 * out for out in (18, 1))
        return conv2 + conv3 + fc + heads

    for k in (2, 3, 6):
        expect = k * ATARI_COLUMN + sum(adapter(c) for c in range(2, k + 1))
        assert ProgressiveNet(spec, k, lateral="adapter").param_count() == expect
    assert ProgressiveNet(spec, 3, head_laterals=False, lateral="plain").param_count() == (
        3 * ATARI_COLUMN + 3 * (u - 256 * 18 - 256)
    )


def test_param_count_of_smaller_net_matches_allocation():
    net = ProgressiveNet(tiny_mlp(), 4, lateral="plain")
    params = net.init(jax.random.key(0))
    live = net.live_mask(params)
    total = sum(
        int(m.sum()) * int(np.prod(p.shape[m.ndim :]))
        for p, m in zip(jax.tree.leaves(params), jax.tree.leaves(live), strict=True)
    )
    assert total == net.param_count() == net.param_count(4)
    assert net.param_count(1) == ProgressiveNet(tiny_mlp(), 1).param_count()


def test_atari_column_shapes():
    net = ProgressiveNet(atari_column(6), 2)
    assert net.column.hidden_shapes() == ((20, 20, 12), (9, 9, 12), (7, 7, 12), (256,))
    out = net.apply(net.init(jax.random.key(0)), jnp.zeros((2, 84, 84, 4)), 1)
    assert out["policy"].shape == (2, 6) and out["value"].shape == (2, 1)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: ProgressiveNet(tiny_mlp(), 0), "max_columns"),
        (lambda: ProgressiveNet(tiny_mlp(), 2, lateral="dense"), "lateral must be one of"),
        (lambda: ProgressiveNet(tiny_mlp(), 2, alpha_init=-0.1), "alpha_init"),
        (lambda: ProgressiveNet(tiny_mlp(), 2, adapter_width="wide"), "adapter_width"),
        (lambda: ProgressiveNet(tiny_conv(), 2, adapter_v="conv"), "adapter_v"),
        (lambda: ColumnSpec((8, 8, 1), (Conv(4, 9, 1),), (("y", 2),)), "does not fit"),
        (lambda: ColumnSpec((16,), (Dense(4), Conv(4, 3, 1)), (("y", 2),)), "cannot follow"),
        (lambda: mlp_column(4, (8,), {}), "at least one head"),
        (lambda: mlp_column(4, (8, 0), {"y": 2}), "widths must be positive"),
        (lambda: mlp_column(4, (8,), {"y": 0}), "at least one output"),
    ],
)
def test_bad_architectures_are_rejected(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_trainable_mask_scopes():
    net = ProgressiveNet(tiny_mlp(), 3)
    params = net.init(jax.random.key(0))
    mask = net.trainable_mask(params, 1, "heads")
    assert not np.any(mask["hidden"][0]["w"]) and list(mask["heads"]["logits"]["w"]) == [False, True, False]
    mask = net.trainable_mask(params, 2)
    assert list(mask["hidden"][1]["lateral"]["v"]) == [False, False, True]
    with pytest.raises(ValueError, match="scope"):
        net.trainable_mask(params, 0, "hidden")
    assert dataclasses.replace(net, max_columns=1).num_sources == 0


def test_column_out_of_range_is_a_clear_error():
    net = ProgressiveNet(tiny_mlp(), 3)
    params = net.init(jax.random.key(0))
    x = jnp.zeros((2, 6))
    calls = (
        lambda: net.apply(params, x, 3),
        lambda: net.apply_train(params, x, -1),
        lambda: net.trainable_mask(params, 5),
        lambda: net.reset_heads(params, jax.random.key(1), 3),
    )
    for call in calls:
        with pytest.raises(ValueError, match="out of range for a net of 3 column"):
            call()
    with pytest.raises(ValueError, match="integer scalar"):
        net.apply(params, x, 1.5)
    assert jax.jit(net.apply)(params, x, jnp.asarray(2))["logits"].shape == (2, 3)  # traced: unchecked


def test_column_init_depends_only_on_key_and_column():
    """Column k starts the same in a baseline net and in a progressive net of any capacity."""
    key = jax.random.key(3)
    small = ProgressiveNet(tiny_conv(), 1).init(key)
    for capacity, lateral in ((2, "adapter"), (4, "plain")):
        big = ProgressiveNet(tiny_conv(), capacity, lateral=lateral).init(key)
        for i in range(3):
            np.testing.assert_array_equal(small["hidden"][i]["w"][0], big["hidden"][i]["w"][0])
        np.testing.assert_array_equal(small["heads"]["policy"]["w"][0], big["heads"]["policy"]["w"][0])
    cols = ProgressiveNet(tiny_conv(), 3).init(key)["hidden"][0]["w"]
    assert not np.array_equal(cols[0], cols[1])  # columns are independent draws


def test_orthogonal_init_has_public_a2cs_gains():
    """``init_scheme="orthogonal"``: every kernel, laterals included, is gain x an orthogonal
    matrix over [fan_in, fan_out] (sqrt 2 before a ReLU, 0.01 policy, 1 value); biases zero; the
    default LeCun-normal draw is unchanged by the option's existence."""
    net = ProgressiveNet(tiny_conv(), 2, init_scheme="orthogonal")
    params = net.init(jax.random.key(0))

    def check(w, gain):
        m = np.asarray(w, np.float64).reshape(-1, w.shape[-1])
        gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
        # the factor's bound (check_orthonormal_factor), and the rounding of gain x Q, in float64
        assert_within(gram, gain**2 * np.eye(len(gram)), gain**2 * 2 * gamma(max(m.shape) + 2), "gram")

    for layer in params["hidden"]:
        for k in range(2):
            check(layer["w"][k], np.sqrt(2))
        assert not np.any(np.asarray(layer["b"]))
    lateral = params["hidden"][1]["lateral"]
    check(lateral["u"][1], np.sqrt(2))
    check(lateral["v"][1, 0], np.sqrt(2))
    check(params["heads"]["policy"]["w"][0], 0.01)
    check(params["heads"]["value"]["w"][0], 1.0)
    check(params["heads"]["policy"]["lateral"]["u"][1], 0.01)
    lecun = ProgressiveNet(tiny_conv(), 2).init(jax.random.key(0))
    w = np.asarray(lecun["hidden"][0]["w"][0])
    assert abs(w.std() * np.sqrt(np.prod(w.shape[:-1])) - 1) < 0.25  # std 1/sqrt(fan_in)
    with pytest.raises(ValueError, match="init_scheme must be one of"):
        ProgressiveNet(tiny_conv(), 1, init_scheme="glorot")


def ill_conditioned(m, n, kappa, seed=0) -> np.ndarray:
    """An ``[m, n]`` float32 matrix with singular values log-spaced from 1 to ``1 / kappa``."""
    rng = np.random.default_rng(seed)
    left, _ = np.linalg.qr(rng.standard_normal((m, n)))
    right, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return ((left * np.logspace(0, -np.log10(kappa), n)) @ right.T).astype(np.float32)


def check_orthonormal_factor(q, a):
    """``q`` is the Q of ``a = QR`` with R's diagonal positive, to float32's guarantee.

    Orthogonality, measured in float64 so that only the factor's own loss counts: every entry of
    ``I - q^T q`` within ``2 gamma(m)``, the round-off of the two length-m projections of each
    column ("twice is enough" leaves O(m U) whatever the conditioning, Giraud et al. 2005, as
    Householder QR does; LAPACK's xQRT01 test allows ||I - Q^T Q||_1 < 30 m eps). Against
    LAPACK's Q in float64: first-order perturbation theory bounds the change of Q by cond(a)
    times the backward error, here ``gamma(m) * cond(a)``; it catches a wrong sign or order."""
    m, n = a.shape
    q, a64 = np.asarray(q, np.float64), np.asarray(a, np.float64)
    q_ref, r_ref = np.linalg.qr(a64)
    assert_within(q.T @ q, np.eye(n), 2 * gamma(m), "I - Q^T Q")
    assert_within(q, q_ref * np.sign(np.diag(r_ref)), gamma(m) * np.linalg.cond(a64), "Q against LAPACK")


@pytest.mark.parametrize("shape", [(7, 3), (5, 5), (300, 12), (64, 64), (200, 70)])
def test_orthonormal_columns_equal_the_sign_corrected_qr_factor(shape):
    """The block Gram-Schmidt factor is the unique Q of a = QR with R's diagonal positive, to
    float precision, for truncated-normal draws (square ones the worst conditioned) and for a
    matrix of condition number 1e4; 70 columns = two blocks of 32 and a padded one."""
    a = jax.random.truncated_normal(jax.random.key(3), -2.0, 2.0, shape)
    check_orthonormal_factor(_orthonormal_columns(a), a)
    hard = ill_conditioned(*shape, 1e4)
    check_orthonormal_factor(_orthonormal_columns(jnp.asarray(hard)), hard)


def classical_gram_schmidt(a, once=None):
    """Q by Gram-Schmidt in float32 NumPy, each column projected once: all columns
    (``once=None``, classical Gram-Schmidt), or only column ``once`` and the others twice."""
    q = np.zeros_like(a)
    for j in range(a.shape[1]):
        v = a[:, j]
        for _ in range(1 if once is None or j == once else 2):
            v = v - q[:, :j] @ (q[:, :j].T @ v)
        q[:, j] = v / np.linalg.norm(v)
    return q


@pytest.mark.parametrize("broken", ["one pass everywhere", "last column once"])
def test_a_factor_without_reorthogonalisation_fails_the_bound(broken):
    """The bound of :func:`check_orthonormal_factor` is no blanket: a Gram-Schmidt factor that
    skips the second projection -- everywhere, or for one column only -- fails it at condition
    number 1e4, while the correct factor of the same matrix passes (test above)."""
    a = ill_conditioned(64, 64, 1e4)
    q = classical_gram_schmidt(a, None if broken == "one pass everywhere" else 63)
    with pytest.raises(AssertionError, match="I - Q"):
        check_orthonormal_factor(q, a)


def test_orthogonal_init_compiles_to_no_custom_call():
    """The init of an orthogonal net is plain XLA: a LAPACK QR custom call blocks inside XLA's CPU
    thread pool, and two of them running at once on 2 threads deadlocked runs and CI."""
    net = ProgressiveNet(tiny_conv(), 2, init_scheme="orthogonal")
    hlo = jax.jit(net.init).lower(jax.random.key(0)).compile().as_text()
    assert " custom-call(" not in hlo  # the instruction, not this test's name in the metadata


@pytest.mark.parametrize(("lateral", "start"), [("adapter", 1), ("plain", 2), ("adapter", 2)])
def test_grow_keeps_every_existing_parameter_and_output(lateral, start):
    net = ProgressiveNet(tiny_conv(), start, lateral=lateral)
    params = net.init(jax.random.key(0))
    params = jax.tree.map(lambda a: a + 0.01, params)  # pretend they were trained
    x = jax.random.uniform(jax.random.key(1), (3, 12, 12, 2))
    big, grown = net.grow(params, jax.random.key(2))
    assert big.max_columns == start + 1
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        new = dict(jax.tree_util.tree_flatten_with_path(grown)[0])[path]
        old = np.asarray(leaf)
        np.testing.assert_array_equal(np.asarray(new)[tuple(slice(0, n) for n in old.shape)], old)
    # two float32 passes (K and K + 1 columns: other summation orders), each within the bound
    _, tol = reference.error_bounds(net, params, x)
    for k in range(start):
        for name in ("policy", "value"):
            assert_within(big.apply(grown, x, k)[name], net.apply(params, x, k)[name], 2 * tol[k][name], name)
    assert big.apply(grown, x, start)["policy"].shape == (3, 3)
    with pytest.raises(ValueError, match="num_new"):
        net.grow(params, jax.random.key(3), 0)
