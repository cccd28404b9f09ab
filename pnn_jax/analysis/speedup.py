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
