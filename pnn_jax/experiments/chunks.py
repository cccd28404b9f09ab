"""A stage of RL training as compiled chunks, watched: progress, non-finite checks, checkpoints.

Every RL experiment (the PNN transfer runs, sequential or as one population, and the PathNet RL
runs) trains a stage by calling a compiled ``loop(state, actor) -> (state, actor, metrics)`` of
``chunk`` iterations until the stage's budget is spent. :func:`run_stage` does that and, after
every chunk (one host read of its metrics):

* hands the chunk's per-iteration metrics to the experiment's ``account`` (learning-curve
  accumulators), which returns what to report;
* stops the unit with :class:`~pnn_jax.experiments.units.NonFiniteError` if a loss or a parameter
  is NaN or infinite (before any checkpoint of that state is written, so the last good one stays);
* appends a metrics record (``metrics.jsonl``, TensorBoard) and updates the progress line;
* writes a checkpoint inside the unit every ``every`` iterations and on SIGTERM (then stops with
  :class:`~pnn_jax.experiments.units.Preempted`).

envpool's state cannot be saved: a resumed stage restarts its environments from a reset, seeded
by :func:`resume_seed`, so a resumed RL run is statistically, not bitwise, equal to an
uninterrupted one (the parameters, optimiser state, PRNG keys, counters and curve accumulators are
restored exactly).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from pnn_jax.train import population as pop


@dataclasses.dataclass
class Chunk:
    """What ``account`` returns for one chunk."""

    agent_steps: int
    """Agent steps in the chunk (all members together)."""
    metrics: dict[str, float]
    """Scalars to record (losses, entropy, episodes, mean return of the chunk's episodes, ...)."""
    curve_points: list[tuple[int, float]] = dataclasses.field(default_factory=list)
    """Learning-curve points that completed, as ``(agent steps at the window's end, value)``."""
    window_return: float | None = None
    """The latest curve point, for the progress line."""


def resume_seed(seed: int, position: int) -> int:
    """The env seed of a stage resumed at ``position``: a fresh stream per resume point, away
    from the seeds ``seed + j`` of the uninterrupted run's envs."""
    return int((seed * 1_000_003 + 7_919 * (position + 1)) % (2**31 - 1))


def run_stage(
    ctx,
    loop: Callable,
    state: Any,
    actor: Any,
    *,
    stage: str,
    iterations: int,
    chunk: int,
    done: int,
    position: int,
    every: int,
    agent_steps: int = 0,
    account: Callable[[dict[str, np.ndarray]], Chunk],
    finite: Callable[[Any, dict], dict[str, Any]],
    snapshot: Callable[[Any, Any, int], tuple[Any, dict]],
    finished: Callable[[int], bool] | None = None,
) -> tuple[Any, Any]:
    """Train ``stage`` from iteration ``done`` to ``iterations``; returns ``(state, actor)``.

    ``agent_steps``: the stage's agent steps before ``done`` (a resumed stage). ``position`` is
    the unit's position at iteration 0 of this stage (checkpoints and records
    are numbered ``position + iteration``). ``account(metrics)`` gets the chunk's per-iteration
    metrics as numpy (the last chunk's extra iterations cut off); ``finite(state, metrics)``
    names the quantities that must be finite; ``snapshot(state, actor, iteration)`` returns the
    ``(pytree, meta)`` a checkpoint holds.

    ``finished(done) -> bool`` ends the stage on another budget (the PathNet runs spend agent
    steps, not iterations); every chunk then counts whole and ``iterations`` is only the
    estimate the ETA uses.
    """
    since, first = 0, done
    t_stage, steps_done = time.perf_counter(), agent_steps
    by_iterations = finished is None
    if by_iterations:
        finished = lambda d: d >= iterations  # noqa: E731
    while not finished(done):
        t0 = time.perf_counter()
        state, actor, m = loop(state, actor)
        m = pop.to_host(m)
        take = min(chunk, iterations - done) if by_iterations else chunk
        m = {k: v[:take] for k, v in m.items()}
        done += take
        since += take
        ctx.check_finite(f"stage {stage}, iteration {done}", **finite(state, m))
        info = account(m)
        steps_done += info.agent_steps
        now = time.perf_counter()
        elapsed = now - t0
        eta = (iterations - done) * (now - t_stage) / (done - first) if iterations > done else 0.0
        ctx.report(
            stage,
            position=position + done,
            iteration=done,
            iterations=max(iterations, done),
            agent_steps=steps_done,
            sps=info.agent_steps / max(elapsed, 1e-9),
            metrics=info.metrics,
            curve_points=info.curve_points,
            window_return=info.window_return,
            eta=eta,
        )
        due = every > 0 and since >= every and not finished(done)
        if ctx.boundary(position + done, lambda s=state, a=actor, d=done: snapshot(s, a, d), due):
            since = 0
    ctx.log.info(
        f"  {stage}: {done:,} iterations, {steps_done:,} agent steps in "
        f"{time.perf_counter() - t_stage:.1f} s",
        echo=False,
    )
    return state, actor


def loss_metrics(m: dict[str, np.ndarray]) -> dict[str, float]:
    """Chunk means of the learner's losses and entropy (whichever the metrics hold)."""
    keys = ("policy_loss", "value_loss", "entropy", "clip_fraction")
    return {k: float(np.mean(m[k])) for k in keys if k in m}


def finite_losses_and(params_of: Callable[[Any], Any]) -> Callable[[Any, dict], dict[str, Any]]:
    """``finite`` for :func:`run_stage` of an RL stage: the update's policy and value losses and
    the trained parameters (``params_of(state)``) must stay finite."""

    def finite(state, m: dict) -> dict[str, Any]:
        return {
            "loss": {k: m[k] for k in ("policy_loss", "value_loss") if k in m},
            "parameters": params_of(state),
        }

    return finite
