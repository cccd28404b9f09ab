"""Resumable execution of an experiment in units of work, with one JSONL record per run.

Used by the PathNet studies and the RL transfer experiments: a unit is, e.g., a chunk of
repetitions, a digit pair, or one (method, seed) of a transfer study.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def jsonable(value: Any):
    """NumPy scalars and arrays as plain Python (for JSONL and checkpoint metadata)."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and value != value:  # NaN -> None (valid JSON)
        return None
    return value


RUNS_FILE = "runs.jsonl"


def run_units(
    run_dir: Path,
    units: list[tuple[str, Any]],
    *,
    resume: bool,
    quiet: bool,
    header: list[str],
    keep: int = 2,
) -> tuple[list[dict], float]:
    """Run ``units`` (``(label, fn)``, ``fn() -> list of run records``) in order, resumably.

    After each unit a checkpoint (orbax) holds every record so far; ``resume=True`` restores the
    newest readable one and runs only the units not yet done, so a killed run loses at most the
    unit it was in. Every record is also written to ``runs.jsonl`` (one line per run and
    condition, rewritten after each unit). Returns ``(records, seconds)``.
    """
    import time

    from pnn_jax.checkpoint import Checkpointer
    from pnn_jax.rundir import RunLog

    t0 = time.perf_counter()
    ckpt = Checkpointer(run_dir / "checkpoints", max_to_keep=keep)
    records: list[dict] = []
    done = 0
    if resume:
        template = {"units_done": np.zeros((), np.int32)}
        step, _, meta = ckpt.restore_latest(lambda meta: template)
        records, done = list(meta["records"]), int(meta["units_done"])
    log = RunLog(run_dir, len(units), start_step=done, quiet=quiet, unit="units")
    if resume:
        log.info(f"resumed after unit {done}/{len(units)} (checkpoint {step})")
    else:
        for line in header:
            log.info(line)
    for i in range(done, len(units)):
        label, fn = units[i]
        t_unit = time.perf_counter()
        new = [jsonable(r) for r in fn()]
        records += new
        seconds = time.perf_counter() - t_unit
        log.advance(
            i + 1,
            {"unit": label, "runs": len(new), "unit_seconds": round(seconds, 3)},
            f"  unit {i + 1}/{len(units)}, {label}: {len(new)} run record(s)",
        )
        _write_jsonl(run_dir / RUNS_FILE, records)
        ckpt.save(
            i + 1, {"units_done": np.asarray(i + 1, np.int32)}, {"units_done": i + 1, "records": records}
        )
    ckpt.close()
    log.close()
    return records, time.perf_counter() - t0


def _write_jsonl(path: Path, records: list[dict]) -> None:
    import json

    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in records))
    tmp.replace(path)


def begin(run_dir: Path, cfg: Any, resume: bool) -> None:
    """A new run: make ``run_dir`` and write the resolved config (what ``pnn-jax resume`` reads back)."""
    if resume:
        return
    from pnn_jax import config as cfglib
    from pnn_jax.rundir import CONFIG_FILE, prepare_run_dir

    prepare_run_dir(run_dir)
    (run_dir / CONFIG_FILE).write_text(cfglib.to_yaml(cfg))


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
    notes: list[str] = (),
    **extra: Any,
) -> dict:
    """Write ``summary.json`` (experiment, preset, rows, table, wall time, figures, ``extra``,
    ``records_sha256``, the digest of ``runs.jsonl``, and ``provenance``: commit and machine) and
    ``table.md``; print the table (appending to ``run.log``). Returns the summary as written."""
    import hashlib

    from pnn_jax import provenance
    from pnn_jax.rundir import LOG_FILE, write_summary

    records = (run_dir / RUNS_FILE).read_bytes() if (run_dir / RUNS_FILE).exists() else b""
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
            "records_sha256": hashlib.sha256(records).hexdigest(),  # same runs, same digest
            "provenance": provenance.record(),  # commit, machine, jax (shown beside generated tables)
        }
    )
    write_summary(run_dir, summary)
    (run_dir / "table.md").write_text(table + "\n" + "".join(f"\n{n}" for n in notes) + "\n")
    text = "\n" + table + "\n" + "".join(f"\n{n}" for n in notes)
    with (run_dir / LOG_FILE).open("a") as f:
        f.write(text + "\n")
    if not quiet:
        print(text, flush=True)
    return summary


def mean_std(values) -> tuple[float, float]:
    a = np.asarray(values, float)
    return (float(a.mean()), float(a.std())) if a.size else (float("nan"), float("nan"))


def fmt_ms(values, digits: int = 1) -> str:
    """``"mean ± std"`` of ``values`` (``"-"`` when there are none)."""
    if not np.asarray(values).size:
        return "-"
    m, s = mean_std(values)
    return f"{m:.{digits}f} ± {s:.{digits}f}"


def load_paper(experiment: str) -> dict:
    """``experiments/<experiment>/paper.yaml``: the published numbers we compare with ({} if none)."""
    from omegaconf import OmegaConf

    from pnn_jax.config import EXPERIMENTS_DIR

    path = EXPERIMENTS_DIR / experiment / "paper.yaml"
    return OmegaConf.to_container(OmegaConf.load(path)) if path.exists() else {}
