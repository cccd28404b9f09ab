"""The one runner: how every experiment goes from a validated config to its end-of-run table.

An **experiment** (:class:`Experiment`) is a name, a protocol, its presets and its published
numbers: a module of a few lines beside ``experiments/<name>/`` (``config.yaml``, ``preset/``,
``paper.yaml``). A **protocol** (:class:`Protocol`) is a family of experiments (RL transfer,
supervised PNN, supervised PathNet, PathNet RL): it declares its config schema, the schema of its
run records, and the units of work a config asks for.

:func:`run` owns the rest, the same way for every experiment: validation before anything compiles,
the run directory and its resolved config (what ``pnn-jax resume`` reads back), resumable units
(:func:`pnn_jax.experiments.units.run_units`), provenance (the commit of every invocation and the
machine), and the end-of-run table, which is the function ``pnn-jax table <experiment> <run dir>``
calls (:mod:`pnn_jax.tables`), on the same records.
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import jax

from pnn_jax import config as cfglib
from pnn_jax import provenance, tables
from pnn_jax.config import EXPERIMENTS_DIR
from pnn_jax.experiments.units import UnitContext, jsonable, run_units
from pnn_jax.rundir import CONFIG_FILE, LOG_FILE, RUNS_FILE, prepare_run_dir, write_atomic, write_summary
from pnn_jax.tables.records import RecordSchema

Unit = tuple[str, Callable[[UnitContext], list[dict]]]
"""``(label, work)``: ``work(ctx)`` returns the unit's run records (:mod:`pnn_jax.experiments.units`)."""


@dataclasses.dataclass(frozen=True)
class Plan:
    """What a config asks for: the units in order and the lines that open ``run.log``."""

    units: list[Unit]
    header: list[str]
    unit_checkpoints: int = 2
    """How many checkpoints inside units to keep (``unit_checkpoints/``)."""
    notes: list[str] = dataclasses.field(default_factory=list)
    """Lines printed and written to ``table.md`` under the table (e.g. tasks skipped for lack of data)."""


class Protocol(abc.ABC):
    """A family of experiments. Subclasses set :attr:`Config` and :attr:`records` and write
    :meth:`validate` and :meth:`plan`; :meth:`rows` (the summary's headline numbers) is optional."""

    Config: ClassVar[type]
    """The config schema (a dataclass; stored in Hydra's ConfigStore, so YAML holds only changes)."""
    table: ClassVar[str]
    """The protocol's table builder (:data:`pnn_jax.tables.BUILDERS`), called with the experiment's name."""
    records: ClassVar[RecordSchema]
    """The schema of one line of ``runs.jsonl`` (read back through it by :mod:`pnn_jax.tables`)."""

    @abc.abstractmethod
    def validate(self, cfg) -> None:
        """Raise a one-line :class:`pnn_jax.config.ConfigError` for any bad value (nothing compiles)."""

    @abc.abstractmethod
    def plan(self, cfg) -> Plan:
        """The units of work ``cfg`` asks for (after :meth:`validate`)."""

    def rows(self, cfg, records: list[dict]) -> list[dict]:
        """``summary.json``'s ``rows``: one headline dict per method or condition (default none)."""
        return []

    def extra(self, cfg, records: list[dict]) -> dict:
        """Further entries of ``summary.json`` (default none)."""
        return {}


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One experiment: ``name`` (also its folder ``experiments/<name>/``), the ``protocol`` that runs
    it, ``summary`` (what it reproduces, one line) and ``presets`` (``{preset: expected time}``)."""

    name: str
    protocol: Protocol
    summary: str
    presets: dict[str, str]

    @property
    def Config(self) -> type:
        return self.protocol.Config

    @property
    def folder(self) -> Path:
        return EXPERIMENTS_DIR / self.name

    def config(self, overrides: Sequence[str] = ()):
        """The resolved config: the schema, ``config.yaml``, its preset and ``overrides`` (Hydra)."""
        return cfglib.structured(self.Config, cfglib.compose(self.folder, list(overrides), self.Config))

    def validate(self, cfg) -> None:
        """Every declared range (:func:`pnn_jax.config.check_ranges`), then the protocol's checks."""
        cfglib.check_ranges(cfg)
        self.protocol.validate(cfg)

    def run(self, cfg, run_dir: Path, *, resume: bool = False, quiet: bool = False) -> dict:
        """Run (or resume) ``cfg`` in ``run_dir``; returns the summary (also ``summary.json``)."""
        return run(self, cfg, Path(run_dir), resume=resume, quiet=quiet)


