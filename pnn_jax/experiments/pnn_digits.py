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
import itertools
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from pnn_jax import config as cfglib
from pnn_jax import plots
from pnn_jax.checkpoint import Checkpointer, CheckpointError
from pnn_jax.config import check, check_choice
from pnn_jax.data import class_task, load_digits
from pnn_jax.nets import laterals
from pnn_jax.nets.columns import mlp_column
from pnn_jax.nets.progressive import ProgressiveNet
from pnn_jax.rundir import CONFIG_FILE, RunLog, prepare_run_dir, read_metrics, write_summary
from pnn_jax.train import progressive as ptrain
from pnn_jax.train import transfer
from pnn_jax.train.optim import OPTIMIZERS, make_optimizer, set_learning_rate

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
    """Examples per training minibatch."""
    optimizer: str = "adam"
    """adam, rmsprop (A3C's settings) or sgd."""
    lr: float = 1e-3
    """Learning rate of ``optimizer``."""
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
class PopulationConfig:
    seeds: int = 1
    """Members per hyperparameter value, with seeds seed, seed+1, ...; all trained in one vmapped run."""
    lr: list[float] = dataclasses.field(default_factory=list)
    """Learning rates of the members (empty: train.lr)."""
    alpha_init: list[float] = dataclasses.field(default_factory=list)
    """Initial adapter scales of the members (empty: model.alpha_init)."""


@dataclasses.dataclass
class Config:
    experiment: str = NAME
    """The experiment's name (selects its module and experiments/<name>/)."""
    preset: str = "quick"
    """smoke, quick or paper (the Hydra group experiments/pnn_digits/preset/)."""
    seed: int = 0
    """Parameters and minibatch order (population member i uses seed + i)."""
    split_seed: int = 0
    """The train/test split of the digits: fixed across seeds, so that all runs share a test set."""
    task_a: list[int] = dataclasses.field(default_factory=lambda: [0, 1, 2, 3, 4])
    """Source task: digit classes."""
    task_b: list[int] = dataclasses.field(default_factory=lambda: [5, 6, 7, 8, 9])
    """Target task: digit classes."""
    test_fraction: float = 0.3
    """Held-out fraction of each task (stratified, fixed by split_seed)."""
    methods: list[str] = dataclasses.field(
        default_factory=lambda: ["progressive", "baseline1", "baseline2", "baseline3", "baseline4"]
    )
    """progressive and/or baseline1-4 (docs/papers.md 1.3)."""
    reset_heads: bool = False
    """Baselines 2 and 3: re-initialise the output layer before the target stage."""
    out_dir: str = "runs"
    """Root of run directories: <out_dir>/pnn_digits/<date>_<time>_<id>/."""
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    checkpoint: CheckpointConfig = dataclasses.field(default_factory=CheckpointConfig)
    population: PopulationConfig = dataclasses.field(default_factory=PopulationConfig)


def members(cfg: Config) -> list[dict]:
    """The population: every (lr, alpha_init, seed) combination, seeds varying fastest."""
    lrs = cfg.population.lr or [cfg.train.lr]
    alphas = cfg.population.alpha_init or [cfg.model.alpha_init]
    return [
        {"seed": cfg.seed + i, "lr": float(lr), "alpha_init": float(a)}
        for lr in lrs
        for a in alphas
        for i in range(cfg.population.seeds)
    ]


