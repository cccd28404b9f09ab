"""``pnn-jax table <table> <run or sweep dirs...>``: the papers' tables from run directories.

Every run directory at or below the given folders whose ``config.yaml`` names an experiment the
table reads contributes its records (``runs.jsonl``, one line per run and condition). Records of
several runs are pooled (a sweep over seeds or hyperparameters; a job is a (run directory, seed)).
Our numbers are computed from the records with :mod:`pnn_jax.analysis` and shown beside the
published ones (``experiments/<name>/paper.yaml``) with the difference. Written to the output
folder: ``table.md``, ``table.csv`` (long form: section, row, column, value) and ``figures/``.

Tables (:data:`TABLES`):

* ``pnn_classic_transfer``, ``pnn_pong_soup``, ``pnn_atari``, ``pnn_labyrinth_vizdoom``: Table 1's
  column for that domain (mean / median transfer per method), the transfer matrix (source x target,
  heat maps clipped at 200%), positive / negative transfer counts, per-pair scores, AFS and APS per
  layer and column (bar charts as the paper's figures 5 and 7, APS against AFS);
* ``pnn_table1``: PNN Table 1 over the Pong Soup, Atari and Labyrinth-substitute runs given;
* ``rl_learning_curves``: every RL transfer run's target learning curve at ten agent-step marks,
  its final and greedy returns, and the curves as a figure (e.g. ``pnn_pong_soup preset=pong``);
* ``pathnet_binary_mnist``: generations to solve task B and the speedup (both averages);
* ``pathnet_cifar_svhn``: accuracies after the generation budget, from scratch and after transfer;
* ``thesis_first_path``: the thesis summary table (S+S, P+S, random selection) and reuse histograms;
* ``thesis_selection_pressure``: per scheme and task, reuse, capacity used and population diversity;
* ``pathnet_atari``, ``pathnet_lunarlander_curriculum``: PathNet RL speedups and module reuse.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from pnn_jax.config import ConfigError
from pnn_jax.tables.core import (
    PATHNET_RL,
    RL_TRANSFER,
    TABLE1_DOMAINS,
    Options,
    Run,
    Table,
    find_runs,
    provenance,
)
from pnn_jax.tables.pathnet import (
    binary_mnist_table,
    cifar_svhn_table,
    selection_pressure_table,
    thesis_table,
)
from pnn_jax.tables.pathnet_rl import pathnet_rl_table
from pnn_jax.tables.pnn import pnn_table1, rl_learning_curves_table, rl_transfer_table

__all__ = ["TABLES", "Options", "Run", "Table", "build", "find_runs", "provenance", "update_readme"]

Builder = Callable[[str, list[Run], Options, Path], Table]
TABLES: dict[str, tuple[tuple[str, ...], Builder]] = {
    **{e: ((e,), rl_transfer_table) for e in RL_TRANSFER},
    "pnn_table1": (tuple(TABLE1_DOMAINS), pnn_table1),
    "rl_learning_curves": (RL_TRANSFER, rl_learning_curves_table),
    "pathnet_binary_mnist": (("pathnet_binary_mnist",), binary_mnist_table),
    "pathnet_cifar_svhn": (("pathnet_cifar_svhn",), cifar_svhn_table),
    "thesis_first_path": (("thesis_first_path",), thesis_table),
    **{e: ((e,), pathnet_rl_table) for e in PATHNET_RL},
    "thesis_selection_pressure": (("thesis_selection_pressure",), selection_pressure_table),
}


def build(
    name: str,
    paths: list[Path],
    options: Options | None = None,
    out: Path | None = None,
    excerpt: list[int] | None = None,
):
    """Build table ``name`` from the runs under ``paths``; write it to ``out`` (default: a folder
    ``tables/<name>`` in the first path). Returns ``(markdown, out)``, or with ``excerpt`` (1-based
    section numbers) ``(markdown, out, excerpt_markdown)``: those sections alone, for a README."""
    if name not in TABLES:
        raise ConfigError(f"unknown table {name!r}; choose from {', '.join(TABLES)}")
    options = options or Options()
    if options.top_k is not None and options.top_k < 1:
        raise ConfigError(f"--top-k must be at least 1, got {options.top_k}")
    if options.band < 0:
        raise ConfigError(f"--band must be >= 0 (percentage points), got {options.band}")
    experiments, builder = TABLES[name]
    runs = find_runs([Path(p) for p in paths], experiments)
    out = Path(out) if out is not None else Path(paths[0]) / "tables" / name
    (out / "figures").mkdir(parents=True, exist_ok=True)
    table = builder(name, runs, options, out / "figures")
    markdown = table.markdown(provenance(runs))
    (out / "table.md").write_text(markdown)
    with (out / "table.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["section", "row", "column", "value"])
        writer.writerows(table.csv_rows())
    if excerpt is not None:
        return markdown, out, table.markdown(provenance(runs), only=excerpt)
    return markdown, out


def update_readme(readme: Path, name: str, markdown: str) -> None:
    """Replace the block between ``<!-- table:<name> -->`` and ``<!-- /table:<name> -->`` in
    ``readme`` with ``markdown`` (tables in the README are generated, never typed)."""
    text = readme.read_text()
    start, end = f"<!-- table:{name} -->", f"<!-- /table:{name} -->"
    if start not in text or end not in text:
        raise ConfigError(f"{readme} has no '{start}' ... '{end}' block to fill; add the two markers first")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{markdown}{end}{tail}")
