"""pnn_digits: a two-task progressive run on scikit-learn's digits, against the paper's baselines.

Task A (default digits 0-4) is the source, task B (5-9) the target. For each method of
:mod:`pnn_jax.train.transfer` the run trains the plan's stages and reports, on held-out test
digits: task-A accuracy before and after learning B, task-B accuracy, and whether the column that
answers task A is bit-identical after B (it is for progressive nets; fine-tuning forgets).

Run it with ``pnn-jax run experiment=pnn_digits [preset=smoke|quick|paper] [key=value ...]``.
Config keys: ``experiments/pnn_digits/config.yaml`` and :class:`Config`.

The run is resumable: training advances in chunks of ``train.log_every`` steps (one compiled
``lax.scan`` each); a checkpoint holds the position (method, stage, steps done), the PRNG key, the
training state and the results so far, so a resumed run repeats exactly the chunks the killed one
would have run and ends with the same parameters, bit for bit, on the same machine.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np

from pnn_jax.config import check, check_choice
from pnn_jax.nets import laterals
from pnn_jax.train import transfer
from pnn_jax.train.optim import OPTIMIZERS

NAME = "pnn_digits"
SUMMARY = "PNN transfer protocol (progressive vs. baselines 1-4) on digits 0-4 -> 5-9 (no paper numbers)"
PRESETS = {"smoke": "~15 s", "quick": "~20 s (default)", "paper": "~30 s"}


@dataclasses.dataclass
class ModelConfig:
    widths: list[int] = dataclasses.field(default_factory=lambda: [64, 64])
    """Hidden widths of each MLP column."""
    lateral: str = "adapter"
    """adapter (Eq. 2), plain (Eq. 1) or none."""
    head_laterals: bool = True
    """Whether the output layer receives laterals."""
    adapter_width: Any = "in"
    """Width of the adapter projection V: in (n_{i-1}), out (n_i) or an int."""
    alpha_init: float = 1.0
    """Initial adapter scale (the paper's grid: 1, 0.1, 0.01)."""
    adapter_v: str = "1x1"
    """Where an fc layer reads conv maps: V as a 1x1 conv (1x1) or dense on the flattened maps."""


@dataclasses.dataclass
class TrainConfig:
    steps: int = 1500
    """Optimisation steps per stage (per column)."""
    batch_size: int = 64
    optimizer: str = "adam"
    """adam, rmsprop (A3C's settings) or sgd."""
    lr: float = 1e-3
    grad_clip: float = 0.0
    """Global-norm gradient clipping; 0 disables it."""
    log_every: int = 500
    """Steps per chunk: one compiled scan, one metrics record (with held-out accuracies)."""


@dataclasses.dataclass
class CheckpointConfig:
    every: int = 500
    """Save every this many steps (a multiple of train.log_every); 0 = only at task boundaries."""
    keep: int = 3
    """How many of the newest checkpoints to keep."""


@dataclasses.dataclass
class Config:
    experiment: str = NAME
    preset: str = "quick"
    """smoke, quick or paper (the Hydra group experiments/pnn_digits/preset/)."""
    seed: int = 0
    task_a: list[int] = dataclasses.field(default_factory=lambda: [0, 1, 2, 3, 4])
    """Source task: digit classes."""
    task_b: list[int] = dataclasses.field(default_factory=lambda: [5, 6, 7, 8, 9])
    """Target task: digit classes."""
    test_fraction: float = 0.3
    """Held-out fraction of each task (stratified, fixed by seed)."""
    methods: list[str] = dataclasses.field(
        default_factory=lambda: ["progressive", "baseline1", "baseline2", "baseline3", "baseline4"]
    )
    reset_heads: bool = False
    """Baselines 2 and 3: re-initialise the output layer before the target stage."""
    out_dir: str = "runs"
    """Root of run directories: <out_dir>/pnn_digits/<date>_<time>_<id>/."""
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    checkpoint: CheckpointConfig = dataclasses.field(default_factory=CheckpointConfig)


def make_tasks(cfg: Config):
    """Tasks A and B (class subsets of the digits with the configured split)."""
    from pnn_jax.data import class_task, load_digits

    x, y = load_digits()
    return (
        class_task(x, y, cfg.task_a, test_fraction=cfg.test_fraction, seed=cfg.seed, name="A"),
        class_task(x, y, cfg.task_b, test_fraction=cfg.test_fraction, seed=cfg.seed, name="B"),
    )


def validate(cfg: Config) -> None:
    """Raise :class:`ConfigError` (one line) for any bad value; nothing is compiled before this.

    Includes the checks that need the data (batch size against the training sets); the digits
    load in milliseconds.
    """
    _validate_values(cfg)
    task_a, task_b = make_tasks(cfg)
    num_train = min(len(task_a.y_train), len(task_b.y_train))
    check(
        cfg.train.batch_size <= num_train,
        "train.batch_size",
        cfg.train.batch_size,
        f"at most the smallest task's training set ({num_train} examples)",
    )


def _validate_values(cfg: Config) -> None:
    check_choice("preset", cfg.preset, PRESETS)
    for key in ("task_a", "task_b"):
        classes = getattr(cfg, key)
        check(len(classes) >= 2, key, classes, "a task needs at least 2 digit classes")
        check(all(0 <= c <= 9 for c in classes), key, classes, "digit classes are 0..9")
        check(len(set(classes)) == len(classes), key, classes, "classes must be distinct")
    check(0.0 < cfg.test_fraction < 1.0, "test_fraction", cfg.test_fraction, "a number in (0, 1)")
    check(len(cfg.methods) > 0, "methods", cfg.methods, f"a non-empty list from {transfer.METHODS}")
    for m in cfg.methods:
        check_choice("methods", m, transfer.METHODS)
    check(len(set(cfg.methods)) == len(cfg.methods), "methods", cfg.methods, "each method at most once")
    m = cfg.model
    check(
        len(m.widths) > 0 and all(w > 0 for w in m.widths),
        "model.widths",
        m.widths,
        "a non-empty list of positive ints",
    )
    check_choice("model.lateral", m.lateral, laterals.LATERAL_KINDS)
    check(
        m.adapter_width in ("in", "out")
        or (
            isinstance(m.adapter_width, int) and not isinstance(m.adapter_width, bool) and m.adapter_width > 0
        ),
        "model.adapter_width",
        m.adapter_width,
        "in, out or a positive int",
    )
    check_choice("model.adapter_v", m.adapter_v, laterals.ADAPTER_V)
    check(m.alpha_init > 0, "model.alpha_init", m.alpha_init, "a positive number (paper: 1, 0.1, 0.01)")
    t = cfg.train
    check(t.steps > 0, "train.steps", t.steps, "a positive int")
    check(t.batch_size > 0, "train.batch_size", t.batch_size, "a positive int")
    check(t.lr > 0, "train.lr", t.lr, "a positive learning rate")
    check(t.grad_clip >= 0, "train.grad_clip", t.grad_clip, "0 (off) or a positive norm")
    check_choice("train.optimizer", t.optimizer, OPTIMIZERS)
    check(t.log_every > 0, "train.log_every", t.log_every, "a positive int")
    c = cfg.checkpoint
    check(
        c.every >= 0 and c.every % t.log_every == 0,
        "checkpoint.every",
        c.every,
        f"0 or a multiple of train.log_every ({t.log_every}): checkpoints fall between chunks",
    )
    check(c.keep >= 1, "checkpoint.keep", c.keep, "at least 1")


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def results_table(rows: list[dict]) -> str:
    """Markdown table of the per-method results."""
    lines = [
        "| method | columns | A before B | A after B | forgetting | B | A column unchanged | time (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        forget = None if r["a_before"] is None else r["a_before"] - r["a_after"]
        same = "-" if r["a_column_unchanged"] is None else ("yes" if r["a_column_unchanged"] else "no")
        lines.append(
            f"| {r['method']} | {r['columns']} | {_fmt(r['a_before'])} | {_fmt(r['a_after'])} | "
            f"{'-' if forget is None else f'{100 * forget:+.1f} pts'} | {_fmt(r['b'])} | {same} | "
            f"{r['seconds']:.1f} |"
        )
    return "\n".join(lines)


class _Method:
    """Everything one method needs: its plan, net and compiled functions."""

    def __init__(self, cfg: Config, method: str, column, tx, loss_fn):
        from pnn_jax.nets.progressive import ProgressiveNet
        from pnn_jax.train import progressive as ptrain

        self.name = method
        self.plan = transfer.transfer_plan(method, num_sources=1, reset_heads=cfg.reset_heads)
        self.net = ProgressiveNet(
            column,
            self.plan.max_columns,
            lateral=cfg.model.lateral,
            head_laterals=cfg.model.head_laterals,
            adapter_width=cfg.model.adapter_width,
            alpha_init=cfg.model.alpha_init,
            adapter_v=cfg.model.adapter_v,
        )
        self.tx = tx
        self.loop = ptrain.make_train_loop(self.net, tx, loss_fn, cfg.train.batch_size)
        self.evaluate = ptrain.make_evaluate(self.net, "logits")

    def state_template(self):
        """The structure of this method's checkpointed state (values are placeholders)."""
        import jax

        from pnn_jax.train import progressive as ptrain

        train = ptrain.init_state(self.net, self.net.init(jax.random.key(0)), self.tx, 0)
        return {"train": train, "key": jax.random.key_data(jax.random.key(0))}

    def frozen_checksums(self, train_state) -> dict[str, str]:
        """SHA-256 of every column that is entirely frozen in ``train_state``."""
        import jax

        trainable = jax.tree.leaves(jax.tree.map(lambda m: np.asarray(m), train_state.trainable))
        sums = self.net.column_checksums(train_state.params)
        return {
            str(k): sums[k]
            for k in range(self.net.max_columns)
            if not any(bool(np.asarray(m)[k].any()) for m in trainable)
        }


def run(cfg: Config, run_dir: Path, *, resume: bool = False, quiet: bool = False) -> dict:
    """Run (or resume) every method of ``cfg`` in ``run_dir``.

    Returns the summary: ``{"rows": [...], "table": str, "params_sha256": str, ...}``, also written
    to ``summary.json``; figures go to ``figures/``.
    """
    import jax
    import jax.numpy as jnp

    from pnn_jax import plots
    from pnn_jax.checkpoint import Checkpointer, CheckpointError
    from pnn_jax.nets.columns import mlp_column
    from pnn_jax.rundir import RunLog, read_metrics, write_summary
    from pnn_jax.train import progressive as ptrain
    from pnn_jax.train.optim import make_optimizer

    t_start = time.perf_counter()
    validate(cfg)
    task_a, task_b = make_tasks(cfg)
    data = {
        k: ((jnp.asarray(t.x_train), jnp.asarray(t.y_train)), (jnp.asarray(t.x_test), jnp.asarray(t.y_test)))
        for k, t in {"source0": task_a, "target": task_b}.items()
    }
    column = mlp_column(
        task_a.x_train.shape[1], cfg.model.widths, {"logits": max(task_a.num_classes, task_b.num_classes)}
    )
    tx = make_optimizer(cfg.train.optimizer, cfg.train.lr, cfg.train.grad_clip or None)
    loss_fn = ptrain.classification_loss("logits")
    steps = cfg.train.steps
    plans = [transfer.transfer_plan(m, 1, cfg.reset_heads) for m in cfg.methods]
    total_steps = steps * sum(len(p.stages) for p in plans)
    methods: dict[int, _Method] = {}

    def method(i: int) -> _Method:
        if i not in methods:
            methods[i] = _Method(cfg, cfg.methods[i], column, tx, loss_fn)
        return methods[i]

    def verify(state, meta):
        got = method(meta["method_index"]).frozen_checksums(state["train"])
        for col, digest in meta["frozen_sha256"].items():
            if got.get(col) != digest:
                raise CheckpointError(
                    f"frozen column {col} of {meta['method']} does not match its checksum in the "
                    f"checkpoint ({got.get(col)} != {digest}); the checkpoint is corrupt"
                )

    ckpt = Checkpointer(run_dir / "checkpoints", max_to_keep=cfg.checkpoint.keep)
    pos = {"method_index": 0, "stage_index": 0, "steps_done": 0, "global_step": 0, "rows": []}
    restored = None
    if resume:
        ckpt_step, restored, pos = ckpt.restore_latest(
            lambda meta: method(meta["method_index"]).state_template(), verify
        )
    log = RunLog(run_dir, total_steps, start_step=pos["global_step"], quiet=quiet)
    if resume:
        log.info(
            f"resumed from checkpoint {ckpt_step}: {pos['method']} stage {pos['stage_index'] + 1}, "
            f"step {pos['steps_done']}/{steps} (global step {pos['global_step']}/{total_steps})"
        )
    else:
        log.info(
            f"pnn_digits ({cfg.preset}): A = digits {cfg.task_a} ({len(task_a.y_train)} train / "
            f"{len(task_a.y_test)} test), B = digits {cfg.task_b} ({len(task_b.y_train)} / "
            f"{len(task_b.y_test)}); {steps} steps per column, batch {cfg.train.batch_size}, "
            f"{cfg.train.optimizer} lr {cfg.train.lr}; jax {jax.__version__} on {jax.devices()[0].platform}"
        )
    rows: list[dict] = list(pos["rows"])
    global_step = pos["global_step"]
    final_params: dict[str, str] = dict(pos.get("params_sha256", {}))
    column_sums: dict[str, list[str]] = dict(pos.get("column_sha256", {}))

    for mi in range(pos["method_index"], len(cfg.methods)):
        m = method(mi)
        t0 = time.perf_counter()
        resuming = restored is not None and mi == pos["method_index"]
        if resuming:
            key = jax.random.wrap_key_data(jnp.asarray(restored["key"]))
            state = restored["train"]
            params = state.params
            first_stage, a_before, a_checksum = pos["stage_index"], pos["a_before"], pos["a_checksum"]
        else:
            key, init_key = jax.random.split(jax.random.key(cfg.seed))
            params = m.net.init(init_key)
            first_stage, a_before, a_checksum = 0, None, None
        for si in range(first_stage, len(m.plan.stages)):
            stage = m.plan.stages[si]
            if resuming and si == first_stage:
                done = pos["steps_done"]
            else:
                key, stage_key = jax.random.split(key)
                state = transfer.stage_state(m.net, params, tx, stage, stage_key)
                done = 0
            while done < steps:
                n = min(cfg.train.log_every, steps - done)
                key, chunk_key = jax.random.split(key)
                state, metrics = m.loop(state, data[stage.task][0], chunk_key, num_steps=n)
                done += n
                global_step += n
                acc = _test_accuracies(m, state.params, data, si)
                log.advance(
                    global_step,
                    {
                        "method": m.name,
                        "stage": si,
                        "column": stage.column,
                        "method_step": si * steps + done,
                        "loss": float(metrics["loss"]),
                        "train_acc": float(metrics["accuracy"]),
                        **acc,
                    },
                    f"  {m.name:<12} stage {si + 1}/{len(m.plan.stages)} ({stage.task}, column "
                    f"{stage.column}, {stage.scope}) step {done:>5}/{steps}: loss "
                    f"{float(metrics['loss']):.4f} train acc {float(metrics['accuracy']):.3f}",
                )
                if done == steps or (cfg.checkpoint.every and global_step % cfg.checkpoint.every == 0):
                    if done == steps and stage.task == "source0":  # the task boundary
                        a_before, a_checksum = _task_a_result(m, state.params, data, stage.column)
                    ckpt.save(
                        global_step,
                        {"train": state, "key": jax.random.key_data(key)},
                        {
                            "method_index": mi,
                            "method": m.name,
                            "stage_index": si,
                            "steps_done": done,
                            "global_step": global_step,
                            "rows": rows,
                            "a_before": a_before,
                            "a_checksum": a_checksum,
                            "frozen_sha256": m.frozen_checksums(state),
                            "params_sha256": final_params,
                            "column_sha256": column_sums,
                        },
                    )
            params = state.params
        rows.append(_result_row(m, params, data, a_before, a_checksum, time.perf_counter() - t0))
        sums = m.net.column_checksums(params)
        column_sums[m.name] = sums
        final_params[m.name] = hashlib.sha256("".join(sums).encode()).hexdigest()
    ckpt.close()

    table = results_table(rows)
    records = read_metrics(run_dir)
    figures = plots.transfer_curves(records, cfg.methods, run_dir / "figures" / "accuracy_curves")
    summary = {
        "experiment": NAME,
        "preset": cfg.preset,
        "rows": rows,
        "table": table,
        "params_sha256": hashlib.sha256("".join(final_params[m] for m in cfg.methods).encode()).hexdigest(),
        "method_params_sha256": final_params,
        "column_sha256": column_sums,
        "global_steps": global_step,
        "wall_time_s": time.perf_counter() - t_start,
        "resumed": resume,
        "figures": [str(p.relative_to(run_dir)) for p in figures],
    }
    write_summary(run_dir, summary)
    log.info("")
    log.info(table)
    log.info("")
    log.info(
        "Task A is answered by column 0 in every method; 'A column unchanged' compares its SHA-256 "
        f"before and after learning B. Total {summary['wall_time_s']:.1f} s."
    )
    log.close()
    return summary


def _test_accuracies(m: _Method, params, data, stage_index: int) -> dict[str, float | None]:
    """Held-out accuracy of the columns that answer A and B, once they have been trained."""
    out = {}
    for task, key in (("source0", "test_acc_a"), ("target", "test_acc_b")):
        trained = [i for i, s in enumerate(m.plan.stages[: stage_index + 1]) if s.task == task]
        if trained:
            xt, yt = data[task][1]
            out[key] = float(m.evaluate(params, xt, yt, m.plan.stages[trained[-1]].column))
        else:
            out[key] = None
    return out


def _task_a_result(m: _Method, params, data, column: int) -> tuple[float, str]:
    xa, ya = data["source0"][1]
    return float(m.evaluate(params, xa, ya, column)), m.net.column_checksums(params)[column]


def _result_row(m: _Method, params, data, a_before, a_checksum, seconds: float) -> dict:
    row = {
        "method": m.name,
        "columns": m.plan.max_columns,
        "a_before": a_before,
        "a_after": None,
        "a_column_unchanged": None,
    }
    if "source0" in m.plan.tasks:
        col_a = m.plan.column_for("source0")
        xa, ya = data["source0"][1]
        row["a_after"] = float(m.evaluate(params, xa, ya, col_a))
        row["a_column_unchanged"] = m.net.column_checksums(params)[col_a] == a_checksum
    xb, yb = data["target"][1]
    row["b"] = float(m.evaluate(params, xb, yb, m.plan.column_for("target")))
    row["seconds"] = seconds
    row["param_count"] = m.net.param_count()
    return row
