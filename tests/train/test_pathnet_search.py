"""PathNet search engine: the three training schedules, the stopping rule, fixed-path training,
padding of tasks, no retracing across generations and tasks."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import host
from tolerance import EPS, run_rtol

from pnn_jax.data import class_task, load_digits
from pnn_jax.evolution import Tournament
from pnn_jax.jit import counted_jit
from pnn_jax.nets.pathnet import mlp_pathnet
from pnn_jax.train import pathnet as tp
from pnn_jax.train import pathnet_search as search_lib


@pytest.fixture(scope="module")
def digits_tasks():
    x, y = load_digits()
    return [class_task(x, y, c, test_fraction=0.2, seed=0) for c in ([3, 4], [1, 2], [0, 5, 6])]


# The longest sum of one training step of _setup's net: forward (64 inputs and a bias per module,
# 3 modules summed, 3 layers; the head's 8 + 1), the same again backward, and the update.
TERMS = 2 * (3 * (64 + 1 + 3) + 8 + 1) + 2


def _setup(schedule="serial", lr=0.05):
    net = mlp_pathnet(64, units=8, num_heads=3, head_size=3)
    tx = optax.sgd(lr)
    state = tp.init_state(net, net.init(jax.random.key(0)), tx)
    return net, tx, state, tp.SessionConfig(steps=5, batch_size=8, schedule=schedule)


def test_task_data_pads_and_masks(digits_tasks):
    d = tp.task_data(digits_tasks)
    assert len({a.x_train.shape for a in d}) == 1 and len({a.x_test.shape for a in d}) == 1
    assert [int(a.n_train) for a in d] == [len(t.y_train) for t in digits_tasks]
    logits = tp.masked_logits(jnp.zeros((2, 3)), d[0].num_classes)
    assert np.all(np.asarray(logits)[:, 2] < -1e8) and np.all(np.asarray(logits)[:, :2] == 0)


def test_serial_schedule_is_two_single_path_sessions_in_order(digits_tasks):
    """Contestant 2 trains on the weights contestant 1 has just changed (the papers' tournament)."""
    net, tx, state, session = _setup("serial")
    d = tp.task_data(digits_tasks)[0]
    paths = jnp.array([[[0, 1, 1], [2, 2, 2], [3, 4, 5]], [[1, 6, 6], [2, 7, 7], [5, 5, 5]]])  # share modules
    idx = jax.random.randint(jax.random.key(1), (2, 5, 8), 0, int(d.n_train))
    got, acc = jax.jit(lambda s: tp.train_contestants(net, tx, session, s, paths, idx, d))(state)
    s1, a1 = tp._single_path_session(net, tx, session, state, paths[0], idx[0], d)
    s2, a2 = tp._single_path_session(net, tx, session, s1, paths[1], idx[1], d)
    tol = run_rtol(2 * 5, TERMS)  # two sessions of 5 steps, one program against two
    for g, w in zip(jax.tree.leaves(host(got)), jax.tree.leaves(host(s2)), strict=True):
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol * np.abs(w).max())
    # accuracies count argmaxes over 8 examples: equal unless a logit gap is within round-off
    np.testing.assert_allclose(acc, np.stack([a1, a2]), atol=EPS)
    assert int(got.counters[0, 1]) == 2 and int(got.counters[0, 0]) == 1  # module 1 trained by both


def test_isolated_schedule_trains_both_from_the_same_weights_and_keeps_the_winner(digits_tasks):
    net, tx, state, session = _setup("isolated")
    d = tp.task_data(digits_tasks)[0]
    paths = jnp.array([[[0, 1, 1], [2, 2, 2], [3, 4, 5]], [[1, 6, 6], [2, 7, 7], [5, 5, 5]]])
    idx = jax.random.randint(jax.random.key(1), (2, 5, 8), 0, int(d.n_train))
    got, acc = jax.jit(lambda s: tp.train_contestants(net, tx, session, s, paths, idx, d))(state)
    alone = [tp._single_path_session(net, tx, session, state, paths[i], idx[i], d) for i in range(2)]
    np.testing.assert_allclose(acc, np.stack([a for _, a in alone]), atol=EPS)  # same start; counts
    win = int(np.argmax(np.asarray(acc).mean(axis=1)))
    for g, w in zip(
        jax.tree.leaves(host(got.params)), jax.tree.leaves(host(alone[win][0].params)), strict=True
    ):
        tol = run_rtol(5, TERMS)
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol * np.abs(w).max())
    assert int(got.counters.sum()) == int(
        net.active_mask(paths[win]).sum()
    )  # only the winner's session counts


