"""The supervised PNN protocol (``pnn_digits``): a two-task progressive net against the paper's
baselines (docs/papers.md 1.3), on scikit-learn's digits.

Task A (default digits 0-4) is the source, task B (5-9) the target. Each method of
``progressive`` family (:mod:`pnn_jax.methods`) is a unit of the runner: it trains the plan's stages for every
population member at once and records, per member, on held-out digits: task-A accuracy before and
after learning B, task-B accuracy, and whether the column that answers task A is bit-identical
after B (it is for progressive nets; fine-tuning forgets). The table is
:func:`pnn_jax.tables.pnn_supervised.pnn_digits_table`.

Training advances in chunks of ``train.log_every`` steps (one compiled ``lax.scan`` each); a
checkpoint inside the unit holds the position (stage, steps done), the PRNG keys, the training
state and task A's result, so a resumed run repeats exactly the chunks the killed one would have
run and ends with the same parameters, bit for bit, on the same machine. A restored checkpoint
whose frozen columns do not match their recorded SHA-256 is an error.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import time

import jax
import jax.numpy as jnp
import numpy as np

from pnn_jax import methods
from pnn_jax.checkpoint import CheckpointError
from pnn_jax.experiments.pnn_supervised.method import (
    Method,
    held_out_accuracies,
    load_checkpoint,
    result_rows,
    setup,
    split_keys,
    task_a_result,
)
from pnn_jax.experiments.pnn_supervised.schema import Config, members, validate
from pnn_jax.experiments.runner import Plan, Protocol
from pnn_jax.experiments.units import UnitContext
from pnn_jax.tables.records import PNN_DIGITS

__all__ = ["Config", "PnnDigits", "load_checkpoint"]


class PnnDigits(Protocol):
    """A unit per method (all population members vmapped); a record per (method, member)."""

    Config = Config
    records = PNN_DIGITS
    table = "pnn_digits"

    def validate(self, cfg: Config) -> None:
        validate(cfg)

    def plan(self, cfg: Config) -> Plan:
        task_a, task_b, data, population, method = setup(cfg)
        stages = [len(method(i).plan.stages) for i in range(len(cfg.methods))]
        before = [cfg.train.steps * sum(stages[:i]) for i in range(len(stages))]  # global steps
        units = [
            (f"method {m}", _MethodUnit(cfg, method(i), data, before[i])) for i, m in enumerate(cfg.methods)
        ]
        header = [
            f"{cfg.experiment} ({cfg.preset}): A = digits {cfg.task_a} ({len(task_a.y_train)} train / "
            f"{len(task_a.y_test)} test), B = digits {cfg.task_b} ({len(task_b.y_train)} / "
            f"{len(task_b.y_test)}); {cfg.train.steps} steps per column, batch {cfg.train.batch_size}, "
            f"{cfg.train.optimizer} lr {cfg.train.lr}; {len(population)} member(s) in one vmapped run",
        ]
        return Plan(units, header, unit_checkpoints=cfg.checkpoint.keep)

    def rows(self, cfg: Config, records: list[dict]) -> list[dict]:
        """The records without their checksums: one row per (method, member)."""
        return [{k: v for k, v in r.items() if not k.endswith("sha256")} for r in records]

    def extra(self, cfg: Config, records: list[dict]) -> dict:
        """The population, the global steps, and SHA-256 of the final parameters: per method and
        member every column (``column_sha256 [method][P][K]``), the columns frozen in the method's
        last stage (``frozen_column_sha256 {method: {"<member>:<column>": digest}}``), per method
        (``method_params_sha256``) and over the run (``params_sha256``)."""
        columns = {m: [r["column_sha256"] for r in records if r["method"] == m] for m in cfg.methods}
        per_method = {
            m: hashlib.sha256("".join(itertools.chain(*c)).encode()).hexdigest() for m, c in columns.items()
        }
        frozen = {
            m: {
                f"{r['member']}:{k}": d
                for r in records
                if r["method"] == m
                for k, d in r["frozen_sha256"].items()
            }
            for m in cfg.methods
        }
        stages = sum(len(methods.get(m).plan(1, cfg.reset_heads).stages) for m in cfg.methods)
        return {
            "population": members(cfg),
            "params_sha256": hashlib.sha256("".join(per_method[m] for m in cfg.methods).encode()).hexdigest(),
            "method_params_sha256": per_method,
            "column_sha256": columns,
            "frozen_column_sha256": frozen,
            "global_steps": cfg.train.steps * stages,
        }


class _MethodUnit:
    """Method ``m``'s stages trained in chunks, checkpointing inside the unit; one record per member.

    A unit of the runner (``unit(ctx) -> records``). ``steps_before`` is the number of global steps
    the earlier methods take, so checkpoint boundaries fall on the run's global step count.
    """

    def __init__(self, cfg: Config, m: Method, data, steps_before: int):
        self.cfg, self.m, self.data, self.steps_before = cfg, m, data, steps_before
        self.steps = cfg.train.steps

    def verify(self, state, meta) -> None:
        """A restored checkpoint's frozen columns must match the checksums recorded with it."""
        got = self.m.frozen_checksums(state["train"])
        for col, digest in meta["frozen_sha256"].items():
            if got.get(col) != digest:
                member, _, k = col.partition(":")
                raise CheckpointError(
                    f"frozen column {k} of {self.m.name} (member {member}) does not match its checksum "
                    f"in the checkpoint ({got.get(col)} != {digest}); the checkpoint is corrupt"
                )

    def __call__(self, ctx: UnitContext) -> list[dict]:
        t0 = time.perf_counter()
        first, done = self._restore_or_init(ctx)
        self.t_chunk = time.perf_counter()
        for si in range(first, len(self.m.plan.stages)):
            stage = self.m.plan.stages[si]
            if done is None:  # a fresh stage
                self.keys, stage_keys = split_keys(self.keys)
                self.states = self.m.stage_states(self.params, stage, stage_keys)
                done = 0
            while done < self.steps:
                done = self._chunk(ctx, si, stage, done)
            self.params, done = self.states.params, None
        return self._records(time.perf_counter() - t0)

    def _restore_or_init(self, ctx: UnitContext) -> tuple[int, int | None]:
        """The newest checkpoint of this unit, else fresh parameters: (first stage, steps done in it)."""
        restored = ctx.restore(lambda meta: self.m.state_template(), self.verify)
        if restored is None:
            self.params, self.keys = self.m.init()
            self.a_before = self.a_checksum = None
            return 0, None
        state, meta = restored
        self.keys = jax.random.wrap_key_data(jnp.asarray(state["key"]))
        self.states = state["train"]
        self.a_before, self.a_checksum = meta["a_before"], meta["a_checksum"]
        return meta["stage_index"], meta["steps_done"]

    def _chunk(self, ctx: UnitContext, si: int, stage, done: int) -> int:
        """One compiled chunk of ``train.log_every`` steps, its metrics, and a checkpoint when due."""
        m, steps = self.m, self.steps
        n = min(self.cfg.train.log_every, steps - done)
        self.keys, chunk_keys = split_keys(self.keys)
        self.states, metrics = m.loop(self.states, self.data[stage.task][0], chunk_keys, num_steps=n)
        done += n
        position = si * steps + done
        self._log(ctx, si, stage, done, position, n, metrics)
        if done == steps and stage.task == "source0":  # the task boundary
            self.a_before, self.a_checksum = task_a_result(m, self.states.params, self.data, stage.column)
        every = self.cfg.checkpoint.every
        due = done == steps or bool(every and (self.steps_before + position) % every == 0)
        snapshot = functools.partial(
            self._snapshot, ctx.index, self.states, self.keys, si, done, self.a_before, self.a_checksum
        )
        ctx.boundary(position, snapshot, due)
        return done

    def _log(self, ctx: UnitContext, si: int, stage, done: int, position: int, n: int, metrics) -> None:
        """The chunk's metric record and progress line (held-out accuracies read back once a chunk)."""
        m, steps = self.m, self.steps
        acc = held_out_accuracies(m, self.states.params, self.data, si)
        loss, train_acc = float(jnp.mean(metrics["loss"])), float(jnp.mean(metrics["accuracy"]))
        now = time.perf_counter()
        rate, self.t_chunk = n / max(now - self.t_chunk, 1e-9), now
        ctx.metrics(
            position,
            {
                "global_step": self.steps_before + position,
                "method": m.name,
                "stage": si,
                "column": stage.column,
                "method_step": position,
                "steps_per_s": round(rate, 3),
                "loss": loss,
                "train_acc": train_acc,
                **{k: (None if v is None else float(np.mean(v))) for k, v in acc.items()},
            },
            f"  {m.name:<12} stage {si + 1}/{len(m.plan.stages)} ({stage.task}, column "
            f"{stage.column}, {stage.scope}) step {done:>5}/{steps}: loss {loss:.4f} "
            f"train acc {train_acc:.3f} [{rate:.0f} steps/s]",
        )

    def _snapshot(self, index, states, keys, si, done, a_before, a_checksum) -> tuple[dict, dict]:
        """The checkpoint at a chunk's end: (state tree, metadata)."""
        state = {"train": states, "key": jax.random.key_data(keys)}
        meta = {
            "method": self.m.name,
            "method_index": index,  # a unit per method, in order
            "stage": si,
            "iteration": done,
            "stage_index": si,
            "steps_done": done,
            "a_before": a_before,
            "a_checksum": a_checksum,
            "frozen_sha256": self.m.frozen_checksums(states),
        }
        return state, meta

    def _records(self, seconds: float) -> list[dict]:
        """One record per member: the results and the SHA-256 of every (and every frozen) column."""
        m, params = self.m, self.params
        rows = result_rows(m, params, self.data, self.a_before, self.a_checksum, seconds)
        sums = m.column_checksums(params)
        frozen = m.frozen_checksums(self.states)  # columns frozen in the method's last stage
        for p, row in enumerate(rows):
            row["column_sha256"] = sums[p]
            row["frozen_sha256"] = {
                k.split(":")[1]: d for k, d in frozen.items() if k.split(":")[0] == str(p)
            }
        return rows
