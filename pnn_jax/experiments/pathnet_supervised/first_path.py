"""The PathNet thesis study's protocol: "search + search" vs "pick + search" (docs/papers.md 3.1).

Binary MNIST (task 1 = digits {3, 4}, task 2 = {1, 2}), PathNet L/M/N = 3/10/3 with dense modules
of 20 ReLU units, population 64, binary tournaments of T = 50 minibatches of 16, fitness = mean
training accuracy, stop at 0.99 (limit 500 generations).

* **S+S**: search task 1; lock the winner's modules, reset every other module to its initial
  weights (and its counter), new head, new population; search task 2.
* **P+S**: one path trained on task 1 without search for as many sessions as S+S needed
  generations (generations x 50 minibatches, paired run by run), locked the same way; search task 2.
  The path is a random one (``pick=random``, an earlier variant of the thesis's code) or the path
  S+S found on task 1 (``pick=search_path``, as in the thesis's 600-run log), trained from the
  same initial bank.

Both conditions of a repetition start from the same module bank and search task 2 with the same
PRNG stream. Repetitions are a population: each compiled call runs ``chunk`` of them vmapped.
Per run (``runs.jsonl``): paths, generations, test accuracies, average training counters, module
reuse (of path 2 in path 1, same layer) in total and per layer, the random-selection baseline,
and the fitness curves. The summary table, figures (a), (b), (c) and training curves follow
(:func:`pnn_jax.tables.thesis.thesis_table`).
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from pnn_jax import ranges
from pnn_jax.analysis import pathnet as pa
from pnn_jax.config import check, check_choice
from pnn_jax.experiments.pathnet_supervised import common as pc
from pnn_jax.experiments.runner import Plan, Protocol
from pnn_jax.tables.records import THESIS_FIRST_PATH
from pnn_jax.train.pathnet import task_data

CONDITIONS = ("S+S", "P+S")
PICKS = ("random", "search_path")


@dataclasses.dataclass
class Config:
    experiment: str = "thesis_first_path"
    """The experiment's name (selects its module and experiments/<name>/)."""
    preset: str = "quick"
    """smoke, quick or paper (experiments/thesis_first_path/preset/)."""
    seed: int = 0
    """Repetition r uses the PRNG stream fold_in(seed, r): banks, populations, minibatches."""
    task1: list[int] = dataclasses.field(default_factory=lambda: [3, 4])
    """Classes of task 1 (the thesis: 3 and 4; docs/papers.md 3.1)."""
    task2: list[int] = dataclasses.field(default_factory=lambda: [1, 2])
    """Classes of task 2 (the thesis: 1 and 2)."""
    repetitions: int = 24
    """R runs of the study (each: S+S and P+S)."""
    chunk: int = 0
    """Repetitions per compiled call and per checkpoint (0 = all at once)."""
    stuck_below: float = ranges.field(0.6, low=0, high=1)
    """A run whose test accuracy is below this is counted as stuck at chance (chance = 0.5)."""
    random_draws: int = 200
    """Draws per run of the random-selection baseline."""
    pick: str = "random"
    """P+S's path for task 1: random (drawn like an initial path) or search_path (the path S+S
    found on task 1, as in the thesis's 600-run log)."""
    out_dir: str = "runs"
    """Root of run directories: <out_dir>/<experiment>/<date>_<time>_<id>/."""
    data: pc.DataConfig = dataclasses.field(default_factory=pc.DataConfig)
    pathnet: pc.PathNetConfig = dataclasses.field(default_factory=pc.PathNetConfig)
    search: pc.SearchConfig = dataclasses.field(default_factory=pc.SearchConfig)
    optim: pc.OptimConfig = dataclasses.field(default_factory=pc.OptimConfig)


class FirstPath(Protocol):
    """S+S and P+S of each repetition; a unit is a chunk of repetitions (vmapped), a record one
    (repetition, condition)."""

    Config = Config
    records = THESIS_FIRST_PATH
    table = "thesis_first_path"

    def validate(self, cfg: Config) -> None:
        """One-line :class:`ConfigError` for any bad value, including the data (nothing compiled yet)."""
        pc.validate_common(cfg.data, cfg.pathnet, cfg.search, cfg.optim)
        check(cfg.repetitions >= 1, "repetitions", cfg.repetitions, "must be at least 1")
        check(cfg.chunk >= 0, "chunk", cfg.chunk, "must be >= 0 (0 = all repetitions in one call)")
        check(cfg.random_draws >= 1, "random_draws", cfg.random_draws, "must be at least 1")
        check_choice("pick", cfg.pick, PICKS)
        for key in ("task1", "task2"):
            classes = getattr(cfg, key)
            check(
                len(classes) >= 2 and len(set(classes)) == len(classes),
                key,
                classes,
                "needs 2+ distinct classes",
            )
        make_tasks(cfg)

    def plan(self, cfg: Config) -> Plan:
        t1, t2, desc = make_tasks(cfg)
        d1, d2 = task_data([t1, t2])
        head = max(t1.num_classes, t2.num_classes)
        engine = pc.Engine(
            t1.x_train.shape[1],
            cfg.pathnet,
            cfg.search,
            cfg.optim,
            num_heads=2,
            head_size=head,
            data=cfg.data,
        )
        chunk = cfg.chunk or cfg.repetitions
        units = [
            (
                f"repetitions {first}-{min(first + chunk, cfg.repetitions) - 1}",
                _unit(cfg, engine, d1, d2, first, min(chunk, cfg.repetitions - first)),
            )
            for first in range(0, cfg.repetitions, chunk)
        ]
        s = cfg.search
        header = [
            f"{cfg.experiment} ({cfg.preset}): {desc}; task 1 = {cfg.task1} ({len(t1.y_train)} train / "
            f"{len(t1.y_test)} held out), task 2 = {cfg.task2} ({len(t2.y_train)} / {len(t2.y_test)})",
            f"  PathNet L/M/N = {cfg.pathnet.layers}/{cfg.pathnet.modules}/{cfg.pathnet.active}, "
            f"{cfg.pathnet.units} units; population {s.population}, tournament {s.tournament_size} "
            f"({s.scheme}, {s.schedule}), T = {s.steps} x {s.batch_size}, threshold {s.threshold}, "
            f"limit {s.max_generations}; {cfg.optim.optimizer} lr {cfg.optim.lr}; {cfg.repetitions} "
            f"repetitions, {chunk} per vmapped call",
        ]
        return Plan(units, header)

    def rows(self, cfg: Config, records: list[dict]) -> list[dict]:
        """Per condition the mean of each measure; the random baseline's mean reuse."""
        metrics = (
            "generations1",
            "generations2",
            "test_acc1",
            "test_acc2",
            "training1",
            "training2",
            "reuse",
        )
        by = {c: [r for r in records if r["condition"] == c] for c in CONDITIONS}
        rows = [
            {"method": c, **{k: float(np.mean([r[k] for r in by[c]])) for k in metrics}} for c in CONDITIONS
        ]
        return [
            *rows,
            {"method": "random", "reuse": float(np.mean([r["random_reuse_mean"] for r in by["S+S"]]))},
        ]


