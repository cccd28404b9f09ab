"""thesis_selection_pressure: the thesis's proposed second study (docs/papers.md 3.2, our extension).

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
from pathlib import Path

import jax
import numpy as np

from pnn_jax import plots
from pnn_jax.analysis import pathnet as pa
from pnn_jax.config import ConfigError, check
from pnn_jax.experiments import pathnet_common as pc
from pnn_jax.experiments import units as unitlib
from pnn_jax.train.pathnet import task_data

NAME = "thesis_selection_pressure"
SUMMARY = (
    "PathNet thesis follow-up: selection pressure (tournament size, replacement schemes) "
    "over a task curriculum (3.2)"
)
PRESETS = {"smoke": "~20 s", "quick": "~1-2 min", "paper": "hours (six tasks incl. SVHN, k up to 64)"}


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
    experiment: str = NAME
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


def validate(cfg: Config) -> None:
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


def run(cfg: Config, run_dir: Path, *, resume: bool = False, quiet: bool = False) -> dict:

    validate(cfg)
    unitlib.begin(run_dir, cfg, resume)
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
        f"{NAME} ({cfg.preset}): curriculum "
        + " -> ".join(labels)
        + f"; {cfg.repetitions} repetitions per scheme",
        *[f"  {n}" for n in notes],
        f"  L/M/N = {cfg.pathnet.layers}/{cfg.pathnet.modules}/{cfg.pathnet.active}; "
        f"population {s.population}, "
        f"T = {s.steps} x {s.batch_size}, threshold {s.threshold}, limit {s.max_generations}, {s.schedule}; "
        f"jax {jax.__version__} on {jax.devices()[0].platform}",
    ]
    records, seconds = unitlib.run_units(
        run_dir, units, resume=resume, quiet=quiet, header=header, experiment=cfg.experiment
    )
    return summarize(cfg, run_dir, records, labels, notes, seconds, quiet, resume)


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


def summarize(cfg, run_dir: Path, records, labels, notes, seconds, quiet, resumed) -> dict:

    schemes = [s.name for s in cfg.schemes]

    def pick(scheme, task, key):
        return [r[key] for r in records if r["scheme"] == scheme and r["task"] == task]

    lines = [
        "| scheme | "
        + " | ".join(f"{lab}: generations (sessions) / acc. / reuse" for lab in labels)
        + " | capacity used at the end |",
        "|---|" + "---|" * (len(labels) + 1),
    ]
    rows = []
    for s in schemes:
        cells = [
            f"{pc.fmt_ms(pick(s, t, 'generations'))} ({np.mean(pick(s, t, 'sessions')):.0f}) / "
            f"{np.mean(pick(s, t, 'test_acc')):.3f} / {np.mean(pick(s, t, 'reuse')):.2f}"
            for t in range(len(labels))
        ]
        cap = float(np.mean(pick(s, len(labels) - 1, "capacity_used")))
        lines.append(f"| {s} | " + " | ".join(cells) + f" | {100 * cap:.0f}% |")
        rows.append(
            {
                "method": s,
                "generations_total": float(
                    np.sum([np.mean(pick(s, t, "generations")) for t in range(len(labels))])
                ),
                "capacity_used": cap,
                "test_acc_mean": float(np.mean([r["test_acc"] for r in records if r["scheme"] == s])),
            }
        )
    table = "\n".join(lines)
    fig = run_dir / "figures"
    figures = plots.grouped_bars(
        {s: [float(np.mean(pick(s, t, "generations"))) for t in range(len(labels))] for s in schemes},
        labels,
        fig / "generations_per_task",
        title="generations to threshold per task",
        ylabel="generations",
    )
    figures += plots.grouped_bars(
        {s: [float(np.mean(pick(s, t, "capacity_used"))) for t in range(len(labels))] for s in schemes},
        labels,
        fig / "capacity_used",
        title="share of modules locked after each task",
        ylabel="capacity used",
    )
    figures += plots.curves(
        {
            f"task {t + 1}: {labels[t]}": {s: pick(s, t, "diversity_curve") for s in schemes}
            for t in range(len(labels))
        },
        fig / "diversity",
        ylabel="population diversity (modules)",
    )
    figures += plots.curves(
        {
            f"task {t + 1}: {labels[t]}": {s: pick(s, t, "reuse_curve") for s in schemes}
            for t in range(1, len(labels))
        }
        or {"task 1": {s: pick(s, 0, "reuse_curve") for s in schemes}},
        fig / "reuse_per_generation",
        ylabel="share of winner's modules reused",
    )
    notes = [
        *notes,
        f"{cfg.repetitions} repetitions per scheme; mean ± std of generations, mean test accuracy and reuse. "
        f"Total {seconds:.1f} s.",
    ]
    return unitlib.finish(
        run_dir,
        cfg,
        rows=rows,
        table=table,
        seconds=seconds,
        resumed=resumed,
        figures=figures,
        quiet=quiet,
        notes=notes,
        tasks=labels,
    )
