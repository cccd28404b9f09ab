"""Digits loading and class-subset tasks."""

from __future__ import annotations

import numpy as np
import pytest

from pnn_jax.data import class_task, load_digits


def test_digits_are_embedded():
    x, y = load_digits()
    assert x.shape == (1797, 64) and x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0
    assert sorted(set(y.tolist())) == list(range(10))


def test_class_task_relabels_in_given_order_and_is_deterministic():
    x, y = load_digits()
    t = class_task(x, y, [7, 3], test_fraction=0.25, seed=1)
    assert t.classes == (7, 3) and t.num_classes == 2
    # Label 0 means digit 7: check against the source data by matching rows.
    src = {row.tobytes(): label for row, label in zip(x, y, strict=True)}
    assert all(src[row.tobytes()] == (7, 3)[lab] for row, lab in zip(t.x_train, t.y_train, strict=True))
    n = int(np.isin(y, [7, 3]).sum())
    assert len(t.y_train) + len(t.y_test) == n and abs(len(t.y_test) - 0.25 * n) <= 1
    again = class_task(x, y, [7, 3], test_fraction=0.25, seed=1)
    np.testing.assert_array_equal(t.x_test, again.x_test)
    other = class_task(x, y, [7, 3], test_fraction=0.25, seed=2)
    assert not np.array_equal(t.x_test, other.x_test)
    # Stratified: both classes in both splits, in proportion.
    assert set(t.y_test.tolist()) == {0, 1}


@pytest.mark.parametrize(
    ("classes", "frac", "match"),
    [
        ([3], 0.3, "at least 2 classes"),
        ([3, 3], 0.3, "distinct"),
        ([3, 11], 0.3, "do not occur"),
        ([3, 4], 1.5, "test_fraction"),
    ],
)
def test_bad_tasks(classes, frac, match):
    x, y = load_digits()
    with pytest.raises(ValueError, match=match):
        class_task(x, y, classes, test_fraction=frac, seed=0)
