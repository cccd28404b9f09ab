"""Baselines 1-4 and progressive nets update exactly the parameters they should, and no others."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from conftest import host, tiny_mlp, toy_classification

from pnn_jax import methods
from pnn_jax.nets.progressive import ProgressiveNet
from pnn_jax.train import progressive as ptrain
from pnn_jax.train import transfer
from pnn_jax.train.optim import make_optimizer


def expected_to_change(net, params, stage, path, column):
    """Whether the slice ``column`` of leaf ``path`` must change in ``stage``."""
    keys = [p.key for p in path if hasattr(p, "key")]
    if column != stage.column or (stage.scope == "heads" and keys[0] != "heads"):
        return False
    leaf_live = dict(jax.tree_util.tree_flatten_with_path(net.live_mask(params))[0])[path]
    return bool(np.any(leaf_live[column]))  # dead slots (no earlier column) never change


@pytest.mark.parametrize("lateral", ["adapter", "plain"])
@pytest.mark.parametrize("method", methods.names("progressive"))
def test_each_method_updates_exactly_its_parameters(method, lateral):
    plan = methods.get(method).plan(
        num_sources=2 if method == "progressive" else 1,
        reset_heads=method in ("baseline2", "baseline3"),
    )
    net = ProgressiveNet(tiny_mlp(), plan.max_columns, lateral=lateral)
    tx = make_optimizer("adam", 1e-2)
    loop = ptrain.make_train_loop(net, tx, ptrain.classification_loss(), batch_size=16)
    params = net.init(jax.random.key(0))
    data = {task: toy_classification(jax.random.key(i + 1)) for i, task in enumerate(plan.tasks)}
    for i, stage in enumerate(plan.stages):
        before = host(params)
        state = transfer.stage_state(net, params, tx, stage, jax.random.key(100 + i))
        if stage.reset_heads:  # a fresh output layer is part of the stage, not an update
            before["heads"] = host(state.params["heads"])
        state, _ = loop(state, data[stage.task], jax.random.key(i), num_steps=5)
        params = state.params
        after = host(params)
        for (path, b), a in zip(
            jax.tree_util.tree_flatten_with_path(before)[0], jax.tree.leaves(after), strict=True
        ):
            for column in range(plan.max_columns):
                changed = not np.array_equal(a[column], b[column])
                want = expected_to_change(net, params, stage, path, column)
                assert changed == want, (
                    f"{method} stage {i} ({stage}): {jax.tree_util.keystr(path)}[{column}] "
                    f"{'changed' if changed else 'did not change'}"
                )


def test_plans_match_the_paper():
    p = {m: methods.get(m).plan() for m in methods.names("progressive")}
    assert [s.scope for s in p["baseline2"].stages] == ["column", "heads"]
    assert [s.scope for s in p["baseline3"].stages] == ["column", "column"]
    assert p["baseline4"].max_columns == 2 and p["baseline4"].stages == (transfer.Stage("target", 1),)
    assert p["baseline1"].stages == (transfer.Stage("target", 0),)
    three = methods.get("progressive").plan(num_sources=2)
    assert three.max_columns == 3 and [s.column for s in three.stages] == [0, 1, 2]
    assert three.column_for("target") == 2 and three.column_for("source0") == 0
    with pytest.raises(ValueError, match="unknown progressive method 'baseline5'"):
        methods.get("baseline5", "progressive")


def test_reset_heads_redraws_only_that_columns_heads():
    net = ProgressiveNet(tiny_mlp(), 2)
    params = net.init(jax.random.key(0))
    new = host(net.reset_heads(params, jax.random.key(9), 1))
    old = host(params)
    assert not np.array_equal(new["heads"]["logits"]["w"][1], old["heads"]["logits"]["w"][1])
    np.testing.assert_array_equal(new["heads"]["logits"]["w"][0], old["heads"]["logits"]["w"][0])
    np.testing.assert_array_equal(new["hidden"][1]["w"], old["hidden"][1]["w"])
