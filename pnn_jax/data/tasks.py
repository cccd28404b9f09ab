"""Task builders: a task is a subset of classes, relabelled 0..n-1, with a deterministic split."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class Task:
    """A classification task. ``y`` values are indices into ``classes`` (0..len(classes)-1)."""

    name: str
    classes: tuple[int, ...]
    x_train: np.ndarray  # [N_train, *input_shape] float32
    y_train: np.ndarray  # [N_train] int32
    x_test: np.ndarray  # [N_test, *input_shape] float32
    y_test: np.ndarray  # [N_test] int32

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def class_task(
    x: np.ndarray,
    y: np.ndarray,
    classes: Sequence[int],
    *,
    test_fraction: float,
    seed: int,
    name: str | None = None,
) -> Task:
    """The examples of ``classes`` (in that order, relabelled 0..n-1), split stratified by class.

    The split depends only on ``seed`` and the data: the same arguments give the same task.
    """
    classes = tuple(int(c) for c in classes)
    if len(classes) < 2:
        raise ValueError(f"a task needs at least 2 classes, got {list(classes)}")
    if len(set(classes)) != len(classes):
        raise ValueError(f"task classes must be distinct, got {list(classes)}")
    missing = sorted(set(classes) - set(np.unique(y).tolist()))
    if missing:
        raise ValueError(f"classes {missing} do not occur in the data (labels: {sorted(set(y.tolist()))})")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    keep = np.isin(y, classes)
    xs, ys = x[keep], y[keep]
    lookup = np.full(int(max(classes)) + 1, -1, np.int32)
    lookup[list(classes)] = np.arange(len(classes), dtype=np.int32)
    ys = lookup[ys]
    from sklearn.model_selection import train_test_split  # see pnn_jax/data/digits.py  # noqa: PLC0415

    x_tr, x_te, y_tr, y_te = train_test_split(xs, ys, test_size=test_fraction, random_state=seed, stratify=ys)
    return Task(name or "classes" + "".join(map(str, classes)), classes, x_tr, y_tr, x_te, y_te)
