"""PathNet in RL (docs/papers.md 2.4, 3.2): time to criterion, speedup over learning from
scratch and module reuse per task."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pnn_jax import plots
from pnn_jax.analysis import pathnet as pa
from pnn_jax.analysis import speedup as sp
from pnn_jax.tables.core import Options, Run, Table, _diff, _ms, _paper


def _locked_share(record: dict, task: int, num_modules: int) -> float:
    """Share of the ``L x M`` modules locked once tasks ``0..task`` of a PathNet record are done."""
    paths = [np.asarray(s["best_path"]) for s in record["stages"][: task + 1]]
    locked = np.any([pa.active_mask(p, num_modules) for p in paths], axis=0)
    return pa.capacity_used(locked)


def pathnet_rl_table(name: str, runs: list[Run], options: Options, fig_dir: Path) -> Table:

    table = Table(f"{name}: PathNet in RL, speedup over learning from scratch and module reuse")
    paper = _paper(name).get("speedup", {})
    records = [dict(r, job=(i, r["seed"])) for i, run in enumerate(runs) for r in run.records]
    modules = [int(run.config.get("model", {}).get("num_modules", 0)) for run in runs]
    rows, reuse_rows = [], []
    sequences = sorted({r["sequence_label"] for r in records})
    for seq in sequences:
        rs = [r for r in records if r["sequence_label"] == seq]
        scratch = {r["job"]: r["target_steps"] for r in rs if r["method"] == "scratch"}
        for m in [m for m in ("pathnet", "finetune") if any(r["method"] == m for r in rs)]:
            mine = {r["job"]: r["target_steps"] for r in rs if r["method"] == m}
            s = sp.speedup(scratch, mine)
            reached = sum(r["target_reached"] for r in rs if r["method"] == m)
            rows.append(
                [
                    seq,
                    m,
                    s["ratio_of_means"],
                    s["mean_of_ratios"],
                    paper.get(m),
                    _diff(s["ratio_of_means"], paper.get(m)),
                    f"{reached}/{len(mine)}",
                ]
            )
        pathnet = [r for r in rs if r["method"] == "pathnet"]
        for t, task in enumerate(seq.split(" -> ")):
            if not pathnet:
                continue
            stages = [r["stages"][t] for r in pathnet]
            locked = [_locked_share(r, t, modules[r["job"][0]]) for r in pathnet]
            reuse_rows.append(
                [
                    task if len(sequences) == 1 else f"{seq}: {task}",
                    _ms([s["reuse"] for s in stages], 2),
                    _ms([s["random_reuse"] for s in stages], 2),
                    " / ".join(f"{v:.2f}" for v in np.mean([s["reuse_per_layer"] for s in stages], axis=0)),
                    _ms(
                        [
                            pa.mean_training(np.asarray(s["counters"]), np.asarray(s["best_path"]))
                            for s in stages
                        ]
                    ),
                    _ms(locked, 2),
                ]
            )
    table.add(
        "Speedup = agent steps to criterion from scratch / of the method (docs/papers.md 2.4)",
        ["sequence", "method", "ratio of means", "mean of per-run ratios", "paper", "Δ", "reached criterion"],
        rows,
    )
    if reuse_rows:
        table.add(
            "Per task: reuse of earlier locked modules by the task's path, its training, capacity used",
            [
                "task",
                "reuse",
                "random selection",
                "reuse per layer",
                "mean training counter of the path's modules",
                "capacity used after the task (share of L x M locked)",
            ],
            reuse_rows,
        )
        reuse = [r["stages"][-1]["reuse"] for r in records if r["method"] == "pathnet"]
        top = max(
            (
                len(r["stages"][-1]["best_path"]) * len(r["stages"][-1]["best_path"][0])
                for r in records
                if r["method"] == "pathnet"
            ),
            default=1,
        )
        table.figures += plots.grouped_bars(
            {"pathnet": pa.reuse_histogram(reuse, top)},
            [str(k) for k in range(top + 1)],
            fig_dir / "reuse_histogram",
            title="module reuse of the target path",
            xlabel="reused modules",
            ylabel="share of runs",
        )
    table.notes.append("Runs that never reach the criterion count their whole budget (censored).")
    return table
