"""PathNet super network: reference forward, set semantics, paths as data, exact freezing, reset."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import reference
from conftest import host
from tolerance import assert_within, forward_bound

from pnn_jax.jit import counted_jit
from pnn_jax.nets.columns import Conv, Dense
from pnn_jax.nets.pathnet import PathNet, mlp_pathnet
from pnn_jax.train.pathnet import init_state, make_population_session, population_step


def numpy_pathnet(net, params, x, path, task):
    """Straight from docs/papers.md 2.1: the distinct modules of each layer, ReLU, summed; a linear head."""
    params = jax.tree.map(np.asarray, params)
    h = np.asarray(x, np.float64)
    for layer, p, row in zip(net.layers, params["modules"], np.asarray(path), strict=True):
        h = sum(
            reference.relu(reference.linear(layer, p["w"][m], h) + p["b"][m])
            for m in sorted(set(row.tolist()))
        )
    return reference.linear(Dense(net.head_size), params["heads"]["w"][task], h) + params["heads"]["b"][task]


def pathnet_bound(net, params, x, path, task):
    """How far a float32 forward pass of ``path`` may be from :func:`numpy_pathnet`
    (:func:`tolerance.forward_bound`): per layer, a module's ``W h + b`` and the sum over up to M
    modules (the masked pass sums all M); then the head."""
    params = host(params)
    terms = sum(int(np.prod(p["w"].shape[1:-1])) + 1 + net.num_modules for p in params["modules"])
    terms += int(np.prod(params["heads"]["w"].shape[1:-1])) + 1
    return forward_bound(lambda q, xs: numpy_pathnet(net, q, xs, path, task), params, x, terms)


def randomized(params, seed=0):
    rng = np.random.default_rng(seed)
    return jax.tree.map(
        lambda a: np.asarray(a) + 0.1 * rng.standard_normal(a.shape).astype(np.float32), params
    )


NETS = {
    "dense": (lambda: mlp_pathnet(6, num_heads=3, head_size=4), (5, 6)),
    "conv": (
        lambda: PathNet((10, 10, 2), (Conv(3, 3, 2), Conv(4, 2, 1), Dense(5)), 6, 3, 2, 3),
        (3, 10, 10, 2),
    ),
}


@pytest.mark.parametrize("kind", list(NETS))
def test_forward_matches_numpy_reference(kind, variant):
    make, x_shape = NETS[kind]
    net = make()
    params = randomized(net.init(jax.random.key(0)))
    x = np.asarray(jax.random.normal(jax.random.key(1), x_shape))
    paths = np.array(
        jax.random.randint(jax.random.key(2), (6, net.num_layers, net.max_active), 0, net.num_modules)
    )
    paths[0] = paths[0, :, :1]  # one module per layer, listed N times
    out = np.asarray(variant(net.apply_population)(params, x, paths, 1))
    for p in range(len(paths)):
        want, tol = numpy_pathnet(net, params, x, paths[p], 1), pathnet_bound(net, params, x, paths[p], 1)
        assert_within(out[p], want, tol, f"path {p}")


def test_set_semantics():
    net = mlp_pathnet(6)
    params = randomized(net.init(jax.random.key(0)))
    x = jax.random.normal(jax.random.key(1), (4, 6))
    a = net.apply(params, x, jnp.array([[1, 2, 3], [4, 4, 4], [0, 9, 0]]), 0)
    b = net.apply(params, x, jnp.array([[3, 1, 2], [4, 4, 4], [9, 0, 9]]), 0)  # same sets, other order
    # two float32 passes summing the modules in other orders, each within the bound
    assert_within(
        a, b, 2 * pathnet_bound(net, params, x, np.array([[1, 2, 3], [4, 4, 4], [0, 9, 0]]), 0), "sets"
    )
    mask = net.active_mask(jnp.array([[1, 2, 3], [4, 4, 4], [0, 9, 0]]))
    assert mask.sum(axis=1).tolist() == [3, 1, 2]


def test_ten_thousand_genotypes_never_retrace():
    net = mlp_pathnet(6)
    params = net.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (8, 6))
    forward = counted_jit(net.apply_population)
    for i in range(100):  # 100 x 100 = 10,000 new paths
        paths = jax.random.randint(jax.random.key(i), (100, 3, 3), 0, 10)
        forward(params, x, paths, i % 2).block_until_ready()
    assert forward.traces == 1
    tx = optax.adam(1e-3)
    session = make_population_session(net, tx, batch_size=4)
    state = init_state(net, params, tx)
    data = (x, jnp.arange(8) % 2)
    for i in range(20):
        paths = jax.random.randint(jax.random.key(1000 + i), (10, 3, 3), 0, 10)
        state, fitness = session(state, paths, data, jax.random.key(i), num_steps=3)
    assert session.traces == 1 and fitness.shape == (10,)


def test_frozen_modules_and_other_heads_stay_bit_identical():
    net = mlp_pathnet(6, num_heads=2)
    tx = optax.adam(1e-2)
    state = init_state(net, net.init(jax.random.key(0)), tx)
    data = (jax.random.normal(jax.random.key(1), (64, 6)), jnp.arange(64) % 2)
    session = make_population_session(net, tx, batch_size=8)
    paths = jax.random.randint(jax.random.key(2), (4, 3, 3), 0, 10)
    state, _ = session(state, paths, data, jax.random.key(3), num_steps=30)  # task 0; Adam moments now set
    frozen = np.zeros((3, 10), bool)
    frozen[:, :5] = True
    state = state.replace(frozen=jnp.asarray(frozen), task=jnp.asarray(1, jnp.int32))
    before = host(state.params)
    state, _ = session(state, jnp.asarray(np.array(paths) % 10), data, jax.random.key(4), num_steps=30)
    after = host(state.params)
    for i in range(3):
        for leaf in ("w", "b"):
            assert after["modules"][i][leaf][:5].tobytes() == before["modules"][i][leaf][:5].tobytes()
    assert after["heads"]["w"][0].tobytes() == before["heads"]["w"][0].tobytes()  # task 0's head
    assert not np.array_equal(after["heads"]["w"][1], before["heads"]["w"][1])
    used_unfrozen = np.array(jax.vmap(net.active_mask)(paths)).any(0) & ~frozen
    changed = np.array(
        [
            [not np.array_equal(after["modules"][i]["w"][m], before["modules"][i]["w"][m]) for m in range(10)]
            for i in range(3)
        ]
    )
    assert (changed == used_unfrozen).all()  # exactly the trainable modules on the paths moved


def test_counters_count_sessions_with_set_semantics():
    net = mlp_pathnet(6)
    counters = jnp.zeros((3, 10), jnp.int32)
    paths = jnp.array([[[1, 1, 1], [2, 3, 2], [4, 5, 6]], [[1, 7, 7], [2, 2, 2], [4, 4, 4]]])
    counters = np.asarray(net.count_training(counters, paths))
    assert counters[0, 1] == 2 and counters[0, 7] == 1 and counters[1, 2] == 2 and counters[1, 3] == 1
    # Distinct modules per layer: path 1 uses 1 + 2 + 3, path 2 uses 2 + 1 + 1.
    assert counters[2, 4] == 2 and counters[2, 6] == 1 and counters.sum() == (1 + 2 + 3) + (2 + 1 + 1)


def test_lock_path_resets_everything_else():
    net = mlp_pathnet(6)
    initial = net.init(jax.random.key(0))
    trained = randomized(initial, seed=5)
    counters = jnp.full((3, 10), 7, jnp.int32)
    path = jnp.array([[0, 1, 1], [2, 2, 2], [3, 4, 5]])
    params, frozen, counters = net.lock_path(
        trained, jnp.zeros((3, 10), bool), counters, path, initial_params=initial
    )
    assert np.asarray(frozen).sum(axis=1).tolist() == [2, 1, 3]
    for i in range(3):
        for m in range(10):
            want = trained if frozen[i, m] else initial
            np.testing.assert_array_equal(params["modules"][i]["w"][m], want["modules"][i]["w"][m])
            assert int(counters[i, m]) == (7 if frozen[i, m] else 0)
    np.testing.assert_array_equal(params["heads"]["w"], trained["heads"]["w"])
    fresh, _, _ = net.lock_path(
        trained, jnp.zeros((3, 10), bool), counters, path, reset="fresh", key=jax.random.key(9)
    )
    assert not np.array_equal(fresh["modules"][0]["w"][5], initial["modules"][0]["w"][5])
    with pytest.raises(ValueError, match="initial_params"):
        net.lock_path(trained, frozen, counters, path)
    with pytest.raises(ValueError, match="reset must be one of"):
        net.lock_path(trained, frozen, counters, path, reset="zero")


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: mlp_pathnet(6, num_modules=2, max_active=3),
            r"max_active \(N=3\) must be at most num_modules",
        ),
        (lambda: mlp_pathnet(6, units=20, num_layers=0), "at least one layer"),
        (lambda: mlp_pathnet(6, num_heads=0), "num_heads"),
    ],
)
def test_bad_pathnets(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_paths():
    net = mlp_pathnet(6)
    with pytest.raises(ValueError, match=r"shape \[L, N\] = \[3, 3\]"):
        net.check_path(np.zeros((3, 4), int))
    with pytest.raises(ValueError, match=r"module indices in 0\.\.9"):
        net.check_path(np.full((3, 3), 10))
    net.check_path(np.zeros((5, 3, 3), int))  # a population is fine
    params = net.init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"module indices in 0\.\.9"):  # the forward pass checks too
        net.apply_population(params, jnp.zeros((2, 6)), np.full((4, 3, 3), 12), 0)


def test_population_step_reports_per_path_metrics():
    net = mlp_pathnet(6)
    tx = optax.sgd(0.1)
    state = init_state(net, net.init(jax.random.key(0)), tx)
    paths = jax.random.randint(jax.random.key(1), (3, 3, 3), 0, 10)
    x = jax.random.normal(jax.random.key(2), (3, 8, 6))
    state, m = jax.jit(lambda s, p, b: population_step(net, tx, s, p, b))(
        state, paths, (x, jnp.zeros((3, 8), int))
    )
    assert m["loss"].shape == (3,) and m["accuracy"].shape == (3,)


def test_masked_forward_equals_the_gathered_one():
    """apply_masked (all M modules, masked) gives apply's value (N gathered modules), conv and
    dense layers, duplicates in a row, and a path wider than N (a fixed path appended)."""
    net = PathNet((12, 12, 2), (Conv(3, 3, 2), Dense(5)), 4, 2, 2, 3)
    params = net.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (6, 12, 12, 2))
    for path in ([[0, 1], [3, 3]], [[2, 2], [0, 1]], [[1, 3, 1, 0], [2, 2, 2, 2]]):
        path = jnp.asarray(path)
        rows, head = net.gather(params, path, 1)
        assert_within(  # two float32 passes (N gathered, M masked modules), each within the bound
            net.apply_rows(rows, head, x, path),
            net.apply_masked(params, x, path, 1),
            2 * pathnet_bound(net, params, x, np.asarray(path), 1),
            f"path {path.tolist()}",
        )
