"""The PNN paper's tables from RL transfer runs (docs/papers.md 1.4-1.7): Table 1's column per
domain, the transfer matrix, positive / negative counts, AFS / APS, Table 1 over domains, and the
target learning curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pnn_jax import methods, plots
from pnn_jax.analysis import transfer as tr
from pnn_jax.tables.core import TABLE1_DOMAINS, Options, Run, Table, _diff, _ms, _nanmean0, _num, _paper

REFERENCE = methods.reference("progressive").name  # the transfer score's denominator


def method_key(record: dict) -> str:
    """The paper.yaml key of a record's method: ``baseline1..4``, or ``progressive_<k>_columns``
    for a method that grows a column per source."""
    if methods.get(record["method"]).grows:
        return f"{record['method']}_{record['columns']}_columns"
    return record["method"]


def method_of(key: str) -> str:
    """The method of a :func:`method_key`: ``progressive_3_columns`` -> ``progressive``."""
    return key.split("_")[0]


def key_order(key: str) -> tuple[int, str]:
    """Table order of method keys: the registry's order, then the column count."""
    return methods.order(method_of(key)), key


def short_label(key: str) -> str:
    """``Baseline 2`` / ``Progressive, 2 columns`` (without the explanation)."""
    return method_label(key).split(" (")[0]


def method_label(key: str) -> str:
    name = method_of(key)
    if name not in methods.METHODS:
        return key
    if methods.get(name).grows:
        return f"{methods.get(name).label}, {key.split('_')[1]} columns"
    return methods.get(name).label


def _sources(record: dict) -> list[str]:
    if "sources" in record:
        return list(record["sources"])
    return record["pair_label"].split(" -> ")[0].split(" + ")  # runs made before the field existed


def _target(record: dict) -> str:
    return record.get("target") or record["pair_label"].split(" -> ")[1]


def pnn_scores(runs: list[Run], options: Options) -> tuple[dict, dict, list[str]]:
    """``(scores, per_job, keys)``: transfer % per (pair label, method key) (:func:`tr.transfer_scores`
    with ``options.top_k``), the per-job scores (for spreads) and the method keys in table order.

    Baseline 1 is shared by every method of a pair; progressive nets are keyed by their column
    count, and their pairs are those with as many sources plus one."""
    aucs, order = {}, []
    for i, run in enumerate(runs):
        for r in run.records:
            key = method_key(r)
            if key not in order:
                order.append(key)
            aucs[(r["pair_label"], key, (i, r["seed"]))] = (
                float("nan") if r["auc"] is None else float(r["auc"])
            )
    scores = tr.transfer_scores(aucs, options.top_k, REFERENCE)
    base = {(p, j): v for (p, m, j), v in aucs.items() if m == REFERENCE}
    per_job: dict = {}
    for (p, m, j), v in aucs.items():
        if (p, j) in base:
            s = tr.transfer_pct(v, base[(p, j)])
            if s == s:
                per_job.setdefault((p, m), []).append(s)
    keys = sorted(order, key=key_order)
    return scores, per_job, keys


def _table1_rows(name: str, scores: dict, keys: list[str]) -> tuple[list[list], dict]:
    """Table 1's rows for one domain (ours, paper, difference) and ``{method: (mean, median,
    paper mean, paper median)}`` from :func:`pnn_scores`' scores."""
    paper = _paper(name).get("transfer_pct", {})
    rows, summary = [], {}
    for m in keys:
        per_pair = [v for (p, k), v in scores.items() if k == m]
        mean, median = tr.mean_median(per_pair)
        ref = paper.get(m) or {}
        rows.append(
            [
                method_label(m),
                mean,
                median,
                ref.get("mean"),
                ref.get("median"),
                _diff(mean, ref.get("mean")),
                _diff(median, ref.get("median")),
                len(per_pair),
            ]
        )
        summary[m] = (mean, median, ref.get("mean"), ref.get("median"))
    return rows, summary


