"""The protocol options of PathNet's binary MNIST and the thesis's study (docs/papers.md 2.2, 3.1):
salt-and-pepper noise, raw pixel scale, Glorot-uniform init, layer aggregation, initial path sizes,
refill after mutation, and P+S's pick. Each test checks what the option does."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_pathnet_experiments import smoke
from tolerance import U, assert_within, forward_bound, gamma

from pnn_jax.config import ConfigError
from pnn_jax.data import class_task
from pnn_jax.data.noise import salt_and_pepper
from pnn_jax.evolution import Tournament, mutate_path, random_paths, refill_mutate_path
from pnn_jax.experiments.pathnet_supervised import common as pc
from pnn_jax.nets.pathnet import mlp_pathnet
from pnn_jax.train import pathnet as tp
from pnn_jax.train import pathnet_search as search_lib
from pnn_jax.train.optim import make_optimizer


def distinct_sizes(paths) -> np.ndarray:
    p = np.asarray(paths)
    return np.array([len(set(row)) for row in p.reshape(-1, p.shape[-1])])


# ------------------------------------------------------------------------------------------------
# Data: noise and scale


@pytest.mark.parametrize("high", [1.0, 255.0])
def test_salt_and_pepper_statistics(high):
    """Each pixel is hit with probability p; a hit is 0 or white with equal chance; the rest keep
    their value. 200,000 pixels: the shares are within 5 standard errors."""
    n, p = 200_000, 0.5
    x = jnp.full((n,), 0.3 * high, jnp.float32)
    out = np.asarray(salt_and_pepper(jax.random.key(0), x, p, high))
    hit = out != np.float32(0.3 * high)
    assert set(np.unique(out[hit]).tolist()) == {0.0, high}
    assert abs(hit.mean() - p) < 5 * np.sqrt(p * (1 - p) / n)
    salt = (out[hit] == high).mean()
    assert abs(salt - 0.5) < 5 * np.sqrt(0.25 / hit.sum())
    again = np.asarray(salt_and_pepper(jax.random.key(0), x, p, high))
    np.testing.assert_array_equal(out, again)  # seeded
    assert not np.array_equal(out, np.asarray(salt_and_pepper(jax.random.key(1), x, p, high)))


def two_class_task():
    """Digit 3: bright left half; digit 4: bright right half (plus a little jitter)."""
    rng = np.random.default_rng(0)
    y = np.repeat([3, 4], 100)
    left = (np.arange(16) < 8)[None, :] == (y == 3)[:, None]
    x = (np.where(left, 0.8, 0.2) + rng.uniform(-0.1, 0.1, (200, 16))).astype(np.float32)
    return class_task(x, y, [3, 4], test_fraction=0.25, seed=0)


@pytest.mark.parametrize("mode", ["dataset", "minibatch"])
def test_fixed_noise_and_raw_scale(mode):
    """dataset mode noises training and held-out images once; minibatch mode leaves the stored
    training images clean (they are noised per minibatch) and noises the held-out ones once. The
    draw is fixed by split_seed. Raw scale multiplies by 255, so noise pixels are 0 or 255."""
    task = two_class_task()
    cfg = pc.DataConfig(noise=0.5, noise_mode=mode, scale="raw")
    a, b = pc.prepare_pixels(cfg, task), pc.prepare_pixels(cfg, task)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    clean_test = task.x_test * np.float32(255)
    noisy_test = a.x_test != clean_test
    assert 0.4 < noisy_test.mean() < 0.6 and set(np.unique(a.x_test[noisy_test])) == {0.0, 255.0}
    train_noised = a.x_train != task.x_train * np.float32(255)
    assert train_noised.mean() > 0.4 if mode == "dataset" else not train_noised.any()
    other = pc.prepare_pixels(pc.DataConfig(noise=0.5, noise_mode=mode, scale="raw", split_seed=1), task)
    assert not np.array_equal(other.x_test, a.x_test)
    unit = pc.prepare_pixels(pc.DataConfig(), task)
    np.testing.assert_array_equal(unit.x_train, task.x_train)  # no noise, unit scale: untouched


def test_minibatch_noise_is_fresh_per_minibatch_and_shared_by_contestants():
    """SessionConfig.noise draws new noise for each minibatch; with noise 1 every pixel is 0 or
    white, so nothing about the digit is left and search fitness stays at chance. The minibatch
    rows drawn are the same with and without noise (noise keys are folded off)."""
    task = two_class_task()
    data = tp.task_data([task])[0]
    session = tp.SessionConfig(steps=4, batch_size=8, noise=1.0, noise_high=1.0)
    keys = session.noise_keys(jax.random.key(0), (2,))
    i = jnp.arange(8)
    x0, y0 = session.batch(data, i, keys[0])
    x1, _ = session.batch(data, i, keys[1])
    assert set(np.unique(np.asarray(x0)).tolist()) <= {0.0, 1.0}
    assert not np.array_equal(np.asarray(x0), np.asarray(x1))
    np.testing.assert_array_equal(np.asarray(y0), np.asarray(data.y_train[i]))
    assert tp.SessionConfig().noise_keys(jax.random.key(0), (2,)) is None

    net = mlp_pathnet(16, 2, 4, 2, 8, 1, 2)
    tx = make_optimizer("sgd", 0.1)
    tour = Tournament(2, 4, 2, population=4)
    results = {}
    for noise in (0.0, 1.0):
        sess = tp.SessionConfig(steps=20, batch_size=16, noise=noise)
        search = jax.jit(search_lib.make_search(net, tx, tour, sess, threshold=2.0, max_generations=12))
        state = tp.init_state(net, net.init(jax.random.key(1)), tx)
        _, result = search(state, jax.random.key(2), data)
        results[noise] = float(np.nanmean(np.asarray(result.mean_curve)[6:]))
    assert results[0.0] > 0.8  # separable task, learnt
    assert abs(results[1.0] - 0.5) < 0.15  # pure noise: chance


# ------------------------------------------------------------------------------------------------
# The network: Glorot-uniform kernels and aggregation


def test_glorot_uniform_init_is_keras_default():
    """Kernels uniform in +-sqrt(6 / (fan_in + fan_out)) (variance limit^2 / 3), biases zero;
    the same key gives the same bank; the LeCun default is unchanged by the option."""
    net = mlp_pathnet(784, 3, 10, 3, 20, 2, 2, init_scheme="glorot_uniform")
    params = net.init(jax.random.key(0))
    for w, (fan_in, fan_out) in [
        (params["modules"][0]["w"], (784, 20)),
        (params["modules"][1]["w"], (20, 20)),
        (params["heads"]["w"], (20, 2)),
    ]:
        w = np.asarray(w)
        limit = np.sqrt(6 / (fan_in + fan_out))
        assert np.abs(w).max() <= limit and np.abs(w).max() > 0.95 * limit
        assert abs(w.var() / (limit**2 / 3) - 1) < 0.1
    assert not np.any(np.asarray(params["modules"][0]["b"]))
    again = net.init(jax.random.key(0))
    np.testing.assert_array_equal(np.asarray(again["modules"][2]["w"]), np.asarray(params["modules"][2]["w"]))
    lecun = np.asarray(mlp_pathnet(784).init(jax.random.key(0))["modules"][0]["w"])
    assert abs(lecun.std() * np.sqrt(784) - 1) < 0.05
    with pytest.raises(ValueError, match="init_scheme must be"):
        mlp_pathnet(8, init_scheme="orthogonal")


@pytest.mark.parametrize("aggregation", ["sum", "mean", "mean_last"])
def test_aggregation(aggregation):
    """sum adds a layer's distinct modules, mean averages them, mean_last averages at the last
    layer only. Checked against a hand-written forward pass, through both the gathered and the
    masked forms, with a path of 2 distinct modules in one layer and 3 in another."""
    net = mlp_pathnet(6, 2, 5, 3, 4, 1, 3, aggregation=aggregation)
    params = net.init(jax.random.key(0))
    params = jax.tree.map(lambda a: a + 0.05, params)  # non-zero biases
    path = jnp.array([[1, 4, 1], [0, 2, 3]])
    x = jax.random.normal(jax.random.key(1), (5, 6))

    def forward(params, h):  # in float64
        for layer, row in enumerate(np.asarray(path)):
            mods = sorted(set(row.tolist()))
            w, b = (np.asarray(params["modules"][layer][k], np.float64) for k in ("w", "b"))
            outs = [np.maximum(h @ w[m] + b[m], 0) for m in mods]
            mean = aggregation == "mean" or (aggregation == "mean_last" and layer == 1)
            h = np.mean(outs, axis=0) if mean else np.sum(outs, axis=0)
        return h @ np.asarray(params["heads"]["w"][0], np.float64) + np.asarray(params["heads"]["b"][0])

    want = forward(params, np.asarray(x, np.float64))
    # the longest sum: 6 inputs + bias, up to 3 modules summed and a division; 4 + bias likewise;
    # the head on 4 units + bias
    bound = forward_bound(forward, params, x, terms=(7 + 3 + 1) + (5 + 3 + 1) + 5)
    assert_within(net.apply(params, x, path, 0), want, bound, "gathered")
    assert_within(net.apply_masked(params, x, path, 0), want, bound, "masked")
    with pytest.raises(ValueError, match="aggregation must be one of"):
        mlp_pathnet(6, aggregation="max")


# ------------------------------------------------------------------------------------------------
# Evolution: initial path sizes and refill


def test_initial_path_sizes():
    """uniform_1_to_n: each layer's size is uniform over 1..N (N = 3: each a third, within 5
    standard errors of 6,000 rows) and its modules distinct; full: every gene uniform, so with
    M = 10, N = 3 a row holds 3 distinct modules with probability 0.72."""
    rows = 6000
    paths = random_paths(jax.random.key(0), (rows // 3,), 3, 10, 3, "uniform_1_to_n")
    sizes = distinct_sizes(paths)
    se = np.sqrt((1 / 3) * (2 / 3) / rows)
    for s in (1, 2, 3):
        assert abs((sizes == s).mean() - 1 / 3) < 5 * se
    assert np.asarray(paths).min() >= 0 and np.asarray(paths).max() <= 9
    full = distinct_sizes(random_paths(jax.random.key(0), (rows // 3,), 3, 10, 3, "full"))
    assert abs((full == 3).mean() - 0.72) < 5 * np.sqrt(0.72 * 0.28 / rows)
    tour = Tournament(3, 10, 3, population=64, initial_paths="uniform_1_to_n")
    assert set(distinct_sizes(tour.init(jax.random.key(1)).paths).tolist()) == {1, 2, 3}


def test_refill_keeps_layer_sizes_and_refills_from_old_genes():
    """Refill mutates a row's distinct genes only, collapses the duplicates this makes and refills
    the row from its old genes. M = 2, N = 2, row {0, 1}, every gene moved by -1..1 and clamped:
    plain mutation often collapses the row to one module; refill always gives {0, 1} back, with
    the surviving moved gene first. Random rows keep their sizes, and every gene of a new row is
    a moved gene (old +- 2, wrapped) or an old one."""
    keys = jax.random.split(jax.random.key(0), 300)
    row = jnp.array([[0, 1]])
    refilled = np.asarray(jax.vmap(lambda k: refill_mutate_path(k, row, 2, 1.0, 1, "clamp"))(keys))[:, 0]
    # the same moves without refill (each row's key is split from the path's key)
    moved = np.asarray(
        jax.vmap(lambda k: mutate_path(jax.random.split(k, 1)[0], row[0], 2, 1.0, 1, "clamp"))(keys)
    )
    collapsed = moved[:, 0] == moved[:, 1]
    assert 0.2 < collapsed.mean() < 0.8
    assert all(set(r.tolist()) == {0, 1} for r in refilled)
    np.testing.assert_array_equal(refilled[collapsed, 0], moved[collapsed, 0])  # the moved gene first
    np.testing.assert_array_equal(refilled[~collapsed], moved[~collapsed])  # no collision: the moves

    paths = random_paths(jax.random.key(1), (500,), 3, 10, 3, "uniform_1_to_n")
    children = jax.vmap(lambda k, p: refill_mutate_path(k, p, 10, 0.5, 2, "wrap"))(
        jax.random.split(jax.random.key(2), 500), paths
    )
    np.testing.assert_array_equal(distinct_sizes(children), distinct_sizes(paths))
    assert (np.asarray(children) != np.asarray(paths)).any()
    for old, new in zip(np.asarray(paths).reshape(-1, 3), np.asarray(children).reshape(-1, 3), strict=True):
        near = {(g + d) % 10 for g in old for d in range(-2, 3)}
        assert set(new.tolist()) <= near
    tour = Tournament(3, 10, 3, refill=True)
    np.testing.assert_array_equal(
        np.asarray(tour.mutate(jax.random.key(5), paths[0])),
        np.asarray(refill_mutate_path(jax.random.key(5), paths[0], 10, tour.gene_prob, 2, "wrap")),
    )


# ------------------------------------------------------------------------------------------------
# The thesis study: P+S's pick, with the thesis's options together


def test_thesis_protocol_options_and_search_path_pick(tmp_path):
    """pick=search_path: P+S trains the path S+S found on task 1 (the thesis's log), so both
    conditions' path 1 agree in every run (random picks differ:
    test_thesis_first_path_smoke_and_exact_resume). Runs with the thesis's other options on (raw
    pixels, Glorot init, layer sizes 1..N with refill, minibatch noise)."""
    thesis = [
        "data.scale=raw",
        "pathnet.init=glorot_uniform",
        "search.initial_paths=uniform_1_to_n",
        "search.refill=true",
        "data.noise=0.1",
        "data.noise_mode=minibatch",
        "optim.lr=0.0001",
    ]
    module, cfg = smoke("thesis_first_path", tmp_path, "pick=search_path", *thesis)
    module.run(cfg, tmp_path / "a", quiet=True)
    records = [json.loads(line) for line in (tmp_path / "a" / "runs.jsonl").read_text().splitlines()]
    for ss, ps in zip(records[0::2], records[1::2], strict=True):
        assert ps["path1"] == ss["path1"] and ps["generations1"] == ss["generations1"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("data.noise=1.5", "data.noise"),
        ("data.noise_mode=epoch", "data.noise_mode"),
        ("data.scale=byte", "data.scale"),
        ("pathnet.aggregation=max", "pathnet.aggregation"),
        ("pathnet.init=he", "pathnet.init"),
        ("search.initial_paths=some", "search.initial_paths"),
        ("pick=best", "pick"),
        ("optim.loss=hinge", "optim.loss"),
        ("search.repetition_mode=pmap", "search.repetition_mode"),
    ],
)
def test_bad_protocol_options(override, message, tmp_path):

    module, cfg = smoke("thesis_first_path", tmp_path, override)
    with pytest.raises(ConfigError, match=message):
        module.validate(cfg)


def test_keras_bce_equals_cross_entropy_in_value_but_has_no_gradient_when_saturated():
    """The thesis's Keras head (softmax + clipped binary cross-entropy, mean over 2 outputs):
    the same value as the cross-entropy on two classes while p >= 1e-7, and no gradient at all
    when the softmax is saturated on the wrong class, where the cross-entropy's gradient is -1."""
    logits = jnp.array([[0.3, -1.2], [2.0, 0.5], [-3.0, 4.0]])
    y = jnp.array([0, 1, 1])
    z = np.asarray(logits, np.float64)
    p_label = (np.exp(z) / np.exp(z).sum(1, keepdims=True))[np.arange(3), np.asarray(y)]
    exact = -np.log(p_label)
    # Keras: -(log(p_y + e) + log(1 - p_other + e)) / 2 with e = 1e-7 and 1 - p_other = p_y, so its
    # epsilon moves the value by at most e / p_y; each log's argument is within gamma(4) of exact
    # relative to p_y (exp, sum, division, subtraction), moving the log by as much; each log and
    # the mean once more relative to the value
    bound = (1e-7 + 2 * gamma(4)) / p_label + 2 * gamma(4) * exact
    assert_within(tp.classification_loss(logits, y, "keras_bce"), exact, bound, "keras_bce")
    # log-softmax: (z_y - max z) - log sum exp(z - max z); the difference, the exps and their sum
    # (gamma(2) relative: gamma(2) absolute after the log), the log and the last subtraction round
    ce_bound = gamma(4) * (np.abs(z[np.arange(3), np.asarray(y)] - z.max(1)) + 1 + 2 * exact)
    assert_within(tp.classification_loss(logits, y, "cross_entropy"), exact, ce_bound, "cross_entropy")
    wrong = jnp.array([[40.0, 0.0]])  # class 0 with p ~ 1, the label is 1

    def grad(kind):
        return np.asarray(jax.grad(lambda z: tp.classification_loss(z, jnp.array([1]), kind).sum())(wrong))

    np.testing.assert_array_equal(grad("keras_bce"), 0.0)
    # softmax(40, 0) = (1, 4e-18): 1 and 4e-18 - 1 round to 1 and -1 (within one rounding)
    assert_within(grad("cross_entropy"), [[1.0, -1.0]], U, "cross_entropy")
    with pytest.raises(ValueError, match="loss must be one of"):
        tp.SessionConfig(loss="hinge")


