"""The supervised PNN table (``pnn_digits``): per method and population member, task A before and
after learning B, the forgetting, task B, and whether task A's column is bit-identical after B."""

from __future__ import annotations

from pathlib import Path

from pnn_jax import plots
from pnn_jax.rundir import read_metrics
from pnn_jax.tables.core import Options, Run, Table


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def pnn_digits_table(name: str, runs: list[Run], options: Options, fig_dir: Path) -> Table:

    table = Table(f"{name}: progressive net vs the paper's baselines on two digit tasks (held-out accuracy)")
    records = [r for run in runs for r in run.records]
    many = len({(r.get("member", 0), r.get("seed")) for r in records}) > 1 or len(runs) > 1
    rows = []
    for r in records:
        forget = None if r["a_before"] is None else r["a_before"] - r["a_after"]
        same = "-" if r["a_column_unchanged"] is None else ("yes" if r["a_column_unchanged"] else "no")
        member = [f"{r['member']} ({r['seed']}, {r['lr']:g}, {r['alpha_init']:g})"] if many else []
        rows.append(
            [
                r["method"],
                *member,
                str(r["columns"]),
                _pct(r["a_before"]),
                _pct(r["a_after"]),
                "-" if forget is None else f"{100 * forget:+.1f} pts",
                _pct(r["b"]),
                same,
            ]
        )
    table.add(
        "Per method (docs/papers.md 1.3: baselines 1-4)",
        [
            "method",
            *(["member (seed, lr, alpha)"] if many else []),
            "columns",
            "A before B",
            "A after B",
            "forgetting",
            "B",
            "A column unchanged",
        ],
        rows,
    )
    for run in runs[:1]:  # the accuracy curves of the first run (its metrics.jsonl)
        chunks = [c for c in read_metrics(run.path) if c.get("kind") == "chunk"]
        methods = list(dict.fromkeys(r["method"] for r in run.records))
        if chunks and methods:
            table.figures += plots.transfer_curves(chunks, methods, fig_dir / "accuracy_curves")
    table.notes.append(
        "Task A is answered by column 0 in every method; 'A column unchanged' compares its SHA-256 "
        "before and after learning B. No paper numbers: the paper has no supervised experiment."
    )
    return table
