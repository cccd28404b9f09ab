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
        units = [(f"method {m}", _unit(cfg, method(i), data, before[i])) for i, m in enumerate(cfg.methods)]
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


def _unit(cfg: Config, m: Method, data, steps_before: int):
    """Train method ``m``'s stages in chunks, checkpointing inside the unit; one record per member."""
    steps = cfg.train.steps

    def verify(state, meta):
        got = m.frozen_checksums(state["train"])
        for col, digest in meta["frozen_sha256"].items():
            if got.get(col) != digest:
                member, _, k = col.partition(":")
                raise CheckpointError(
                    f"frozen column {k} of {m.name} (member {member}) does not match its checksum "
                    f"in the checkpoint ({got.get(col)} != {digest}); the checkpoint is corrupt"
                )

    def work(ctx: UnitContext) -> list[dict]:
        t0 = time.perf_counter()
        restored = ctx.restore(lambda meta: m.state_template(), verify)
        if restored is not None:
            state, meta = restored
            keys = jax.random.wrap_key_data(jnp.asarray(state["key"]))
            states = state["train"]
            first, done = meta["stage_index"], meta["steps_done"]
            a_before, a_checksum = meta["a_before"], meta["a_checksum"]
        else:
            params, keys = m.init()
            first, done, a_before, a_checksum = 0, None, None, None
        t_chunk = time.perf_counter()
        for si in range(first, len(m.plan.stages)):
            stage = m.plan.stages[si]
            if done is None:  # a fresh stage
                keys, stage_keys = split_keys(keys)
                states = m.stage_states(params, stage, stage_keys)
                done = 0
            while done < steps:
                n = min(cfg.train.log_every, steps - done)
                keys, chunk_keys = split_keys(keys)
                states, metrics = m.loop(states, data[stage.task][0], chunk_keys, num_steps=n)
                done += n
                position = si * steps + done
                acc = held_out_accuracies(m, states.params, data, si)
                loss, train_acc = float(jnp.mean(metrics["loss"])), float(jnp.mean(metrics["accuracy"]))
                now = time.perf_counter()
                rate, t_chunk = n / max(now - t_chunk, 1e-9), now
                ctx.metrics(
                    position,
                    {
                        "global_step": steps_before + position,
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
                if done == steps and stage.task == "source0":  # the task boundary
                    a_before, a_checksum = task_a_result(m, states.params, data, stage.column)
                every = cfg.checkpoint.every
                due = done == steps or bool(every and (steps_before + position) % every == 0)
                ctx.boundary(
                    position,
                    lambda st=states, k=keys, si=si, done=done, ab=a_before, ac=a_checksum: (
                        {"train": st, "key": jax.random.key_data(k)},
                        {
                            "method": m.name,
                            "method_index": ctx.index,  # a unit per method, in order
                            "stage": si,
                            "iteration": done,
                            "stage_index": si,
                            "steps_done": done,
                            "a_before": ab,
                            "a_checksum": ac,
                            "frozen_sha256": m.frozen_checksums(st),
                        },
                    ),
                    due,
                )
            params, done = states.params, None
        rows = result_rows(m, params, data, a_before, a_checksum, time.perf_counter() - t0)
        sums = m.column_checksums(params)
        frozen = m.frozen_checksums(states)  # columns frozen in the method's last stage
        for p, row in enumerate(rows):
            row["column_sha256"] = sums[p]
            row["frozen_sha256"] = {
                k.split(":")[1]: d for k, d in frozen.items() if k.split(":")[0] == str(p)
            }
        return rows

    return work