# ------------------------------------------------------------------------------------------------
# How the repetitions of a search run


def test_repetitions_mapped_equal_vmapped_and_each_stops_on_its_own():
    """search.repetition_mode: ``map`` runs the R repetitions one after another inside the compiled
    call, ``vmap`` in lockstep. Same paths, generations and weights (the same arithmetic per run);
    ``auto`` is map on this CPU. Runs stop at different generations, so lockstep idles."""
    task = two_class_task()
    data = tp.task_data([task])[0]
    engines = {}
    for mode in ("vmap", "map"):
        search = pc.SearchConfig(population=4, steps=5, batch_size=8, threshold=0.9, max_generations=40)
        search.repetition_mode = mode
        engines[mode] = pc.Engine(
            16,
            pc.PathNetConfig(layers=2, modules=4, active=2, units=8),
            search,
            pc.OptimConfig(lr=0.05),
            1,
            2,
        )
    assert pc.repetition_mode("auto") == "map"  # this CPU
    k_init, k_search = pc.split_keys(0, 0, 6, 2)
    out = {}
    for mode, engine in engines.items():
        _, states = engine.init(k_init)
        out[mode] = jax.device_get(engine.search(states, k_search, data))
    (st_v, res_v), (st_m, res_m) = out["vmap"], out["map"]
    np.testing.assert_array_equal(res_v.generations, res_m.generations)
    np.testing.assert_array_equal(res_v.path, res_m.path)
    np.testing.assert_array_equal(res_v.curve, res_m.curve)
    for a, b in zip(jax.tree.leaves(st_v.params), jax.tree.leaves(st_m.params), strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(set(res_m.generations.tolist())) > 1, res_m.generations
