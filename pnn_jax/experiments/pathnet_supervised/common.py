"""What the PathNet experiments share: config sections, data sources, the vmapped engine, and
module-reuse analysis (docs/papers.md 2, 3).

Repetitions of a study are a population: one compiled, vmapped call searches a task for R
repetitions at once (each with its own module bank, paths and PRNG stream). Tasks are padded to
common shapes, so one compiled search serves every task and condition of a study.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import jax
import numpy as np

from pnn_jax import data as datalib
from pnn_jax import ranges
from pnn_jax.config import ConfigError, check, check_choice
from pnn_jax.data import class_task
from pnn_jax.data.mnist import FILES, _find
from pnn_jax.data.noise import NOISE_MODES, salt_and_pepper
from pnn_jax.evolution import BOUNDARIES, INITIAL_PATHS, SCHEMES, TournamentSettings, tournament
from pnn_jax.experiments.units import fmt_ms, mean_std  # noqa: F401 (re-exported for the PathNet studies)
from pnn_jax.jit import counted_jit
from pnn_jax.nets.pathnet import AGGREGATIONS, RESET_MODES, mlp_pathnet
from pnn_jax.train import pathnet as tp
from pnn_jax.train import pathnet_search as search_lib
from pnn_jax.train.optim import OPTIMIZERS, make_optimizer
from pnn_jax.train.pathnet import LOSSES, SCHEDULES
from pnn_jax.train.population import shard_population

SOURCES = ("auto", "digits", "mnist", "cifar10", "svhn")
SCALES = ("unit", "raw")
REPETITION_MODES = ("auto", "vmap", "map")


@dataclasses.dataclass
class DataConfig:
    source: str = "auto"
    """auto (MNIST if its files are in mnist_root, else the embedded digits), digits, mnist, cifar10, svhn."""
    mnist_root: str = "data/mnist"
    """Folder with MNIST IDX files (t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz], ...)."""
    mnist_split: str = "test"
    """Which MNIST files: test (the 10,000 test digits, split below) or train (60,000)."""
    cifar_root: str = "data/cifar-10-batches-bin"
    """Folder with the CIFAR-10 binary files (data_batch_1..5.bin, test_batch.bin)."""
    svhn_root: str = "data/svhn"
    """Folder with train_32x32.mat and test_32x32.mat (cropped digits)."""
    test_fraction: float = ranges.field(0.2, low=0, high=1, low_open=True, high_open=True)
    """Held-out fraction of each task (stratified by class, fixed by split_seed)."""
    split_seed: int = 0
    """The train/held-out split; the same for every seed and repetition."""
    max_per_class: int = 0
    """Keep at most this many examples per class before splitting (0 = all); for quick presets."""
    scale: str = "unit"
    """Pixel values: unit ([0, 1]) or raw (x 255: MNIST's stored bytes, as the thesis's code fed them)."""
    noise: float = ranges.field(0.0, low=0, high=1)
    """Salt-and-pepper noise: each pixel, with this probability, becomes 0 or white (equal chance);
    0.5 in public reimplementations of the PathNet paper (docs/papers.md 2.2)."""
    noise_mode: str = "dataset"
    """dataset: one draw over each task's images (train and held out), fixed by split_seed;
    minibatch: a fresh draw on every training minibatch (held-out images: one fixed draw)."""


@dataclasses.dataclass
class PathNetConfig:
    layers: int = 3
    """L (docs/papers.md 2.3: 3 for binary MNIST and CIFAR/SVHN)."""
    modules: int = 10
    """M, modules per layer."""
    active: int = 3
    """N, at most this many distinct modules per layer in a path."""
    units: int = 20
    """Units of each dense module (20 ReLU units in the papers)."""
    aggregation: str = "sum"
    """How a layer combines its active modules: sum (the paper's text), mean, or mean_last (sums,
    a mean at the last layer: what the first author said the MNIST figures used)."""
    init: str = "lecun_normal"
    """Kernels: lecun_normal, or glorot_uniform (Keras's default: the thesis's code)."""


@dataclasses.dataclass
class SearchConfig(TournamentSettings):
    """The path search: the tournament's own settings (:class:`pnn_jax.evolution.TournamentSettings`,
    the first keys) and how sessions are run, stopped and repeated."""

    schedule: str = "serial"
    """serial (the papers: one contestant after the other), isolated (fair: same start) or combined."""
    steps: int = 50
    """T, minibatches per training session."""
    batch_size: int = 16
    """Examples per training minibatch (the paper: 16)."""
    threshold: float | None = ranges.field(0.99, low=0, high=1, low_open=True, none="no early stop")
    """Stop when a contestant's mean training accuracy reaches this (null: never, run max_generations)."""
    max_generations: int = 500
    """Generation limit per search; a search that reaches it is counted as not solved."""
    reset: str = "initial"
    """After a task, unlocked modules get their initial weights (initial: the thesis) or a fresh draw."""
    repetition_mode: str = "auto"
    """How one compiled search runs the R repetitions: vmap (in lockstep: a run that has reached the
    threshold idles until the slowest stops; fills an accelerator), map (one after another, each
    stopping at its own threshold: on CPU a batch of per-run weights is no faster than R single
    runs, so lockstep only wastes work) or auto (map on CPU, vmap elsewhere). The same arithmetic
    per run; the two may round differently in the matmuls, so long searches can part ways."""


