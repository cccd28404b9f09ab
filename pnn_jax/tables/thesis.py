"""The PathNet thesis's tables (docs/papers.md 3.1): the first-path study (S+S vs P+S, module
reuse against random selection) and the selection-pressure follow-up."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pnn_jax import plots
from pnn_jax.analysis import pathnet as pa
from pnn_jax.tables.core import Options, Run, Table, _ms, _paper


def _col(rs: list[dict], key: str) -> list:
    return [r[key] for r in rs]


def _layers(rs: list[dict]) -> str:
    return " / ".join(f"{v:.2f}" for v in np.mean(_col(rs, "reuse_per_layer"), axis=0))


def _shares(h) -> str:
    """Shares of runs reusing 0 / 1 / 2 / 3 or more modules."""
    return " / ".join(f"{100 * v:.0f}%" for v in [*h[:3], h[3:].sum()])


def _thesis_summary_rows(ss: list[dict], ps: list[dict], hist: dict, random_layer) -> list[list]:
    """The summary's rows: S+S, P+S and random selection side by side."""
    layers = len(random_layer)
    return [
        ["runs", len(ss), len(ps), None],
        [
            "generations, task 1",
            _ms(_col(ss, "generations1")),
            _ms(_col(ps, "generations1")) + " (sessions)",
            None,
        ],
        ["generations, task 2", _ms(_col(ss, "generations2")), _ms(_col(ps, "generations2")), None],
        [
            "task 1 / task 2 reached the threshold",
            f"{sum(bool(v) for v in _col(ss, 'solved1'))} / {sum(_col(ss, 'solved2'))}",
            f"- / {sum(_col(ps, 'solved2'))}",
            None,
        ],
        ["test accuracy, task 1", _ms(_col(ss, "test_acc1"), 3), _ms(_col(ps, "test_acc1"), 3), None],
        ["test accuracy, task 2", _ms(_col(ss, "test_acc2"), 3), _ms(_col(ps, "test_acc2"), 3), None],
        [
            "average training of path 1 modules (sessions)",
            _ms(_col(ss, "training1")),
            _ms(_col(ps, "training1")),
            None,
        ],
        [
            "average training of path 2 modules (sessions)",
            _ms(_col(ss, "training2")),
            _ms(_col(ps, "training2")),
            None,
        ],
        [
            "module reuse (path 2 in path 1)",
            _ms(_col(ss, "reuse"), 2),
            _ms(_col(ps, "reuse"), 2),
            f"{float(np.mean(_col(ss, 'random_reuse_mean'))):.2f} "
            f"(exact {float(np.mean(_col(ss, 'random_reuse_expected'))):.2f})",
        ],
        [
            "reuse 0 / 1 / 2 / 3+ (share of runs)",
            _shares(hist["S+S"]),
            _shares(hist["P+S"]),
            _shares(hist["random"]),
        ],
        [
            f"reuse per layer (1..{layers})",
            _layers(ss),
            _layers(ps),
            " / ".join(f"{v:.2f}" for v in random_layer),
        ],
    ]


def _thesis_figures(by: dict, hist: dict, random_layer, fig_dir: Path) -> list:
    """The thesis's figures (a) training vs reuse, (b) the reuse histogram, (c) reuse per layer,
    and the training curves."""
    ss, ps, layers = by["S+S"], by["P+S"], len(random_layer)
    figures = []
    figures += plots.means_by_group(
        {c: (_col(rs, "reuse"), _col(rs, "training2")) for c, rs in by.items()},
        fig_dir / "a_training_vs_reuse",
        title="(a) average training of path 2 vs module reuse",
        xlabel="module reuse (path-2 modules in path 1)",
        ylabel="mean training counter of path 2 (sessions)",
    )
    last = max(int(np.max(np.flatnonzero(h > 0), initial=0)) for h in hist.values())
    figures += plots.grouped_bars(
        {k: h[: last + 1] for k, h in hist.items()},
        [str(k) for k in range(last + 1)],
        fig_dir / "b_reuse_histogram",
        title="(b) module reuse (path-2 modules in path 1)",
        xlabel="module reuse",
        ylabel="share of runs",
    )
    figures += plots.grouped_bars(
        {c: np.mean(_col(rs, "reuse_per_layer"), axis=0) for c, rs in by.items()} | {"random": random_layer},
        [f"layer {i + 1}" for i in range(layers)],
        fig_dir / "c_reuse_per_layer",
        title="(c) module reuse per layer",
        ylabel="mean reused modules",
    )
    figures += plots.curves(
        {
            "path 1 (task 1)": {
                "S+S (search)": _col(ss, "curve1"),
                "P+S (picked path)": _col(ps, "curve1"),
            },
            "path 2 (task 2)": {"S+S": _col(ss, "curve2"), "P+S": _col(ps, "curve2")},
        },
        fig_dir / "training_curves",
        xlabel="generation (P+S task 1: training session)",
    )
    return figures


