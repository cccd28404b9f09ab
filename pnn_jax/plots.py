"""Figures with matplotlib (headless Agg backend), each saved as PNG and PDF."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from pnn_jax.analysis.transfer import CLIP_PCT, clip_for_colour


def save(fig, base: Path) -> list[Path]:
    """Save ``fig`` as ``base.png`` and ``base.pdf``; returns both paths."""
    base.parent.mkdir(parents=True, exist_ok=True)
    paths = [base.with_suffix(".png"), base.with_suffix(".pdf")]
    for p in paths:
        fig.savefig(p, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return paths


def transfer_curves(records: Sequence[dict], methods: Sequence[str], base: Path) -> list[Path]:
    """Held-out accuracy of task A's and task B's columns over training, one panel per method.

    ``records``: metrics records with ``method``, ``method_step``, ``stage``, ``test_acc_a`` and
    ``test_acc_b`` (``None`` where that task has no trained column yet).
    """
    fig, axes = plt.subplots(1, len(methods), figsize=(3.2 * len(methods), 2.8), sharey=True, squeeze=False)
    for ax, method in zip(axes[0], methods, strict=True):
        rows = [r for r in records if r.get("method") == method]
        for key, label, color in (
            ("test_acc_a", "task A", "tab:blue"),
            ("test_acc_b", "task B", "tab:orange"),
        ):
            pts = [(r["method_step"], r[key]) for r in rows if r.get(key) is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), label=label, color=color)
        for prev, cur in itertools.pairwise(rows):
            if cur["stage"] != prev["stage"]:
                ax.axvline(prev["method_step"], color="grey", lw=0.8, ls="--")
        ax.set_title(method)
        ax.set_xlabel("training step")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("held-out accuracy")
    handles = [
        plt.Line2D([], [], color=c, label=lab)
        for lab, c in (("task A", "tab:blue"), ("task B", "tab:orange"))
    ]
    fig.legend(handles=handles, loc="upper right", fontsize=8, ncol=2)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return save(fig, base)


def metric_bars(stats: dict[str, dict], base: Path, title: str = "") -> list[Path]:
    """Mean +- std (over runs) of each metric, one horizontal bar per metric."""
    names = list(stats)
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(names) + 1.2))
    means = [stats[n]["mean"] for n in names]
    stds = [stats[n]["std"] for n in names]
    ax.barh(range(len(names)), means, xerr=stds, color="tab:blue", alpha=0.8, capsize=2)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(f"mean +- std over runs (n = {max((stats[n]['n'] for n in names), default=0)})")
    ax.set_title(title, fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return save(fig, base)


def grouped_bars(
    series: dict[str, Sequence[float]],
    categories: Sequence[str],
    base: Path,
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    errors: dict[str, Sequence[float]] | None = None,
) -> list[Path]:
    """One group of bars per category, one bar per series (e.g. S+S, P+S, random)."""
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(categories) + 2), 3.0))
    width = 0.8 / max(1, len(series))
    x = np.arange(len(categories))
    for i, (label, values) in enumerate(series.items()):
        err = None if errors is None else errors.get(label)
        ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width, yerr=err, label=label, capsize=2)
    ax.set_xticks(x, categories)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, base)


def means_by_group(
    points: dict[str, tuple[Sequence[int], Sequence[float]]],
    base: Path,
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
) -> list[Path]:
    """For each series, the runs as faint dots at (group, value) and the mean +- std per group."""
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    rng = np.random.default_rng(0)
    n = max(1, len(points))
    for i, (label, (groups, values)) in enumerate(points.items()):
        g, v = np.asarray(groups, float), np.asarray(values, float)
        off = (i - (n - 1) / 2) * 0.15
        color = f"C{i}"
        ax.scatter(g + off + rng.uniform(-0.04, 0.04, g.size), v, s=6, alpha=0.3, color=color)
        keys = sorted(set(g.tolist()))
        means = [v[g == k].mean() for k in keys]
        stds = [v[g == k].std() for k in keys]
        ax.errorbar(np.asarray(keys) + off, means, yerr=stds, marker="o", color=color, label=label, capsize=3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, base)


def by_factor(groups: dict[str, dict[str, Sequence[float]]], base: Path, *, ylabel: str = "") -> list[Path]:
    """One panel per factor: the runs as faint dots at each of its values, and their mean +- std."""
    n = max(1, len(groups))
    fig, axes = plt.subplots(1, n, figsize=(3.0 * n, 3.0), squeeze=False, sharey=True)
    rng = np.random.default_rng(0)
    for ax, (factor, by_value) in zip(axes[0], groups.items(), strict=False):
        for i, vals in enumerate(by_value.values()):
            v = np.asarray(vals, float)
            ax.scatter(i + rng.uniform(-0.08, 0.08, v.size), v, s=6, alpha=0.3, color="C0")
            if v.size:
                ax.errorbar(i, v.mean(), yerr=v.std(), marker="o", color="C0", capsize=3)
        ax.set_xticks(range(len(by_value)), list(by_value), fontsize=8)
        ax.set_xlabel(factor, fontsize=8)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(ylabel, fontsize=8)
    fig.tight_layout()
    return save(fig, base)


def curves(
    panels: dict[str, dict[str, Sequence[Sequence[float]]]],
    base: Path,
    *,
    xlabel: str = "generation",
    ylabel: str = "fitness (mean training accuracy)",
) -> list[Path]:
    """One panel per key of ``panels``; in each, every run's curve faint and the mean (over the
    runs still going at that point) bold, one colour per series."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.0), squeeze=False)
    for ax, (title, series) in zip(axes[0], panels.items(), strict=True):
        for i, (label, runs) in enumerate(series.items()):
            runs = [np.asarray(r, float) for r in runs if len(r)]
            if not runs:
                continue
            color = f"C{i}"
            for r in runs:
                ax.plot(np.arange(1, r.size + 1), r, color=color, alpha=0.12, lw=0.7)
            length = max(r.size for r in runs)
            padded = np.full((len(runs), length), np.nan)
            for j, r in enumerate(runs):
                padded[j, : r.size] = r
            with np.errstate(all="ignore"), warnings.catch_warnings():  # all-missing points: NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                ax.plot(np.arange(1, length + 1), np.nanmean(padded, axis=0), color=color, lw=2, label=label)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # runs without a finished episode draw nothing
            ax.legend(fontsize=8)
    axes[0][0].set_ylabel(ylabel)
    fig.tight_layout()
    return save(fig, base)