def run(experiment: Experiment, cfg, run_dir: Path, *, resume: bool = False, quiet: bool = False) -> dict:
    """Validate, (re)open ``run_dir``, run the plan's units resumably, then build the table.

    ``run_dir`` is made absolute first: nothing written later depends on the working directory
    (ViZDoom pools start their Doom processes from a folder of their own)."""
    run_dir = Path(run_dir).resolve()
    protocol = experiment.protocol
    experiment.validate(cfg)
    begin(run_dir, cfg, resume)
    plan = protocol.plan(cfg)
    header = [*plan.header, f"  jax {jax.__version__} on {jax.devices()[0].platform}"]
    records, seconds = run_units(
        run_dir,
        plan.units,
        resume=resume,
        quiet=quiet,
        header=header,
        unit_keep=plan.unit_checkpoints,
        experiment=experiment.name,
    )
    run_record = tables.Run(run_dir, dataclasses.asdict(cfg), records, {})
    table = tables.make(experiment.name, [run_record], run_dir / "figures", builder=protocol.table)
    line = f"Preset {cfg.preset}: {len(records)} record(s) from {len(plan.units)} unit(s)."
    return finish(
        run_dir,
        cfg,
        rows=protocol.rows(cfg, records),
        table=table.markdown(line).rstrip(),
        seconds=seconds,
        resumed=resume,
        figures=table.figures,
        quiet=quiet,
        records=protocol.records,
        builder=protocol.table,
        notes=[*plan.notes, f"Total {seconds:.1f} s."],
        **protocol.extra(cfg, records),
    )


STARTED_FILE = "started.json"  # the commit each invocation (start, resumes) ran from


def begin(run_dir: Path, cfg: Any, resume: bool) -> None:
    """A new run: make ``run_dir`` and write the resolved config (what ``pnn-jax resume`` reads
    back). Every invocation records the commit it starts from (``started.json``), so the summary's
    provenance names the code that ran, not only the checkout at the end."""
    if not resume:
        prepare_run_dir(run_dir)
        write_atomic(run_dir / CONFIG_FILE, cfglib.to_yaml(cfg))
    commits = _started_commits(run_dir)
    write_atomic(run_dir / STARTED_FILE, json.dumps({"commits": [*commits, provenance.commit()]}))


def _started_commits(run_dir: Path) -> list[str]:
    started = run_dir / STARTED_FILE
    return json.loads(started.read_text())["commits"] if started.exists() else []


def commits_run(run_dir: Path, at_end: str) -> str:
    """The commits a run's invocations started from and the one at its end, ``a -> b`` where they
    differ (code changed on disk while it ran, or between a kill and its resume)."""
    seen = list(dict.fromkeys([*_started_commits(run_dir), at_end]))
    return " -> ".join(seen)


def finish(
    run_dir: Path,
    cfg: Any,
    *,
    rows: list[dict],
    table: str,
    seconds: float,
    resumed: bool,
    figures: list[Path],
    quiet: bool,
    records: RecordSchema,
    builder: str,
    notes: Sequence[str] = (),
    **extra: Any,
) -> dict:
    """Write ``summary.json`` (experiment, preset, rows, table, wall time, figures, ``extra``, the
    record schema and version, ``records_sha256`` (the digest of ``runs.jsonl``) and
    ``provenance``: commits and machine) and ``table.md`` (the table and ``notes``); print both
    (appending to ``run.log``). Returns the summary as written."""
    data = (run_dir / RUNS_FILE).read_bytes() if (run_dir / RUNS_FILE).exists() else b""
    prov = provenance.record()
    summary = jsonable(
        {
            "experiment": cfg.experiment,
            "preset": cfg.preset,
            "rows": rows,
            "table": table,
            **extra,
            "wall_time_s": seconds,
            "resumed": resumed,
            "figures": [str(p.relative_to(run_dir)) for p in figures],
            "records": records.stamp(),
            "builder": builder,  # the table builder `pnn-jax table <experiment>` calls
            "records_sha256": hashlib.sha256(data).hexdigest(),  # same runs, same digest
            # commit(s), machine, jax (shown beside generated tables)
            "provenance": {**prov, "commit": commits_run(run_dir, prov["commit"])},
        }
    )
    write_summary(run_dir, summary)
    text = table + "\n" + "".join(f"\n{n}" for n in notes)
    write_atomic(run_dir / "table.md", text + "\n")
    with (run_dir / LOG_FILE).open("a") as f:
        f.write("\n" + text + "\n")
    if not quiet:
        print("\n" + text, flush=True)
    return summary
