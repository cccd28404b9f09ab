"""Learning curves and AUC transfer scores (PNN paper, docs/papers.md 1.3, 1.4, 1.6).

A learning curve is one point per window of agent steps: the mean score of the episodes finished in
that window. ``transfer = AUC(method on target) / AUC(baseline 1 on target)``, in %, where the AUC
is the mean of the curve's points (the area under a curve of evenly spaced points, up to the
constant step). Aggregates over pairs are the mean and the median (Table 1). Matrices are
``[source, target]`` and are colour-clipped at 200% in the paper's figures.

Everything here is NumPy on host data (records of finished runs); no JAX.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

CLIP_PCT = 200.0  # the paper's colour clip for transfer matrices (docs/papers.md 1.4)


def learning_curve(steps, episodes, returns, window: int) -> list[float]:
    """The paper's curve points from per-iteration counts (docs/papers.md 1.3).

    ``steps``, ``episodes``, ``returns``: ``[T]`` agent steps, finished episodes and the sum of
    their returns per iteration. Returns one point per window of ``window`` agent steps: the mean
    return of the episodes finished in it, or NaN for a window in which no episode finished (a
    missing point, not a score of 0; :func:`filled` says how the AUC treats it). An iteration
    belongs to the window its last agent step falls in; the last, partial window is a point too.
    """
    acc = CurveAccumulator(window)
    acc.add(steps, episodes, returns)
    return acc.points + acc.pending()


class CurveAccumulator:
    """:func:`learning_curve` built chunk by chunk: ``add`` returns the points that completed.

    The state (``points``, ``steps``, ``window_episodes``, ``window_return``) is four plain
    values and a list, so a run can checkpoint it and continue the same curve after a resume.
    """

    def __init__(self, window: int, state: dict | None = None):
        self.window = int(window)
        state = state or {}
        self.points: list[float] = [float("nan") if v is None else v for v in state.get("points", [])]
        self.steps = int(state.get("steps", 0))
        self.window_episodes = float(state.get("window_episodes", 0.0))
        self.window_return = float(state.get("window_return", 0.0))

    def state(self) -> dict:
        return {
            "points": list(self.points),
            "steps": self.steps,
            "window_episodes": self.window_episodes,
            "window_return": self.window_return,
        }

    def add(self, steps, episodes, returns) -> list[float]:
        """Account iterations ``[T]``; returns the points of the windows they completed (a window
        that no iteration ended in is a missing point)."""
        new = []
        for s, n, r in zip(np.asarray(steps), np.asarray(episodes), np.asarray(returns), strict=True):
            group = (self.steps + int(s) - 1) // self.window  # the window this iteration ends in
            while group > len(self.points) + len(new):  # close the open window (and skipped ones)
                new.append(self._close())
            self.steps += int(s)
            self.window_episodes += float(n)
            self.window_return += float(r)
        self.points += new
        return new

    def pending(self) -> list[float]:
        """The open window's point (the last, partial one), once any iteration has been added."""
        return [self._point()] if self.steps else []

    def _point(self) -> float:
        n = self.window_episodes
        return self.window_return / n if n else float("nan")

    def _close(self) -> float:
        point = self._point()
        self.window_episodes = self.window_return = 0.0
        return point


def filled(curve: Sequence[float | None]) -> np.ndarray:
    """A learning curve with its missing points (NaN or None) filled: each from the last point
    before it, and the ones before the first observed point from that first point. A window with
    no finished episode says the episodes ran longer than the window, not that they scored 0; the
    nearest earlier score is the best estimate of the policy's level there. All missing: all NaN."""
    c = np.array([np.nan if v is None else v for v in curve], float)
    seen = np.flatnonzero(np.isfinite(c))
    if not seen.size:
        return c
    index = np.maximum.accumulate(np.where(np.isfinite(c), np.arange(c.size), -1))
    return c[np.where(index < 0, seen[0], index)]


def auc(curve: Sequence[float | None], offset: float = 0.0) -> float:
    """Area under a learning curve of evenly spaced points, per point: ``mean(curve) + offset``,
    with missing points filled by :func:`filled`; NaN if no point was observed (no transfer score
    is then computed from it).

    ``offset`` shifts games with negative scores (Pong: +21) so that the ratio of two AUCs is a
    meaningful transfer score; the paper does not say how it treated them [?].
    """
    c = filled(curve)
    return float(c.mean() + offset) if c.size and np.isfinite(c).all() else float("nan")