@dataclasses.dataclass
class OptimConfig:
    optimizer: str = "sgd"
    """sgd, adam or rmsprop."""
    lr: float = ranges.field(0.001, low=0, low_open=True)
    """Learning rate of the optimiser (our choice where a source does not state it: docs/experiments.md)."""
    loss: str = "cross_entropy"
    """cross_entropy (softmax, from the logits) or keras_bce (the thesis's Keras head: softmax,
    probabilities clipped to [1e-7, 1 - 1e-7], binary cross-entropy; no gradient when saturated)."""


def validate_common(data: DataConfig, net: PathNetConfig, search: SearchConfig, optim: OptimConfig) -> None:
    """One-line :class:`ConfigError` for any bad value of the shared sections."""
    check_choice("data.source", data.source, SOURCES)
    check_choice("data.mnist_split", data.mnist_split, ("test", "train"))
    check(data.max_per_class >= 0, "data.max_per_class", data.max_per_class, "must be >= 0 (0 = all)")
    check_choice("data.scale", data.scale, SCALES)
    check_choice("data.noise_mode", data.noise_mode, NOISE_MODES)
    for key in ("layers", "modules", "active", "units"):
        value = getattr(net, key)
        check(value >= 1, f"pathnet.{key}", value, "must be a positive integer")
    check_choice("pathnet.aggregation", net.aggregation, AGGREGATIONS)
    check_choice("pathnet.init", net.init, ("lecun_normal", "glorot_uniform"))
    check(
        net.active <= net.modules,
        "pathnet.active",
        net.active,
        f"N must be at most M = pathnet.modules = {net.modules} (a path picks N of M modules per layer)",
    )
    check(search.population >= 2, "search.population", search.population, "must be at least 2")
    check(
        2 <= search.tournament_size <= search.population,
        "search.tournament_size",
        search.tournament_size,
        f"must be in 2..search.population ({search.population})",
    )
    check_choice("search.scheme", search.scheme, SCHEMES)
    check(
        search.scheme != "recombine" or search.tournament_size >= 3,
        "search.tournament_size",
        search.tournament_size,
        "scheme=recombine needs at least 3 (two parents and a child)",
    )
    check_choice("search.schedule", search.schedule, SCHEDULES)
    check(
        search.schedule != "isolated" or not search.parallel,
        "search.schedule",
        search.schedule,
        "isolated needs search.parallel=false (one tournament per generation)",
    )
    check(search.steps >= 1, "search.steps", search.steps, "must be at least 1")
    check(search.batch_size >= 1, "search.batch_size", search.batch_size, "must be at least 1")
    check(search.max_generations >= 1, "search.max_generations", search.max_generations, "must be at least 1")
    check(search.mutation_range >= 1, "search.mutation_range", search.mutation_range, "must be at least 1")
    check_choice("search.boundary", search.boundary, BOUNDARIES)
    check_choice("search.initial_paths", search.initial_paths, INITIAL_PATHS)
    check_choice("search.repetition_mode", search.repetition_mode, REPETITION_MODES)
    check_choice("optim.optimizer", optim.optimizer, OPTIMIZERS)
    check_choice("search.reset", search.reset, RESET_MODES)
    check_choice("optim.loss", optim.loss, LOSSES)


