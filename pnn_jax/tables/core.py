"""What every table is made of: finished runs read from their directories, the options of
``pnn-jax table``, a table's sections, and small formatting helpers."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from pnn_jax.config import ConfigError, load_paper, upgrade
from pnn_jax.rundir import CONFIG_FILE, RUNS_FILE, SUMMARY_FILE, read_jsonl
from pnn_jax.tables.records import SCHEMAS

RL_TRANSFER = ("pnn_classic_transfer", "pnn_pong_soup", "pnn_atari", "pnn_labyrinth_vizdoom")
TABLE1_DOMAINS = {"pnn_pong_soup": "Pong Soup", "pnn_atari": "Atari", "pnn_labyrinth_vizdoom": "Labyrinth"}


@dataclasses.dataclass
class Run:
    """One finished run directory: its resolved config, its records and its summary."""

    path: Path
    config: dict
    records: list[dict]
    summary: dict

    @property
    def experiment(self) -> str:
        return self.config.get("experiment", "")


@dataclasses.dataclass
class Options:
    """Aggregation options of ``pnn-jax table``."""

    top_k: int | None = None
    """The PNN paper's protocol: per (pair, method), the mean of the ``top_k`` best jobs (the paper:
    top 3 of 25 hyperparameter settings, docs/papers.md 1.3). None: mean over jobs of per-job scores."""
    band: float = 0.0
    """Positive / negative transfer counts: scores within 100 +- band % count as neutral [?]."""


@dataclasses.dataclass
class Table:
    """A built table: markdown sections, long-form CSV rows and figure files."""

    title: str
    sections: list[tuple[str, list[str], list[list]]] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    figures: list[Path] = dataclasses.field(default_factory=list)

    def add(self, heading: str, header: list[str], rows: list[list]) -> None:
        self.sections.append((heading, header, rows))

    def markdown(self, provenance: str, only: list[int] | None = None) -> str:
        """The whole table, or with ``only`` (1-based section numbers) just those sections and no
        notes: a compact excerpt for a front page, the full table being one link away."""
        if only is not None:
            bad = [i for i in only if not 1 <= i <= len(self.sections)]
            if bad:
                raise ConfigError(
                    f"--sections {','.join(map(str, only))}: table {self.title!r} has sections "
                    f"1..{len(self.sections)} ({'; '.join(h for h, _, _ in self.sections)})"
                )
        chosen = self.sections if only is None else [self.sections[i - 1] for i in only]
        lines = [f"### {self.title}", "", provenance, ""]
        for heading, header, rows in chosen:
            lines += [f"**{heading}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
            lines.append("")
        lines += [*self.notes] if only is None else []
        return "\n".join(lines).rstrip() + "\n"

    def csv_rows(self) -> list[list]:
        out = []
        for heading, header, rows in self.sections:
            for row in rows:
                for column, value in zip(header[1:], row[1:], strict=True):
                    out.append([heading, _cell(row[0]), column, _cell(value)])
        return out


def _cell(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if v != v:
            return "-"
        return f"{v:.0f}" if abs(v) >= 100 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"
    return str(v)


def find_runs(paths: list[Path], experiments: tuple[str, ...]) -> list[Run]:
    """Finished runs (``runs.jsonl`` + ``summary.json`` + ``config.yaml``) of ``experiments`` at or
    below ``paths``, their records read through the schema each run names
    (:data:`pnn_jax.tables.records.SCHEMAS`); a clear error if a path is missing or holds none."""
    runs, seen = [], set()
    for path in paths:
        path = Path(path)
        if not path.is_dir():
            raise ConfigError(f"{str(path)!r} is not a directory; pass run or sweep directories")
        found = 0
        for f in sorted(path.rglob(RUNS_FILE)):
            d = f.parent
            if d in seen or not (d / SUMMARY_FILE).exists() or not (d / CONFIG_FILE).exists():
                continue
            config = OmegaConf.to_container(upgrade(OmegaConf.load(d / CONFIG_FILE), d / CONFIG_FILE))
            if config.get("experiment") not in experiments:
                continue
            seen.add(d)
            records = read_jsonl(f)
            summary = json.loads((d / SUMMARY_FILE).read_text())
            stamp = summary.get("records")
            if stamp is not None:  # None: written before record schemas were versioned
                if stamp.get("schema") not in SCHEMAS:
                    raise ConfigError(
                        f"{d}: its records are {stamp.get('schema')!r}, a schema this pnn_jax does not "
                        f"know ({', '.join(SCHEMAS)})"
                    )
                records = SCHEMAS[stamp["schema"]].read(d, stamp, records)
            runs.append(Run(d, config, records, summary))
            found += 1
        if not found:
            raise ConfigError(
                f"no finished run of {' / '.join(experiments)} under {str(path)!r} "
                "(a run directory has runs.jsonl, summary.json and config.yaml)"
            )
    return runs


def provenance(runs: list[Run]) -> str:
    """One line: experiments, presets, number of runs, commits and machines of the runs."""
    presets = sorted({str(r.config.get("preset", "?")) for r in runs})
    prov = [r.summary.get("provenance") or {} for r in runs]
    commits = sorted({p.get("commit", "not recorded") for p in prov})
    machines = sorted({p.get("machine", "not recorded") for p in prov})
    seconds = sum(float(r.summary.get("wall_time_s", 0.0)) for r in runs)
    return (
        f"Preset {', '.join(presets)}; {len(runs)} run(s) ({seconds / 60:.1f} min); "
        f"commit {', '.join(commits)}; {'; '.join(machines)}."
    )


# ------------------------------------------------------------------------------------------------
# Helpers


def _paper(experiment: str) -> dict:
    return load_paper(experiment)


def _diff(ours: float, paper) -> float | None:
    return None if paper is None or ours != ours else float(ours) - float(paper)


def _ms(values, digits: int = 1, scale: float = 1.0) -> str:
    v = np.asarray([x for x in values if x is not None and x == x], float) * scale
    return f"{v.mean():.{digits}f} ± {v.std():.{digits}f}" if v.size else "-"


def _nanmean0(rows) -> np.ndarray:
    """Column means over the rows that are not NaN (NaN where none is), without a warning."""
    a = np.asarray(rows, float)
    n = (~np.isnan(a)).sum(0)
    return np.where(n > 0, np.nansum(a, 0) / np.maximum(n, 1), np.nan)


def _num(v) -> float:
    return float("nan") if v is None else float(v)
