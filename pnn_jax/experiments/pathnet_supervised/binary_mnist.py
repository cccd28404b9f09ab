"""The PathNet paper's binary-MNIST transfer protocol (docs/papers.md 2.2-2.4).

For each (task A, task B) pair of digit pairs and each repetition, three ways to learn task B:

* **pathnet**: search task A; lock the winner's modules, re-initialise every other parameter, new
  head and population; search task B (paths may route through the frozen modules).
* **scratch** ("independent learning"): search task B on the initial module bank, nothing frozen.
* **finetune**: search task A; then search task B with every module trainable from its task-A
  weights (new head and population, nothing locked or reset).

The outcome is the number of generations to reach the training-accuracy threshold on task B, and
the speedup ratio = generations from scratch / generations of the method, given both ways: the
ratio of the means (what we compare with the paper's 1.18, which is 195 / 167 of its means) and
the mean of per-run ratios (repetition r of each method shares task B's initial population and
minibatch stream). All three methods of a repetition start from the same initial bank.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from pnn_jax import methods
from pnn_jax.analysis import pathnet as pa
from pnn_jax.analysis import speedup
from pnn_jax.config import check, check_methods
from pnn_jax.experiments.pathnet_supervised import common as pc
from pnn_jax.experiments.runner import Plan, Protocol
from pnn_jax.tables.records import BINARY_MNIST
from pnn_jax.train.pathnet import task_data


@dataclasses.dataclass
class Config:
    experiment: str = "pathnet_binary_mnist"
    """The experiment's name (selects its module and experiments/<name>/)."""
    preset: str = "quick"
    """The preset the run started from (experiments/<name>/preset/<preset>.yaml)."""
    seed: int = 0
    """Repetition r of pair p uses the PRNG streams of (seed, p, r): bank, populations, minibatches."""
    pairs: list[list[list[int]]] = dataclasses.field(
        default_factory=lambda: [[[3, 4], [1, 2]], [[0, 1], [6, 7]], [[5, 8], [2, 9]]]
    )
    """Transfer pairs [task A classes, task B classes]."""
    methods: list[str] = dataclasses.field(default_factory=lambda: list(methods.names("pathnet")))
    """pathnet, scratch and/or finetune (scratch is required: the speedup's reference)."""
    repetitions: int = 8
    """Runs per pair (vmapped in one call)."""
    out_dir: str = "runs"
    """Root of run directories: <out_dir>/<experiment>/<date>_<time>_<id>/."""
    data: pc.DataConfig = dataclasses.field(default_factory=pc.DataConfig)
    pathnet: pc.PathNetConfig = dataclasses.field(default_factory=pc.PathNetConfig)
    search: pc.SearchConfig = dataclasses.field(default_factory=pc.SearchConfig)
    optim: pc.OptimConfig = dataclasses.field(default_factory=pc.OptimConfig)