def _transfer_matrix(table: Table, records: list[dict], scores: dict, keys: list[str], fig_dir: Path):
    """The transfer matrix of one-source pairs (rows: source, columns: target): a section for the
    2-column progressive net, heat maps for every method."""
    two_col = {r["pair_label"]: (_sources(r)[0], _target(r)) for r in records if len(_sources(r)) == 1}
    sources = sorted({s for s, _ in two_col.values()})
    targets = sorted({t for _, t in two_col.values()})
    matrices = {}
    for m in keys:
        if m == REFERENCE or (methods.get(method_of(m)).grows and not m.endswith("_2_columns")):
            continue  # the matrix is of one-source pairs
        cells = {two_col[p]: v for (p, k), v in scores.items() if k == m and p in two_col}
        if cells:
            matrices[short_label(m)] = tr.transfer_matrix(cells, sources, targets)
    if "Progressive, 2 columns" in matrices and len(targets) > 0:
        m = matrices["Progressive, 2 columns"]
        table.add(
            "Transfer matrix, progressive 2 columns (rows: source, columns: target; %)",
            ["source", *targets],
            [[s, *m[i].tolist()] for i, s in enumerate(sources)],
        )
    if matrices:
        table.figures += plots.transfer_heatmaps(matrices, sources, targets, fig_dir / "transfer_matrix")


def _transfer_counts(
    table: Table, name: str, records: list[dict], scores: dict, keys: list[str], options: Options
):
    """Targets with positive / negative transfer per method, beside the paper's counts."""
    target_of = {r["pair_label"]: _target(r) for r in records}
    paper = _paper(name)
    count_rows = []
    for m in keys:
        if m == REFERENCE:
            continue
        by_target: dict[str, list[float]] = {}
        for (p, k), v in scores.items():
            if k == m:
                by_target.setdefault(target_of[p], []).append(v)
        c = tr.count_transfer([float(np.mean(v)) for v in by_target.values()], options.band)
        pkey = method_of(m)
        pos = (paper.get("targets_with_positive_transfer") or {}).get(pkey)
        neg = (paper.get("targets_with_negative_transfer") or {}).get(pkey)
        of = (paper.get("targets_with_positive_transfer") or {}).get("of")
        count_rows.append(
            [
                method_label(m),
                c["positive"],
                c["negative"],
                c["neutral"],
                c["of"],
                f"{pos}/{of}" if pos is not None else None,
                f"{neg}/{of}" if neg is not None else None,
            ]
        )
    table.add(
        f"Targets with positive / negative transfer (> 100 + {options.band:g}% / < 100 - {options.band:g}%)",
        ["method", "positive", "negative", "neutral", "targets", "paper positive", "paper negative"],
        count_rows,
    )