def final_return(curve: Sequence[float | None], points: int = 3) -> float:
    """Mean of the last ``points`` observed (finite) points of a curve; NaN if it has none."""
    c = np.array([np.nan if v is None else v for v in curve], float)
    c = c[np.isfinite(c)]
    return float(c[-points:].mean()) if c.size else float("nan")


def transfer_pct(auc_method: float, auc_baseline1: float) -> float:
    """``100 * AUC(method) / AUC(baseline 1)``; NaN where baseline 1's AUC is not positive."""
    return 100.0 * auc_method / auc_baseline1 if auc_baseline1 > 0 else float("nan")


def transfer_scores(
    aucs: dict[tuple[Hashable, str, Hashable], float], top_k: int | None = None, reference: str = "baseline1"
) -> dict[tuple[Hashable, str], float]:
    """Transfer in % per (pair, method) from ``{(pair, method, job): AUC}``.

    ``top_k=None``: each job (a seed, or one hyperparameter setting of a sweep) is scored against
    baseline 1's AUC of the same pair and job, and the scores are averaged over jobs; jobs whose
    baseline-1 AUC is not positive are left out. ``top_k=k``: the paper's protocol (docs/papers.md 1.3,
    "25 jobs per configuration; report the mean of the top 3"): the mean AUC of the ``k`` best jobs
    of the method over the mean AUC of the ``k`` best jobs of baseline 1. ``reference`` names
    baseline 1's method in ``aucs``.
    """
    by: dict[tuple[Hashable, str], dict[Hashable, float]] = {}
    for (pair, method, job), value in aucs.items():
        by.setdefault((pair, method), {})[job] = value
    out = {}
    for (pair, method), jobs in by.items():
        base = by.get((pair, reference))
        if not base:
            continue
        if top_k is None:
            scores = [transfer_pct(v, base[j]) for j, v in jobs.items() if j in base]
            scores = [s for s in scores if s == s]
            if scores:
                out[(pair, method)] = float(np.mean(scores))
        else:
            out[(pair, method)] = transfer_pct(top_mean(jobs.values(), top_k), top_mean(base.values(), top_k))
    return out


def top_mean(values, k: int) -> float:
    """Mean of the ``k`` largest ``values`` (all of them if there are fewer)."""
    v = np.sort(np.asarray(list(values), float))[::-1]
    return float(v[:k].mean()) if v.size else float("nan")


def mean_median(values) -> tuple[float, float]:
    """Table 1's aggregate over pairs: ``(mean, median)`` (NaN, NaN for none)."""
    v = np.asarray([x for x in values if x == x], float)
    return (float(v.mean()), float(np.median(v))) if v.size else (float("nan"), float("nan"))


def transfer_matrix(
    scores: dict[tuple[str, str], float], sources: Sequence[str], targets: Sequence[str]
) -> np.ndarray:
    """``[len(sources), len(targets)]`` transfer % from ``{(source, target): %}`` (NaN where absent)."""
    m = np.full((len(sources), len(targets)), np.nan)
    for i, s in enumerate(sources):
        for j, t in enumerate(targets):
            m[i, j] = scores.get((s, t), np.nan)
    return m


def clip_for_colour(matrix: np.ndarray, clip: float = CLIP_PCT) -> np.ndarray:
    """The matrix as the paper colours it: values above ``clip`` % shown at ``clip``."""
    return np.minimum(np.asarray(matrix, float), clip)


def count_transfer(scores: Sequence[float], band: float = 0.0) -> dict[str, int]:
    """Targets with positive (> 100 + band %), negative (< 100 - band %) and neutral transfer.

    The paper counts positive and negative transfer over its 12 Atari targets (docs/papers.md 1.6)
    without stating a neutral band [?]; ``band=0`` counts every score above 100% as positive.
    """
    v = np.asarray([x for x in scores if x == x], float)
    pos, neg = int((v > 100 + band).sum()), int((v < 100 - band).sum())
    return {"positive": pos, "negative": neg, "neutral": int(v.size) - pos - neg, "of": int(v.size)}
