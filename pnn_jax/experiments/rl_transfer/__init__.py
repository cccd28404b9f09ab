"""The PNN transfer protocol in reinforcement learning (docs/papers.md 1.3-1.5), shared by
``pnn_classic_transfer``, ``pnn_pong_soup`` and ``pnn_atari``.

A **task** is an envpool environment seen through an observation transform, written
``"<env id>[:<transform>]"`` (``"Pong-v5:hflip"``, ``"CartPole-v1:mirror"``; no transform =
``pong`` / ``identity``). A **pair** is a list of source tasks and a target. For every pair, seed
and method of :mod:`pnn_jax.train.transfer`, the plan's stages are trained with A2C or PPO in
compiled loops; the target stage's learning curve (points = mean raw return of the episodes
finished in each window of agent steps) gives the AUC, and the transfer score is AUC(method) /
AUC(baseline 1) of the same pair and seed, in % (docs/papers.md 1.4). Aggregates over pairs are the
mean and the median, as in the paper's Table 1.

Every (pair, seed, method) is a unit of :mod:`pnn_jax.experiments.units`: checkpointed and resumable.
The package: :mod:`.schema` (config, checks), :mod:`.sequential` (a (pair, seed, method) unit),
:mod:`.population` (``population=true``: the whole sweep as one compiled population), and here the
runner's entry point and the end-of-run summary.
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

from pnn_jax import plots
from pnn_jax.analysis.transfer import transfer_pct
from pnn_jax.experiments import units as unitlib
from pnn_jax.experiments.rl_transfer.population import population_unit
from pnn_jax.experiments.rl_transfer.schema import Config, PairSpec, pair_label, source_iterations, validate
from pnn_jax.experiments.rl_transfer.sequential import pair_unit

__all__ = ["Config", "PairSpec", "run", "summarize", "validate"]


def run(cfg: Config, run_dir: Path, *, resume: bool = False, quiet: bool = False) -> dict:
    validate(cfg)
    unitlib.begin(run_dir, cfg, resume)
    if cfg.population:
        units = [("population: every pair, seed and method", population_unit(cfg))]
    else:
        units = [
            (f"pair {p} seed {cfg.seed + s} {method}", pair_unit(cfg, p, method, cfg.seed + s))
            for p in range(len(cfg.pairs))
            for s in range(cfg.seeds)
            for method in cfg.methods
        ]
    header = [
        f"{cfg.experiment} ({cfg.preset}): {len(cfg.pairs)} pair(s) x {cfg.seeds} seed(s) x "
        f"{len(cfg.methods)} "
        f"method(s); {cfg.env.num_envs} envs ({cfg.env.interface}), {cfg.model.network} columns, "
        f"{cfg.rl.algorithm} t_max {cfg.rl.t_max}, {cfg.optim.optimizer} lr {cfg.optim.lr}; "
        f"{cfg.iterations} iterations per stage"
        f"{f' ({source_iterations(cfg)} per source stage)' if cfg.source_iterations else ''}; "
        f"{'one population' if cfg.population else 'one run at a time'}; "
        f"jax {jax.__version__} on {jax.devices()[0].platform}",
        *[f"  pair {i}: {pair_label(p)}" for i, p in enumerate(cfg.pairs)],
    ]
    records, seconds = unitlib.run_units(
        run_dir, units, resume=resume, quiet=quiet, header=header, experiment=cfg.experiment
    )
    return summarize(cfg, run_dir, records, seconds, quiet, resume)


def transfer_scores(records: list[dict]) -> dict[tuple[int, str], list[float]]:
    """``{(pair, method): [AUC / baseline-1 AUC in % per seed]}`` (seeds whose baseline-1 AUC is not
    positive are left out; :func:`pnn_jax.analysis.transfer.transfer_pct`)."""
    base = {(r["pair"], r["seed"]): unitlib.num(r["auc"]) for r in records if r["method"] == "baseline1"}
    out: dict[tuple[int, str], list[float]] = {}
    for r in records:
        score = transfer_pct(unitlib.num(r["auc"]), base.get((r["pair"], r["seed"]), float("nan")))
        if score == score:
            out.setdefault((r["pair"], r["method"]), []).append(score)
    return out


def summarize(
    cfg: Config, run_dir: Path, records: list[dict], seconds: float, quiet: bool, resumed: bool
) -> dict:

    scores = transfer_scores(records)
    n_pairs = len(cfg.pairs)
    paper = unitlib.load_paper(cfg.experiment).get("transfer_pct", {})
    lines = [
        "| method | mean transfer | median transfer | paper (mean / median) | pairs |",
        "|---|---|---|---|---|",
    ]
    rows = []
    groups = []  # (label, method, pairs): progressive nets split by their number of columns
    for m in cfg.methods:
        if m == "progressive":
            for k in sorted({len(p.sources) + 1 for p in cfg.pairs}):
                groups.append(
                    (
                        f"progressive, {k} columns",
                        m,
                        [i for i, p in enumerate(cfg.pairs) if len(p.sources) + 1 == k],
                    )
                )
        else:
            groups.append((m, m, list(range(n_pairs))))
    for label, m, pairs in groups:
        per_pair = [float(np.mean(scores[(p, m)])) for p in pairs if (p, m) in scores]
        mean = float(np.mean(per_pair)) if per_pair else float("nan")
        median = float(np.median(per_pair)) if per_pair else float("nan")
        shown = [f"{v:.0f}%" if per_pair else "-" for v in (mean, median)]
        ref = paper.get(label.replace(", ", "_").replace(" ", "_"))
        ref_text = f"{ref['mean']}% / {ref['median']}%" if ref else "-"
        lines.append(f"| {label} | {shown[0]} | {shown[1]} | {ref_text} | {len(per_pair)} |")
        in_group = [r for r in records if r["method"] == m and r["pair"] in pairs]
        rows.append(
            {
                "method": label,
                "transfer_mean_pct": mean,
                "transfer_median_pct": median,
                "auc": float(np.mean([unitlib.num(r["auc"]) for r in in_group]))
                if in_group
                else float("nan"),
                "eval_return": float(np.mean([unitlib.num(r["eval_return"]) for r in in_group]))
                if in_group
                else float("nan"),
            }
        )
    lines += [
        "",
        "| pair | method | target AUC (mean return) | transfer | final return | greedy eval return |",
        "|---|---|---|---|---|---|",
    ]
    for p in range(n_pairs):
        for m in cfg.methods:
            rs = [r for r in records if r["pair"] == p and r["method"] == m]
            cells = [
                unitlib.fmt_ms([r["auc"] for r in rs]),
                f"{unitlib.fmt_ms(scores[(p, m)], 0)}%" if (p, m) in scores else "-",
                unitlib.fmt_ms([r["final"] for r in rs]),
                unitlib.fmt_ms([r["eval_return"] for r in rs]),
            ]
            lines.append(f"| {pair_label(cfg.pairs[p])} | {m} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    figures = plots.curves(
        {
            pair_label(cfg.pairs[p]): {
                m: [r["target_curve"] for r in records if r["pair"] == p and r["method"] == m]
                for m in cfg.methods
            }
            for p in range(min(n_pairs, 6))
        },
        run_dir / "figures" / "target_curves",
        xlabel=f"agent steps (x {cfg.window:,})",
        ylabel="mean episode return",
    )
    figures += plots.grouped_bars(
        {m: [float(np.mean(scores.get((p, m), [np.nan]))) for p in range(n_pairs)] for m in cfg.methods},
        [f"pair {p}" for p in range(n_pairs)],
        run_dir / "figures" / "transfer",
        title="transfer: target AUC / baseline 1 AUC (%)",
        ylabel="%",
    )
    notes = [
        f"{cfg.seeds} seed(s) per pair and method; mean ± std over seeds. Transfer = AUC of the target "
        f"learning curve (points every {cfg.window:,} agent steps) over baseline 1's for the same pair "
        f"and seed (docs/papers.md 1.4; score offset {cfg.score_offset:g}); mean and median over pairs; "
        f"'-' where baseline 1's AUC is not positive. Total {seconds:.1f} s."
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
    )