def rl_transfer_table(name: str, runs: list[Run], options: Options, fig_dir: Path) -> Table:

    table = Table(f"{name}: transfer (AUC of the target curve / baseline 1's, %)")
    scores, per_job, keys = pnn_scores(runs, options)
    rows, _ = _table1_rows(name, scores, keys)
    agg = f"mean of the top {options.top_k} jobs" if options.top_k else "mean over jobs of per-job scores"
    table.add(
        f"Table 1 column (docs/papers.md 1.6): transfer % over pairs ({agg})",
        ["method", "mean", "median", "paper mean", "paper median", "Δ mean", "Δ median", "pairs"],
        rows,
    )
    records = [r for run in runs for r in run.records]
    _transfer_matrix(table, records, scores, keys, fig_dir)
    _transfer_counts(table, name, records, scores, keys, options)
    pair_rows = []
    for p in sorted({r["pair_label"] for r in records}):
        for m in keys:
            if (p, m) in scores:
                mine = [r for r in records if r["pair_label"] == p and method_key(r) == m]
                pair_rows.append(
                    [
                        p,
                        short_label(m),
                        scores[(p, m)],
                        _ms(per_job.get((p, m), []), 0),
                        _ms([r["auc"] for r in mine]),
                        _ms([r.get("final") for r in mine]),
                        _ms([r.get("eval_return") for r in mine]),
                        len(mine),
                    ]
                )
    table.add(
        "Per pair",
        [
            "pair",
            "method",
            "transfer %",
            "per job (mean ± std)",
            "target AUC",
            "final return",
            "greedy eval return",
            "jobs",
        ],
        pair_rows,
    )
    with_curves = [r for r in records if r.get("target_curve")]
    pairs = sorted({r["pair_label"] for r in with_curves})[:6]
    windows = sorted({int(run.config.get("window", 1)) for run in runs})
    if pairs:  # records with learning curves (every run since the field exists)
        table.figures += plots.curves(
            {
                p: {
                    short_label(m): [
                        r["target_curve"] for r in with_curves if r["pair_label"] == p and method_key(r) == m
                    ]
                    for m in keys
                }
                for p in pairs
            },
            fig_dir / "target_curves",
            xlabel=f"agent steps (x {', '.join(f'{w:,}' for w in windows)})",
            ylabel="mean episode return",
        )
    _sensitivity_sections(table, records, fig_dir)
    table.notes.append(
        "Transfer = AUC of the target learning curve (mean episode score per window) / baseline 1's AUC "
        "on the same target and job (docs/papers.md 1.4); Δ = ours - paper in percentage points. Matrices "
        "are coloured with a clip at 200% as in the paper."
    )
    return table


def _sensitivity_sections(table: Table, records: list[dict], fig_dir: Path) -> None:

    with_afs = [r for r in records if r.get("afs")]
    if not with_afs:
        return
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in with_afs:
        groups.setdefault((r["pair_label"], short_label(method_key(r))), []).append(r)
    rows, panels, aps_points = [], {}, {}
    for (pair, method), rs in groups.items():
        layers = len(rs[0]["afs"])
        panel = {}
        for i in range(layers):
            afs = np.mean([r["afs"][i] for r in rs], axis=0)
            has_aps = all(r.get("aps") for r in rs)
            aps = _nanmean0([[_num(v) for v in r["aps"][i]] for r in rs]) if has_aps else None
            rows.append(
                [
                    pair,
                    method,
                    f"hidden {i + 1}",
                    " / ".join(f"{v:.2f}" for v in afs),
                    " / ".join(f"{v:.2f}" for v in aps) if aps is not None else None,
                    len(rs),
                ]
            )
            panel[f"h{i + 1}"] = afs.tolist()
            if aps is not None:
                xs, ys = aps_points.setdefault(method, ([], []))
                xs.extend(afs.tolist())
                ys.extend(aps.tolist())
        panels[f"{method}\n{pair}"] = panel
    table.add(
        "Sensitivity of the target policy per layer (docs/papers.md 1.7): AFS and APS of columns 1 / 2 / ..",
        ["pair", "method", "layer", "AFS (share per column)", "APS (share per column)", "jobs"],
        rows,
    )
    shown = dict(list(panels.items())[:8])
    table.figures += plots.column_shares(shown, fig_dir / "afs", title="AFS per layer and column")
    if aps_points:
        table.figures += plots.scatter_xy(
            aps_points,
            fig_dir / "aps_vs_afs",
            title="APS against AFS (one point per layer and column)",
            xlabel="AFS",
            ylabel="APS",
            diagonal=True,
        )


