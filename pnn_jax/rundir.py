"""Run directories: the unit a user inspects, resumes and compares.

``runs/<experiment>/<date>_<time>_<id>/`` holds:

* ``config.yaml``: the resolved config (what ``pnn-jax resume`` reads back);
* ``metrics.jsonl``: one JSON object per logging step (``step``, ``wall_time``, ``steps_per_s``, ...);
* ``tb/``: TensorBoard event files with the same scalars;
* ``checkpoints/``: orbax checkpoints (:mod:`pnn_jax.checkpoint`);
* ``figures/``: PNG and PDF figures;
* ``summary.json``: final metrics, wall time, SHA-256 of the final parameters and of every frozen
  column;
* ``run.log``: every line the run printed.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
import time
import uuid
from pathlib import Path
from typing import Any, TextIO

from tensorboardX import SummaryWriter
from tqdm import tqdm

from pnn_jax.config import ConfigError

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.jsonl"
RUNS_FILE = "runs.jsonl"  # the run's records, one line per run and condition (pnn_jax.tables reads them)
SUMMARY_FILE = "summary.json"
LOG_FILE = "run.log"


def new_run_dir(root: str | Path, experiment: str) -> Path:
    """Create ``<root>/<experiment>/<date>_<time>_<id>/`` (and its subfolders)."""
    stamp = dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    path = Path(root) / experiment / f"{stamp}_{uuid.uuid4().hex[:6]}"
    try:
        return prepare_run_dir(path)
    except OSError as e:
        raise ConfigError(f"out_dir={str(root)!r} is not writable ({e.strerror}); choose another") from None


def prepare_run_dir(path: Path) -> Path:
    """Make ``path`` a run directory (its subfolders); it may exist already (a sweep's job)."""
    for sub in ("checkpoints", "figures", "tb"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


def check_run_dir(path: str | Path) -> Path:
    """``path`` as a run directory, or a :class:`ConfigError` saying why it is not one."""
    path = Path(path)
    if not path.is_dir():
        raise ConfigError(f"run directory {str(path)!r} does not exist")
    missing = [n for n in (CONFIG_FILE, "checkpoints") if not (path / n).exists()]
    if missing:
        raise ConfigError(
            f"{str(path)!r} is not a run directory (no {' or '.join(missing)}); "
            "pass a folder made by `pnn-jax run`, e.g. runs/pnn_digits/<date>_<time>_<id>"
        )
    return path


class RunLog:
    """Metrics (JSONL and TensorBoard), the log file, and progress output of one run.

    On a terminal, progress is a bar with rate and ETA and per-step lines go to ``run.log`` only;
    elsewhere (CI, files) every line is printed, with rate and ETA appended.
    """

    def __init__(
        self,
        path: Path,
        total_steps: int,
        *,
        start_step: int = 0,
        stream: TextIO | None = None,
        quiet: bool = False,
        unit: str = "steps",
        resume: bool = False,
    ):
        self.path = path
        self.total = total_steps
        self.stream = stream or sys.stdout
        self.quiet = quiet
        self.unit = unit
        if start_step > 0 or resume:
            _truncate_metrics(path / METRICS_FILE, start_step)
        self._metrics = (path / METRICS_FILE).open("a")
        self._log = (path / LOG_FILE).open("a")
        self._tb = SummaryWriter(str(path / "tb"))
        self._t0 = time.perf_counter()
        self._t_last, self._step_last = self._t0, start_step
        self._start = start_step
        self._bar = None
        if not quiet and self.stream.isatty():
            self._bar = tqdm(total=total_steps, initial=start_step, unit=self.unit[:-1], file=self.stream)

    def info(self, line: str, *, echo: bool = True) -> None:
        """A line for the log file, and for the screen unless ``echo`` is False."""
        self._log.write(line + "\n")
        self._log.flush()
        if echo and not self.quiet:
            if self._bar is not None:
                self._bar.write(line, file=self.stream)
            else:
                print(line, file=self.stream, flush=True)

    def advance(self, step: int, metrics: dict[str, Any], line: str) -> None:
        """Record the metrics at global ``step`` and report progress with ``line``."""
        now = time.perf_counter()
        rate = (step - self._step_last) / max(now - self._t_last, 1e-9)
        self._t_last, self._step_last = now, step
        record = {"step": step, "wall_time": time.time(), "steps_per_s": round(rate, 3)}
        record.update({k: _jsonable(v) for k, v in metrics.items()})
        self._metrics.write(json.dumps(record) + "\n")
        self._metrics.flush()
        for k, v in record.items():
            if k not in ("step", "wall_time") and isinstance(v, int | float):
                self._tb.add_scalar(k, v, step)
        done = step - self._start
        eta = (self.total - step) * (now - self._t0) / done if done > 0 else math.nan
        if self._bar is not None:
            self._bar.update(step - self._bar.n)
            self.info(line, echo=False)
        else:
            pace = (
                f"{rate:.0f} {self.unit}/s"
                if rate >= 1
                else f"{1 / max(rate, 1e-9):.1f} s per {self.unit[:-1]}"
            )
            self.info(f"{line} [{pace}, ETA {eta:.0f} s]")

    def record(
        self,
        record: dict[str, Any],
        scalars: dict[str, float],
        tb_step: int,
        points: dict[tuple[str, int], float] | None = None,
    ) -> None:
        """Append ``record`` to ``metrics.jsonl`` (with ``wall_time``) and write ``scalars`` to
        TensorBoard at ``tb_step``, and ``points`` (``{(tag, step): value}``) at their own steps;
        non-finite values are left out of TensorBoard (JSON gets null)."""
        record = {**record, "wall_time": time.time()}
        self._metrics.write(json.dumps({k: _jsonable(v) for k, v in record.items()}) + "\n")
        self._metrics.flush()
        for tag, v in scalars.items():
            if v is not None and math.isfinite(v):
                self._tb.add_scalar(tag, v, tb_step)
        for (tag, step), v in (points or {}).items():
            if v is not None and math.isfinite(v):
                self._tb.add_scalar(tag, v, step)
        self._tb.flush()

    def progress(self, line: str) -> None:
        """A progress line: the bar's text on a terminal, a printed (and logged) line elsewhere."""
        if self._bar is not None:
            self._bar.set_postfix_str(line.strip(), refresh=True)
            self._log.write(line + "\n")
            self._log.flush()
        else:
            self.info(line)

    def drop_chunks(self, unit: int, after: int) -> None:
        """Forget the chunk records of ``unit`` past position ``after`` (redone after a resume)."""
        self._metrics.close()
        file = self.path / METRICS_FILE

        def keep(rec: dict) -> bool:
            return not (rec.get("kind") == "chunk" and rec.get("unit") == unit and rec["position"] > after)

        write_atomic(file, "".join(json.dumps(r) + "\n" for r in read_jsonl(file) if keep(r)))
        self._metrics = file.open("a")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._tb.close()
        self._metrics.close()
        self._log.close()


def read_metrics(path: Path) -> list[dict]:
    """The records of ``metrics.jsonl`` (empty if there is none)."""
    return read_jsonl(path / METRICS_FILE)


def read_jsonl(file: Path) -> list[dict]:
    """The records of an appended JSONL file (empty if there is none). A last line without its
    newline is a write torn by a kill: it is dropped (the run redoes that step after a resume)."""
    if not file.exists():
        return []
    text = file.read_text()
    lines = text.splitlines()
    if lines and not text.endswith("\n"):
        lines = lines[:-1]
    return [json.loads(line) for line in lines if line.strip()]


def write_atomic(file: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``file`` and rename it over ``file``: a kill at
    any moment leaves either the old content or the new one, never a truncated file."""
    tmp = file.with_name(file.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(file)


def write_summary(path: Path, summary: dict) -> None:
    """``summary.json`` (written atomically)."""
    write_atomic(path / SUMMARY_FILE, json.dumps(summary, indent=2, default=_jsonable))


def _truncate_metrics(file: Path, last_step: int) -> None:
    """Drop records logged after ``last_step`` (they are redone after a resume), and a line torn
    by the kill."""
    if file.exists():
        write_atomic(file, "".join(json.dumps(r) + "\n" for r in read_jsonl(file) if r["step"] <= last_step))


def _jsonable(v):
    if hasattr(v, "item"):
        return v.item()
    return v
