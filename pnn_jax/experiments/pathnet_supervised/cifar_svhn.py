"""The PathNet paper's CIFAR-10 / cropped SVHN transfer protocol (docs/papers.md 2.3, 2.4).

Two 10-class tasks on 32x32x3 images (flattened to 3,072 inputs), PathNet L/M/N = 3/20/5 with
20-unit dense modules, a fixed budget of generations per task (no early stop), then the held-out
accuracy of the last winner path. For each direction (source -> target):

* **transfer**: search the source for the budget; lock the winner's modules, re-initialise the
  rest, new head and population; search the target for the budget.
* **scratch**: search the target for the budget on the initial module bank.

Needs the real files (``data.cifar_root``: the CIFAR-10 binary version; ``data.svhn_root``:
``train_32x32.mat``); the tests run the smoke preset on small generated files in those formats.
Each domain's training file is split into training and held-out parts (``data.test_fraction``).
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from pnn_jax.config import check
from pnn_jax.experiments.pathnet_supervised import common as pc
from pnn_jax.experiments.runner import Plan, Protocol
from pnn_jax.tables.records import CIFAR_SVHN
from pnn_jax.train.pathnet import task_data

DOMAINS = ("cifar10", "svhn")


def _default_pathnet() -> pc.PathNetConfig:
    return pc.PathNetConfig(layers=3, modules=20, active=5, units=20)


def _default_search() -> pc.SearchConfig:
    return pc.SearchConfig(threshold=None, max_generations=500)


# The records' method values: the target learned alone, or after the source task's path was
# locked (PathNet, docs/papers.md 2.4); the paper's table calls them "scratch" and "after <source>".
ARMS = ("scratch", "transfer")


@dataclasses.dataclass
class Config:
    experiment: str = "pathnet_cifar_svhn"
    """The experiment's name (selects its module and experiments/<name>/)."""
    preset: str = "quick"
    """The preset the run started from (experiments/<name>/preset/<preset>.yaml)."""
    seed: int = 0
    """Repetition r uses the PRNG streams of (seed, r): bank, populations, minibatches."""
    directions: list[list[str]] = dataclasses.field(
        default_factory=lambda: [["cifar10", "svhn"], ["svhn", "cifar10"]]
    )
    """[source, target] domain pairs."""
    classes: list[int] = dataclasses.field(default_factory=lambda: list(range(10)))
    """The classes kept in both datasets (CIFAR-10 labels 0-9, SVHN digits 0-9)."""
    repetitions: int = 4
    """Runs per direction (the methods of a repetition share their streams)."""
    out_dir: str = "runs"
    """Root of run directories: <out_dir>/<experiment>/<date>_<time>_<id>/."""
    data: pc.DataConfig = dataclasses.field(default_factory=pc.DataConfig)
    pathnet: pc.PathNetConfig = dataclasses.field(default_factory=_default_pathnet)
    search: pc.SearchConfig = dataclasses.field(default_factory=_default_search)
    optim: pc.OptimConfig = dataclasses.field(default_factory=pc.OptimConfig)