def pnn_table1(name: str, runs: list[Run], options: Options, fig_dir: Path) -> Table:

    table = Table("PNN Table 1: transfer % (mean / median over pairs)")
    domains = [e for e in TABLE1_DOMAINS if any(r.experiment == e for r in runs)]
    per_domain = {}
    for e in domains:
        scores, _, keys = pnn_scores([r for r in runs if r.experiment == e], options)
        per_domain[e] = _table1_rows(e, scores, keys)[1]
    keys = sorted({m for d in per_domain.values() for m in d}, key=key_order)
    header = ["method"]
    for e in domains:
        label = TABLE1_DOMAINS[e] + (" (ViZDoom substitute)" if e == "pnn_labyrinth_vizdoom" else "")
        header += [f"{label}: ours", "paper", "Δ mean"]
    rows = []
    for m in keys:
        row = [short_label(m)]
        for e in domains:
            mean, median, pm, pmed = per_domain[e].get(m, (float("nan"),) * 2 + (None, None))
            ours = f"{mean:.0f} / {median:.0f}" if mean == mean else "-"
            ref = f"{pm} / {pmed}" if pm is not None else "-"
            row += [ours, ref, _diff(mean, pm)]
        rows.append(row)
    table.add("Transfer % (ours vs the paper's Table 1, docs/papers.md 1.6)", header, rows)
    table.figures += plots.grouped_bars(
        {TABLE1_DOMAINS[e]: [per_domain[e].get(m, (np.nan,))[0] for m in keys] for e in domains},
        [short_label(m).replace("Progressive, ", "PNN ") for m in keys],
        fig_dir / "table1",
        title="mean transfer % (ours)",
        ylabel="%",
    )
    table.notes.append(
        "Labyrinth (DeepMind Lab) is not installable here; its column is our ViZDoom substitute "
        "(pnn_labyrinth_vizdoom), so its paper numbers are for a different domain."
    )
    return table


def rl_learning_curves_table(name: str, runs: list[Run], options: Options, fig_dir: Path) -> Table:
    """The target learning curves of RL transfer runs (e.g. ``pnn_pong_soup preset=pong``, one
    column learning Pong): per run record, the curve's points at ten evenly spaced marks of agent
    steps, the final and greedy-evaluation returns, and a figure of every curve against agent
    steps. Missing points (no episode finished in the window) are shown as '-'."""
    table = Table(f"{name}: target learning curves (mean episode return per window of agent steps)")
    records = [(run, r) for run in runs for r in run.records]
    if not records:
        return table
    windows = {int(run.config.get("window", 1)) for run, _ in records}
    window = windows.pop() if len(windows) == 1 else None
    longest = max(len(r["target_curve"]) for _, r in records)
    marks = sorted({max(0, round(longest * k / 10) - 1) for k in range(1, 11)})
    header = ["run", *[f"{(m + 1) * window / 1e6:.2f}M" if window else f"point {m + 1}" for m in marks]]
    rows = []
    for _, r in records:
        curve = r["target_curve"]
        label = f"{short_label(method_key(r))} {r['target']} seed {r['seed']}"
        rows.append([label, *[_num(curve[m]) if m < len(curve) else None for m in marks]])
    table.add("Return at agent steps (the window ending there)", header, rows)
    table.add(
        "End of training",
        [
            "run",
            "agent steps",
            "final return (last 3 points)",
            "greedy eval return",
            "wall time, last invocation (min)",
        ],
        [
            [
                f"{short_label(method_key(r))} {r['target']} seed {r['seed']}",
                int(r["stages"][-1]["agent_steps"]),
                _num(r.get("final")),
                _num(r.get("eval_return")),
                float(run.summary.get("wall_time_s", 0.0)) / 60,
            ]
            for run, r in records
        ],
    )
    table.figures += plots.curves(
        {
            "target": {
                f"{short_label(method_key(r))} seed {r['seed']}": [r["target_curve"]] for _, r in records
            }
        },
        fig_dir / "learning_curves",
        xlabel=f"agent steps (x {window:,})" if window else "window",
        ylabel="mean episode return",
    )
    table.notes.append(
        "Points are the mean raw return of the episodes finished in each window of agent steps "
        "(docs/papers.md 1.3); a window without a finished episode is missing ('-')."
    )
    return table