# ------------------------------------------------------------------------------------------------
# Data


def resolve_source(data: DataConfig) -> str:
    """``data.source`` with ``auto`` decided: mnist when its files are in ``mnist_root``, else digits."""
    if data.source != "auto":
        return data.source

    root = Path(data.mnist_root)
    return "mnist" if all(_find(root, n) for n in FILES[data.mnist_split]) else "digits"


def load_source(data: DataConfig, source: str) -> tuple[np.ndarray, np.ndarray, str]:
    """``(x [n, D] float32 flattened, y [n] int32, description)`` of one data source.

    MNIST, CIFAR-10 and SVHN use their train files (or MNIST's test file, ``mnist_split``) and
    split them into training and held-out parts per task (:func:`make_task`).
    """
    if source == "digits":
        x, y = datalib.load_digits()
        desc = "scikit-learn digits (8x8, 1,797 images)"
    elif source == "mnist":
        x, y = datalib.load_mnist(data.mnist_root, data.mnist_split)
        desc = f"MNIST {data.mnist_split} files in {data.mnist_root} ({len(y):,} digits)"
    elif source == "cifar10":
        x, y = datalib.load_cifar10(data.cifar_root, "train")
        desc = f"CIFAR-10 training files in {data.cifar_root} ({len(y):,} images)"
    elif source == "svhn":
        x, y = datalib.load_svhn(data.svhn_root, "train")
        desc = f"cropped SVHN train_32x32.mat in {data.svhn_root} ({len(y):,} images)"
    else:
        raise ConfigError(f"data.source={source!r} is not allowed: choose one of {', '.join(SOURCES)}")
    return x.reshape(len(x), -1), y, desc


def make_task(data: DataConfig, x: np.ndarray, y: np.ndarray, classes, name: str):
    """The task of ``classes`` (relabelled 0..n-1), capped at ``max_per_class``, split by ``split_seed``."""
    missing = sorted(set(int(c) for c in classes) - set(np.unique(y).tolist()))
    if missing:
        raise ConfigError(f"task {name}: classes {missing} do not occur in the data (labels 0..{y.max()})")
    if data.max_per_class:
        rng = np.random.default_rng(data.split_seed)
        keep = np.concatenate(
            [rng.permutation(np.flatnonzero(y == c))[: data.max_per_class] for c in classes]
        )
        x, y = x[np.sort(keep)], y[np.sort(keep)]
    try:
        task = class_task(x, y, classes, test_fraction=data.test_fraction, seed=data.split_seed, name=name)
    except ValueError as e:
        raise ConfigError(f"task {name}: {e}") from None
    return prepare_pixels(data, task)


def prepare_pixels(data: DataConfig, task):
    """``task`` with ``data.noise`` drawn where it is fixed (every image in ``dataset`` mode, the
    held-out images in ``minibatch`` mode; the key is fixed by ``split_seed`` and the task's
    classes) and pixels scaled by ``data.scale`` (raw: x 255, so noise is 0 or 255)."""
    x_train, x_test = task.x_train, task.x_test
    if data.noise:
        key = jax.random.key(data.split_seed)
        for c in task.classes:
            key = jax.random.fold_in(key, c)
        k_train, k_test = jax.random.split(key)
        if data.noise_mode == "dataset":
            x_train = np.asarray(salt_and_pepper(k_train, x_train, data.noise))
        x_test = np.asarray(salt_and_pepper(k_test, x_test, data.noise))
    if data.scale == "raw":
        x_train, x_test = x_train * np.float32(255), x_test * np.float32(255)
    return dataclasses.replace(task, x_train=x_train, x_test=x_test)


def white(data: DataConfig) -> float:
    """The value of a white pixel in ``data.scale``."""
    return 255.0 if data.scale == "raw" else 1.0


# ------------------------------------------------------------------------------------------------
# The vmapped engine


