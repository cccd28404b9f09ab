"""PathNet in RL (docs/papers.md 2.4, 3.2): time to criterion, speedup over learning from
scratch and module reuse per task."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pnn_jax import methods, plots
from pnn_jax.analysis import pathnet as pa
from pnn_jax.analysis import speedup as sp
from pnn_jax.tables.core import Options, Run, Table, _diff, _ms, _paper


def _locked_share(record: dict, task: int, num_modules: int) -> float:
    """Share of the ``L x M`` modules locked once tasks ``0..task`` of a PathNet record are done."""
    paths = [np.asarray(s["best_path"]) for s in record["stages"][: task + 1]]
    locked = np.any([pa.active_mask(p, num_modules) for p in paths], axis=0)
    return pa.capacity_used(locked)


REFERENCE = methods.reference("pathnet").name  # the speedup's denominator


def _speedup_rows(seq: str, rs: list[dict], scratch: dict, present: list[str], paper: dict) -> list[list]:
    rows = []
    for m in [m for m in present if m != REFERENCE]:
        mine = {r["job"]: r["target_steps"] for r in rs if r["method"] == m}
        s = sp.speedup(scratch, mine)
        reached = sum(r["target_reached"] for r in rs if r["method"] == m)
        ours = s["ratio_of_means"]
        rows.append(
            [
                seq,
                m,
                ours,
                s["mean_of_ratios"],
                paper.get(m),
                _diff(ours, paper.get(m)),
                f"{reached}/{len(mine)}",
            ]
        )
    return rows


def _run_rows(seq: str, rs: list[dict], scratch: dict, present: list[str]) -> list[list]:
    rows = []
    for m in present:
        mine = [r for r in rs if r["method"] == m]
        paired = [r for r in mine if r["job"] in scratch]
        saved = [scratch[r["job"]] - r["target_steps"] for r in paired]
        rows.append(
            [
                seq,
                m,
                _ms([r["target_steps"] for r in mine], 0),
                f"{sum(r['target_reached'] for r in mine)}/{len(mine)}",
                _ms(sp.per_run_ratios(scratch, {r["job"]: r["target_steps"] for r in mine}), 2),
                _ms(saved, 0),
                _ms([s - r["earlier_steps"] for s, r in zip(saved, paired, strict=True)], 0),
                _ms([r["target_auc"] for r in mine]),
                _ms([r["target_final"] for r in mine]),
            ]
        )
    return rows


def _per_layer(stages: list[dict], key: str) -> str:
    """The mean over runs of a per-layer list, as ``a / b / c``."""
    return " / ".join(f"{v:.2f}" for v in np.mean([s[key] for s in stages], axis=0))


def _reuse_rows(seq: str, rs: list[dict], modules: list[int], one_sequence: bool) -> list[list]:
    """Per task of the sequence, over the runs of the method that locks paths."""
    locking = [r for r in rs if methods.get(r["method"]).locks_path]
    rows = []
    for t, task in enumerate(seq.split(" -> ") if locking else []):
        stages = [r["stages"][t] for r in locking]
        training = [pa.mean_training(np.asarray(s["counters"]), np.asarray(s["best_path"])) for s in stages]
        rows.append(
            [
                task if one_sequence else f"{seq}: {task}",
                _ms([s["reuse"] for s in stages], 2),
                _ms([s["random_reuse"] for s in stages], 2),
                _per_layer(stages, "reuse_per_layer"),
                _per_layer(stages, "random_reuse_per_layer"),
                _ms([s["final_best"] for s in stages]),
                _ms(training),
                _ms([_locked_share(r, t, modules[r["job"][0]]) for r in locking], 2),
            ]
        )
    return rows


def _figures(records: list[dict], sequences: list[str], fig_dir: Path) -> list:
    """The reuse histogram of the target paths (if a method locks paths) and the target curves."""
    figures = []
    locking = [r for r in records if methods.get(r["method"]).locks_path]
    if locking:
        reuse = [r["stages"][-1]["reuse"] for r in locking]
        top = max(
            (len(r["stages"][-1]["best_path"]) * len(r["stages"][-1]["best_path"][0]) for r in locking),
            default=1,
        )
        figures += plots.grouped_bars(
            {"pathnet": pa.reuse_histogram(reuse, top)},
            [str(k) for k in range(top + 1)],
            fig_dir / "reuse_histogram",
            title="module reuse of the target path",
            xlabel="reused modules",
            ylabel="share of runs",
        )
    curves = {
        seq: {
            m: [r["stages"][-1]["curve"] for r in records if r["sequence_label"] == seq and r["method"] == m]
            for m in methods.names("pathnet")
            if any(r["method"] == m for r in records)
        }
        for seq in sequences[:6]
    }
    figures += plots.curves(
        curves, fig_dir / "target_curves", xlabel="fitness windows", ylabel="best path's mean return"
    )
    return figures


def pathnet_rl_table(name: str, runs: list[Run], options: Options, fig_dir: Path) -> Table:

    table = Table(f"{name}: PathNet in RL, speedup over learning from scratch and module reuse")
    paper = _paper(name).get("speedup", {})
    records = [dict(r, job=(i, r["seed"])) for i, run in enumerate(runs) for r in run.records]
    modules = [int(run.config.get("model", {}).get("modules", 0)) for run in runs]
    rows, run_rows, reuse_rows = [], [], []
    sequences = sorted({r["sequence_label"] for r in records})
    for seq in sequences:
        rs = [r for r in records if r["sequence_label"] == seq]
        scratch = {r["job"]: r["target_steps"] for r in rs if r["method"] == REFERENCE}
        present = [m for m in methods.names("pathnet") if any(r["method"] == m for r in rs)]
        rows += _speedup_rows(seq, rs, scratch, present, paper)
        run_rows += _run_rows(seq, rs, scratch, present)
        reuse_rows += _reuse_rows(seq, rs, modules, len(sequences) == 1)
    table.add(
        "Speedup = agent steps to criterion from scratch / of the method (docs/papers.md 2.4)",
        ["sequence", "method", "ratio of means", "mean of per-run ratios", "paper", "Δ", "reached criterion"],
        rows,
    )
    table.add(
        "Per sequence and method, mean ± std over seeds",
        [
            "sequence",
            "method",
            "agent steps to criterion (target)",
            "reached",
            "per-run speedup",
            "training saved (target)",
            "training saved, incl. earlier tasks",
            "target AUC (best path)",
            "final best-path return",
        ],
        run_rows,
    )
    if reuse_rows:
        table.add(
            "Per task: reuse of earlier locked modules by the task's path, its training, capacity used",
            [
                "task",
                "reuse",
                "random selection",
                "reuse per layer",
                "random reuse per layer",
                "final best-path return",
                "mean training counter of the path's modules",
                "capacity used after the task (share of L x M locked)",
            ],
            reuse_rows,
        )
    table.figures += _figures(records, sequences, fig_dir)
    if paper:
        table.notes.append(
            "Paper (docs/papers.md 2.4): " + ", ".join(f"{k} {v}" for k, v in paper.items()) + "."
        )
    thresholds = sorted({str(run.config.get("threshold")) for run in runs})
    table.notes.append(
        f"Criterion: the best path's window return >= {', '.join(thresholds)} on the target. Runs that never "
        "reach it count their whole budget (censored). Reuse: target-path modules in earlier locked paths "
        "(same layer); random: as many random modules per layer."
    )
    return table