def make_tasks(cfg: Config):
    """Tasks A and B (class subsets of the digits with the configured split)."""
    x, y = load_digits()
    return (
        class_task(x, y, cfg.task_a, test_fraction=cfg.test_fraction, seed=cfg.split_seed, name="A"),
        class_task(x, y, cfg.task_b, test_fraction=cfg.test_fraction, seed=cfg.split_seed, name="B"),
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
    pop = cfg.population
    check(pop.seeds >= 1, "population.seeds", pop.seeds, "a positive int (members per hyperparameter value)")
    for lr in pop.lr:
        check(lr > 0, "population.lr", lr, "positive learning rates")
    for a in pop.alpha_init:
        check(a > 0, "population.alpha_init", a, "positive numbers (paper: 1, 0.1, 0.01)")


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def results_table(rows: list[dict]) -> str:
    """Markdown table of the results: one row per method (and per population member, if several)."""
    many = len({r.get("member", 0) for r in rows}) > 1
    head = (
        "| method | " + ("member (seed, lr, alpha) | " if many else "") + "columns | A before B | A after B "
    )
    lines = [
        head + "| forgetting | B | A column unchanged | time (s) |",
        "|---|" + ("---|" if many else "") + "---|---|---|---|---|---|---|",
    ]
    for r in rows:
        forget = None if r["a_before"] is None else r["a_before"] - r["a_after"]
        same = "-" if r["a_column_unchanged"] is None else ("yes" if r["a_column_unchanged"] else "no")
        member = f"{r['member']} ({r['seed']}, {r['lr']:g}, {r['alpha_init']:g}) | " if many else ""
        lines.append(
            f"| {r['method']} | {member}{r['columns']} | {_fmt(r['a_before'])} | {_fmt(r['a_after'])} | "
            f"{'-' if forget is None else f'{100 * forget:+.1f} pts'} | {_fmt(r['b'])} | {same} | "
            f"{r['seconds']:.1f} |"
        )
    return "\n".join(lines)


def _stack(trees):

    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def _member(tree, p: int):

    return jax.tree.map(lambda a: a[p], tree)


class _Method:
    """Everything one method needs: its plan, net and compiled functions, for a population."""

    def __init__(self, cfg: Config, method: str, column, tx, loss_fn, population: list[dict]):

        self.name = method
        self.population = population
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
        self.loop = ptrain.make_population_train_loop(self.net, tx, loss_fn, cfg.train.batch_size)
        self.evaluate = ptrain.make_evaluate(self.net, "logits", population=True)

    def init(self):
        """Initial ``(params [P, ...], keys [P])``: member p from ``key(seed_p)`` and its alpha."""
        params, keys = [], []
        for member in self.population:
            key, init_key = jax.random.split(jax.random.key(member["seed"]))
            p = self.net.init(init_key)
            p = jax.tree_util.tree_map_with_path(
                lambda path, a, m=member: (
                    jnp.full_like(a, m["alpha_init"])
                    if jax.tree_util.keystr(path).endswith("['alpha']")
                    else a
                ),
                p,
            )
            params.append(p)
            keys.append(key)
        return _stack(params), jnp.stack(keys)

    def stage_states(self, params, stage, stage_keys):
        """The population's training state for ``stage`` (each member with its learning rate)."""
        states = []
        for p, member in enumerate(self.population):
            st = transfer.stage_state(self.net, _member(params, p), self.tx, stage, stage_keys[p])
            states.append(st.replace(opt_state=set_learning_rate(st.opt_state, member["lr"])))
        return _stack(states)

    def state_template(self):
        """The structure of this method's checkpointed state (values are placeholders)."""
        params, keys = self.init()
        states = self.stage_states(params, self.plan.stages[0], keys)
        return {"train": states, "key": jax.random.key_data(keys)}

    def column_checksums(self, params) -> list[list[str]]:
        """SHA-256 of every column of every member: ``[P][K]``."""
        return [self.net.column_checksums(_member(params, p)) for p in range(len(self.population))]

    def frozen_checksums(self, states) -> dict[str, str]:
        """SHA-256 of every column that is entirely frozen, keyed ``"<member>:<column>"``."""
        trainable = [np.asarray(m) for m in jax.tree.leaves(states.trainable)]  # [P, K] each
        sums = self.column_checksums(states.params)
        return {
            f"{p}:{k}": sums[p][k]
            for p in range(len(self.population))
            for k in range(self.net.max_columns)
            if not any(bool(m[p, k].any()) for m in trainable)
        }


def run(cfg: Config, run_dir: Path, *, resume: bool = False, quiet: bool = False) -> dict:
    """Run (or resume) every method of ``cfg`` in ``run_dir``, for every population member at once.

    Returns the summary: ``{"rows": [...], "table": str, "params_sha256": str, ...}``, also written
    to ``summary.json``; figures go to ``figures/``.
    """
    t_start = time.perf_counter()
    validate(cfg)
    if not resume:  # the run directory's config is what `pnn-jax resume` reads back
        prepare_run_dir(run_dir)
        (run_dir / CONFIG_FILE).write_text(cfglib.to_yaml(cfg))
    task_a, task_b, data, population, method = _setup(cfg)
    steps = cfg.train.steps
    plans = [transfer.transfer_plan(m, 1, cfg.reset_heads) for m in cfg.methods]
    total_steps = steps * sum(len(p.stages) for p in plans)

    def verify(state, meta):
        got = method(meta["method_index"]).frozen_checksums(state["train"])
        for col, digest in meta["frozen_sha256"].items():
            if got.get(col) != digest:
                member, _, k = col.partition(":")
                raise CheckpointError(
                    f"frozen column {k} of {meta['method']} (member {member}) does not match its checksum "
                    f"in the checkpoint ({got.get(col)} != {digest}); the checkpoint is corrupt"
                )

    ckpt = Checkpointer(run_dir / "checkpoints", max_to_keep=cfg.checkpoint.keep)
    pos = {"method_index": 0, "stage_index": 0, "steps_done": 0, "global_step": 0, "rows": []}
    restored = None
    if resume and ckpt.steps():  # none: killed before its first checkpoint was finalised
        ckpt_step, restored, pos = ckpt.restore_latest(
            lambda meta: method(meta["method_index"]).state_template(), verify
        )
    log = RunLog(run_dir, total_steps, start_step=pos["global_step"], quiet=quiet, resume=resume)
    if restored is not None:
        log.info(
            f"resumed from checkpoint {ckpt_step}: {pos['method']} stage {pos['stage_index'] + 1}, "
            f"step {pos['steps_done']}/{steps} (global step {pos['global_step']}/{total_steps})"
        )
    else:
        if resume:
            log.info(
                "resumed: no finalised checkpoint in the run directory, so the run starts from the beginning"
            )
        log.info(
            f"pnn_digits ({cfg.preset}): A = digits {cfg.task_a} ({len(task_a.y_train)} train / "
            f"{len(task_a.y_test)} test), B = digits {cfg.task_b} ({len(task_b.y_train)} / "
            f"{len(task_b.y_test)}); {steps} steps per column, batch {cfg.train.batch_size}, "
            f"{cfg.train.optimizer} lr {cfg.train.lr}; {len(population)} member(s) in one vmapped run; "
            f"jax {jax.__version__} on {jax.devices()[0].platform}"
        )
    rows: list[dict] = list(pos["rows"])
    global_step = pos["global_step"]
    final_params: dict[str, str] = dict(pos.get("params_sha256", {}))
    column_sums: dict[str, list] = dict(pos.get("column_sha256", {}))
    frozen_sums: dict[str, dict] = dict(pos.get("frozen_column_sha256", {}))

    for mi in range(pos["method_index"], len(cfg.methods)):
        m = method(mi)
        t0 = time.perf_counter()
        resuming = restored is not None and mi == pos["method_index"]
        if resuming:
            keys = jax.random.wrap_key_data(jnp.asarray(restored["key"]))
            states = restored["train"]
            params = states.params
            first_stage, a_before, a_checksum = pos["stage_index"], pos["a_before"], pos["a_checksum"]
        else:
            params, keys = m.init()
            first_stage, a_before, a_checksum = 0, None, None
        for si in range(first_stage, len(m.plan.stages)):
            stage = m.plan.stages[si]
            if resuming and si == first_stage:
                done = pos["steps_done"]
            else:
                keys, stage_keys = _split(keys)
                states = m.stage_states(params, stage, stage_keys)
                done = 0
            while done < steps:
                n = min(cfg.train.log_every, steps - done)
                keys, chunk_keys = _split(keys)
                states, metrics = m.loop(states, data[stage.task][0], chunk_keys, num_steps=n)
                done += n
                global_step += n
                acc = _test_accuracies(m, states.params, data, si)
                loss, train_acc = float(jnp.mean(metrics["loss"])), float(jnp.mean(metrics["accuracy"]))
                log.advance(
                    global_step,
                    {
                        "method": m.name,
                        "stage": si,
                        "column": stage.column,
                        "method_step": si * steps + done,
                        "loss": loss,
                        "train_acc": train_acc,
                        **{k: (None if v is None else float(np.mean(v))) for k, v in acc.items()},
                    },
                    f"  {m.name:<12} stage {si + 1}/{len(m.plan.stages)} ({stage.task}, column "
                    f"{stage.column}, {stage.scope}) step {done:>5}/{steps}: loss {loss:.4f} "
                    f"train acc {train_acc:.3f}",
                )
                if done == steps or (cfg.checkpoint.every and global_step % cfg.checkpoint.every == 0):
                    if done == steps and stage.task == "source0":  # the task boundary
                        a_before, a_checksum = _task_a_result(m, states.params, data, stage.column)
                    ckpt.save(
                        global_step,
                        {"train": states, "key": jax.random.key_data(keys)},
                        {
                            "method_index": mi,
                            "method": m.name,
                            "stage_index": si,
                            "steps_done": done,
                            "global_step": global_step,
                            "rows": rows,
                            "a_before": a_before,
                            "a_checksum": a_checksum,
                            "frozen_sha256": m.frozen_checksums(states),
                            "params_sha256": final_params,
                            "column_sha256": column_sums,
                            "frozen_column_sha256": frozen_sums,
                        },
                    )
            params = states.params
        rows += _result_rows(m, params, data, a_before, a_checksum, time.perf_counter() - t0)
        sums = m.column_checksums(params)
        column_sums[m.name] = sums
        frozen_sums[m.name] = m.frozen_checksums(states)  # columns frozen in the method's last stage
        final_params[m.name] = hashlib.sha256("".join(itertools.chain(*sums)).encode()).hexdigest()
    ckpt.close()

    table = results_table(rows)
    records = read_metrics(run_dir)
    figures = plots.transfer_curves(records, cfg.methods, run_dir / "figures" / "accuracy_curves")
    summary = {
        "experiment": NAME,
        "preset": cfg.preset,
        "population": population,
        "rows": rows,
        "table": table,
        "params_sha256": hashlib.sha256("".join(final_params[m] for m in cfg.methods).encode()).hexdigest(),
        "method_params_sha256": final_params,
        "column_sha256": column_sums,
        "frozen_column_sha256": frozen_sums,
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


def _setup(cfg: Config):
    """Tasks, device data, the population, and ``method(i) -> _Method`` (built once each)."""
    task_a, task_b = make_tasks(cfg)
    population = members(cfg)
    data = {
        k: ((jnp.asarray(t.x_train), jnp.asarray(t.y_train)), (jnp.asarray(t.x_test), jnp.asarray(t.y_test)))
        for k, t in {"source0": task_a, "target": task_b}.items()
    }
    heads = {"logits": max(task_a.num_classes, task_b.num_classes)}
    column = mlp_column(task_a.x_train.shape[1], cfg.model.widths, heads)
    # The learning rate lives in the optimiser state, so each member can have its own.
    tx = make_optimizer(cfg.train.optimizer, cfg.train.lr, cfg.train.grad_clip or None, inject=True)
    loss_fn = ptrain.classification_loss("logits")
    methods: dict[int, _Method] = {}

    def method(i: int) -> _Method:
        if i not in methods:
            methods[i] = _Method(cfg, cfg.methods[i], column, tx, loss_fn, population)
        return methods[i]

    return task_a, task_b, data, population, method


def load_checkpoint(run_dir: Path) -> tuple[dict, dict]:
    """The newest readable checkpoint of a run: ``(meta, {"train": TrainState [P, ...], "key"})``.

    ``meta`` says where the run was (``method``, ``stage_index``, ``steps_done``, ...); the state
    holds every population member's parameters and optimiser state, for analysis.
    """
    cfg = cfglib.load(Config, [Path(run_dir) / "config.yaml"])
    *_, method = _setup(cfg)
    ckpt = Checkpointer(Path(run_dir) / "checkpoints", max_to_keep=cfg.checkpoint.keep)
    try:
        _, state, meta = ckpt.restore_latest(lambda meta: method(meta["method_index"]).state_template())
    finally:
        ckpt.close()
    return meta, state


def _split(keys):
    """Split every member's key: ``(next keys [P], subkeys [P])``."""
    both = jax.vmap(jax.random.split)(keys)
    return both[:, 0], both[:, 1]


def _test_accuracies(m: _Method, params, data, stage_index: int) -> dict[str, np.ndarray | None]:
    """Held-out accuracy ``[P]`` of the columns that answer A and B, once they have been trained."""
    out = {}
    for task, key in (("source0", "test_acc_a"), ("target", "test_acc_b")):
        trained = [i for i, s in enumerate(m.plan.stages[: stage_index + 1]) if s.task == task]
        if trained:
            xt, yt = data[task][1]
            out[key] = np.asarray(m.evaluate(params, xt, yt, m.plan.stages[trained[-1]].column))
        else:
            out[key] = None
    return out


def _task_a_result(m: _Method, params, data, column: int) -> tuple[list[float], list[str]]:
    """Per member: task-A accuracy of ``column`` and that column's checksum."""
    xa, ya = data["source0"][1]
    acc = np.asarray(m.evaluate(params, xa, ya, column)).tolist()
    return acc, [sums[column] for sums in m.column_checksums(params)]


def _result_rows(m: _Method, params, data, a_before, a_checksum, seconds: float) -> list[dict]:
    """One result row per member."""
    xb, yb = data["target"][1]
    b = np.asarray(m.evaluate(params, xb, yb, m.plan.column_for("target")))
    a_after = unchanged = None
    if "source0" in m.plan.tasks:
        col_a = m.plan.column_for("source0")
        xa, ya = data["source0"][1]
        a_after = np.asarray(m.evaluate(params, xa, ya, col_a))
        unchanged = [sums[col_a] == a_checksum[p] for p, sums in enumerate(m.column_checksums(params))]
    rows = []
    for p, member in enumerate(m.population):
        rows.append(
            {
                "method": m.name,
                "member": p,
                **member,
                "columns": m.plan.max_columns,
                "a_before": None if a_before is None else a_before[p],
                "a_after": None if a_after is None else float(a_after[p]),
                "a_column_unchanged": None if unchanged is None else unchanged[p],
                "b": float(b[p]),
                "seconds": seconds,
                "param_count": m.net.param_count(),
            }
        )
    return rows