class Engine:
    """The compiled pieces of a PathNet study over R repetitions (vmapped; the search mapped on CPU,
    ``search.repetition_mode``). Leading axis ``[R]`` everywhere.

    ``search(states, keys, data)``: one task's tournament search per repetition (with several
    local devices, the repetitions are split across them: :mod:`pnn_jax.train.population`);
    ``fixed(states, paths, sessions, keys, data)``: training without search;
    ``test_acc(params, paths, task, data)``; ``next_task(states, paths, initial, keys, lock)``.
    Each is a :class:`~pnn_jax.jit.counted_jit`, compiled once per shape.
    """

    def __init__(
        self,
        input_dim: int,
        net_cfg: PathNetConfig,
        search_cfg: SearchConfig,
        optim: OptimConfig,
        num_heads: int,
        head_size: int,
        max_fixed_sessions: int | None = None,
        data: DataConfig | None = None,
    ):

        self.net = net = mlp_pathnet(
            input_dim,
            net_cfg.layers,
            net_cfg.modules,
            net_cfg.active,
            net_cfg.units,
            num_heads,
            head_size,
            aggregation=net_cfg.aggregation,
            init_scheme=net_cfg.init,
        )
        self.tx = tx = make_optimizer(optim.optimizer, optim.lr)
        self.reset = search_cfg.reset
        self.tournament = tournament(net_cfg.layers, net_cfg.modules, net_cfg.active, search_cfg)
        sparse = optim.lr if optim.optimizer == "sgd" else None  # the SGD step on the path's rows only
        noise = data.noise if data is not None and data.noise_mode == "minibatch" else 0.0
        self.session = tp.SessionConfig(
            search_cfg.steps,
            search_cfg.batch_size,
            search_cfg.schedule,
            sparse,
            noise=noise,
            noise_high=white(data) if data is not None else 1.0,
            loss=optim.loss,
        )
        self.max_generations = search_cfg.max_generations
        search = search_lib.make_search(
            net,
            tx,
            self.tournament,
            self.session,
            math.inf if search_cfg.threshold is None else search_cfg.threshold,  # null: no early stop
            search_cfg.max_generations,
        )
        fixed = tp.make_fixed_training(
            net, tx, self.session, max_fixed_sessions or search_cfg.max_generations
        )
        reset = search_cfg.reset

        def init(keys):
            params = jax.vmap(net.init)(keys)
            return params, jax.vmap(lambda p: tp.init_state(net, p, tx))(params)

        def next_task(states, paths, initial, keys, lock):
            return jax.vmap(
                lambda s, p, i, k: tp.next_task(
                    net, tx, s, p, initial_params=i, reset=reset, key=k, lock=lock
                )
            )(states, paths, initial, keys)

        self.init = counted_jit(init)
        self.repetition_mode = repetition_mode(search_cfg.repetition_mode)
        if self.repetition_mode == "map":  # each repetition's while loop stops at its own threshold

            def search_population(states, keys, data):
                return jax.lax.map(lambda sk: search(sk[0], sk[1], data), (states, keys))

            self.search_population = search_population  # un-jitted, unsharded
        else:
            self.search_population = jax.vmap(search, in_axes=(0, 0, None))  # un-jitted, unsharded
        self.search = counted_jit(self.search_population)
        self.fixed = counted_jit(jax.vmap(fixed, in_axes=(0, 0, 0, 0, None)))
        self.test_acc = counted_jit(
            jax.vmap(
                lambda p, path, task, d: tp.test_accuracy(net, p, path, task, d), in_axes=(0, 0, None, None)
            )
        )
        self.next_task = counted_jit(next_task, static_argnames=("lock",))
        self.random_paths = counted_jit(jax.vmap(lambda k: self.tournament.init(k).paths[0]))
        self.devices = len(jax.local_devices())
        if self.devices > 1:  # repetitions split across the local devices (padded if they do not divide)
            self.search = shard_population(self.search_population, (True, True, False), pad=True)
            self.fixed = shard_population(self.fixed.__wrapped__, (True, True, True, True, False), pad=True)


def repetition_mode(mode: str) -> str:
    """``search.repetition_mode`` resolved: ``auto`` is ``map`` on CPU and ``vmap`` on accelerators."""
    if mode != "auto":
        return mode
    return "map" if jax.default_backend() == "cpu" else "vmap"


def split_keys(seed: int, first: int, count: int, streams: int):
    """``streams`` key arrays ``[count]`` for repetitions ``first .. first+count-1`` (each run its own)."""
    base = jax.random.key(seed)
    reps = jax.vmap(lambda r: jax.random.fold_in(base, r))(np.arange(first, first + count))
    parts = jax.vmap(lambda k: jax.random.split(k, streams))(reps)  # [count, streams]
    return [parts[:, i] for i in range(streams)]
