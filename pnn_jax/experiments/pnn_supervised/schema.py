"""The supervised PNN protocol's config and its checks (``pnn_digits``).

The protocol: a two-task progressive run on scikit-learn's digits, against the paper's baselines.

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
from typing import Any

from pnn_jax import methods, ranges
from pnn_jax.config import check, check_choice, check_methods
from pnn_jax.data import class_task, load_digits
from pnn_jax.nets import laterals
from pnn_jax.train.optim import OPTIMIZERS


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
    alpha_init: float = ranges.field(1.0, low=0, low_open=True)
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
    lr: float = ranges.field(1e-3, low=0, low_open=True)
    """Learning rate of ``optimizer``."""
    grad_clip: float = ranges.field(0.0, low=0)
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
    lr: list[float] = ranges.field(default_factory=list, low=0, low_open=True)
    """Learning rates of the members (empty: train.lr)."""
    alpha_init: list[float] = ranges.field(default_factory=list, low=0, low_open=True)
    """Initial adapter scales of the members (empty: model.alpha_init)."""


@dataclasses.dataclass
class Config:
    experiment: str = "pnn_digits"
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
    test_fraction: float = ranges.field(0.3, low=0, high=1, low_open=True, high_open=True)
    """Held-out fraction of each task (stratified, fixed by split_seed)."""
    methods: list[str] = dataclasses.field(
        default_factory=lambda: ["progressive", *methods.names("progressive")[:-1]]  # then baselines 1-4
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
    for key in ("task_a", "task_b"):
        classes = getattr(cfg, key)
        check(len(classes) >= 2, key, classes, "a task needs at least 2 digit classes")
        check(all(0 <= c <= 9 for c in classes), key, classes, "digit classes are 0..9")
        check(len(set(classes)) == len(classes), key, classes, "classes must be distinct")
    check_methods("methods", cfg.methods, "progressive", need_reference=False)
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
    t = cfg.train
    check(t.steps > 0, "train.steps", t.steps, "a positive int")
    check(t.batch_size > 0, "train.batch_size", t.batch_size, "a positive int")
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