class BinaryMnist(Protocol):
    """PathNet vs scratch vs fine-tuning on task B of each pair; a unit is one pair (all its
    repetitions vmapped), a record one (pair, repetition, method)."""

    Config = Config
    records = BINARY_MNIST
    table = "pathnet_binary_mnist"

    def validate(self, cfg: Config) -> None:
        pc.validate_common(cfg.data, cfg.pathnet, cfg.search, cfg.optim)
        check(cfg.repetitions >= 1, "repetitions", cfg.repetitions, "must be at least 1")
        check(len(cfg.pairs) >= 1, "pairs", cfg.pairs, "needs at least one [task A, task B] pair")
        for i, pair in enumerate(cfg.pairs):
            check(len(pair) == 2, f"pairs[{i}]", pair, "must be [task A classes, task B classes]")
            for classes in pair:
                check(
                    len(classes) >= 2 and len(set(classes)) == len(classes),
                    f"pairs[{i}]",
                    pair,
                    "each task needs 2+ distinct classes",
                )
        check_methods("methods", cfg.methods, "pathnet")
        make_tasks(cfg)

    def plan(self, cfg: Config) -> Plan:
        pairs, desc = make_tasks(cfg)
        data = task_data([t for pair in pairs for t in pair])
        head = max(t.num_classes for pair in pairs for t in pair)
        engine = pc.Engine(
            pairs[0][0].x_train.shape[1],
            cfg.pathnet,
            cfg.search,
            cfg.optim,
            num_heads=2,
            head_size=head,
            data=cfg.data,
        )
        units = [
            (
                f"pair {i} {cfg.pairs[i][0]} -> {cfg.pairs[i][1]}",
                _unit(cfg, engine, data[2 * i], data[2 * i + 1], i),
            )
            for i in range(len(pairs))
        ]
        s = cfg.search
        header = [
            f"{cfg.experiment} ({cfg.preset}): {desc}; {len(pairs)} pair(s), {cfg.repetitions} repetitions "
            f"each, methods {cfg.methods}",
            f"  L/M/N = {cfg.pathnet.layers}/{cfg.pathnet.modules}/{cfg.pathnet.active}; "
            f"population {s.population}, T = {s.steps} x {s.batch_size}, threshold {s.threshold}, "
            f"limit {s.max_generations}; {cfg.optim.optimizer} lr {cfg.optim.lr}",
        ]
        return Plan(units, header)

    def rows(self, cfg: Config, records: list[dict]) -> list[dict]:
        """Per method: mean generations on task B, both speedups and the mean task-B accuracy."""

        def by_run(method):
            return {(r["pair"], r["run"]): r["generations_b"] for r in records if r["method"] == method}

        rows = []
        for m in cfg.methods:
            both = speedup.speedup(by_run(methods.reference("pathnet").name), by_run(m))
            rows.append(
                {
                    "method": m,
                    "generations_b": float(np.mean(list(by_run(m).values()))),
                    "speedup": both["ratio_of_means"],
                    "speedup_per_run": both["mean_of_ratios"],
                    "test_acc_b": float(np.mean([r["test_acc_b"] for r in records if r["method"] == m])),
                }
            )
        return rows


def make_tasks(cfg: Config):
    """``([(task A, task B) per pair], description)``."""
    x, y, desc = pc.load_source(cfg.data, pc.resolve_source(cfg.data))
    tasks = [
        (pc.make_task(cfg.data, x, y, a, f"{i}A"), pc.make_task(cfg.data, x, y, b, f"{i}B"))
        for i, (a, b) in enumerate(cfg.pairs)
    ]
    return tasks, desc


def _unit(cfg: Config, engine: pc.Engine, da, db, pair: int):
    def work(ctx) -> list[dict]:

        r = cfg.repetitions
        k_init, k_a, k_b, k_reset = pc.split_keys(cfg.seed, pair * 100_003, r, 4)
        params0, states = engine.init(k_init)
        out: dict[str, dict] = {}
        zeros = np.zeros((r, cfg.pathnet.layers, cfg.pathnet.active), np.int32)
        if any(methods.get(m).learns_source for m in cfg.methods):
            st_a, res_a = engine.search(states, k_a, da)
            acc_a = engine.test_acc(st_a.params, res_a.path, 0, da)
        for method in cfg.methods:
            spec = methods.get(method)
            if spec.learns_source:
                st = engine.next_task(st_a, res_a.path, params0, k_reset, lock=spec.locks_path)
            else:
                st = engine.next_task(states, zeros, params0, k_reset, lock=False)
            st, res = engine.search(st, k_b, db)
            out[method] = jax.device_get(
                dict(
                    g=res.generations,
                    solved=res.solved,
                    path=res.path,
                    acc=engine.test_acc(st.params, res.path, 1, db),
                )
            )
        a = (
            jax.device_get(dict(g=res_a.generations, path=res_a.path, acc=acc_a))
            if any(methods.get(m).learns_source for m in out)
            else None
        )
        records = []
        for i in range(r):
            for method, h in out.items():
                rec = {
                    "pair": pair,
                    "run": i,
                    "method": method,
                    "generations_b": int(h["g"][i]),
                    "solved_b": bool(h["solved"][i]),
                    "test_acc_b": float(h["acc"][i]),
                    "path_b": h["path"][i],
                }
                if a is not None and methods.get(method).learns_source:
                    rec.update(
                        generations_a=int(a["g"][i]),
                        test_acc_a=float(a["acc"][i]),
                        path_a=a["path"][i],
                        overlap=int(sum(pa.reuse_per_layer(a["path"][i], h["path"][i]))),
                    )
                records.append(rec)
        return records

    return work