def thesis_table(name: str, runs: list[Run], options: Options, fig_dir: Path) -> Table:

    table = Table("Thesis study: search + search (S+S) vs pick + search (P+S), binary MNIST {3,4} -> {1,2}")
    records = [r for run in runs for r in run.records]
    by = {c: [r for r in records if r["condition"] == c] for c in ("S+S", "P+S")}
    ss = by["S+S"]
    top = max((len(r["path2"]) * len(r["path2"][0]) for r in records), default=3)

    hist = {c: pa.reuse_histogram(_col(rs, "reuse"), top) for c, rs in by.items()}
    counts = np.sum([np.asarray(r["random_reuse_counts"])[: top + 1] for r in ss], axis=0).astype(float)
    hist["random"] = counts / max(counts.sum(), 1)
    random_layer = np.mean([r["random_reuse_layer_mean"] for r in ss], axis=0)

    rows = _thesis_summary_rows(ss, by["P+S"], hist, random_layer)
    table.add("Summary (docs/papers.md 3.1)", ["", "S+S", "P+S", "random selection"], rows)
    stuck = _paper(name).get("stuck_at_chance", {})
    below = sorted({float(r.config.get("stuck_below", 0.6)) for r in runs})

    def n_stuck(rs, key):
        n = sum(a < below[0] for a in _col(rs, key))
        return f"{n} / {len(rs)} ({100 * n / max(len(rs), 1):.0f}%)"

    thesis_ps1 = (
        f"{stuck['ps_task1']} / {stuck['runs']} ({100 * stuck['ps_task1'] / stuck['runs']:.0f}%)"
        if stuck
        else None
    )
    table.add(
        f"Runs stuck at chance (test accuracy < {', '.join(map(str, below))})",
        ["task", "S+S", "P+S", "thesis, P+S (600-run log)"],
        [
            ["task 1 (path 1)", n_stuck(ss, "test_acc1"), n_stuck(by["P+S"], "test_acc1"), thesis_ps1],
            ["task 2 (path 2)", n_stuck(ss, "test_acc2"), n_stuck(by["P+S"], "test_acc2"), None],
        ],
    )
    table.figures += _thesis_figures(by, hist, random_layer, fig_dir)
    picks = sorted({str(r.config.get("pick", "random")) for r in runs})
    draws = sorted({str(r.config.get("random_draws", "?")) for r in runs})
    table.notes.append(
        f"Mean ± std over runs. P+S trains its picked path ({', '.join(picks)}) for as many sessions (x T "
        "minibatches) as S+S used generations on task 1. Reuse counts path-2 modules that path 1 uses in "
        "the same layer; the random baseline draws as many distinct modules per layer as the S+S path 2 "
        f"has ({', '.join(draws)} draws per run)."
    )
    table.notes.append(
        "The thesis reports the summary's measures as figures without a table of numbers we hold "
        "(docs/papers.md 3.1), so the summary has no paper column; the one count we hold, P+S first "
        "paths stuck at chance in its 600-run log, stands beside ours (paper.yaml). The "
        "random-selection baseline is exact (n_old * n_new / M per layer)."
    )
    return table


def selection_pressure_table(name: str, runs: list[Run], options: Options, fig_dir: Path) -> Table:

    table = Table("Thesis follow-up: selection pressure over a task curriculum (capacity, reuse, diversity)")
    records = [r for run in runs for r in run.records]
    schemes = list(dict.fromkeys(r["scheme"] for r in records))
    tasks = sorted({(r["task"], r["task_label"]) for r in records})
    rows = []
    for s in schemes:
        for t, label in tasks:
            rs = [r for r in records if r["scheme"] == s and r["task"] == t]
            if not rs:
                continue
            rows.append(
                [
                    s,
                    label,
                    _ms([r["generations"] for r in rs]),
                    float(np.mean([r["sessions"] for r in rs])),
                    _ms([r["test_acc"] for r in rs], 3),
                    _ms([r["reuse"] for r in rs], 2),
                    _ms([r["capacity_used"] for r in rs], 2),
                    _ms([r["diversity_curve"][-1] for r in rs if r["diversity_curve"]], 1),
                    len(rs),
                ]
            )
    table.add(
        "Per scheme and task (docs/papers.md 3.2)",
        [
            "scheme",
            "task",
            "generations",
            "training sessions",
            "test accuracy",
            "reuse (share of modules locked before)",
            "capacity used (share of L x M locked)",
            "final population diversity (modules)",
            "runs",
        ],
        rows,
    )

    def pick(scheme, task, key):
        return [r[key] for r in records if r["scheme"] == scheme and r["task"] == task]

    labels = [label for _, label in tasks]
    bars = [
        ("generations", "generations_per_task", "generations to threshold per task", "generations"),
        ("capacity_used", "capacity_used", "share of modules locked after each task", "capacity used"),
    ]
    for key, file, title, ylabel in bars:
        table.figures += plots.grouped_bars(
            {s: [float(np.mean(pick(s, t, key))) for t, _ in tasks] for s in schemes},
            labels,
            fig_dir / file,
            title=title,
            ylabel=ylabel,
        )
    table.figures += plots.curves(
        {f"task {t + 1}: {label}": {s: pick(s, t, "diversity_curve") for s in schemes} for t, label in tasks},
        fig_dir / "diversity",
        ylabel="population diversity (modules)",
    )
    table.figures += plots.curves(
        {f"task {t + 1}: {label}": {s: pick(s, t, "reuse_curve") for s in schemes} for t, label in tasks[1:]}
        or {"task 1": {s: pick(s, tasks[0][0], "reuse_curve") for s in schemes}},
        fig_dir / "reuse_per_generation",
        ylabel="share of winner's modules reused",
    )
    table.notes.append(
        "A follow-up the thesis proposes (docs/papers.md 3.2); there are no published numbers to compare."
    )
    return table