def transfer_heatmaps(
    matrices: dict[str, Sequence[Sequence[float]]],
    sources: Sequence[str],
    targets: Sequence[str],
    base: Path,
    *,
    clip: float = CLIP_PCT,
) -> list[Path]:
    """One heat map per method of a ``[source, target]`` transfer matrix in %, colour-clipped at
    ``clip`` (the paper's Pong Soup figure); cells print the unclipped value, NaN cells are blank."""
    n = max(1, len(matrices))
    fig, axes = plt.subplots(
        1, n, figsize=(1.0 + 0.7 * len(targets) * n + 1.0, 0.55 * len(sources) + 1.6), squeeze=False
    )
    image = None
    for ax, (label, m) in zip(axes[0], matrices.items(), strict=True):
        m = np.asarray(m, float)
        image = ax.imshow(clip_for_colour(m, clip), vmin=0, vmax=clip, cmap="RdYlGn", aspect="auto")
        for (i, j), v in np.ndenumerate(m):
            if v == v:
                ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(targets)), targets, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(sources)), sources, fontsize=7)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("target")
    axes[0][0].set_ylabel("source")
    if image is not None:
        fig.colorbar(image, ax=axes[0].tolist(), label=f"transfer % (clipped at {clip:.0f})")
    return save(fig, base)


def column_shares(
    panels: dict[str, dict[str, Sequence[float]]], base: Path, *, title: str = "", ylabel: str = "AFS"
) -> list[Path]:
    """Stacked bars, one panel per run group (e.g. a pair), one bar per layer, one colour per column:
    the paper's AFS figures (PNN figures 5 and 7). ``panels[name][layer] = [share per column]``."""
    n = max(1, len(panels))
    fig, axes = plt.subplots(1, n, figsize=(3.0 * n + 0.6, 3.2), squeeze=False, sharey=True)
    widest, most = axes[0][0], 0
    for ax, (name, layers) in zip(axes[0], panels.items(), strict=True):
        labels = list(layers)
        shares = [np.nan_to_num(np.asarray(layers[k], float)) for k in labels]
        columns = max((len(s) for s in shares), default=0)
        bottom = np.zeros(len(labels))
        for c in range(columns):
            vals = np.array([s[c] if c < len(s) else 0.0 for s in shares])
            ax.bar(range(len(labels)), vals, bottom=bottom, label=f"column {c + 1}", color=f"C{c}")
            bottom += vals
        if columns > most:
            widest, most = ax, columns
        ax.set_xticks(range(len(labels)), labels, fontsize=7, rotation=30)
        ax.set_title(name.replace(" -> ", "\n-> ").replace(" + ", "\n+ "), fontsize=7)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel(ylabel)
    widest.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save(fig, base)


def scatter_xy(
    series: dict[str, tuple[Sequence[float], Sequence[float]]],
    base: Path,
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    diagonal: bool = False,
) -> list[Path]:
    """Points per series (e.g. APS against AFS per layer and column), optionally with ``y = x``."""
    fig, ax = plt.subplots(figsize=(3.8, 3.4))
    for i, (label, (x, y)) in enumerate(series.items()):
        ax.scatter(x, y, s=14, color=f"C{i}", label=label)
    if diagonal:
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    if series:
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save(fig, base)