def test_combined_schedule_sums_gradients_of_shared_modules(digits_tasks):
    net, tx, state, session = _setup("combined")
    d = tp.task_data(digits_tasks)[0]
    paths = jnp.array([[[0, 1, 1], [2, 2, 2], [3, 4, 5]], [[1, 6, 6], [2, 7, 7], [5, 5, 5]]])
    idx = jax.random.randint(jax.random.key(1), (2, 1, 8), 0, int(d.n_train))
    got, _ = jax.jit(lambda s: tp.train_contestants(net, tx, session, s, paths, idx, d))(state)

    def loss(params, i):
        logits = tp.masked_logits(net.apply(params, d.x_train[idx[i, 0]], paths[i], 0), d.num_classes)
        return optax.softmax_cross_entropy_with_integer_labels(logits, d.y_train[idx[i, 0]]).mean()

    g = jax.tree.map(jnp.add, jax.grad(loss)(state.params, 0), jax.grad(loss)(state.params, 1))
    want = jax.tree.map(lambda p, gg: p - 0.05 * gg, state.params, g)
    w = np.asarray(want["modules"][0]["w"][1])
    tol = run_rtol(1, TERMS)  # one step, the summed gradients of two paths
    np.testing.assert_allclose(got.params["modules"][0]["w"][1], w, rtol=tol, atol=tol * np.abs(w).max())


@pytest.mark.parametrize("schedule", ["serial", "isolated", "combined"])
def test_search_stops_at_threshold_and_never_retraces(digits_tasks, schedule):
    net, tx, state, session = _setup(schedule, lr=0.1)
    tour = Tournament(3, 10, 3, population=8)
    search = search_lib.make_search(net, tx, tour, session, threshold=0.9, max_generations=40)

    run = counted_jit(jax.vmap(search, in_axes=(0, 0, None)))
    data = tp.task_data(digits_tasks)
    states = jax.tree.map(lambda a: jnp.stack([a, a]), state)
    for i, d in enumerate(data[:2]):  # two tasks, one compile
        states = states.replace(task=jnp.full((2,), i, jnp.int32))
        _, res = run(states, jax.random.split(jax.random.key(i), 2), d)
        g = np.asarray(res.generations)
        assert np.all(g >= 1) and np.all(g <= 40)
        curve = np.asarray(res.curve)
        for r in range(2):
            assert np.all(np.isfinite(curve[r, : g[r]])) and np.all(np.isnan(curve[r, g[r] :]))
            assert bool(res.solved[r]) == (curve[r, g[r] - 1] >= 0.9)
            assert not np.any(curve[r, : g[r] - 1] >= 0.9)  # it stopped at the first success
            assert float(res.fitness[r]) == curve[r, g[r] - 1]  # the same value, stored twice
            div = np.asarray(res.diversity)[r, : g[r]]
            assert np.all(div >= 0) and np.all(np.isfinite(div))
    assert run.traces == 1


def test_generation_limit_and_isolated_needs_one_tournament(digits_tasks):
    net, tx, state, session = _setup("serial")
    tour = Tournament(3, 10, 3, population=8)
    search = jax.jit(search_lib.make_search(net, tx, tour, session, threshold=2.0, max_generations=3))
    _, res = search(state, jax.random.key(0), tp.task_data(digits_tasks)[0])
    assert int(res.generations) == 3 and not bool(res.solved)
    with pytest.raises(ValueError, match="isolated"):
        search_lib.make_search(
            net, tx, Tournament(3, 10, 3, population=8, parallel=True), _setup("isolated")[3], 0.9, 3
        )


