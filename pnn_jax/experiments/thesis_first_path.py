"""thesis_first_path: the PathNet thesis study, "search + search" vs "pick + search" (docs/papers.md 3.1).

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
and the fitness curves. The summary table, figures (a), (b), (c) and training curves follow.

Run it with ``pnn-jax run experiment=thesis_first_path [preset=smoke|quick|paper] [key=value ...]``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import numpy as np

from pnn_jax import plots
from pnn_jax.analysis import pathnet as pa
from pnn_jax.config import check, check_choice
from pnn_jax.experiments import pathnet_common as pc
from pnn_jax.experiments import units as unitlib
from pnn_jax.train.pathnet import task_data

NAME = "thesis_first_path"
SUMMARY = (
    "PathNet thesis: search+search vs pick+search on binary MNIST {3,4} -> {1,2}, module reuse (thesis 3.1)"
)
PRESETS = {
    "smoke": "~20 s",
    "quick": "~40 s digits, ~1.5 min MNIST (default; `make run`)",
    "paper": "hours (256 repetitions, MNIST)",
    "thesis": "the thesis's code's protocol (raw pixels, Glorot, sizes 1..N, refill; 40 repetitions, MNIST)",
}
CONDITIONS = ("S+S", "P+S")
PICKS = ("random", "search_path")


@dataclasses.dataclass
class Config:
    experiment: str = NAME
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
    stuck_below: float = 0.6
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


def validate(cfg: Config) -> None:
    """One-line :class:`ConfigError` for any bad value, including the data (nothing compiled yet)."""
    pc.validate_common(cfg.data, cfg.pathnet, cfg.search, cfg.optim)
    check(cfg.repetitions >= 1, "repetitions", cfg.repetitions, "must be at least 1")
    check(cfg.chunk >= 0, "chunk", cfg.chunk, "must be >= 0 (0 = all repetitions in one call)")
    check(0.0 <= cfg.stuck_below <= 1.0, "stuck_below", cfg.stuck_below, "must be in [0, 1]")
    check(cfg.random_draws >= 1, "random_draws", cfg.random_draws, "must be at least 1")
    check_choice("pick", cfg.pick, PICKS)
    for key in ("task1", "task2"):
        classes = getattr(cfg, key)
        check(
            len(classes) >= 2 and len(set(classes)) == len(classes), key, classes, "needs 2+ distinct classes"
        )
    make_tasks(cfg)


def make_tasks(cfg: Config):
    """``(task1, task2, description of the data)``."""
    source = pc.resolve_source(cfg.data)
    x, y, desc = pc.load_source(cfg.data, source)
    return pc.make_task(cfg.data, x, y, cfg.task1, "1"), pc.make_task(cfg.data, x, y, cfg.task2, "2"), desc


def run(cfg: Config, run_dir: Path, *, resume: bool = False, quiet: bool = False) -> dict:
    """Run (or resume) the study in ``run_dir``; returns the summary (also ``summary.json``)."""
    validate(cfg)
    unitlib.begin(run_dir, cfg, resume)
    t1, t2, desc = make_tasks(cfg)
    d1, d2 = task_data([t1, t2])
    head = max(t1.num_classes, t2.num_classes)
    engine = pc.Engine(
        t1.x_train.shape[1], cfg.pathnet, cfg.search, cfg.optim, num_heads=2, head_size=head, data=cfg.data
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
        f"{NAME} ({cfg.preset}): {desc}; task 1 = {cfg.task1} ({len(t1.y_train)} train / "
        f"{len(t1.y_test)} held out), task 2 = {cfg.task2} ({len(t2.y_train)} / {len(t2.y_test)})",
        f"  PathNet L/M/N = {cfg.pathnet.layers}/{cfg.pathnet.modules}/{cfg.pathnet.active}, "
        f"{cfg.pathnet.units} units; population {s.population}, tournament {s.tournament_size} "
        f"({s.scheme}, {s.schedule}), T = {s.steps} x {s.batch_size}, threshold {s.threshold}, "
        f"limit {s.max_generations}; {cfg.optim.optimizer} lr {cfg.optim.lr}; {cfg.repetitions} repetitions, "
        f"{chunk} per vmapped call; jax {jax.__version__} on {jax.devices()[0].platform}",
    ]
    records, seconds = unitlib.run_units(
        run_dir, units, resume=resume, quiet=quiet, header=header, experiment=cfg.experiment
    )
    return summarize(cfg, run_dir, records, seconds, quiet, resume)


def _unit(cfg: Config, engine: pc.Engine, d1, d2, first: int, count: int):
    def work(ctx) -> list[dict]:

        k_init, k_s1, k_pick, k_p1, k_s2, k_reset = pc.split_keys(cfg.seed, first, count, 6)
        params0, states = engine.init(k_init)
        # S+S
        ss1, r1 = engine.search(states, k_s1, d1)
        ss_acc1 = engine.test_acc(ss1.params, r1.path, 0, d1)
        ss_counters1 = ss1.counters
        ss2 = engine.next_task(ss1, r1.path, params0, k_reset, lock=True)
        ss2, r2 = engine.search(ss2, k_s2, d2)
        ss_acc2 = engine.test_acc(ss2.params, r2.path, 1, d2)
        # P+S: a path trained for as many sessions as S+S needed generations on task 1
        pick = engine.random_paths(k_pick) if cfg.pick == "random" else r1.path
        ps1, pick_curve = engine.fixed(states, pick, r1.generations, k_p1, d1)
        ps_acc1 = engine.test_acc(ps1.params, pick, 0, d1)
        ps_counters1 = ps1.counters
        ps2 = engine.next_task(ps1, pick, params0, k_reset, lock=True)
        ps2, rp2 = engine.search(ps2, k_s2, d2)
        ps_acc2 = engine.test_acc(ps2.params, rp2.path, 1, d2)
        h = jax.device_get(
            dict(
                g1=r1.generations,
                solved1=r1.solved,
                path1=r1.path,
                curve1=r1.curve,
                acc1=ss_acc1,
                c1=ss_counters1,
                ss_g2=r2.generations,
                ss_solved2=r2.solved,
                ss_path2=r2.path,
                ss_curve2=r2.curve,
                ss_acc2=ss_acc2,
                ss_c2=ss2.counters,
                pick=pick,
                pick_curve=pick_curve,
                ps_acc1=ps_acc1,
                ps_c1=ps_counters1,
                ps_g2=rp2.generations,
                ps_solved2=rp2.solved,
                ps_path2=rp2.path,
                ps_curve2=rp2.curve,
                ps_acc2=ps_acc2,
                ps_c2=ps2.counters,
            )
        )
        rng = np.random.default_rng([cfg.seed, first])
        out = []
        for i in range(count):
            g1 = int(h["g1"][i])
            for cond in CONDITIONS:
                ss = cond == "S+S"
                p1 = h["path1"][i] if ss else h["pick"][i]
                pre = "ss_" if ss else "ps_"
                p2 = h[pre + "path2"][i]
                g2 = int(h[pre + "g2"][i])
                per_layer = pa.reuse_per_layer(p1, p2)
                rand = pa.random_reuse(p1, p2, cfg.pathnet.modules, cfg.random_draws, rng)
                total = rand.sum(axis=1)
                out.append(
                    {
                        "run": first + i,
                        "condition": cond,
                        "path1": p1,
                        "path2": p2,
                        "generations1": g1,
                        "solved1": bool(h["solved1"][i]) if ss else None,
                        "generations2": g2,
                        "solved2": bool(h[pre + "solved2"][i]),
                        "test_acc1": float(h["acc1"][i] if ss else h["ps_acc1"][i]),
                        "test_acc2": float(h[pre + "acc2"][i]),
                        "training1": pa.mean_training(h["c1"][i] if ss else h["ps_c1"][i], p1),
                        "training2": pa.mean_training(h[pre + "c2"][i], p2),
                        "reuse": int(sum(per_layer)),
                        "reuse_per_layer": per_layer,
                        "random_reuse_mean": float(total.mean()),
                        "random_reuse_expected": pa.expected_random_reuse(p1, p2, cfg.pathnet.modules),
                        "random_reuse_counts": np.bincount(total, minlength=p1.size + 1),
                        "random_reuse_layer_mean": rand.mean(axis=0),
                        "curve1": (h["curve1"][i] if ss else h["pick_curve"][i])[:g1],
                        "curve2": h[pre + "curve2"][i][:g2],
                    }
                )
        return out

    return work


# ------------------------------------------------------------------------------------------------
# Summary: the table and the figures


def _bins(values, top: int = 3) -> list[float]:
    """Fractions of runs with reuse 0, 1, .., top-1 and >= top."""
    v = np.asarray(values)
    return [float(np.mean(v == k)) for k in range(top)] + [float(np.mean(v >= top))]


def summarize(
    cfg: Config, run_dir: Path, records: list[dict], seconds: float, quiet: bool, resumed: bool
) -> dict:

    by = {c: [r for r in records if r["condition"] == c] for c in CONDITIONS}
    ss, ps = by["S+S"], by["P+S"]
    L = cfg.pathnet.layers
    # the random-selection baseline, against the S+S runs' paths
    counts = np.sum([r["random_reuse_counts"] for r in ss], axis=0).astype(float)
    random_hist = counts / counts.sum()
    random_bins = [*random_hist[:3].tolist(), float(random_hist[3:].sum())]
    random_mean = float(np.mean([r["random_reuse_mean"] for r in ss]))
    random_expected = float(np.mean([r["random_reuse_expected"] for r in ss]))
    random_layer = np.mean([r["random_reuse_layer_mean"] for r in ss], axis=0)

    def col(rs, key):
        return [r[key] for r in rs]

    def pct(bins):
        return " / ".join(f"{100 * b:.0f}%" for b in bins)

    def layers(rs):
        return " / ".join(f"{m:.2f}" for m in np.mean([r["reuse_per_layer"] for r in rs], axis=0))

    stuck = cfg.stuck_below

    def n_stuck(rs, key):
        return sum(a < stuck for a in col(rs, key))

    rows = [
        ("runs", f"{len(ss)}", f"{len(ps)}", ""),
        (
            "generations, task 1",
            pc.fmt_ms(col(ss, "generations1")),
            f"({pc.fmt_ms(col(ps, 'generations1'))} sessions, no search)",
            "",
        ),
        ("generations, task 2", pc.fmt_ms(col(ss, "generations2")), pc.fmt_ms(col(ps, "generations2")), ""),
        (
            "task 1 / task 2 reached the threshold",
            f"{sum(col(ss, 'solved1'))} / {sum(col(ss, 'solved2'))}",
            f"- / {sum(col(ps, 'solved2'))}",
            "",
        ),
        ("test accuracy, task 1", pc.fmt_ms(col(ss, "test_acc1"), 3), pc.fmt_ms(col(ps, "test_acc1"), 3), ""),
        ("test accuracy, task 2", pc.fmt_ms(col(ss, "test_acc2"), 3), pc.fmt_ms(col(ps, "test_acc2"), 3), ""),
        (
            f"runs stuck at chance (test acc < {stuck}), task 1 / task 2",
            f"{n_stuck(ss, 'test_acc1')} / {n_stuck(ss, 'test_acc2')}",
            f"{n_stuck(ps, 'test_acc1')} / {n_stuck(ps, 'test_acc2')}",
            "",
        ),
        (
            "average training of path 1 modules (sessions)",
            pc.fmt_ms(col(ss, "training1")),
            pc.fmt_ms(col(ps, "training1")),
            "",
        ),
        (
            "average training of path 2 modules (sessions)",
            pc.fmt_ms(col(ss, "training2")),
            pc.fmt_ms(col(ps, "training2")),
            "",
        ),
        (
            "module reuse (path 2 in path 1)",
            pc.fmt_ms(col(ss, "reuse"), 2),
            pc.fmt_ms(col(ps, "reuse"), 2),
            f"{random_mean:.2f} (exact {random_expected:.2f})",
        ),
        (
            "reuse 0 / 1 / 2 / 3+ (share of runs)",
            pct(_bins(col(ss, "reuse"))),
            pct(_bins(col(ps, "reuse"))),
            pct(random_bins),
        ),
        (f"reuse per layer (1..{L})", layers(ss), layers(ps), " / ".join(f"{m:.2f}" for m in random_layer)),
    ]
    table = "| | S+S | P+S | random selection |\n|---|---|---|---|\n" + "\n".join(
        f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows
    )
    fig_dir = run_dir / "figures"
    figures = []
    figures += plots.means_by_group(
        {c: (col(by[c], "reuse"), col(by[c], "training2")) for c in CONDITIONS},
        fig_dir / "a_training_vs_reuse",
        title="(a) average training of path 2 vs module reuse",
        xlabel="module reuse (path-2 modules in path 1)",
        ylabel="mean training counter of path 2 (sessions)",
    )
    top = L * cfg.pathnet.active
    hist = {
        c: np.bincount(col(by[c], "reuse"), minlength=top + 1)[: top + 1] / max(1, len(by[c]))
        for c in CONDITIONS
    }
    hist["random"] = random_hist[: top + 1]
    last = max(int(np.max(np.flatnonzero(np.asarray(h) > 0), initial=0)) for h in hist.values())
    figures += plots.grouped_bars(
        {k: np.asarray(v)[: last + 1] for k, v in hist.items()},
        [str(k) for k in range(last + 1)],
        fig_dir / "b_reuse_histogram",
        title="(b) module reuse",
        xlabel="module reuse",
        ylabel="share of runs",
    )
    figures += plots.grouped_bars(
        {
            "S+S": np.mean(col(ss, "reuse_per_layer"), axis=0),
            "P+S": np.mean(col(ps, "reuse_per_layer"), axis=0),
            "random": random_layer,
        },
        [f"layer {i + 1}" for i in range(L)],
        fig_dir / "c_reuse_per_layer",
        title="(c) module reuse per layer",
        ylabel="mean reused modules",
    )
    figures += plots.curves(
        {
            "path 1 (task 1)": {"S+S (search)": col(ss, "curve1"), "P+S (picked path)": col(ps, "curve1")},
            "path 2 (task 2)": {"S+S": col(ss, "curve2"), "P+S": col(ps, "curve2")},
        },
        fig_dir / "training_curves",
        xlabel="generation (P+S task 1: training session)",
    )
    metrics = ("generations1", "generations2", "test_acc1", "test_acc2", "training1", "training2", "reuse")
    summary_rows = [
        {"method": c, **{k: float(np.mean(col(by[c], k))) for k in metrics}} for c in CONDITIONS
    ] + [{"method": "random", "reuse": random_mean}]
    notes = [
        f"{len(ss)} repetitions; mean ± std over runs. P+S trains its picked path ({cfg.pick}) for as "
        "many sessions (x T minibatches) as S+S used generations on task 1. Reuse counts path-2 "
        "modules that path 1 uses in the same layer; the random baseline draws as many distinct "
        f"modules per layer as the S+S path 2 has ({cfg.random_draws} draws per run). Total {seconds:.1f} s.",
    ]
    return unitlib.finish(
        run_dir,
        cfg,
        rows=summary_rows,
        table=table,
        seconds=seconds,
        resumed=resumed,
        figures=figures,
        quiet=quiet,
        notes=notes,
        random_reuse_histogram=random_hist,
    )
