"""The PathNet paper's and the thesis's supervised tables (docs/papers.md 2.4, 3.1, 3.2): binary
MNIST generations and speedup, CIFAR/SVHN accuracies, the thesis's S+S vs P+S summary, and selection
pressure over a curriculum."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from pnn_jax import methods, plots
from pnn_jax.analysis import speedup as sp
from pnn_jax.tables.core import Options, Run, Table, _diff, _ms, _paper


def _per_pair(
    table: Table, runs: list[Run], records: list[dict], present: list[str], gens: dict, fig_dir: Path
):
    """Mean generations per pair and method (a section and a figure), and the per-run speedup of
    the path-locking method against the overlap of its two paths (a figure)."""
    ref = methods.reference("pathnet").name
    lock = next(m for m in methods.names("pathnet") if methods.get(m).locks_path)  # PathNet itself
    labels = {}  # pair label "[A] -> [B]" per (run, pair), from each run's config
    for i, run in enumerate(runs):
        for j, (a, b) in enumerate(run.config.get("pairs") or []):
            labels[(i, j)] = f"{list(a)} -> {list(b)}"
    by_pair: dict[str, dict[str, list[int]]] = {}
    for r in records:
        label = labels.get(r["job"][:2], f"pair {r['pair']}")
        by_pair.setdefault(label, {}).setdefault(r["method"], []).append(r["generations_b"])
    pair_rows = []
    for label, per in by_pair.items():
        means = {m: float(np.mean(per[m])) if m in per else None for m in present}
        ratio = means[ref] / means[lock] if means.get(lock) and means.get(ref) else None
        pair_rows.append([label, *[means[m] for m in present], ratio])
    table.add(
        "Mean generations to threshold on task B per pair (task A -> task B)",
        ["pair", *present, f"{lock} speedup (ratio of means)"],
        pair_rows,
    )
    table.figures += plots.grouped_bars(
        {m: [float(np.mean(per[m])) if m in per else np.nan for per in by_pair.values()] for m in present},
        list(by_pair),
        fig_dir / "generations_task_b",
        title="generations to threshold on task B",
        ylabel="generations",
        errors={
            m: [float(np.std(per[m])) if m in per else np.nan for per in by_pair.values()] for m in present
        },
    )
    overlap = [
        (r["overlap"], gens[ref][r["job"]] / max(r["generations_b"], 1))
        for r in records
        if methods.get(r["method"]).locks_path and "overlap" in r and ref in gens
    ]
    if overlap:
        table.figures += plots.means_by_group(
            {lock: ([o for o, _ in overlap], [s for _, s in overlap])},
            fig_dir / "speedup_vs_overlap",
            title="per-run speedup vs overlap of path B with path A",
            xlabel="modules of path B in path A (same layer)",
            ylabel="speedup",
        )


def binary_mnist_table(name: str, runs: list[Run], options: Options, fig_dir: Path) -> Table:
    table = Table("PathNet binary MNIST: generations to solve task B and speedup over learning from scratch")
    paper = _paper(name)
    records = [dict(r, job=(i, r["pair"], r["run"])) for i, run in enumerate(runs) for r in run.records]
    present = [m for m in methods.names("pathnet") if any(r["method"] == m for r in records)]
    gens = {m: {r["job"]: r["generations_b"] for r in records if r["method"] == m} for m in present}
    table.add(
        "Generations to threshold on task B (docs/papers.md 2.4)",
        [
            "method",
            "ours (mean ± std)",
            "95% interval of the mean (t)",
            "paper",
            "Δ",
            "reached threshold",
            "test accuracy, task B",
        ],
        _generation_rows(present, records, gens, paper["generations_task_b"]),
    )
    table.add(
        "Speedup = generations from scratch / generations of the method (95% paired bootstrap intervals)",
        [
            "method",
            "ratio of means",
            "interval",
            "paper",
            "Δ",
            "mean of per-run ratios",
            "interval",
            "paired runs",
        ],
        _speedup_rows(present, gens, paper["speedup_ratio"]),
    )
    test_rows = _paired_test_rows(present, gens)
    if test_rows:
        table.add(
            "Paired test of generations on task B (Wilcoxon signed-rank, two-sided, scipy)",
            ["difference", "paired runs", "median difference", "W", "p"],
            test_rows,
        )
    _per_pair(table, runs, records, present, gens, fig_dir)
    thresholds = sorted({str(r.config.get("search", {}).get("threshold")) for r in runs})
    table.notes.append(
        f"Our threshold: {', '.join(thresholds)} training accuracy (the paper's: {paper.get('threshold')}). "
        "The paper's speedup 1.18 matches the ratio of its means (195 / 167); docs/papers.md 2.4. "
        "Runs are paired by (run directory, pair, repetition): the methods of a repetition share "
        "task B's initial population and minibatch stream; bootstrap: 10,000 resamples of runs."
    )
    return table


def _interval(low: float, high: float, digits: int = 2) -> str:
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def _generation_rows(present: list[str], records: list[dict], gens: dict, paper_gen: dict) -> list[list]:
    """Per method: generations to task B's threshold (mean ± std, t interval), the paper's, solved runs."""
    rows = []
    for m in present:
        g = list(gens[m].values())
        p = paper_gen.get(methods.get(m).paper_name or m)
        solved = sum(r["solved_b"] for r in records if r["method"] == m)
        mean, low, high = sp.mean_interval(g)
        rows.append(
            [
                m,
                _ms(g),
                _interval(low, high, 1),
                p,
                _diff(mean, p),
                f"{solved}/{len(g)}",
                _ms([r["test_acc_b"] for r in records if r["method"] == m], 3),
            ]
        )
    return rows


def _speedup_rows(present: list[str], gens: dict, paper_speed: dict) -> list[list]:
    """Per method but the reference (scratch): both speedups with paired bootstrap intervals."""
    ref = methods.reference("pathnet").name
    rows = []
    for m in present:
        if m == ref or ref not in gens:
            continue
        s = sp.speedup(gens[ref], gens[m])
        ci = sp.bootstrap_speedup(gens[ref], gens[m])
        ps = paper_speed.get(m)
        rows.append(
            [
                m,
                s["ratio_of_means"],
                _interval(*ci["ratio_of_means"]),
                ps,
                _diff(s["ratio_of_means"], ps),
                s["mean_of_ratios"],
                _interval(*ci["mean_of_ratios"]),
                s["runs"],
            ]
        )
    return rows


def _paired_test_rows(present: list[str], gens: dict) -> list[list]:
    """Wilcoxon signed-rank tests of generations for every pair of methods, in registry order."""
    rows = []
    for a, b in itertools.combinations(present, 2):
        w = sp.paired_wilcoxon(gens[a], gens[b])
        p_value = f"{w['p']:.2g}"  # two significant digits: 9.4e-08, not 0.00
        rows.append([f"{a} - {b}", w["runs"], w["median_difference"], w["statistic"], p_value])
    return rows


def cifar_svhn_table(name: str, runs: list[Run], options: Options, fig_dir: Path) -> Table:

    table = Table("PathNet CIFAR-10 and cropped SVHN: held-out accuracy after the generation budget (%)")
    paper = _paper(name)["accuracy"]
    records = [r for run in runs for r in run.records]
    scratch = methods.reference("pathnet").name  # the other arm of each direction is "transfer"
    rows, bars = [], {"scratch": [], "after transfer": []}
    directions = sorted({r["direction"] for r in records})
    for d in directions:
        source, target = d.split("->")
        ref = paper.get(target, {})
        sc = [r["test_acc"] for r in records if r["direction"] == d and r["method"] == scratch]
        tf = [r["test_acc"] for r in records if r["direction"] == d and r["method"] == "transfer"]
        m_sc, m_tf = 100 * float(np.mean(sc)), 100 * float(np.mean(tf))
        rows.append(
            [
                f"{target} (after {source})",
                _ms(sc, 1, 100),
                ref.get("scratch"),
                _diff(m_sc, ref.get("scratch")),
                _ms(tf, 1, 100),
                ref.get(f"after_{source}"),
                _diff(m_tf, ref.get(f"after_{source}")),
                len(sc),
            ]
        )
        bars["scratch"].append(m_sc)
        bars["after transfer"].append(m_tf)
    table.add(
        "Accuracy % (docs/papers.md 2.4)",
        ["target", "scratch", "paper", "Δ", "after transfer", "paper", "Δ", "runs"],
        rows,
    )
    table.figures += plots.grouped_bars(
        bars, directions, fig_dir / "accuracy", title="held-out accuracy (%)", ylabel="%"
    )
    gens = sorted({str(r.config.get("search", {}).get("max_generations")) for r in runs})
    table.notes.append(f"Generations per task: {', '.join(gens)} (the paper: 500).")
    return table
