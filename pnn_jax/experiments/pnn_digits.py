"""pnn_digits: a two-task progressive run on scikit-learn's digits, against the paper's baselines.

Task A (default digits 0-4) is the source, task B (5-9) the target. For each method of
:mod:`pnn_jax.train.transfer` the run trains the plan's stages and reports, on held-out test
digits: task-A accuracy before and after learning B, task-B accuracy, and whether the column that
answers task A is bit-identical after B (it is for progressive nets; fine-tuning forgets).

Run: ``python -m pnn_jax.experiments.pnn_digits [key=value ...]`` (``make run``). Config keys:
``experiments/pnn_digits/config.yaml`` and :class:`DigitsConfig`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from pnn_jax import config as cfglib
from pnn_jax.config import ConfigError, check, check_choice
from pnn_jax.nets import laterals
from pnn_jax.train import transfer
from pnn_jax.train.optim import OPTIMIZERS

NAME = "pnn_digits"
CONFIG_PATH = cfglib.EXPERIMENTS_DIR / NAME / "config.yaml"


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
    """Steps between progress lines (each chunk is one compiled scan)."""


@dataclasses.dataclass
class DigitsConfig:
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


def validate(cfg: DigitsConfig, num_train: int | None = None) -> None:
    """Raise :class:`ConfigError` (one line) for any bad value; nothing is compiled before this."""
    for key in ("task_a", "task_b"):
        classes = getattr(cfg, key)
        check(len(classes) >= 2, key, classes, "a task needs at least 2 digit classes")
        check(all(0 <= c <= 9 for c in classes), key, classes, "digit classes are 0..9")
        check(len(set(classes)) == len(classes), key, classes, "classes must be distinct")
    check(0.0 < cfg.test_fraction < 1.0, "test_fraction", cfg.test_fraction, "a number in (0, 1)")
    check(len(cfg.methods) > 0, "methods", cfg.methods, f"a non-empty list from {transfer.METHODS}")
    for m in cfg.methods:
        check_choice("methods", m, transfer.METHODS)
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
    if num_train is not None:
        check(
            t.batch_size <= num_train,
            "train.batch_size",
            t.batch_size,
            f"at most the smallest task's training set ({num_train} examples)",
        )
    check(t.lr > 0, "train.lr", t.lr, "a positive learning rate")
    check(t.grad_clip >= 0, "train.grad_clip", t.grad_clip, "0 (off) or a positive norm")
    check_choice("train.optimizer", t.optimizer, OPTIMIZERS)
    check(t.log_every > 0, "train.log_every", t.log_every, "a positive int")


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def results_table(rows: list[dict]) -> str:
    """Markdown table of the per-method results."""
    head = (
        "| method | columns | A before B | A after B | forgetting | B | A column unchanged |"
        " time (s) |\n|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        forget = None if r["a_before"] is None else r["a_before"] - r["a_after"]
        same = "-" if r["a_column_unchanged"] is None else ("yes" if r["a_column_unchanged"] else "no")
        lines.append(
            f"| {r['method']} | {r['columns']} | {_fmt(r['a_before'])} | {_fmt(r['a_after'])} | "
            f"{'-' if forget is None else f'{100 * forget:+.1f} pts'} | {_fmt(r['b'])} | {same} | "
            f"{r['seconds']:.1f} |"
        )
    return "\n".join(lines)


def run(cfg: DigitsConfig, log=print) -> dict:
    """Run every method of ``cfg``; returns ``{"rows": [...], "table": str, "run_dir": str}``."""
    import jax
    import jax.numpy as jnp

    from pnn_jax.data import class_task, load_digits
    from pnn_jax.nets.columns import mlp_column
    from pnn_jax.nets.progressive import ProgressiveNet
    from pnn_jax.train import progressive as ptrain
    from pnn_jax.train.optim import make_optimizer

    validate(cfg)
    x, y = load_digits()
    task_a = class_task(x, y, cfg.task_a, test_fraction=cfg.test_fraction, seed=cfg.seed, name="A")
    task_b = class_task(x, y, cfg.task_b, test_fraction=cfg.test_fraction, seed=cfg.seed, name="B")
    validate(cfg, num_train=min(len(task_a.y_train), len(task_b.y_train)))
    run_dir = _make_run_dir(cfg)
    tasks = {"source0": task_a, "target": task_b}
    device_data = {
        k: ((jnp.asarray(t.x_train), jnp.asarray(t.y_train)), (jnp.asarray(t.x_test), jnp.asarray(t.y_test)))
        for k, t in tasks.items()
    }
    num_classes = max(task_a.num_classes, task_b.num_classes)
    column = mlp_column(x.shape[1], cfg.model.widths, {"logits": num_classes})
    tx = make_optimizer(cfg.train.optimizer, cfg.train.lr, cfg.train.grad_clip or None)
    loss_fn = ptrain.classification_loss("logits")
    log(
        f"pnn_digits: A = digits {cfg.task_a} ({len(task_a.y_train)} train / {len(task_a.y_test)} test), "
        f"B = digits {cfg.task_b} ({len(task_b.y_train)} / {len(task_b.y_test)}); "
        f"{cfg.train.steps} steps per column, batch {cfg.train.batch_size}, {cfg.train.optimizer} "
        f"lr {cfg.train.lr}; jax {jax.__version__} on {jax.devices()[0].platform}"
    )

    rows = []
    for method in cfg.methods:
        t0 = time.perf_counter()
        plan = transfer.transfer_plan(method, num_sources=1, reset_heads=cfg.reset_heads)
        net = ProgressiveNet(
            column,
            plan.max_columns,
            lateral=cfg.model.lateral,
            head_laterals=cfg.model.head_laterals,
            adapter_width=cfg.model.adapter_width,
            alpha_init=cfg.model.alpha_init,
            adapter_v=cfg.model.adapter_v,
        )
        loop = ptrain.make_train_loop(net, tx, loss_fn, cfg.train.batch_size)
        evaluate = ptrain.make_evaluate(net, "logits")
        key = jax.random.key(cfg.seed)
        key, init_key = jax.random.split(key)
        params = net.init(init_key)
        a_before = a_checksum = None
        for si, stage in enumerate(plan.stages):
            key, stage_key = jax.random.split(key)
            state = transfer.stage_state(net, params, tx, stage, stage_key)
            (train_data, _) = device_data[stage.task]
            done = 0
            while done < cfg.train.steps:
                n = min(cfg.train.log_every, cfg.train.steps - done)
                key, sk = jax.random.split(key)
                state, metrics = loop(state, train_data, sk, num_steps=n)
                done += n
                log(
                    f"  {method:<12} stage {si + 1}/{len(plan.stages)} ({stage.task}, column "
                    f"{stage.column}, {stage.scope}) step {done:>5}/{cfg.train.steps}: "
                    f"loss {float(metrics['loss']):.4f} train acc {float(metrics['accuracy']):.3f}"
                )
            params = state.params
            if stage.task == "source0":
                _, (xa, ya) = device_data["source0"]
                a_before = float(evaluate(params, xa, ya, stage.column))
                a_checksum = net.column_checksums(params)[stage.column]
        row = {
            "method": method,
            "columns": plan.max_columns,
            "a_before": a_before,
            "a_after": None,
            "a_column_unchanged": None,
        }
        if "source0" in plan.tasks:
            col_a = plan.column_for("source0")
            _, (xa, ya) = device_data["source0"]
            row["a_after"] = float(evaluate(params, xa, ya, col_a))
            row["a_column_unchanged"] = net.column_checksums(params)[col_a] == a_checksum
        _, (xb, yb) = device_data["target"]
        row["b"] = float(evaluate(params, xb, yb, plan.column_for("target")))
        row["seconds"] = time.perf_counter() - t0
        row["param_count"] = net.param_count()
        rows.append(row)

    table = results_table(rows)
    (run_dir / "results.json").write_text(json.dumps({"rows": rows}, indent=2))
    (run_dir / "table.md").write_text(table + "\n")
    return {"rows": rows, "table": table, "run_dir": str(run_dir)}


def _make_run_dir(cfg: DigitsConfig) -> Path:
    stamp = dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    run_dir = Path(cfg.out_dir) / NAME / f"{stamp}_{uuid.uuid4().hex[:6]}"
    try:
        run_dir.mkdir(parents=True, exist_ok=False)
    except OSError as e:
        raise ConfigError(f"out_dir={cfg.out_dir!r} is not writable ({e.strerror}); choose another") from None
    (run_dir / "config.yaml").write_text(cfglib.to_yaml(cfg))
    return run_dir


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return 0
    t0 = time.perf_counter()
    try:
        cfg = cfglib.load(DigitsConfig, CONFIG_PATH, argv)
        out = run(cfg)  # validates before anything compiles
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print()
    print(out["table"])
    print()
    print(
        f"Task A is answered by column 0 in every method; 'A column unchanged' compares its SHA-256 "
        f"before and after learning B. Total {time.perf_counter() - t0:.1f} s."
    )
    print(f"run directory: {out['run_dir']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
