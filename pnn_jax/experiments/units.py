"""Resumable execution of an experiment in units of work, with one JSONL record per run.

Used by the PathNet studies and the RL transfer experiments: a unit is, e.g., a chunk of
repetitions, a digit pair, or one (method, seed) of a transfer study. A unit is a function
``work(ctx) -> list of run records``; ``ctx`` (:class:`UnitContext`) lets a long unit report
progress per chunk, checkpoint inside itself and notice a stop request (SIGTERM).
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from pnn_jax.checkpoint import Checkpointer
from pnn_jax.rundir import RUNS_FILE, RunLog, write_atomic

UNIT_CHECKPOINTS = "unit_checkpoints"


class NonFiniteError(RuntimeError):
    """A loss or parameter became NaN or infinite; the unit stopped at a chunk boundary."""


class Preempted(RuntimeError):
    """A stop request (SIGTERM) arrived; the unit saved a checkpoint at its current iteration."""


class UnitContext:
    """What a running unit can do besides returning its records.

    * :meth:`report`: one metrics record per chunk (``metrics.jsonl`` and TensorBoard, tags
      ``u<unit>/<stage>/<name>`` against the stage's agent steps) and the progress line.
    * :meth:`save` / :meth:`restore`: checkpoints inside the unit (``unit_checkpoints/``, orbax);
      ``restore`` returns the newest one of this unit, or None.
    * :attr:`stop_requested`: True once SIGTERM arrived; the unit saves and raises
      :class:`Preempted` at its next chunk boundary (:meth:`boundary` does both).
    * :meth:`check_finite`: raise :class:`NonFiniteError` naming the quantity.
    """

    def __init__(
        self, run_dir: Path, experiment: str, index: int, total: int, label: str, log, stop, keep: int = 2
    ):
        self.run_dir = run_dir
        self.keep = keep
        self.experiment = experiment
        self.index = index
        self.total = total
        self.label = label
        self.log = log
        self._stop = stop
        self._ckpt = None
        self._last_print = -float("inf")
        self.print_every = 10.0
        """Seconds between progress lines when the output is not a terminal."""

    # -- progress ------------------------------------------------------------------------------
    def _chunk(self, position: int) -> dict:
        """What every chunk record starts with (:meth:`pnn_jax.rundir.RunLog.drop_chunks` reads it)."""
        return {
            "kind": "chunk",
            "step": self.index,  # units done before this one (resume keeps records up to it)
            "unit": self.index,
            "position": int(position),
            "unit_label": self.label,
        }

    def report(
        self,
        stage: str,
        *,
        position: int,
        iteration: int,
        iterations: int,
        agent_steps: int,
        sps: float,
        metrics: dict[str, float],
        curve_points: list[tuple[int, float]] = (),
        window_return: float | None = None,
        eta: float = float("nan"),
    ) -> None:
        """Record one chunk of ``stage`` at ``position`` (as in :meth:`save`): ``iteration`` of
        ``iterations`` done, ``agent_steps`` so
        far in the stage, ``metrics`` (losses, entropy, the chunk's episodes and mean return),
        ``curve_points`` that completed in the chunk as ``(agent steps at the window's end,
        point)``, ``window_return`` the latest curve point and ``eta`` the stage's seconds left (for
        the progress line)."""
        record = {
            **self._chunk(position),
            "stage": stage,
            "iteration": int(iteration),
            "iterations": int(iterations),
            "agent_steps": int(agent_steps),
            "sps": round(float(sps), 1),
            **{k: _finite_or_none(v) for k, v in metrics.items()},
            "curve_points": [[int(s), _finite_or_none(v)] for s, v in curve_points],
        }
        prefix = f"u{self.index}/{stage}"
        scalars = {f"{prefix}/{k}": v for k, v in record.items() if k in metrics or k == "sps"}
        curve = {(f"{prefix}/curve", s): v for s, v in curve_points}
        self.log.record(record, scalars, int(agent_steps), curve)
        ret = "-" if window_return is None or window_return != window_return else f"{window_return:.1f}"
        line = (
            f"  unit {self.index + 1}/{self.total} {self.label}, {stage}: iteration {iteration:,}/"
            f"{iterations:,}, {agent_steps:,} agent steps, {sps:,.0f} SPS, window return {ret}, "
            f"stage ETA {eta:.0f} s"
        )
        now = time.perf_counter()
        force = iteration >= iterations
        if force or now - self._last_print >= self.print_every:
            self._last_print = now
            self.log.progress(line)

    def metrics(self, position: int, values: dict[str, Any], line: str) -> None:
        """Record one chunk of a unit that is not an RL stage (``metrics.jsonl`` and TensorBoard,
        tags ``u<unit>/<name>`` against ``position``, as in :meth:`save`) and print ``line``."""
        record = {**self._chunk(position), **jsonable(values)}
        scalars = {f"u{self.index}/{k}": v for k, v in values.items() if isinstance(v, int | float)}
        self.log.record(record, scalars, int(position))
        self.log.progress(line)

    # -- checkpoints inside the unit -----------------------------------------------------------
    def _checkpointer(self):
        if self._ckpt is None:
            self._ckpt = Checkpointer(self.run_dir / UNIT_CHECKPOINTS, max_to_keep=self.keep)
        return self._ckpt

    def save(self, position: int, state: Any, meta: dict) -> None:
        """Checkpoint ``state`` (a pytree of arrays) and ``meta`` (JSON) at ``position``, a number
        that grows through the unit (e.g. iterations done over all its stages)."""
        self._checkpointer().save(
            self.index * 10**12 + int(position), state, {**jsonable(meta), "unit": self.index}
        )

    def restore(
        self, template_for: Callable[[dict], Any], verify: Callable[[Any, dict], None] | None = None
    ) -> tuple[Any, dict] | None:
        """``(state, meta)`` of this unit's newest readable checkpoint, or None (start the unit
        afresh); ``verify(state, meta)`` may raise :class:`~pnn_jax.checkpoint.CheckpointError`
        (:meth:`pnn_jax.checkpoint.Checkpointer.restore_latest`)."""
        ckpt = self._checkpointer()
        mine = [s for s in ckpt.steps() if s // 10**12 == self.index]
        if not mine:
            self.log.drop_chunks(self.index, after=-1)  # records of an earlier, lost attempt
            return None
        _, state, meta = ckpt.restore_latest(template_for, verify)
        if meta.get("unit") != self.index:
            self.log.drop_chunks(self.index, after=-1)
            return None
        self.log.drop_chunks(self.index, after=int(meta["position"]))
        self.log.info(
            f"  unit {self.index + 1}/{self.total} {self.label}: resumed inside the unit ({_where(meta)})"
        )
        return state, meta

    @property
    def stop_requested(self) -> bool:
        return self._stop()

    def boundary(self, position: int, state_fn: Callable[[], tuple[Any, dict]], due: bool) -> bool:
        """At a chunk boundary: write a checkpoint at ``position`` if ``due`` (the caller's
        ``checkpoint.every``) or if a stop was requested, and then raise :class:`Preempted`.
        ``state_fn() -> (state, meta)`` is called only when a checkpoint is written. Returns
        whether one was written."""
        stop = self.stop_requested
        if not (stop or due):
            return False
        state, meta = state_fn()
        self.save(position, state, {**meta, "position": int(position)})
        self._checkpointer().wait()
        if stop:
            raise Preempted(
                f"{self.experiment}: stopped by SIGTERM in unit {self.index + 1}/{self.total} "
                f"({self.label}) at {_where(meta)}; checkpoint saved; continue with pnn-jax resume "
                f"{self.run_dir}"
            )
        return True

    def check_finite(self, where: str, **quantities) -> None:
        """Raise :class:`NonFiniteError` if any of ``quantities`` (arrays or pytrees) holds a
        NaN or an infinity; ``where`` names the position (stage, iteration). The test runs where
        the arrays live (one compiled reduction per quantity); only its boolean is read back."""
        for name, value in quantities.items():
            if not bool(_all_finite(value)):
                raise NonFiniteError(
                    f"{self.experiment}: unit {self.index + 1}/{self.total} ({self.label}), {where}: "
                    f"{name} is not finite; the last good checkpoint is kept"
                )

    def close(self) -> None:
        if self._ckpt is not None:
            self._ckpt.close()
            self._ckpt = None


def _all_finite_impl(tree):

    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)


_all_finite_jit = None


def _all_finite(tree):
    """Whether every entry of ``tree`` is finite, as a device scalar (compiled once per structure)."""
    global _all_finite_jit
    if _all_finite_jit is None:
        _all_finite_jit = jax.jit(_all_finite_impl)
    return _all_finite_jit(tree)


def _where(meta: dict) -> str:
    return f"stage {meta.get('stage', '?')}, iteration {meta.get('iteration', '?')}"


def _finite_or_none(v):
    v = float(v)
    return v if np.isfinite(v) else None


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


def run_units(
    run_dir: Path,
    units: list[tuple[str, Any]],
    *,
    resume: bool,
    quiet: bool,
    header: list[str],
    keep: int = 2,
    unit_keep: int = 2,
    experiment: str = "",
) -> tuple[list[dict], float]:
    """Run ``units`` (``(label, fn)``, ``fn(ctx) -> list of run records``) in order, resumably.

    After each unit a checkpoint (orbax) holds every record so far; ``resume=True`` restores the
    newest readable one and runs only the units not yet done; a unit that checkpoints inside
    itself (:class:`UnitContext`) continues from its own newest checkpoint. Every record is also
    written to ``runs.jsonl`` (one line per run and condition, rewritten after each unit).
    SIGTERM (sent by SLURM before preemption) is turned into a stop request that units see at
    their next chunk boundary. Returns ``(records, seconds)``.
    """
    t0 = time.perf_counter()
    ckpt = Checkpointer(run_dir / "checkpoints", max_to_keep=keep)
    records: list[dict] = []
    done = 0
    step = None
    if resume and ckpt.steps():  # else killed inside the first unit: it resumes from its own checkpoint
        template = {"units_done": np.zeros((), np.int32)}
        step, _, meta = ckpt.restore_latest(lambda meta: template)
        records, done = list(meta["records"]), int(meta["units_done"])
    log = RunLog(run_dir, len(units), start_step=done, quiet=quiet, unit="units", resume=resume)
    if resume and step is None:
        log.info(
            "resumed: no finalised checkpoint of a finished unit, so the run starts from its first unit "
            "(which continues from its own newest checkpoint if it wrote one)"
        )
    elif resume:
        log.info(f"resumed after unit {done}/{len(units)} (checkpoint {step})")
    else:
        for line in header:
            log.info(line)
    stop = {"requested": False}
    with _sigterm_requests_stop(stop):
        for i in range(done, len(units)):
            label, fn = units[i]
            t_unit = time.perf_counter()
            ctx = UnitContext(
                run_dir, experiment, i, len(units), label, log, lambda: stop["requested"], unit_keep
            )
            try:
                new = [jsonable(r) for r in fn(ctx)]
            except BaseException:
                ctx.close()
                ckpt.close()
                log.close()
                raise
            ctx.close()
            records += new
            seconds = time.perf_counter() - t_unit
            log.advance(
                i + 1,
                {"unit": label, "runs": len(new), "unit_seconds": round(seconds, 3)},
                f"  unit {i + 1}/{len(units)}, {label}: {len(new)} run record(s)",
            )
            _write_jsonl(run_dir / RUNS_FILE, records)
            ckpt.save(
                i + 1,
                {"units_done": np.asarray(i + 1, np.int32)},
                {"units_done": i + 1, "records": records},
            )
            if stop["requested"]:  # between units: the unit checkpoint just written is the place
                ckpt.close()
                log.close()
                raise Preempted(
                    f"{experiment}: stopped by SIGTERM after unit {i + 1}/{len(units)}; checkpoint saved; "
                    f"continue with pnn-jax resume {run_dir}"
                )
    ckpt.close()
    log.close()
    return records, time.perf_counter() - t0


class _sigterm_requests_stop:
    """Inside the block, SIGTERM sets ``flag["requested"]`` instead of killing the process
    (main thread only; elsewhere the default handling stays)."""

    def __init__(self, flag: dict):
        self.flag = flag
        self.previous = None

    def __enter__(self):

        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum, frame):
        self.flag["requested"] = True

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)
        return False


def _write_jsonl(path: Path, records: list[dict]) -> None:
    write_atomic(path, "".join(json.dumps(r) + "\n" for r in records))


def num(value) -> float:
    """A stored number; NaN (e.g. no finished episode yet) comes back from JSON as None."""
    return float("nan") if value is None else float(value)


def mean_std(values) -> tuple[float, float]:
    a = np.asarray([num(v) for v in values], float)
    return (float(a.mean()), float(a.std())) if a.size else (float("nan"), float("nan"))


def fmt_ms(values, digits: int = 1) -> str:
    """``"mean ± std"`` of ``values`` (``"-"`` when there are none)."""
    if not np.asarray(values).size:
        return "-"
    m, s = mean_std(values)
    return f"{m:.{digits}f} ± {s:.{digits}f}"
