"""PathNet analysis as in the thesis (docs/papers.md 3.1, 3.2): module reuse, reuse by layer, the
random-selection baseline, training counters, capacity used and population diversity.

A path is an ``[L, N]`` integer array of module indices; duplicates in a layer count once (a path
uses the *set* of its modules). Counters and locks are ``[L, M]``. NumPy only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def module_sets(path: np.ndarray) -> list[set[int]]:
    """The distinct modules of each layer of ``path [L, N]``."""
    return [set(np.asarray(row).tolist()) for row in path]


def active_mask(path: np.ndarray, num_modules: int) -> np.ndarray:
    """``[L, M]`` bool: the modules ``path [L, N]`` uses."""
    path = np.asarray(path)
    mask = np.zeros((path.shape[0], num_modules), bool)
    for layer, row in enumerate(path):
        mask[layer, row] = True
    return mask


def reuse_per_layer(path_old: np.ndarray, path_new: np.ndarray) -> list[int]:
    """Modules of ``path_new`` that ``path_old`` uses in the same layer, per layer (docs/papers.md 3.1)."""
    return [len(a & b) for a, b in zip(module_sets(path_old), module_sets(path_new), strict=True)]


def reuse_of_locked(path: np.ndarray, earlier: Sequence[np.ndarray]) -> list[int]:
    """Per layer: modules of ``path`` that any of the ``earlier`` (locked) paths uses."""
    locked = [
        set().union(*[set(np.asarray(p)[layer].tolist()) for p in earlier]) for layer in range(len(path))
    ]
    return [len(s & locked[layer]) for layer, s in enumerate(module_sets(path))]


def random_reuse(
    path_old: np.ndarray, path_new: np.ndarray, num_modules: int, draws: int, rng: np.random.Generator
) -> np.ndarray:
    """The random-selection baseline (docs/papers.md 3.1): ``[draws, L]`` overlaps with ``path_old`` of
    as many distinct random modules per layer as ``path_new`` has."""
    out = np.zeros((draws, len(path_new)), np.int64)
    for layer, (old, new) in enumerate(zip(module_sets(path_old), module_sets(path_new), strict=True)):
        member = np.zeros(num_modules, bool)
        member[list(old)] = True
        picks = np.argsort(rng.random((draws, num_modules)), axis=1)[:, : len(new)]
        out[:, layer] = member[picks].sum(axis=1)
    return out


def expected_random_reuse(path_old: np.ndarray, path_new: np.ndarray, num_modules: int) -> float:
    """The exact mean of :func:`random_reuse`: sum over layers of ``n_old * n_new / M``."""
    return float(
        sum(
            len(a) * len(b) / num_modules
            for a, b in zip(module_sets(path_old), module_sets(path_new), strict=True)
        )
    )


def reuse_histogram(reuse: Sequence[int], top: int) -> np.ndarray:
    """Share of runs with module reuse ``0, 1, .., top`` (``[top + 1]``; empty input: zeros)."""
    v = np.asarray(reuse, int)
    counts = np.bincount(np.minimum(v, top), minlength=top + 1)[: top + 1]
    return counts / max(1, v.size)


def mean_training(counters: np.ndarray, path: np.ndarray) -> float:
    """Mean training counter (sessions) over the distinct modules of ``path``."""
    values = [counters[layer, m] for layer, s in enumerate(module_sets(path)) for m in s]
    return float(np.mean(values))


def capacity_used(locked: np.ndarray) -> float:
    """Share of the ``L x M`` modules that are locked (``locked [L, M]`` bool): what later tasks
    can no longer train (docs/papers.md 3.2, capacity)."""
    return float(np.asarray(locked, bool).mean())


def diversity(paths: np.ndarray, num_modules: int) -> float:
    """Population diversity of ``paths [P, L, N]``: the mean over ordered pairs of distinct members
    of the number of modules used by exactly one of the two (the Hamming distance of their
    ``[L, M]`` masks). Same definition as :func:`pnn_jax.train.pathnet.diversity` (on device)."""
    masks = np.stack([active_mask(p, num_modules).ravel() for p in paths]).astype(float)
    p = len(masks)
    if p < 2:
        return 0.0
    shared = masks @ masks.T
    sizes = masks.sum(1)
    distance = sizes[:, None] + sizes[None, :] - 2 * shared
    return float(distance.sum() / (p * (p - 1)))


def expected_reuse_of_locked(
    path: np.ndarray, earlier: Sequence[np.ndarray], num_modules: int
) -> list[float]:
    """The random-selection baseline of :func:`reuse_of_locked`, exactly, per layer: as many
    distinct random modules as ``path`` has in the layer overlap the locked ones ``n * n_locked / M``
    times on average."""
    locked = [
        set().union(*[set(np.asarray(p)[layer].tolist()) for p in earlier]) for layer in range(len(path))
    ]
    return [len(s) * len(locked[layer]) / num_modules for layer, s in enumerate(module_sets(path))]
