"""Which columns a progressive net's policy relies on: AFS and APS (PNN paper, docs/papers.md 1.7).

**AFS (average Fisher sensitivity).** For layer ``i`` and column ``k``, the diagonal Fisher of the
policy with respect to the *normalised* activations ``z = (h - mean) / std`` (per unit; per feature
map for conv layers, with mean and std over states and positions):
``F_i^(k)(m) = E_{rho(s,a)}[(d log pi(a|s) / d z_i^(k)(m))^2]``, summed over positions for conv
maps. Since ``d/dz = std * d/dh``, ``F = std^2 * E[(d log pi / d h)^2]``. ``rho`` = states and
actions of the trained target policy (sampled). Then
``AFS(i, k, m) = F_i^(k)(m) / sum_k F_i^(k)(m)`` and per layer ``AFS(i, k) = sum_m AFS(i, k, m)``;
we also give ``share(i, k)``, the same sum divided by the number of units that any column is
sensitive to (the shares of a layer add up to 1 over columns; the paper's bar charts).
"Normalised" as zero mean, unit variance is our reading [?].

**APS (average perturbation sensitivity).** Gaussian noise on every post-ReLU feature of one layer
of one column, its variance ``sigma^2`` times that feature's activation variance, fresh at every
forward pass; ``sigma_i^2(k)`` is the variance that halves the score (we evaluate a geometric grid of
variances, 10 episodes per point as in the paper, and interpolate in ``log sigma^2``);
``Lambda = 1 / sigma^2`` and ``APS(i, k) = Lambda_i^(k) / sum_k Lambda_i^(k)``.

Here the arithmetic of both measures, in NumPy (:func:`normalised_fisher`, :func:`afs`,
:func:`halving_variance`, :func:`aps`); the device parts that measure a trained policy (Fisher
sums, state collection, noisy evaluations) are :mod:`pnn_jax.rl.sensitivity`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# ------------------------------------------------------------------------------------------------
# NumPy: the measures


def normalised_fisher(
    raw: np.ndarray, s1: np.ndarray, s2: np.ndarray, count: float, states: int
) -> np.ndarray:
    """``[C, F]`` Fisher diagonal with respect to normalised activations.

    ``raw [C, F]``: sum over states (and positions) of ``(d log pi / d h)^2``; ``s1``, ``s2``
    ``[C, F]``: sums of ``h`` and ``h^2`` over the same ``count`` values; ``states``: the number of
    states. Returns ``std^2 * raw / states`` (``std`` over states and positions; dead units: 0).
    """
    mean = np.asarray(s1, float) / count
    var = np.maximum(np.asarray(s2, float) / count - mean**2, 0.0)
    return var * np.asarray(raw, float) / states


def afs(fisher: np.ndarray) -> dict[str, np.ndarray]:
    """AFS of one layer from its Fisher diagonal ``fisher [C, F]`` (C columns, F units or maps).

    Returns ``per_unit [C, F]`` (``F / sum over columns``; 0 where no column is sensitive),
    ``per_layer [C]`` (``sum_m``, the paper's ``AFS(i, k)``) and ``share [C]`` (``per_layer`` over the
    number of units with any sensitivity; sums to 1 over columns unless the layer is dead).
    """
    f = np.asarray(fisher, float)
    total = f.sum(0, keepdims=True)
    per_unit = np.divide(f, total, out=np.zeros_like(f), where=total > 0)
    per_layer = per_unit.sum(1)
    live = int((total > 0).sum())
    return {"per_unit": per_unit, "per_layer": per_layer, "share": per_layer / max(live, 1)}


def halving_variance(sigma2: Sequence[float], scores: Sequence[float], base: float) -> float:
    """The noise variance at which the score falls to half of ``base`` (the unperturbed score).

    ``sigma2`` is an increasing grid and ``scores`` the score at each point (already offset so that
    scores are positive). Linear interpolation in ``log sigma^2`` between the last point above half
    and the first at or below it; the first grid point if even that halves the score (an upper
    bound), ``inf`` if no point does (the column does not matter at this layer).
    """
    sigma2, scores = np.asarray(sigma2, float), np.asarray(scores, float)
    half = base / 2
    below = np.flatnonzero(scores <= half)
    if below.size == 0:
        return float("inf")
    g = int(below[0])
    if g == 0:
        return float(sigma2[0])
    hi, lo = scores[g - 1], scores[g]
    t = (hi - half) / (hi - lo) if hi != lo else 1.0
    return float(np.exp(np.log(sigma2[g - 1]) + t * (np.log(sigma2[g]) - np.log(sigma2[g - 1]))))


def aps(sigma2: Sequence[float]) -> np.ndarray:
    """``[C]`` APS of one layer from each column's halving variance: ``Lambda = 1 / sigma^2``
    normalised over columns (``inf`` variance = precision 0; all zero -> NaN)."""
    lam = 1.0 / np.asarray(sigma2, float)
    total = lam.sum()
    return lam / total if total > 0 else np.full_like(lam, np.nan)
