"""Time to criterion and the PathNet speedup ratio (docs/papers.md 2.4).

``speedup = time-to-criterion learning from scratch / time-to-criterion of the method``. Two
averages exist, and they differ whenever times vary: the **ratio of the means** (what the binary
MNIST figure gives: 195 / 167 = 1.17, reported as 1.18) and the **mean of per-run ratios** (run
``r`` of the method against run ``r`` from scratch). The paper's text does not say which it
averaged [?]; its binary-MNIST numbers match the ratio of means, which is what we compare against,
and both are reported.
"""

from __future__ import annotations

from collections.abc import Sequence

# _scipy_later: scipy is imported where a statistic is computed, not with this module. Its OpenBLAS
# starts a thread pool when it loads, and a ViZDoom pool started after that hung at startup in 2 of
# 6 trials (0 of 6 with OPENBLAS_NUM_THREADS=1, 0 of 8 without scipy): the runner imports the tables,
# and so this module, before any environment exists (tests/test_layers.py checks scipy stays out).
import numpy as np


def time_to_criterion(times: Sequence[float], curve: Sequence[float], threshold: float, budget: float):
    """``(time, reached)``: the first ``times[i]`` at which ``curve[i] >= threshold``, or
    ``(budget, False)`` when the curve never gets there (a censored run counts its whole budget)."""
    for t, v in zip(times, curve, strict=True):
        if v is not None and v >= threshold:
            return float(t), True
    return float(budget), False


def ratio_of_means(scratch: Sequence[float], method: Sequence[float]) -> float:
    """``mean(scratch) / mean(method)``."""
    return float(np.mean(scratch) / np.mean(method)) if len(scratch) and len(method) else float("nan")


def per_run_ratios(scratch: dict, method: dict) -> list[float]:
    """``scratch[r] / method[r]`` for every run ``r`` both have (times below 1 count as 1)."""
    return [scratch[r] / max(method[r], 1) for r in method if r in scratch]


def speedup(scratch: dict, method: dict) -> dict[str, float]:
    """Both averages over runs keyed alike (``{run: time}``): ``ratio_of_means`` and
    ``mean_of_ratios``, plus ``runs`` (how many were paired)."""
    ratios = per_run_ratios(scratch, method)
    return {
        "ratio_of_means": ratio_of_means(list(scratch.values()), list(method.values())),
        "mean_of_ratios": float(np.mean(ratios)) if ratios else float("nan"),
        "runs": len(ratios),
    }


# ------------------------------------------------------------------------------------------------
# Uncertainty: intervals and a paired test (issue 14: a verdict on the 1.18 needs them)


def mean_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)``: Student's t interval of the mean of ``values`` (NaN bounds for fewer
    than two values)."""
    v = np.asarray(values, float)
    mean = float(v.mean()) if v.size else float("nan")
    if v.size < 2:
        return mean, float("nan"), float("nan")
    from scipy import stats  # see _scipy_later  # noqa: PLC0415

    half = float(stats.t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size))
    return mean, mean - half, mean + half


def bootstrap_speedup(
    scratch: dict, method: dict, draws: int = 10_000, level: float = 0.95, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of both speedups over the runs both have: runs are resampled
    with replacement as pairs (run ``r`` of scratch stays with run ``r`` of the method, since they
    share task B's population and minibatches). ``{"ratio_of_means": (low, high),
    "mean_of_ratios": (low, high)}``; NaN without paired runs."""
    keys = [r for r in method if r in scratch]
    if not keys:
        return {"ratio_of_means": (float("nan"),) * 2, "mean_of_ratios": (float("nan"),) * 2}
    s = np.array([scratch[r] for r in keys], float)
    m = np.array([method[r] for r in keys], float)
    idx = np.random.default_rng(seed).integers(0, len(keys), (draws, len(keys)))
    ratio_of_means = s[idx].mean(axis=1) / m[idx].mean(axis=1)
    mean_of_ratios = (s / np.maximum(m, 1))[idx].mean(axis=1)
    q = (100 * (1 - level) / 2, 100 * (1 + level) / 2)
    return {
        "ratio_of_means": tuple(float(x) for x in np.percentile(ratio_of_means, q)),
        "mean_of_ratios": tuple(float(x) for x in np.percentile(mean_of_ratios, q)),
    }


def paired_wilcoxon(a: dict, b: dict) -> dict[str, float]:
    """Wilcoxon signed-rank test of ``a[r] - b[r]`` over the runs both have (scipy, two-sided,
    zero differences dropped): ``{"runs", "median_difference", "statistic", "p"}``. With no
    non-zero difference the test is undefined: ``p`` is 1 and ``statistic`` NaN."""
    keys = [r for r in a if r in b]
    d = np.array([a[r] - b[r] for r in keys], float)
    out = {"runs": len(keys), "median_difference": float(np.median(d)) if keys else float("nan")}
    if not np.any(d != 0):
        return {**out, "statistic": float("nan"), "p": 1.0}
    from scipy import stats  # see _scipy_later  # noqa: PLC0415

    res = stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided")
    return {**out, "statistic": float(res.statistic), "p": float(res.pvalue)}
