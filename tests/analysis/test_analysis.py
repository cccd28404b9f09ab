"""Reference tests of the analysis metrics (pnn_jax.analysis): NumPy references and constructed
networks whose answer is known."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerance import U, assert_within, gamma

from pnn_jax import cli, provenance, tables
from pnn_jax.analysis import pathnet as pa
from pnn_jax.analysis import sensitivity as sens
from pnn_jax.analysis import speedup as sp
from pnn_jax.analysis import transfer as tr
from pnn_jax.config import ConfigError
from pnn_jax.experiments import runner
from pnn_jax.nets.columns import ColumnSpec, Conv, Dense, mlp_column
from pnn_jax.nets.pathnet import PathNet
from pnn_jax.nets.progressive import ProgressiveNet
from pnn_jax.rl import sensitivity as rl_sens
from pnn_jax.tables.records import PNN_DIGITS
from pnn_jax.train.pathnet_search import diversity as device_diversity

# ------------------------------------------------------------------------------------------------
# Transfer scores (docs/papers.md 1.4)


def test_auc_is_the_mean_curve_point_plus_offset_and_transfer_is_the_ratio():
    assert tr.auc([1.0, 2.0, 3.0]) == pytest.approx(2.0)
    assert tr.auc([-21.0, -19.0], offset=21.0) == pytest.approx(1.0)
    assert tr.transfer_pct(3.0, 2.0) == pytest.approx(150.0)
    assert np.isnan(tr.transfer_pct(3.0, 0.0)) and np.isnan(tr.transfer_pct(3.0, -1.0))


def test_missing_curve_points_are_filled_forward_and_never_count_as_zero():
    nan = float("nan")
    # leading gap from the first observed point, inner gaps from the last point before them
    np.testing.assert_array_equal(
        tr.filled([nan, -20.0, nan, nan, -18.0, None]), [-20, -20, -20, -20, -18, -18]
    )
    assert tr.auc([nan, -20.0, nan, -17.0], offset=21.0) == pytest.approx(np.mean([1, 1, 1, 4]))
    # a run too short to finish an episode has no AUC, no final return and no transfer score
    assert np.isnan(tr.auc([nan, nan], offset=21.0)) and np.isnan(tr.auc([]))
    assert np.isnan(tr.final_return([nan, None]))
    assert np.isnan(tr.transfer_pct(tr.auc([nan], 21.0), 5.0))
    assert np.isnan(tr.transfer_pct(5.0, tr.auc([nan], 21.0)))
    # the final return averages the last three observed points
    assert tr.final_return([1.0, 2.0, nan, 3.0, 4.0, nan]) == pytest.approx(3.0)
    # a curve from per-iteration counts: the empty window is NaN
    pts = tr.learning_curve([10, 10, 10, 10], [0, 0, 1, 0], [0.0, 0.0, -21.0, 0.0], 20)
    assert np.isnan(pts[0]) and pts[1] == -21.0


def test_curve_built_chunk_by_chunk_with_state_round_trips_equals_the_whole_curve():
    rng = np.random.default_rng(0)
    for _ in range(200):
        t, window = int(rng.integers(1, 40)), int(rng.integers(1, 30))
        steps = rng.integers(1, 25, t)
        episodes = rng.integers(0, 3, t)
        returns = rng.normal(size=t) * episodes
        whole = tr.learning_curve(steps, episodes, returns, window)
        assert len(whole) == (int(steps.sum()) - 1) // window + 1  # one point per window, empty ones too
        acc, k, completed = tr.CurveAccumulator(window), 0, []
        while k < t:
            c = int(rng.integers(1, 6))
            completed += acc.add(steps[k : k + c], episodes[k : k + c], returns[k : k + c])
            acc, k = tr.CurveAccumulator(window, acc.state()), k + c  # as after a checkpoint
        np.testing.assert_array_equal(completed + acc.pending(), whole)


def test_transfer_scores_pair_jobs_with_their_own_baseline_or_take_the_top_k():
    aucs = {
        ("p", "baseline1", 0): 10.0,
        ("p", "baseline1", 1): 20.0,
        ("p", "baseline1", 2): 40.0,
        ("p", "progressive", 0): 20.0,
        ("p", "progressive", 1): 20.0,
        ("p", "progressive", 2): 20.0,
        ("q", "progressive", 0): 5.0,  # no baseline 1 on q: no score
    }
    per_job = tr.transfer_scores(aucs)
    assert per_job[("p", "progressive")] == pytest.approx(np.mean([200, 100, 50]))
    assert per_job[("p", "baseline1")] == pytest.approx(100.0)
    assert ("q", "progressive") not in per_job
    top2 = tr.transfer_scores(aucs, top_k=2)  # mean of the 2 best jobs over baseline 1's 2 best
    assert top2[("p", "progressive")] == pytest.approx(100 * 20.0 / 30.0)
    assert tr.top_mean([1, 5, 3, 4], 3) == pytest.approx(4.0)


def test_matrix_clip_aggregates_and_counts():
    m = tr.transfer_matrix({("a", "x"): 150.0, ("b", "y"): 350.0}, ["a", "b"], ["x", "y"])
    np.testing.assert_array_equal(np.isnan(m), [[False, True], [True, False]])
    assert tr.clip_for_colour(m)[1, 1] == 200.0 and tr.clip_for_colour(m)[0, 0] == 150.0
    values = [50.0, 99.0, 100.0, 104.0, 180.0, float("nan")]
    assert tr.mean_median(values) == pytest.approx((np.mean(values[:5]), 100.0))
    assert tr.count_transfer(values) == {"positive": 2, "negative": 2, "neutral": 1, "of": 5}
    assert tr.count_transfer(values, band=5) == {"positive": 1, "negative": 1, "neutral": 3, "of": 5}


# ------------------------------------------------------------------------------------------------
# Speedup (docs/papers.md 2.4)


def test_time_to_criterion_and_both_speedup_averages():
    assert sp.time_to_criterion([10, 20, 30], [0.1, 0.6, 0.9], 0.5, 99) == (20.0, True)
    assert sp.time_to_criterion([10, 20], [0.1, None], 0.5, 99) == (99.0, False)
    scratch, method = {0: 200, 1: 100}, {0: 100, 1: 100}
    out = sp.speedup(scratch, method)
    assert out["ratio_of_means"] == pytest.approx(150 / 100)
    assert out["mean_of_ratios"] == pytest.approx((2.0 + 1.0) / 2)
    assert out["runs"] == 2
    # the paper's binary-MNIST means give its ratio of means
    assert sp.ratio_of_means([195], [167]) == pytest.approx(1.17, abs=0.01)


def test_intervals_and_the_paired_test_of_the_speedup():
    """t interval by hand (5 values, t_0.975,4 = 2.7764); bootstrap intervals hold both point
    speedups, are seeded, and collapse to a point when every run has the same ratio; Wilcoxon on
    hand-ranked differences (scipy's exact two-sided p for n = 5, all positive: 2 / 32)."""
    mean, low, high = sp.mean_interval([1, 2, 3, 4, 5])
    half = 2.7764451 * np.std([1, 2, 3, 4, 5], ddof=1) / np.sqrt(5)
    assert mean == 3 and low == pytest.approx(3 - half) and high == pytest.approx(3 + half)
    assert np.isnan(sp.mean_interval([4])[1])
    rng = np.random.default_rng(0)
    scratch = {r: float(x) for r, x in enumerate(rng.integers(100, 300, 40))}
    method = {r: float(x) for r, x in enumerate(rng.integers(80, 260, 40))}
    point, ci = sp.speedup(scratch, method), sp.bootstrap_speedup(scratch, method)
    for key in ("ratio_of_means", "mean_of_ratios"):
        assert ci[key][0] < point[key] < ci[key][1]
    assert ci == sp.bootstrap_speedup(scratch, method)
    same = sp.bootstrap_speedup({0: 20, 1: 40}, {0: 10, 1: 20})
    assert same["ratio_of_means"] == pytest.approx((2.0, 2.0)) and same["mean_of_ratios"] == pytest.approx(
        (2.0, 2.0)
    )
    w = sp.paired_wilcoxon({r: 10 + r for r in range(5)}, {r: 0 for r in range(6)})
    assert w["runs"] == 5 and w["median_difference"] == 12 and w["statistic"] == 0
    assert w["p"] == pytest.approx(2 / 32)
    assert sp.paired_wilcoxon({0: 3, 1: 4}, {0: 3, 1: 4})["p"] == 1.0


# ------------------------------------------------------------------------------------------------
# PathNet analysis (docs/papers.md 3.1)


def test_pathnet_reuse_capacity_and_diversity_against_brute_force():
    old = np.array([[0, 1], [2, 2], [5, 6]])
    new = np.array([[1, 3], [2, 4], [7, 7]])
    assert pa.reuse_per_layer(old, new) == [1, 1, 0]
    assert pa.reuse_of_locked(new, [old, np.array([[3, 3], [0, 0], [7, 0]])]) == [2, 1, 1]
    assert pa.expected_reuse_of_locked(new, [old], 10) == pytest.approx([2 * 2 / 10, 2 * 1 / 10, 1 * 2 / 10])
    np.testing.assert_allclose(pa.reuse_histogram([0, 1, 1, 5], 3), [0.25, 0.5, 0, 0.25])
    locked = np.zeros((3, 10), bool)
    locked[0, :3] = True
    assert pa.capacity_used(locked) == pytest.approx(3 / 30)
    paths = np.array([old, new, old])
    masks = [pa.active_mask(p, 10) for p in paths]
    brute = np.mean([(masks[i] ^ masks[j]).sum() for i in range(3) for j in range(3) if i != j])
    assert pa.diversity(paths, 10) == pytest.approx(brute)

    net = PathNet((3,), (Dense(4), Dense(4), Dense(4)), 10, 2, 1, 2)
    assert float(device_diversity(net, jnp.asarray(paths))) == pytest.approx(pa.diversity(paths, 10))


# ------------------------------------------------------------------------------------------------
# AFS and APS (docs/papers.md 1.7)


def _two_column_net(lateral="plain"):
    return ProgressiveNet(mlp_column(3, [4], {"policy": 2}), 2, lateral=lateral)


def fisher_bounds(h, e_h, g, e_g, count: int, states: int):
    """Bounds on ``layer_fisher``'s ``(fisher, std) [K, F]`` against the exact ones, from the exact
    activations ``h`` and gradients ``g`` (float64, ``[K, count, F]``: states and positions) and
    bounds ``e_h``, ``e_g`` on the device's errors in each. The device sums ``h``, ``h^2`` and
    ``g^2`` in float32 (any order: ``gamma(count + 1)`` of the sums of magnitudes, a square one
    rounding more); the host forms ``var = s2 / n - (s1 / n)^2`` and ``var * raw / states`` in
    float64, first order in the errors of the sums (float64's own rounding, 2^-53, is counted
    with a factor of 8)."""
    d64 = 8 * 2.0**-53
    mean, sq = h.mean(1), (h**2).mean(1)
    d_s1 = (e_h.sum(1) + gamma(count + 1) * np.abs(h).sum(1)) / count
    d_s2 = (2 * (np.abs(h) * e_h).sum(1) + gamma(count + 1) * (h**2).sum(1)) / count
    var = np.maximum(sq - mean**2, 0)
    d_var = d_s2 + 2 * np.abs(mean) * d_s1 + d64 * (sq + mean**2)
    raw = (g**2).sum(1)
    d_raw = 2 * (np.abs(g) * e_g).sum(1) + gamma(count + 1) * raw
    fisher = var * raw / states
    d_fisher = (d_var * raw + var * d_raw) / states + d64 * fisher
    std = np.sqrt(var)
    d_std = np.minimum(np.sqrt(d_var), np.divide(d_var, std, out=np.full_like(std, np.inf), where=std > 0))
    return fisher, d_fisher, std, d_std


def _mlp_fisher_reference(params, x, actions):
    """The exact (float64) activations, Fisher gradients and their float32 error bounds of
    :func:`_two_column_net` with plain laterals: ``(h, e_h, g, e_g)``, each ``[2, n, 4]``."""
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
    x = np.asarray(x, np.float64)
    w, b = p["hidden"][0]["w"], p["hidden"][0]["b"]
    h = np.stack([np.maximum(x @ w[k] + b[k], 0) for k in range(2)])
    e_h = gamma(4) * np.stack([np.abs(x) @ np.abs(w[k]) + np.abs(b[k]) for k in range(2)])  # 3 inputs + bias
    w_own = p["heads"]["policy"]["w"][1]
    w_lat = p["heads"]["policy"]["lateral"]["u"][1, 0]
    logits = h[1] @ w_own + h[0] @ w_lat + p["heads"]["policy"]["b"][1]
    # the logits: 4 + 4 terms and a bias after the activations' 4 (Higham Lemma 3.3: gamma(13))
    z_mag = (e_h[1] / gamma(4)) @ np.abs(w_own) + (e_h[0] / gamma(4)) @ np.abs(w_lat)
    e_z = gamma(13) * (z_mag + np.abs(p["heads"]["policy"]["b"][1]))
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    dlogits = np.eye(2)[actions] - probs  # d log pi(a) / d logits
    # softmax moves by at most p (|dz_j| + sum_l p_l |dz_l|) and rounds 4 times; the difference once
    e_d = probs * (2 * e_z.max(1, keepdims=True) + gamma(4)) + U * np.abs(dlogits)
    ws = (w_lat, w_own)  # d log pi / d h^(0) through the lateral, d h^(1) through the column's own
    g = np.stack([dlogits @ wk.T for wk in ws])
    e_g = np.stack([e_d @ np.abs(wk).T + gamma(2) * (np.abs(dlogits) @ np.abs(wk).T) for wk in ws])
    return h, e_h, g, e_g


def test_fisher_matches_a_numpy_reference():
    net = _two_column_net()
    params = net.init(jax.random.key(0))
    x = np.asarray(jax.random.normal(jax.random.key(1), (64, 3)))
    actions = np.asarray(jax.random.randint(jax.random.key(2), (64,), 0, 2))
    fisher, std = rl_sens.layer_fisher(net, params, x, actions, column=1, batch=24)  # 24 + 24 + 16
    h, e_h, g, e_g = _mlp_fisher_reference(params, x, actions)
    ref, d_ref, ref_std, d_std = fisher_bounds(h, e_h, g, e_g, count=64, states=64)
    for k in range(2):  # the textbook form: std^2 * mean of the squared gradients
        np.testing.assert_allclose(ref[k], h[k].std(0) ** 2 * (g[k] ** 2).mean(0), rtol=1e-12)
    assert_within(fisher[0], ref, d_ref, "fisher")
    assert_within(std[0], ref_std, d_std, "std")


def test_afs_is_zero_for_a_column_whose_output_ignores_the_lateral_path():
    net = _two_column_net("adapter")
    params = net.init(jax.random.key(0))
    params["heads"]["policy"]["lateral"]["u"] = jnp.zeros_like(params["heads"]["policy"]["lateral"]["u"])
    x = np.asarray(jax.random.normal(jax.random.key(1), (128, 3)))
    actions = np.asarray(jax.random.randint(jax.random.key(2), (128,), 0, 2))
    fisher, _ = rl_sens.layer_fisher(net, params, x, actions, column=1)
    out = sens.afs(fisher[0])
    np.testing.assert_array_equal(out["per_layer"][0], 0.0)
    assert out["share"][1] == pytest.approx(1.0)


def test_two_identical_columns_split_the_sensitivity_evenly():
    net = _two_column_net("plain")
    params = net.init(jax.random.key(0))
    hid = params["hidden"][0]
    params["hidden"][0] = {**hid, "w": hid["w"].at[1].set(hid["w"][0]), "b": hid["b"].at[1].set(hid["b"][0])}
    head = params["heads"]["policy"]
    lat = head["lateral"]["u"].at[1, 0].set(head["w"][1])  # U = W: the two columns enter alike
    params["heads"]["policy"] = {**head, "lateral": {"u": lat}}
    x = np.asarray(jax.random.normal(jax.random.key(1), (128, 3)))
    actions = np.asarray(jax.random.randint(jax.random.key(2), (128,), 0, 2))
    fisher, _ = rl_sens.layer_fisher(net, params, x, actions, column=1)
    out = sens.afs(fisher[0])
    # exact: the columns' Fisher values are equal, so each unit's share is 1/2; computed, each is
    # within d of exact, so f_0 / (f_0 + f_1) is within (d_0 + d_1) / (f_0 + f_1) of 1/2 (first order)
    exact, d, _, _ = fisher_bounds(*_mlp_fisher_reference(params, x, actions), count=128, states=128)
    live = exact.sum(0) > 0
    np.testing.assert_array_equal(fisher[0].sum(0) > 0, live)
    d_unit = np.where(live, d.sum(0) / np.where(live, exact.sum(0), 1), 0)
    want = np.broadcast_to(np.where(live, 0.5, 0.0), (2, 4))
    assert_within(out["per_unit"], want, np.broadcast_to(d_unit, (2, 4)), "per unit")
    assert_within(out["share"], [0.5, 0.5], d_unit.sum() / live.sum(), "share")


def test_conv_fisher_is_one_value_per_feature_map_summed_over_positions():
    spec = ColumnSpec((6, 6, 1), (Conv(2, 3, 1), Dense(3)), (("policy", 2),))
    net = ProgressiveNet(spec, 2, lateral="plain")
    params = net.init(jax.random.key(3))
    x = np.asarray(jax.random.normal(jax.random.key(4), (16, 6, 6, 1)))
    actions = np.zeros(16, np.int32)
    fisher, std = rl_sens.layer_fisher(net, params, x, actions, column=1)
    assert fisher[0].shape == (2, 2) and fisher[1].shape == (2, 3)
    # reference for the conv layer: per-state gradients by autodiff, then std^2 * sum over positions
    shape = net.column.hidden_shapes()[0]

    def logp(d, xb, a):
        zero = [jnp.zeros((2, 1, *shape)).at[:, 0].set(d), jnp.zeros((2, 1, 3))]
        logits = net.apply(params, xb[None], 1, perturb=zero)["policy"]
        return jax.nn.log_softmax(logits)[0, a]

    g = np.stack([np.asarray(jax.grad(logp)(jnp.zeros((2, *shape)), x[b], 0)) for b in range(16)])
    _, hidden = net.apply_all(params, x)
    h = np.asarray(hidden[0], np.float64)  # [K, B, H, W, F]
    var = h.reshape(2, -1, 2).var(1)
    ref = var * (g.astype(np.float64) ** 2).sum((2, 3)).mean(0)  # g: [B, K, H, W, F] -> [K, F]
    # Both sides are float32 computations of the same quantities: each within fisher_bounds of
    # exact, with the errors of h and g bounded by the network on magnitudes (|params|, |x|, ReLU
    # the identity): h within gamma(10) (3 x 3 taps + bias); the logits within gamma(82) (the conv,
    # the fc layer's 32 + bias and 32 lateral, the head's 3 + bias and 3 lateral); d log pi / d h
    # = sum_j (onehot - p)_j dz_j / dh, its factors off by the softmax's error (p moves by at most
    # 2 max |dz| + gamma(4)) and by the backward pass's sums (gamma(2 * 82)), times the Jacobian of
    # the magnitude network's summed logits (at least |dz_j / dh| for every j).
    mag = jax.tree.map(jnp.abs, params)
    _, hidden_mag = net.apply_all(mag, jnp.abs(x))
    e_h = gamma(10) * np.asarray(hidden_mag[0], np.float64)
    z_mag = np.asarray(net.apply(mag, jnp.abs(x), 1)["policy"], np.float64)

    def summed_logits(d):
        perturb = [d, jnp.zeros((2, 16, 3))]
        return net.apply(mag, jnp.abs(x), 1, perturb=perturb)["policy"].sum()

    jac = np.asarray(jax.grad(summed_logits)(jnp.zeros((2, 16, *shape))), np.float64)  # [K, B, H, W, F]
    e_d = 2 * gamma(82) * z_mag.max(1) + gamma(4) + U  # [B]
    e_g = (e_d[None, :, None, None, None] + gamma(2 * 82)) * jac * (1 + gamma(82))
    _, d_fisher, _, d_std = fisher_bounds(
        h.reshape(2, -1, 2),
        e_h.reshape(2, -1, 2),
        np.moveaxis(g, 0, 1).astype(np.float64).reshape(2, -1, 2),
        e_g.reshape(2, -1, 2),
        count=16 * 4 * 4,
        states=16,
    )
    assert_within(fisher[0], ref, 2 * d_fisher, "conv fisher")
    assert_within(std[0], np.sqrt(var), 2 * d_std, "conv std")


def test_halving_variance_interpolates_in_log_variance_and_aps_normalises_precision():
    grid = [0.01, 0.1, 1.0, 10.0]
    assert sens.halving_variance(grid, [100, 90, 60, 40], 100) == pytest.approx(10 ** (0 + 10 / 20))
    assert sens.halving_variance(grid, [40, 30, 20, 10], 100) == pytest.approx(0.01)  # upper bound
    assert sens.halving_variance(grid, [99, 98, 97, 96], 100) == float("inf")
    np.testing.assert_allclose(sens.aps([1.0, 3.0]), [0.75, 0.25])
    np.testing.assert_allclose(sens.aps([1.0, float("inf")]), [1.0, 0.0])
    assert np.isnan(sens.aps([float("inf")] * 2)).all()


def test_noise_scales_touch_only_the_chosen_layer_and_column():
    spec = ColumnSpec((6, 6, 1), (Conv(2, 3, 1), Dense(3)), (("policy", 2),))
    net = ProgressiveNet(spec, 2)
    stds = [np.array([[1.0, 2.0], [3.0, 4.0]]), np.ones((2, 3))]
    scales = rl_sens.noise_scales(net, stds, 0, 1, 0.5)
    assert scales[0].shape == (2, 1, 1, 1, 2) and scales[1].shape == (2, 1, 3)
    np.testing.assert_allclose(scales[0][1].ravel(), [1.5, 2.0])
    assert not scales[0][0].any() and not scales[1].any()


# ------------------------------------------------------------------------------------------------
# pnn-jax table on constructed run directories (numbers known) and its errors


def _fake_run(path, experiment, records, preset="smoke"):

    path.mkdir(parents=True)
    (path / "config.yaml").write_text(f"experiment: {experiment}\npreset: {preset}\n")
    (path / "summary.json").write_text(json.dumps({"wall_time_s": 60.0, "provenance": {"commit": "abc1234"}}))
    (path / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def _transfer_record(source, target, method, seed, auc, columns=2):
    return {
        "pair_label": f"{source} -> {target}",
        "sources": [source],
        "target": target,
        "method": method,
        "seed": seed,
        "columns": columns if method in ("progressive", "baseline4") else 1,
        "auc": auc,
    }


def test_pong_soup_table_numbers_from_known_aucs(tmp_path):

    recs = []
    for seed, (b1, prog) in enumerate([(10.0, 30.0), (20.0, 20.0)]):  # per job: 300% and 100%
        recs += [_transfer_record("Pong", "Hflip", "baseline1", seed, b1)]
        recs += [_transfer_record("Pong", "Hflip", "progressive", seed, prog)]
    recs += [
        _transfer_record("Pong", "Zoom", "baseline1", 0, 10.0),
        _transfer_record("Pong", "Zoom", "progressive", 0, 5.0),
    ]
    _fake_run(tmp_path / "a", "pnn_pong_soup", recs)
    _fake_run(tmp_path / "b", "pnn_atari", [])  # another experiment's run is not pooled
    md, _ = tables.build("pnn_pong_soup", [tmp_path])
    # Hflip: mean of 300 and 100 = 200; Zoom: 50 -> mean 125, median 125; paper 209 / 169
    assert "| Progressive, 2 columns | 125 | 125 | 209 | 169 | -84.0 | -44.0 | 2 |" in md
    assert "| Pong | 200 | 50.0 |" in md  # the matrix row: source Pong, targets Hflip, Zoom
    assert "| Progressive, 2 columns | 1 | 1 | 0 | 2 | - | - |" in md
    assert "commit abc1234" in md and "Preset smoke; 1 run(s) (1.0 min)" in md
    top, _ = tables.build("pnn_pong_soup", [tmp_path / "a"], tables.Options(top_k=1), out=tmp_path / "t")
    # top 1 of 2 jobs on Hflip: 30 / 20 = 150%
    assert "| Pong | 150 | 50.0 |" in top


def test_table_errors_are_one_line(tmp_path, capsys):

    _fake_run(tmp_path / "r", "pnn_pong_soup", [])
    cases = [
        (["table", "table_9", str(tmp_path)], "unknown table 'table_9'; choose from"),
        (["table", "pnn_atari", str(tmp_path / "missing")], "is not a directory"),
        (["table", "pnn_atari", str(tmp_path)], "no finished run of pnn_atari under"),
        (["table", "pnn_pong_soup", str(tmp_path), "--top-k", "0"], "--top-k must be at least 1"),
        (["table", "pnn_pong_soup"], "table takes a table name and run or sweep directories"),
    ]
    for args, message in cases:
        assert cli.main(args) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


def test_readme_block_is_replaced_between_its_markers(tmp_path):

    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- table:t -->\nold\n<!-- /table:t -->\nafter\n")
    tables.update_readme(readme, "t", "new table\n")
    assert readme.read_text() == "# x\n<!-- table:t -->\nnew table\n<!-- /table:t -->\nafter\n"
    with pytest.raises(ConfigError, match="no '<!-- table:u -->'"):
        tables.update_readme(readme, "u", "x\n")


def test_reproduce_scripts_run_a_table_and_list_every_table(tmp_path):

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "OUT": str(tmp_path)}
    done = subprocess.run(
        ["scripts/reproduce.sh", "thesis_first_path", "smoke"],
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "tables" / "thesis_first_path" / "table.md").exists()
    assert "| module reuse (path 2 in path 1) |" in done.stdout
    listing = subprocess.run(
        ["scripts/reproduce_all.sh"], cwd=root, capture_output=True, text=True, check=True
    )
    for name in tables.names():
        assert f"\n{name} " in listing.stdout, name
    bad = subprocess.run(["scripts/reproduce.sh", "table_9"], cwd=root, capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown table 'table_9'" in bad.stderr


def test_provenance_names_every_commit_a_run_ran_from(tmp_path, monkeypatch):
    """A run started at one commit and finished (or resumed) at another names both, ``a -> b``;
    one commit throughout stays one name."""

    @dataclasses.dataclass
    class Cfg:
        experiment: str = "pnn_digits"
        preset: str = "smoke"

    def finish(run_dir):
        return runner.finish(
            run_dir,
            Cfg(),
            rows=[],
            table="t",
            seconds=1.0,
            resumed=False,
            figures=[],
            quiet=True,
            records=PNN_DIGITS,
            builder="pnn_digits",
        )["provenance"]["commit"]

    commit = {"now": "aaa1111"}
    monkeypatch.setattr(provenance, "commit", lambda: commit["now"])
    runner.begin(tmp_path / "same", Cfg(), resume=False)
    assert finish(tmp_path / "same") == "aaa1111"
    runner.begin(tmp_path / "moved", Cfg(), resume=False)
    commit["now"] = "bbb2222+dirty"
    assert finish(tmp_path / "moved") == "aaa1111 -> bbb2222+dirty"
    runner.begin(tmp_path / "moved", Cfg(), resume=True)  # a resume at the new commit adds nothing new
    assert finish(tmp_path / "moved") == "aaa1111 -> bbb2222+dirty"
