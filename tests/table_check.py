"""Shared check of ``pnn-jax table`` over smoke runs: structure, not numbers."""

from __future__ import annotations

import csv
from pathlib import Path

from pnn_jax import tables


def build_and_check(
    name: str, dirs: list[Path], *expected: str, figures: tuple[str, ...] = (), **options
) -> str:
    """Build table ``name`` from ``dirs`` into ``<dirs[0]>/tables/<name>``; check that the markdown
    holds every ``expected`` string, that the CSV has a row per cell and that ``figures`` exist as
    PNG and PDF. Returns the markdown."""
    markdown, out = tables.build(name, dirs, tables.Options(**options))
    assert (out / "table.md").read_text() == markdown
    for text in ("Preset smoke;", "commit ", *expected):
        assert text in markdown, (text, markdown)
    with (out / "table.csv").open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["section", "row", "column", "value"] and len(rows) > 2
    for fig in figures:
        assert (out / "figures" / f"{fig}.png").exists() and (out / "figures" / f"{fig}.pdf").exists(), fig
    return markdown
