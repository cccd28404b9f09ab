"""Figures with matplotlib (headless Agg backend), each saved as PNG and PDF."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


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