class CifarSvhn(Protocol):
    """Transfer and scratch on the target of each direction; a unit is one direction (its
    repetitions vmapped), a record one (direction, repetition, method)."""

    Config = Config
    records = CIFAR_SVHN
    table = "pathnet_cifar_svhn"

    def validate(self, cfg: Config) -> None:
        pc.validate_common(cfg.data, cfg.pathnet, cfg.search, cfg.optim)
        check(cfg.repetitions >= 1, "repetitions", cfg.repetitions, "must be at least 1")
        check(
            len(cfg.classes) >= 2 and len(set(cfg.classes)) == len(cfg.classes),
            "classes",
            cfg.classes,
            "needs 2+ distinct classes",
        )
        check(
            len(cfg.directions) >= 1, "directions", cfg.directions, "needs at least one [source, target] pair"
        )
        for d in cfg.directions:
            check(
                len(d) == 2 and all(x in DOMAINS for x in d) and d[0] != d[1],
                "directions",
                cfg.directions,
                f"each must be [source, target] with two different domains of {', '.join(DOMAINS)}",
            )
        make_tasks(cfg)

    def plan(self, cfg: Config) -> Plan:
        tasks, desc = make_tasks(cfg)
        names = list(tasks)
        data = dict(zip(names, task_data([tasks[n] for n in names]), strict=True))
        engine = pc.Engine(
            tasks[names[0]].x_train.shape[1],
            cfg.pathnet,
            cfg.search,
            cfg.optim,
            num_heads=2,
            head_size=len(cfg.classes),
            data=cfg.data,
        )
        units = [
            (f"{s} -> {t}", _unit(cfg, engine, data[s], data[t], i, s, t))
            for i, (s, t) in enumerate(cfg.directions)
        ]
        header = [
            f"{cfg.experiment} ({cfg.preset}): {desc}; "
            + ", ".join(
                f"{n}: {len(tasks[n].y_train)} train / {len(tasks[n].y_test)} held out" for n in names
            ),
            f"  L/M/N = {cfg.pathnet.layers}/{cfg.pathnet.modules}/{cfg.pathnet.active}, "
            f"{cfg.search.max_generations} generations per task, {cfg.repetitions} repetitions",
        ]
        return Plan(units, header)

    def rows(self, cfg: Config, records: list[dict]) -> list[dict]:
        """Per direction and method: the mean held-out accuracy on the target."""
        return [
            {
                "method": f"{s}->{t}/{m}",
                "test_acc": float(
                    np.mean(
                        [r["test_acc"] for r in records if r["direction"] == f"{s}->{t}" and r["method"] == m]
                    )
                ),
            }
            for s, t in cfg.directions
            for m in ARMS
        ]


def make_tasks(cfg: Config):
    """``({domain: Task}, description)`` for the domains the directions use."""
    used = sorted({d for pair in cfg.directions for d in pair})
    tasks, descs = {}, []
    for domain in used:
        x, y, desc = pc.load_source(cfg.data, domain)
        tasks[domain] = pc.make_task(cfg.data, x, y, cfg.classes, domain)
        descs.append(desc)
    return tasks, "; ".join(descs)


def _unit(cfg: Config, engine: pc.Engine, ds, dt, index: int, source: str, target: str):
    def work(ctx) -> list[dict]:

        r = cfg.repetitions
        k_init, k_s, k_t, k_reset = pc.split_keys(cfg.seed, index * 100_003, r, 4)
        params0, states = engine.init(k_init)
        st_s, res_s = engine.search(states, k_s, ds)
        acc_s = engine.test_acc(st_s.params, res_s.path, 0, ds)
        st = engine.next_task(st_s, res_s.path, params0, k_reset, lock=True)
        st, res_t = engine.search(st, k_t, dt)
        acc_t = engine.test_acc(st.params, res_t.path, 1, dt)
        zeros = np.zeros((r, cfg.pathnet.layers, cfg.pathnet.active), np.int32)
        sc = engine.next_task(states, zeros, params0, k_reset, lock=False)
        sc, res_sc = engine.search(sc, k_t, dt)
        acc_sc = engine.test_acc(sc.params, res_sc.path, 1, dt)
        h = jax.device_get(
            dict(acc_s=acc_s, acc_t=acc_t, acc_sc=acc_sc, fit_t=res_t.fitness, fit_sc=res_sc.fitness)
        )
        return [
            rec
            for i in range(r)
            for rec in (
                {
                    "direction": f"{source}->{target}",
                    "target": target,
                    "method": "transfer",
                    "run": i,
                    "test_acc_source": float(h["acc_s"][i]),
                    "test_acc": float(h["acc_t"][i]),
                    "train_fitness": float(h["fit_t"][i]),
                },
                {
                    "direction": f"{source}->{target}",
                    "target": target,
                    "method": "scratch",
                    "run": i,
                    "test_acc": float(h["acc_sc"][i]),
                    "train_fitness": float(h["fit_sc"][i]),
                },
            )
        ]

    return work