def test_fixed_training_runs_exactly_the_requested_sessions(digits_tasks):
    net, tx, state, session = _setup("serial")
    train = jax.jit(tp.make_fixed_training(net, tx, session, max_sessions=10))
    path = jnp.array([[0, 0, 0], [1, 2, 2], [3, 3, 3]])
    d = tp.task_data(digits_tasks)[0]
    st, curve = train(state, path, jnp.asarray(4), jax.random.key(0), d)
    curve = np.asarray(curve)
    assert np.all(np.isfinite(curve[:4])) and np.all(np.isnan(curve[4:]))
    assert int(st.counters[0, 0]) == 4 and int(st.counters[1, 2]) == 4 and int(st.counters.sum()) == 4 * 4


def test_next_task_locks_or_fine_tunes(digits_tasks):
    net, tx, state, _ = _setup()
    initial = state.params
    trained = jax.tree.map(lambda a: a + 1.0, state.params)
    state = state.replace(params=trained, counters=jnp.ones((3, 10), jnp.int32))
    path = jnp.array([[0, 0, 0], [1, 1, 1], [2, 2, 2]])
    locked = tp.next_task(net, tx, state, path, initial_params=initial)
    assert int(locked.task) == 1 and int(locked.frozen.sum()) == 3 and int(locked.counters.sum()) == 3
    np.testing.assert_array_equal(locked.params["modules"][0]["w"][1], initial["modules"][0]["w"][1])
    np.testing.assert_array_equal(locked.params["modules"][0]["w"][0], trained["modules"][0]["w"][0])
    tuned = tp.next_task(net, tx, state, path, lock=False)
    assert int(tuned.frozen.sum()) == 0
    np.testing.assert_array_equal(tuned.params["modules"][0]["w"][1], trained["modules"][0]["w"][1])


def test_test_accuracy_ignores_padding(digits_tasks):
    net, _, state, _ = _setup()
    d = tp.task_data(digits_tasks)[1]
    path = jnp.array([[0, 0, 0], [1, 1, 1], [2, 2, 2]])
    acc = float(tp.test_accuracy(net, state.params, path, 0, d))
    n = int(d.n_test)
    logits = tp.masked_logits(net.apply(state.params, d.x_test[:n], path, 0), d.num_classes)
    assert acc == pytest.approx(float((jnp.argmax(logits, -1) == d.y_test[:n]).mean()))


def test_diversity_counts_modules_used_by_exactly_one_of_two():
    net = mlp_pathnet(4)
    a = jnp.array([[0, 0, 0], [1, 1, 1], [2, 2, 2]])
    b = jnp.array([[0, 3, 3], [1, 1, 1], [4, 4, 4]])
    assert float(search_lib.diversity(net, jnp.stack([a, b]))) == pytest.approx(3.0)  # {3} + {2, 4}
    assert float(search_lib.diversity(net, jnp.stack([a, a, a]))) == 0.0


@pytest.mark.parametrize("schedule", ["serial", "isolated"])
def test_sparse_sgd_step_equals_the_dense_step_bit_for_bit(digits_tasks, schedule):
    """Rows-only SGD (frozen modules, a repeated listing, another task's head) == the dense step."""
    net, tx, state, dense = _setup(schedule, lr=0.05)
    sparse = tp.SessionConfig(dense.steps, dense.batch_size, schedule, sparse_sgd_lr=0.05)
    frozen = np.zeros((3, 10), bool)
    frozen[0, 1] = frozen[2, 5] = True
    state = state.replace(frozen=jnp.asarray(frozen), task=jnp.asarray(1, jnp.int32))
    d = tp.task_data(digits_tasks)[2]
    paths = jnp.array([[[0, 1, 1], [2, 2, 2], [3, 4, 5]], [[1, 6, 0], [2, 7, 7], [5, 5, 9]]])
    idx = jax.random.randint(jax.random.key(1), (2, 5, 8), 0, int(d.n_train))
    run = jax.jit(
        lambda s, session: tp.train_contestants(net, tx, session, s, paths, idx, d), static_argnums=1
    )
    (a, acc_a), (b, acc_b) = run(state, dense), run(state, sparse)
    for x, y in zip(jax.tree.leaves(host(a)), jax.tree.leaves(host(b)), strict=True):
        assert x.tobytes() == y.tobytes()
    assert np.asarray(acc_a).tobytes() == np.asarray(acc_b).tobytes()
    assert not np.array_equal(host(a.params)["modules"][0]["w"][0], host(state.params)["modules"][0]["w"][0])