def make_tasks(cfg: Config):
    """``(task1, task2, description of the data)``."""
    source = pc.resolve_source(cfg.data)
    x, y, desc = pc.load_source(cfg.data, source)
    return pc.make_task(cfg.data, x, y, cfg.task1, "1"), pc.make_task(cfg.data, x, y, cfg.task2, "2"), desc


def _unit(cfg: Config, engine: pc.Engine, d1, d2, first: int, count: int):
    """Runs ``first .. first + count - 1`` (vmapped): both conditions, a record per (run, condition)."""

    def work(ctx) -> list[dict]:
        h = _both_conditions(cfg, engine, d1, d2, first, count)
        rng = np.random.default_rng([cfg.seed, first])
        return [_record(cfg, h, first, i, cond, rng) for i in range(count) for cond in CONDITIONS]

    return work


def _both_conditions(cfg: Config, engine: pc.Engine, d1, d2, first: int, count: int) -> dict:
    """S+S and P+S for ``count`` runs on the device, their results read back once: ``generations1
    [count]`` (S+S's search on task 1, which sets P+S's training budget) and, per condition, a dict
    of the same keys (``path1``, ``curve1``, ``solved1`` (None for P+S), ``acc1``, ``c1``, ``g2``,
    ``solved2``, ``path2``, ``curve2``, ``acc2``, ``c2``), each ``[count, ...]``."""
    k_init, k_s1, k_pick, k_p1, k_s2, k_reset = pc.split_keys(cfg.seed, first, count, 6)
    params0, states = engine.init(k_init)
    ss1, r1 = engine.search(states, k_s1, d1)  # S+S: the path is searched for on task 1
    # P+S: a path trained for as many sessions as S+S needed generations on task 1
    pick = engine.random_paths(k_pick) if cfg.pick == "random" else r1.path
    ps1, pick_curve = engine.fixed(states, pick, r1.generations, k_p1, d1)
    task1 = {"S+S": (ss1, r1.path, r1.curve, r1.solved), "P+S": (ps1, pick, pick_curve, None)}
    out = {"generations1": r1.generations}
    for cond, (st1, path1, curve1, solved1) in task1.items():
        one = dict(path1=path1, curve1=curve1, solved1=solved1, c1=st1.counters)
        one["acc1"] = engine.test_acc(st1.params, path1, 0, d1)
        st2 = engine.next_task(st1, path1, params0, k_reset, lock=True)  # task 2 searched by both
        st2, r2 = engine.search(st2, k_s2, d2)
        one.update(g2=r2.generations, solved2=r2.solved, path2=r2.path, curve2=r2.curve, c2=st2.counters)
        one["acc2"] = engine.test_acc(st2.params, r2.path, 1, d2)
        out[cond] = one
    return jax.device_get(out)


def _record(cfg: Config, h: dict, first: int, i: int, cond: str, rng: np.random.Generator) -> dict:
    """Run ``first + i``'s record for one condition: paths, generations, accuracies, reuse."""
    c = h[cond]
    g1, g2 = int(h["generations1"][i]), int(c["g2"][i])
    p1, p2 = c["path1"][i], c["path2"][i]
    per_layer = pa.reuse_per_layer(p1, p2)
    rand = pa.random_reuse(p1, p2, cfg.pathnet.modules, cfg.random_draws, rng)
    total = rand.sum(axis=1)
    return {
        "run": first + i,
        "condition": cond,
        "path1": p1,
        "path2": p2,
        "generations1": g1,
        "solved1": None if c["solved1"] is None else bool(c["solved1"][i]),
        "generations2": g2,
        "solved2": bool(c["solved2"][i]),
        "test_acc1": float(c["acc1"][i]),
        "test_acc2": float(c["acc2"][i]),
        "training1": pa.mean_training(c["c1"][i], p1),
        "training2": pa.mean_training(c["c2"][i], p2),
        "reuse": int(sum(per_layer)),
        "reuse_per_layer": per_layer,
        "random_reuse_mean": float(total.mean()),
        "random_reuse_expected": pa.expected_random_reuse(p1, p2, cfg.pathnet.modules),
        "random_reuse_counts": np.bincount(total, minlength=p1.size + 1),
        "random_reuse_layer_mean": rand.mean(axis=0),
        "curve1": c["curve1"][i][:g1],
        "curve2": c["curve2"][i][:g2],
    }
