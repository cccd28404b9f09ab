"""The protocol of the thesis's proposed second study (docs/papers.md 3.2, our extension).

A curriculum of tasks learned one after the other by one PathNet (after each task the winner's
modules are locked and the rest re-initialised), searched under several selection-pressure
schemes: tournament size k (2 = the binary tournament, up to 25), winner replaces all the other
contestants (with k = population: the whole population), better half replaces worse half, and
recombination of the best two. Measured per task and scheme: generations to threshold, held-out
accuracy, capacity used (share of the L x M modules locked so far), module reuse (share of the
winner's modules locked by earlier tasks), and per generation the population diversity (mean
pairwise number of modules used by exactly one of two members) and the winner's reuse.

The thesis's curriculum is MNIST 0-4, 5-9, 0-9, then SVHN likewise; tasks whose files are missing
are skipped with a note (``skip_missing``), so the study runs "on whatever data is present". The
quick preset uses the digits (or the MNIST test digits) tasks only.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from pnn_jax.analysis import pathnet as pa
from pnn_jax.config import ConfigError, check
from pnn_jax.experiments.pathnet_supervised import common as pc
from pnn_jax.experiments.runner import Plan, Protocol
from pnn_jax.tables.records import SELECTION_PRESSURE
from pnn_jax.train.pathnet import task_data


@dataclasses.dataclass
class TaskSpec:
    source: str = "auto"
    """auto, digits, mnist or svhn."""
    classes: list[int] = dataclasses.field(default_factory=lambda: [0, 1, 2, 3, 4])


@dataclasses.dataclass
class SchemeSpec:
    name: str = "binary"
    tournament_size: int = 2
    scheme: str = "replace_losers"


def _curriculum() -> list[TaskSpec]:
    five, rest, ten = [0, 1, 2, 3, 4], [5, 6, 7, 8, 9], list(range(10))
    return [TaskSpec(s, c) for s in ("auto", "svhn") for c in (five, rest, ten)]


def _schemes() -> list[SchemeSpec]:
    return [
        SchemeSpec("binary", 2, "replace_losers"),
        SchemeSpec("k=5", 5, "replace_losers"),
        SchemeSpec("k=25", 25, "replace_losers"),
        SchemeSpec("winner replaces all", 64, "replace_losers"),
        SchemeSpec("better half", 8, "better_half"),
        SchemeSpec("recombine best two", 8, "recombine"),
    ]


@dataclasses.dataclass
class Config:
    experiment: str = "thesis_selection_pressure"
    """The experiment's name (selects its module and experiments/<name>/)."""
    preset: str = "quick"
    """The preset the run started from (experiments/<name>/preset/<preset>.yaml)."""
    seed: int = 0
    """Repetition r uses the PRNG streams of (seed, r)."""
    tasks: list[TaskSpec] = dataclasses.field(default_factory=_curriculum)
    """The curriculum, in order."""
    skip_missing: bool = True
    """Skip tasks whose data files are missing (with a note) instead of failing."""
    schemes: list[SchemeSpec] = dataclasses.field(default_factory=_schemes)
    """Selection schemes compared; each overrides search.tournament_size and search.scheme."""
    repetitions: int = 4
    """Runs of the curriculum per selection setting."""
    out_dir: str = "runs"
    """Root of run directories: <out_dir>/<experiment>/<date>_<time>_<id>/."""
    data: pc.DataConfig = dataclasses.field(default_factory=pc.DataConfig)
    pathnet: pc.PathNetConfig = dataclasses.field(default_factory=pc.PathNetConfig)
    search: pc.SearchConfig = dataclasses.field(default_factory=pc.SearchConfig)
    optim: pc.OptimConfig = dataclasses.field(default_factory=pc.OptimConfig)


def _search_for(cfg: Config, spec: SchemeSpec) -> pc.SearchConfig:
    return dataclasses.replace(cfg.search, tournament_size=spec.tournament_size, scheme=spec.scheme)


