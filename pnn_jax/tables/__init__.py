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
* ``pnn_digits``: per method and member, task A before and after B, forgetting, task B;
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

from pnn_jax.config import EXPERIMENTS_DIR, ConfigError
from pnn_jax.tables.core import (
    RL_TRANSFER,
    TABLE1_DOMAINS,
    Options,
    Run,
    Table,
    find_runs,
    provenance,
)
from pnn_jax.tables.pathnet import binary_mnist_table, cifar_svhn_table
from pnn_jax.tables.pathnet_rl import pathnet_rl_table
from pnn_jax.tables.pnn import pnn_table1, rl_learning_curves_table, rl_transfer_table
from pnn_jax.tables.pnn_supervised import pnn_digits_table
from pnn_jax.tables.records import SCHEMAS, RecordSchema
from pnn_jax.tables.thesis import selection_pressure_table, thesis_table

__all__ = [
    "BUILDERS",
    "SCHEMAS",
    "TABLES",
    "Options",
    "RecordSchema",
    "Run",
    "Table",
    "build",
    "find_runs",
    "make",
    "names",
    "provenance",
    "update_readme",
]

Builder = Callable[[str, list[Run], Options, Path], Table]

BUILDERS: dict[str, Builder] = {
    "rl_transfer": rl_transfer_table,
    "pnn_digits": pnn_digits_table,
    "pathnet_binary_mnist": binary_mnist_table,
    "pathnet_cifar_svhn": cifar_svhn_table,
    "thesis_first_path": thesis_table,
    "thesis_selection_pressure": selection_pressure_table,
    "pathnet_rl": pathnet_rl_table,
}
"""Each protocol's table, by the name a protocol gives (``Protocol.table``). An experiment's table
is its protocol's builder called with the experiment's name (title, ``paper.yaml``): what its runs
print at their end and what ``pnn-jax table <experiment> <run dirs>`` writes."""

LEGACY_BUILDERS = {
    **dict.fromkeys(RL_TRANSFER, "rl_transfer"),
    **dict.fromkeys(("pathnet_atari", "pathnet_lunarlander_curriculum"), "pathnet_rl"),
    **{b: b for b in ("pnn_digits", "pathnet_binary_mnist", "pathnet_cifar_svhn", "thesis_first_path")},
    "thesis_selection_pressure": "thesis_selection_pressure",
}
"""The builders of run directories written before ``summary.json`` named theirs (``"builder"``)."""

TABLES: dict[str, tuple[tuple[str, ...], Builder]] = {
    "pnn_table1": (tuple(TABLE1_DOMAINS), pnn_table1),
    "rl_learning_curves": (RL_TRANSFER, rl_learning_curves_table),
}
"""Tables over several experiments: ``{table: (experiments whose runs it reads, builder)}``."""


def names() -> list[str]:
    """Every table ``pnn-jax table`` builds: one per experiment (its folder), then :data:`TABLES`."""
    found = sorted(d.name for d in EXPERIMENTS_DIR.iterdir() if (d / "config.yaml").is_file())
    return [*found, *TABLES]


def make(
    name: str, runs: list[Run], fig_dir: Path, options: Options | None = None, builder: str = ""
) -> Table:
    """Table ``name`` (an experiment with its protocol's ``builder``, or one of :data:`TABLES`) of
    ``runs`` (records already read), figures into ``fig_dir``."""
    fig_dir.mkdir(parents=True, exist_ok=True)
    fn = BUILDERS[builder] if builder else TABLES[name][1]
    return fn(name, runs, options or Options(), fig_dir)


def build(
    name: str,
    paths: list[Path],
    options: Options | None = None,
    out: Path | None = None,
    excerpt: list[int] | None = None,
    builder: str = "",
):
    """Build table ``name`` from the runs under ``paths``: an experiment's table (its protocol's
    builder, as its runs' ``summary.json`` names it, or ``builder``) or one of :data:`TABLES`;
    write it to ``out`` (default: a folder
    ``tables/<name>`` in the first path). Returns ``(markdown, out)``, or with ``excerpt`` (1-based
    section numbers) ``(markdown, out, excerpt_markdown)``: those sections alone, for a README."""
    if name not in names():
        raise ConfigError(f"unknown table {name!r}; choose from {', '.join(names())}")
    if builder and builder not in BUILDERS:
        raise ConfigError(f"unknown table builder {builder!r}; choose from {', '.join(BUILDERS)}")
    options = options or Options()
    if options.top_k is not None and options.top_k < 1:
        raise ConfigError(f"--top-k must be at least 1, got {options.top_k}")
    if options.band < 0:
        raise ConfigError(f"--band must be >= 0 (percentage points), got {options.band}")
    runs = find_runs([Path(p) for p in paths], TABLES[name][0] if name in TABLES else (name,))
    if name not in TABLES and not builder:  # an experiment's table: the builder its runs name
        named = {r.summary.get("builder") or LEGACY_BUILDERS.get(name) for r in runs}
        if len(named) != 1 or None in named:
            raise ConfigError(
                f"the runs of {name!r} name no single table builder ({sorted(map(str, named))})"
            )
        (builder,) = named
    out = Path(out) if out is not None else Path(paths[0]) / "tables" / name
    table = make(name, runs, out / "figures", options, builder)
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