class SelectionPressure(Protocol):
    """The curriculum under each scheme; a unit is one scheme (its repetitions vmapped), a record
    one (scheme, task, repetition)."""

    Config = Config
    records = SELECTION_PRESSURE
    table = "thesis_selection_pressure"

    def validate(self, cfg: Config) -> None:
        check(cfg.repetitions >= 1, "repetitions", cfg.repetitions, "must be at least 1")
        check(len(cfg.schemes) >= 1, "schemes", cfg.schemes, "needs at least one scheme")
        names = [s.name for s in cfg.schemes]
        check(len(set(names)) == len(names), "schemes", names, "scheme names must be distinct")
        for spec in cfg.schemes:
            try:
                pc.validate_common(cfg.data, cfg.pathnet, _search_for(cfg, spec), cfg.optim)
            except ConfigError as e:
                raise ConfigError(f"scheme {spec.name!r}: {e}") from None
        for t in cfg.tasks:
            check(
                t.source in ("auto", "digits", "mnist", "svhn"),
                "tasks.source",
                t.source,
                "choose auto, digits, mnist or svhn",
            )
        make_tasks(cfg)

    def plan(self, cfg: Config) -> Plan:
        tasks, labels, notes = make_tasks(cfg)
        data = task_data(tasks)
        head = max(t.num_classes for t in tasks)
        units = []
        for i, spec in enumerate(cfg.schemes):
            engine = pc.Engine(
                tasks[0].x_train.shape[1],
                cfg.pathnet,
                _search_for(cfg, spec),
                cfg.optim,
                num_heads=len(tasks),
                head_size=head,
                data=cfg.data,
            )
            units.append(
                (
                    f"scheme {spec.name} (k={spec.tournament_size}, {spec.scheme})",
                    _unit(cfg, engine, data, labels, i, spec),
                )
            )
        s = cfg.search
        header = [
            f"{cfg.experiment} ({cfg.preset}): curriculum "
            + " -> ".join(labels)
            + f"; {cfg.repetitions} repetitions per scheme",
            *[f"  {n}" for n in notes],
            f"  L/M/N = {cfg.pathnet.layers}/{cfg.pathnet.modules}/{cfg.pathnet.active}; "
            f"population {s.population}, T = {s.steps} x {s.batch_size}, threshold {s.threshold}, "
            f"limit {s.max_generations}, {s.schedule}",
        ]
        return Plan(units, header, notes=notes)

    def rows(self, cfg: Config, records: list[dict]) -> list[dict]:
        """Per scheme: generations summed over the tasks, capacity used at the end, mean accuracy."""
        tasks = sorted({r["task"] for r in records})

        def pick(scheme, task, key):
            return [r[key] for r in records if r["scheme"] == scheme and r["task"] == task]

        return [
            {
                "method": s.name,
                "generations_total": float(np.sum([np.mean(pick(s.name, t, "generations")) for t in tasks])),
                "capacity_used": float(np.mean(pick(s.name, tasks[-1], "capacity_used"))),
                "test_acc_mean": float(np.mean([r["test_acc"] for r in records if r["scheme"] == s.name])),
            }
            for s in cfg.schemes
        ]

    def extra(self, cfg: Config, records: list[dict]) -> dict:
        """``tasks``: the labels of the curriculum's tasks that had data, in order."""
        return {"tasks": [label for _, label in sorted({(r["task"], r["task_label"]) for r in records})]}


def make_tasks(cfg: Config):
    """``(tasks, labels, notes)``: the curriculum's tasks that have data (all of them, or an error,
    when ``skip_missing`` is false)."""
    cache: dict[str, tuple] = {}
    tasks, labels, notes = [], [], []
    for i, spec in enumerate(cfg.tasks):
        source = pc.resolve_source(dataclasses.replace(cfg.data, source=spec.source))
        try:
            if source not in cache:
                cache[source] = pc.load_source(cfg.data, source)
        except ConfigError as e:
            if not cfg.skip_missing:
                raise
            notes.append(f"task {i + 1} ({spec.source} {spec.classes}) skipped: {e}")
            continue
        x, y, _ = cache[source]
        label = (
            f"{source} {min(spec.classes)}-{max(spec.classes)}"
            if spec.classes == list(range(min(spec.classes), max(spec.classes) + 1))
            else f"{source} {spec.classes}"
        )
        tasks.append(pc.make_task(cfg.data, x, y, spec.classes, label))
        labels.append(label)
    if not tasks:
        raise ConfigError("no task of the curriculum has data: " + "; ".join(notes))
    return tasks, labels, notes


def _unit(cfg: Config, engine: pc.Engine, data, labels, index: int, spec: SchemeSpec):
    def work(ctx) -> list[dict]:

        r = cfg.repetitions
        keys = pc.split_keys(cfg.seed, index * 100_003, r, 2 + 2 * len(data))
        params0, st = engine.init(keys[0])
        out = []
        previous = None
        for t, d in enumerate(data):
            if previous is not None:
                st = engine.next_task(st, previous, params0, keys[2 + 2 * t], lock=True)
            st, res = engine.search(st, keys[1 + 2 * t], d)
            previous = res.path
            acc = engine.test_acc(st.params, res.path, t, d)
            h = jax.device_get(
                dict(
                    g=res.generations,
                    solved=res.solved,
                    acc=acc,
                    frozen=st.frozen,
                    path=res.path,
                    div=res.diversity,
                    reuse=res.reuse,
                    curve=res.curve,
                )
            )
            for i in range(r):
                g = int(h["g"][i])
                used = pa.active_mask(h["path"][i], h["frozen"][i].shape[1])
                out.append(
                    {
                        "scheme": spec.name,
                        "task": t,
                        "task_label": labels[t],
                        "run": i,
                        "generations": g,
                        "sessions": g * engine.tournament.num_tournaments * spec.tournament_size,
                        "solved": bool(h["solved"][i]),
                        "test_acc": float(h["acc"][i]),
                        "path": h["path"][i],
                        "reuse": float((used & h["frozen"][i]).sum() / used.sum()),
                        "capacity_used": pa.capacity_used(h["frozen"][i] | used),
                        "diversity_curve": h["div"][i][:g],
                        "reuse_curve": h["reuse"][i][:g],
                        "fitness_curve": h["curve"][i][:g],
                    }
                )
        return out

    return work
