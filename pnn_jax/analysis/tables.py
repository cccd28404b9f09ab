"""``pnn-jax table <table> <run or sweep dirs...>``: the papers' tables from run directories.

Every run directory at or below the given folders whose ``config.yaml`` names an experiment the
table reads contributes its records (``runs.jsonl``, one line per run and condition). Records of
several runs are pooled (a sweep over seeds or hyperparameters; a job is a (run directory, seed)).
Our numbers are computed from the records with :mod:`pnn_jax.analysis` and shown beside the
published ones (``experiments/<name>/paper.yaml``) with the difference. Written to the output
folder: ``table.md``, ``table.csv`` (long form: section, row, column, value) and ``figures/``.

Tables (:data:`TABLES`):

* ``pnn_classic_transfer``, ``pnn_pong_soup``, ``pnn_atari``, ``pnn_labyrinth_vizdoom``: Table 1's
  column for that domain (mean / median transfer per method), the transfer matrix (source x target,
  heat maps clipped at 200%), positive / negative transfer counts, per-pair scores, AFS and APS per
  layer and column (bar charts as the paper's figures 5 and 7, APS against AFS);
* ``pnn_table1``: PNN Table 1 over the Pong Soup, Atari and Labyrinth-substitute runs given;
* ``rl_learning_curves``: every RL transfer run's target learning curve at ten agent-step marks,
  its final and greedy returns, and the curves as a figure (e.g. ``pnn_pong_soup preset=pong``);
* ``pathnet_binary_mnist``: generations to solve task B and the speedup (both averages);
* ``pathnet_cifar_svhn``: accuracies after the generation budget, from scratch and after transfer;
* ``thesis_first_path``: the thesis summary table (S+S, P+S, random selection) and reuse histograms;
* ``thesis_selection_pressure``: per scheme and task, reuse, capacity used and population diversity;
* ``pathnet_atari``, ``pathnet_lunarlander_curriculum``: PathNet RL speedups and module reuse.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from pnn_jax import plots
from pnn_jax.analysis import pathnet as pa
from pnn_jax.analysis import speedup as sp
from pnn_jax.analysis import transfer as tr
from pnn_jax.config import ConfigError
from pnn_jax.experiments.units import load_paper

RUNS_FILE = "runs.jsonl"
RL_TRANSFER = ("pnn_classic_transfer", "pnn_pong_soup", "pnn_atari", "pnn_labyrinth_vizdoom")
PATHNET_RL = ("pathnet_atari", "pathnet_lunarlander_curriculum")
TABLE1_DOMAINS = {"pnn_pong_soup": "Pong Soup", "pnn_atari": "Atari", "pnn_labyrinth_vizdoom": "Labyrinth"}


# ------------------------------------------------------------------------------------------------
# Inputs and outputs


@dataclasses.dataclass
class Run:
    """One finished run directory: its resolved config, its records and its summary."""

    path: Path
    config: dict
    records: list[dict]
    summary: dict

    @property
    def experiment(self) -> str:
        return self.config.get("experiment", "")


@dataclasses.dataclass
class Options:
    """Aggregation options of ``pnn-jax table``."""

    top_k: int | None = None
    """The PNN paper's protocol: per (pair, method), the mean of the ``top_k`` best jobs (the paper:
    top 3 of 25 hyperparameter settings, docs/papers.md 1.3). None: mean over jobs of per-job scores."""
    band: float = 0.0
    """Positive / negative transfer counts: scores within 100 +- band % count as neutral [?]."""


@dataclasses.dataclass
class Table:
    """A built table: markdown sections, long-form CSV rows and figure files."""

    title: str
    sections: list[tuple[str, list[str], list[list]]] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    figures: list[Path] = dataclasses.field(default_factory=list)

    def add(self, heading: str, header: list[str], rows: list[list]) -> None:
        self.sections.append((heading, header, rows))

    def markdown(self, provenance: str, only: list[int] | None = None) -> str:
        """The whole table, or with ``only`` (1-based section numbers) just those sections and no
        notes: a compact excerpt for a front page, the full table being one link away."""
        if only is not None:
            bad = [i for i in only if not 1 <= i <= len(self.sections)]
            if bad:
                raise ConfigError(
                    f"--sections {','.join(map(str, only))}: table {self.title!r} has sections "
                    f"1..{len(self.sections)} ({'; '.join(h for h, _, _ in self.sections)})"
                )
        chosen = self.sections if only is None else [self.sections[i - 1] for i in only]
        lines = [f"### {self.title}", "", provenance, ""]
        for heading, header, rows in chosen:
            lines += [f"**{heading}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
            lines.append("")
        lines += [*self.notes] if only is None else []
        return "\n".join(lines).rstrip() + "\n"

    def csv_rows(self) -> list[list]:
        out = []
        for heading, header, rows in self.sections:
            for row in rows:
                for column, value in zip(header[1:], row[1:], strict=True):
                    out.append([heading, _cell(row[0]), column, _cell(value)])
        return out


def _cell(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if v != v:
            return "-"
        return f"{v:.0f}" if abs(v) >= 100 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"
    return str(v)


def find_runs(paths: list[Path], experiments: tuple[str, ...]) -> list[Run]:
    """Finished runs (``runs.jsonl`` + ``summary.json`` + ``config.yaml``) of ``experiments`` at or
    below ``paths``; a clear error if a path is missing or holds none."""
    runs, seen = [], set()
    for path in paths:
        path = Path(path)
        if not path.is_dir():
            raise ConfigError(f"{str(path)!r} is not a directory; pass run or sweep directories")
        found = 0
        for f in sorted(path.rglob(RUNS_FILE)):
            d = f.parent
            if d in seen or not (d / "summary.json").exists() or not (d / "config.yaml").exists():
                continue
            config = OmegaConf.to_container(OmegaConf.load(d / "config.yaml"))
            if config.get("experiment") not in experiments:
                continue
            seen.add(d)
            records = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
            runs.append(Run(d, config, records, json.loads((d / "summary.json").read_text())))
            found += 1
        if not found:
            raise ConfigError(
                f"no finished run of {' / '.join(experiments)} under {str(path)!r} "
                "(a run directory has runs.jsonl, summary.json and config.yaml)"
            )
    return runs


def provenance(runs: list[Run]) -> str:
    """One line: experiments, presets, number of runs, commits and machines of the runs."""
    presets = sorted({str(r.config.get("preset", "?")) for r in runs})
    prov = [r.summary.get("provenance") or {} for r in runs]
    commits = sorted({p.get("commit", "not recorded") for p in prov})
    machines = sorted({p.get("machine", "not recorded") for p in prov})
    seconds = sum(float(r.summary.get("wall_time_s", 0.0)) for r in runs)
    return (
        f"Preset {', '.join(presets)}; {len(runs)} run(s) ({seconds / 60:.1f} min); "
        f"commit {', '.join(commits)}; {'; '.join(machines)}."
    )


def build(
    name: str,
    paths: list[Path],
    options: Options | None = None,
    out: Path | None = None,
    excerpt: list[int] | None = None,
):
    """Build table ``name`` from the runs under ``paths``; write it to ``out`` (default: a folder
    ``tables/<name>`` in the first path). Returns ``(markdown, out)``, or with ``excerpt`` (1-based
    section numbers) ``(markdown, out, excerpt_markdown)``: those sections alone, for a README."""
    if name not in TABLES:
        raise ConfigError(f"unknown table {name!r}; choose from {', '.join(TABLES)}")
    options = options or Options()
    if options.top_k is not None and options.top_k < 1:
        raise ConfigError(f"--top-k must be at least 1, got {options.top_k}")
    if options.band < 0:
        raise ConfigError(f"--band must be >= 0 (percentage points), got {options.band}")
    experiments, builder = TABLES[name]
    runs = find_runs([Path(p) for p in paths], experiments)
    out = Path(out) if out is not None else Path(paths[0]) / "tables" / name
    (out / "figures").mkdir(parents=True, exist_ok=True)
    table = builder(name, runs, options, out / "figures")
    markdown = table.markdown(provenance(runs))
    (out / "table.md").write_text(markdown)
    with (out / "table.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["section", "row", "column", "value"])
        writer.writerows(table.csv_rows())
    if excerpt is not None:
        return markdown, out, table.markdown(provenance(runs), only=excerpt)
    return markdown, out


def update_readme(readme: Path, name: str, markdown: str) -> None:
    """Replace the block between ``<!-- table:<name> -->`` and ``<!-- /table:<name> -->`` in
    ``readme`` with ``markdown`` (tables in the README are generated, never typed)."""
    text = readme.read_text()
    start, end = f"<!-- table:{name} -->", f"<!-- /table:{name} -->"
    if start not in text or end not in text:
        raise ConfigError(f"{readme} has no '{start}' ... '{end}' block to fill; add the two markers first")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{markdown}{end}{tail}")


# ------------------------------------------------------------------------------------------------
# Helpers


def _paper(experiment: str) -> dict:

    return load_paper(experiment)


def _diff(ours: float, paper) -> float | None:
    return None if paper is None or ours != ours else float(ours) - float(paper)


def _ms(values, digits: int = 1, scale: float = 1.0) -> str:
    v = np.asarray([x for x in values if x is not None and x == x], float) * scale
    return f"{v.mean():.{digits}f} ± {v.std():.{digits}f}" if v.size else "-"


def _nanmean0(rows) -> np.ndarray:
    """Column means over the rows that are not NaN (NaN where none is), without a warning."""
    a = np.asarray(rows, float)
    n = (~np.isnan(a)).sum(0)
    return np.where(n > 0, np.nansum(a, 0) / np.maximum(n, 1), np.nan)


def _num(v) -> float:
    return float("nan") if v is None else float(v)


# ------------------------------------------------------------------------------------------------
# PNN transfer tables (docs/papers.md 1.4-1.7)

BASELINE_NAMES = {
    "baseline1": "Baseline 1 (single column, target only)",
    "baseline2": "Baseline 2 (source column, output layer fine-tuned)",
    "baseline3": "Baseline 3 (source column, fully fine-tuned)",
    "baseline4": "Baseline 4 (random frozen first column)",
}


def method_key(record: dict) -> str:
    """The paper.yaml key of a record's method: ``baseline1..4`` or ``progressive_<k>_columns``."""
    if record["method"] == "progressive":
        return f"progressive_{record['columns']}_columns"
    return record["method"]


def short_label(key: str) -> str:
    """``Baseline 2`` / ``Progressive, 2 columns`` (without the explanation)."""
    return method_label(key).split(" (")[0]


def method_label(key: str) -> str:
    if key.startswith("progressive_"):
        return f"Progressive, {key.split('_')[1]} columns"
    return BASELINE_NAMES.get(key, key)


def _sources(record: dict) -> list[str]:
    if "sources" in record:
        return list(record["sources"])
    return record["pair_label"].split(" -> ")[0].split(" + ")  # runs made before the field existed


def _target(record: dict) -> str:
    return record.get("target") or record["pair_label"].split(" -> ")[1]


def pnn_scores(runs: list[Run], options: Options) -> tuple[dict, dict, list[str]]:
    """``(scores, per_job, methods)``: transfer % per (pair label, method key) (:func:`tr.transfer_scores`
    with ``options.top_k``), the per-job scores (for spreads) and the method keys in table order.

    Baseline 1 is shared by every method of a pair; progressive nets are keyed by their column
    count, and their pairs are those with as many sources plus one."""
    aucs, order = {}, []
    for i, run in enumerate(runs):
        for r in run.records:
            key = method_key(r)
            if key not in order:
                order.append(key)
            aucs[(r["pair_label"], key, (i, r["seed"]))] = (
                float("nan") if r["auc"] is None else float(r["auc"])
            )
    scores = tr.transfer_scores(aucs, options.top_k)
    base = {(p, j): v for (p, m, j), v in aucs.items() if m == "baseline1"}
    per_job: dict = {}
    for (p, m, j), v in aucs.items():
        if (p, j) in base:
            s = tr.transfer_pct(v, base[(p, j)])
            if s == s:
                per_job.setdefault((p, m), []).append(s)
    methods = sorted(order, key=lambda k: (k.startswith("progressive"), k))
    return scores, per_job, methods


def _table1_rows(name: str, scores: dict, methods: list[str]) -> tuple[list[list], dict]:
    """Table 1's rows for one domain (ours, paper, difference) and ``{method: (mean, median,
    paper mean, paper median)}`` from :func:`pnn_scores`' scores."""
    paper = _paper(name).get("transfer_pct", {})
    rows, summary = [], {}
    for m in methods:
        per_pair = [v for (p, k), v in scores.items() if k == m]
        mean, median = tr.mean_median(per_pair)
        ref = paper.get(m) or {}
        rows.append(
            [
                method_label(m),
                mean,
                median,
                ref.get("mean"),
                ref.get("median"),
                _diff(mean, ref.get("mean")),
                _diff(median, ref.get("median")),
                len(per_pair),
            ]
        )
        summary[m] = (mean, median, ref.get("mean"), ref.get("median"))
    return rows, summary


def rl_transfer_table(name: str, runs: list[Run], options: Options, fig_dir: Path) -> Table:

    table = Table(f"{name}: transfer (AUC of the target curve / baseline 1's, %)")
    scores, per_job, methods = pnn_scores(runs, options)
    rows, _ = _table1_rows(name, scores, methods)
    agg = f"mean of the top {options.top_k} jobs" if options.top_k else "mean over jobs of per-job scores"
    table.add(
        f"Table 1 column (docs/papers.md 1.6): transfer % over pairs ({agg})",
        ["method", "mean", "median", "paper mean", "paper median", "Δ mean", "Δ median", "pairs"],
        rows,
    )
    records = [r for run in runs for r in run.records]
    target_of = {r["pair_label"]: _target(r) for r in records}
    two_col = {r["pair_label"]: (_sources(r)[0], _target(r)) for r in records if len(_sources(r)) == 1}
    sources = sorted({s for s, _ in two_col.values()})
    targets = sorted({t for _, t in two_col.values()})
    matrices = {}
    for m in methods:
        if m == "baseline1" or (m.startswith("progressive") and m != "progressive_2_columns"):
            continue
        cells = {two_col[p]: v for (p, k), v in scores.items() if k == m and p in two_col}
        if cells:
            matrices[short_label(m)] = tr.transfer_matrix(cells, sources, targets)
    if "Progressive, 2 columns" in matrices and len(targets) > 0:
        m = matrices["Progressive, 2 columns"]
        table.add(
            "Transfer matrix, progressive 2 columns (rows: source, columns: target; %)",
            ["source", *targets],
            [[s, *m[i].tolist()] for i, s in enumerate(sources)],
        )
    if matrices:
        table.figures += plots.transfer_heatmaps(matrices, sources, targets, fig_dir / "transfer_matrix")
    paper = _paper(name)
    count_rows = []
    for m in methods:
        if m == "baseline1":
            continue
        by_target: dict[str, list[float]] = {}
        for (p, k), v in scores.items():
            if k == m:
                by_target.setdefault(target_of[p], []).append(v)
        c = tr.count_transfer([float(np.mean(v)) for v in by_target.values()], options.band)
        pkey = "progressive" if m.startswith("progressive") else m
        pos = (paper.get("targets_with_positive_transfer") or {}).get(pkey)
        neg = (paper.get("targets_with_negative_transfer") or {}).get(pkey)
        of = (paper.get("targets_with_positive_transfer") or {}).get("of")
        count_rows.append(
            [
                method_label(m),
                c["positive"],
                c["negative"],
                c["neutral"],
                c["of"],
                f"{pos}/{of}" if pos is not None else None,
                f"{neg}/{of}" if neg is not None else None,
            ]
        )
    table.add(
        f"Targets with positive / negative transfer (> 100 + {options.band:g}% / < 100 - {options.band:g}%)",
        ["method", "positive", "negative", "neutral", "targets", "paper positive", "paper negative"],
        count_rows,
    )
    pair_rows = []
    for p in sorted({r["pair_label"] for r in records}):
        for m in methods:
            if (p, m) in scores:
                aucs = [r["auc"] for r in records if r["pair_label"] == p and method_key(r) == m]
                pair_rows.append(
                    [
                        p,
                        short_label(m),
                        scores[(p, m)],
                        _ms(per_job.get((p, m), []), 0),
                        _ms(aucs),
                        len(aucs),
                    ]
                )
    table.add(
        "Per pair", ["pair", "method", "transfer %", "per job (mean ± std)", "target AUC", "jobs"], pair_rows
    )
    _sensitivity_sections(table, records, fig_dir)
    table.notes.append(
        "Transfer = AUC of the target learning curve (mean episode score per window) / baseline 1's AUC "
        "on the same target and job (docs/papers.md 1.4); Δ = ours - paper in percentage points. Matrices "
        "are coloured with a clip at 200% as in the paper."
    )
    return table


def _sensitivity_sections(table: Table, records: list[dict], fig_dir: Path) -> None:

    with_afs = [r for r in records if r.get("afs")]
    if not with_afs:
        return
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in with_afs:
        groups.setdefault((r["pair_label"], short_label(method_key(r))), []).append(r)
    rows, panels, aps_points = [], {}, {}
    for (pair, method), rs in groups.items():
        layers = len(rs[0]["afs"])
        panel = {}
        for i in range(layers):
            afs = np.mean([r["afs"][i] for r in rs], axis=0)
            has_aps = all(r.get("aps") for r in rs)
            aps = _nanmean0([[_num(v) for v in r["aps"][i]] for r in rs]) if has_aps else None
            rows.append(
                [
                    pair,
                    method,
                    f"hidden {i + 1}",
                    " / ".join(f"{v:.2f}" for v in afs),
                    " / ".join(f"{v:.2f}" for v in aps) if aps is not None else None,
                    len(rs),
                ]
            )
            panel[f"h{i + 1}"] = afs.tolist()
            if aps is not None:
                xs, ys = aps_points.setdefault(method, ([], []))
                xs.extend(afs.tolist())
                ys.extend(aps.tolist())
        panels[f"{method}\n{pair}"] = panel
    table.add(
        "Sensitivity of the target policy per layer (docs/papers.md 1.7): AFS and APS of columns 1 / 2 / ..",
        ["pair", "method", "layer", "AFS (share per column)", "APS (share per column)", "jobs"],
        rows,
    )
    shown = dict(list(panels.items())[:8])
    table.figures += plots.column_shares(shown, fig_dir / "afs", title="AFS per layer and column")
    if aps_points:
        table.figures += plots.scatter_xy(
            aps_points,
            fig_dir / "aps_vs_afs",
            title="APS against AFS (one point per layer and column)",
            xlabel="AFS",
            ylabel="APS",
            diagonal=True,
        )


def pnn_table1(name: str, runs: list[Run], options: Options, fig_dir: Path) -> Table:

    table = Table("PNN Table 1: transfer % (mean / median over pairs)")
    domains = [e for e in TABLE1_DOMAINS if any(r.experiment == e for r in runs)]
    per_domain = {}
    for e in domains:
        scores, _, methods = pnn_scores([r for r in runs if r.experiment == e], options)
        per_domain[e] = _table1_rows(e, scores, methods)[1]
    methods = sorted(
        {m for d in per_domain.values() for m in d}, key=lambda k: (k.startswith("progressive"), k)
    )
    header = ["method"]
    for e in domains:
        label = TABLE1_DOMAINS[e] + (" (ViZDoom substitute)" if e == "pnn_labyrinth_vizdoom" else "")
        header += [f"{label}: ours", "paper", "Δ mean"]
    rows = []
    for m in methods:
        row = [short_label(m)]
        for e in domains:
            mean, median, pm, pmed = per_domain[e].get(m, (float("nan"),) * 2 + (None, None))
            ours = f"{mean:.0f} / {median:.0f}" if mean == mean else "-"
            ref = f"{pm} / {pmed}" if pm is not None else "-"
            row += [ours, ref, _diff(mean, pm)]
        rows.append(row)
    table.add("Transfer % (ours vs the paper's Table 1, docs/papers.md 1.6)", header, rows)
    table.figures += plots.grouped_bars(
        {TABLE1_DOMAINS[e]: [per_domain[e].get(m, (np.nan,))[0] for m in methods] for e in domains},
        [short_label(m).replace("Progressive, ", "PNN ") for m in methods],
        fig_dir / "table1",
        title="mean transfer % (ours)",
        ylabel="%",
    )
    table.notes.append(
        "Labyrinth (DeepMind Lab) is not installable here; its column is our ViZDoom substitute "
        "(pnn_labyrinth_vizdoom), so its paper numbers are for a different domain."
    )
    return table


# ------------------------------------------------------------------------------------------------
# PathNet tables (docs/papers.md 2.4, 3.1)


def binary_mnist_table(name: str, runs: list[Run], options: Options, fig_dir: Path) -> Table:

    table = Table("PathNet binary MNIST: generations to solve task B and speedup over learning from scratch")
    paper = _paper(name)
    paper_gen, paper_speed = paper["generations_task_b"], paper["speedup_ratio"]
    names = {"pathnet": "pathnet", "scratch": "independent", "finetune": "finetune"}
    records = [dict(r, job=(i, r["pair"], r["run"])) for i, run in enumerate(runs) for r in run.records]
    methods = [m for m in ("pathnet", "scratch", "finetune") if any(r["method"] == m for r in records)]
    gens = {m: {r["job"]: r["generations_b"] for r in records if r["method"] == m} for m in methods}
    rows, speed_rows, test_rows = [], [], []

    def interval(low, high, digits=2):
        return f"[{low:.{digits}f}, {high:.{digits}f}]"

    for m in methods:
        g = list(gens[m].values())
        p = paper_gen.get(names[m])
        solved = sum(r["solved_b"] for r in records if r["method"] == m)
        mean, low, high = sp.mean_interval(g)
        rows.append(
            [
                m,
                _ms(g),
                interval(low, high, 1),
                p,
                _diff(mean, p),
                f"{solved}/{len(g)}",
                _ms([r["test_acc_b"] for r in records if r["method"] == m], 3),
            ]
        )
        if m != "scratch" and "scratch" in gens:
            s = sp.speedup(gens["scratch"], gens[m])
            ci = sp.bootstrap_speedup(gens["scratch"], gens[m])
            ps = paper_speed.get(names[m])
            speed_rows.append(
                [
                    m,
                    s["ratio_of_means"],
                    interval(*ci["ratio_of_means"]),
                    ps,
                    _diff(s["ratio_of_means"], ps),
                    s["mean_of_ratios"],
                    interval(*ci["mean_of_ratios"]),
                    s["runs"],
                ]
            )
    for a, b in (("pathnet", "scratch"), ("pathnet", "finetune"), ("finetune", "scratch")):
        if a in gens and b in gens:
            w = sp.paired_wilcoxon(gens[a], gens[b])
            p_value = f"{w['p']:.2g}"  # two significant digits: 9.4e-08, not 0.00
            test_rows.append([f"{a} - {b}", w["runs"], w["median_difference"], w["statistic"], p_value])
    table.add(
        "Generations to threshold on task B (docs/papers.md 2.4)",
        [
            "method",
            "ours (mean ± std)",
            "95% interval of the mean (t)",
            "paper",
            "Δ",
            "reached threshold",
            "test accuracy, task B",
        ],
        rows,
    )
    table.add(
        "Speedup = generations from scratch / generations of the method (95% paired bootstrap intervals)",
        [
            "method",
            "ratio of means",
            "interval",
            "paper",
            "Δ",
            "mean of per-run ratios",
            "interval",
            "paired runs",
        ],
        speed_rows,
    )
    if test_rows:
        table.add(
            "Paired test of generations on task B (Wilcoxon signed-rank, two-sided, scipy)",
            ["difference", "paired runs", "median difference", "W", "p"],
            test_rows,
        )
    labels = {}  # pair label "[A] -> [B]" per (run, pair), from each run's config
    for i, run in enumerate(runs):
        for j, (a, b) in enumerate(run.config.get("pairs") or []):
            labels[(i, j)] = f"{list(a)} -> {list(b)}"
    by_pair: dict[str, dict[str, list[int]]] = {}
    for r in records:
        label = labels.get(r["job"][:2], f"pair {r['pair']}")
        by_pair.setdefault(label, {}).setdefault(r["method"], []).append(r["generations_b"])
    pair_rows = []
    for label, per in by_pair.items():
        means = {m: float(np.mean(per[m])) if m in per else None for m in methods}
        ratio = means["scratch"] / means["pathnet"] if means.get("pathnet") and means.get("scratch") else None
        pair_rows.append([label, *[means[m] for m in methods], ratio])
    table.add(
        "Mean generations to threshold on task B per pair (task A -> task B)",
        ["pair", *methods, "pathnet speedup (ratio of means)"],
        pair_rows,
    )
    table.figures += plots.grouped_bars(
        {m: [float(np.mean(per[m])) if m in per else np.nan for per in by_pair.values()] for m in methods},
        list(by_pair),
        fig_dir / "generations_task_b",
        title="generations to threshold on task B",
        ylabel="generations",
        errors={
            m: [float(np.std(per[m])) if m in per else np.nan for per in by_pair.values()] for m in methods
        },
    )
    overlap = [
        (r["overlap"], gens["scratch"][r["job"]] / max(r["generations_b"], 1))
        for r in records
        if r["method"] == "pathnet" and "overlap" in r and "scratch" in gens
    ]
    if overlap:
        table.figures += plots.means_by_group(
            {"pathnet": ([o for o, _ in overlap], [s for _, s in overlap])},
            fig_dir / "speedup_vs_overlap",
            title="per-run speedup vs overlap of path B with path A",
            xlabel="modules of path B in path A (same layer)",
            ylabel="speedup",
        )
    thresholds = sorted({str(r.config.get("search", {}).get("threshold")) for r in runs})
    table.notes.append(
        f"Our threshold: {', '.join(thresholds)} training accuracy (the paper's: {paper.get('threshold')}). "
        "The paper's speedup 1.18 matches the ratio of its means (195 / 167); docs/papers.md 2.4. "
        "Runs are paired by (run directory, pair, repetition): the methods of a repetition share "
        "task B's initial population and minibatch stream; bootstrap: 10,000 resamples of runs."
    )
    return table


def cifar_svhn_table(name: str, runs: list[Run], options: Options, fig_dir: Path) -> Table:

    table = Table("PathNet CIFAR-10 and cropped SVHN: held-out accuracy after the generation budget (%)")
    paper = _paper(name)["accuracy"]
    records = [r for run in runs for r in run.records]
    rows, bars = [], {"scratch": [], "after transfer": []}
    directions = sorted({r["direction"] for r in records})
    for d in directions:
        source, target = d.split("->")
        ref = paper.get(target, {})
        sc = [r["test_acc"] for r in records if r["direction"] == d and r["method"] == "scratch"]
        tf = [r["test_acc"] for r in records if r["direction"] == d and r["method"] == "transfer"]
        m_sc, m_tf = 100 * float(np.mean(sc)), 100 * float(np.mean(tf))
        rows.append(
            [
                f"{target} (after {source})",
                _ms(sc, 1, 100),
                ref.get("scratch"),
                _diff(m_sc, ref.get("scratch")),
                _ms(tf, 1, 100),
                ref.get(f"after_{source}"),
                _diff(m_tf, ref.get(f"after_{source}")),
                len(sc),
            ]
        )
        bars["scratch"].append(m_sc)
        bars["after transfer"].append(m_tf)
    table.add(
        "Accuracy % (docs/papers.md 2.4)",
        ["target", "scratch", "paper", "Δ", "after transfer", "paper", "Δ", "runs"],
        rows,
    )
    table.figures += plots.grouped_bars(
        bars, directions, fig_dir / "accuracy", title="held-out accuracy (%)", ylabel="%"
    )
    gens = sorted({str(r.config.get("search", {}).get("max_generations")) for r in runs})
    table.notes.append(f"Generations per task: {', '.join(gens)} (the paper: 500).")
    return table


def thesis_table(name: str, runs: list[Run], options: Options, fig_dir: Path) -> Table:

    table = Table("Thesis study: search + search (S+S) vs pick + search (P+S), binary MNIST {3,4} -> {1,2}")
    records = [r for run in runs for r in run.records]
    by = {c: [r for r in records if r["condition"] == c] for c in ("S+S", "P+S")}
    ss = by["S+S"]
    top = max((len(r["path2"]) * len(r["path2"][0]) for r in records), default=3)

    def col(rs, key):
        return [r[key] for r in rs]

    hist = {c: pa.reuse_histogram(col(rs, "reuse"), top) for c, rs in by.items()}
    counts = np.sum([np.asarray(r["random_reuse_counts"])[: top + 1] for r in ss], axis=0).astype(float)
    hist["random"] = counts / max(counts.sum(), 1)
    random_layer = np.mean([r["random_reuse_layer_mean"] for r in ss], axis=0)
    layers = len(random_layer)

    def per_layer(rs):
        return " / ".join(f"{v:.2f}" for v in np.mean(col(rs, "reuse_per_layer"), axis=0))

    def share(h):  # 0 / 1 / 2 / 3 or more
        return " / ".join(f"{100 * v:.0f}%" for v in [*h[:3], h[3:].sum()])

    rows = [
        ["runs", len(ss), len(by["P+S"]), None],
        [
            "generations, task 1",
            _ms(col(ss, "generations1")),
            _ms(col(by["P+S"], "generations1")) + " (sessions)",
            None,
        ],
        ["generations, task 2", _ms(col(ss, "generations2")), _ms(col(by["P+S"], "generations2")), None],
        ["test accuracy, task 1", _ms(col(ss, "test_acc1"), 3), _ms(col(by["P+S"], "test_acc1"), 3), None],
        ["test accuracy, task 2", _ms(col(ss, "test_acc2"), 3), _ms(col(by["P+S"], "test_acc2"), 3), None],
        [
            "average training of path 1 modules (sessions)",
            _ms(col(ss, "training1")),
            _ms(col(by["P+S"], "training1")),
            None,
        ],
        [
            "average training of path 2 modules (sessions)",
            _ms(col(ss, "training2")),
            _ms(col(by["P+S"], "training2")),
            None,
        ],
        [
            "module reuse",
            _ms(col(ss, "reuse"), 2),
            _ms(col(by["P+S"], "reuse"), 2),
            f"{float(np.mean(col(ss, 'random_reuse_expected'))):.2f}",
        ],
        [
            "reuse 0 / 1 / 2 / 3+ (share of runs)",
            share(hist["S+S"]),
            share(hist["P+S"]),
            share(hist["random"]),
        ],
        [
            f"reuse per layer (1..{layers})",
            per_layer(ss),
            per_layer(by["P+S"]),
            " / ".join(f"{v:.2f}" for v in random_layer),
        ],
    ]
    table.add("Summary (docs/papers.md 3.1)", ["", "S+S", "P+S", "random selection"], rows)
    stuck = _paper(name).get("stuck_at_chance", {})
    below = sorted({float(r.config.get("stuck_below", 0.6)) for r in runs})

    def n_stuck(rs, key):
        n = sum(a < below[0] for a in col(rs, key))
        return f"{n} / {len(rs)} ({100 * n / max(len(rs), 1):.0f}%)"

    thesis_ps1 = (
        f"{stuck['ps_task1']} / {stuck['runs']} ({100 * stuck['ps_task1'] / stuck['runs']:.0f}%)"
        if stuck
        else None
    )
    table.add(
        f"Runs stuck at chance (test accuracy < {', '.join(map(str, below))})",
        ["task", "S+S", "P+S", "thesis, P+S (600-run log)"],
        [
            ["task 1 (path 1)", n_stuck(ss, "test_acc1"), n_stuck(by["P+S"], "test_acc1"), thesis_ps1],
            ["task 2 (path 2)", n_stuck(ss, "test_acc2"), n_stuck(by["P+S"], "test_acc2"), None],
        ],
    )
    last = max(int(np.max(np.flatnonzero(h > 0), initial=0)) for h in hist.values())
    table.figures += plots.grouped_bars(
        {k: h[: last + 1] for k, h in hist.items()},
        [str(k) for k in range(last + 1)],
        fig_dir / "reuse_histogram",
        title="module reuse (path-2 modules in path 1)",
        xlabel="module reuse",
        ylabel="share of runs",
    )
    table.figures += plots.grouped_bars(
        {c: np.mean(col(rs, "reuse_per_layer"), axis=0) for c, rs in by.items()} | {"random": random_layer},
        [f"layer {i + 1}" for i in range(layers)],
        fig_dir / "reuse_per_layer",
        title="module reuse per layer",
        ylabel="mean reused modules",
    )
    table.notes.append(
        "The thesis reports the summary's measures as figures without a table of numbers we hold "
        "(docs/papers.md 3.1), so the summary has no paper column; the one count we hold, P+S first "
        "paths stuck at chance in its 600-run log, stands beside ours (paper.yaml). The "
        "random-selection baseline is exact (n_old * n_new / M per layer)."
    )
    return table


def _locked_share(record: dict, task: int, num_modules: int) -> float:
    """Share of the ``L x M`` modules locked once tasks ``0..task`` of a PathNet record are done."""
    paths = [np.asarray(s["best_path"]) for s in record["stages"][: task + 1]]
    locked = np.any([pa.active_mask(p, num_modules) for p in paths], axis=0)
    return pa.capacity_used(locked)


def pathnet_rl_table(name: str, runs: list[Run], options: Options, fig_dir: Path) -> Table:

    table = Table(f"{name}: PathNet in RL, speedup over learning from scratch and module reuse")
    paper = _paper(name).get("speedup", {})
    records = [dict(r, job=(i, r["seed"])) for i, run in enumerate(runs) for r in run.records]
    modules = [int(run.config.get("model", {}).get("num_modules", 0)) for run in runs]
    rows, reuse_rows = [], []
    sequences = sorted({r["sequence_label"] for r in records})
    for seq in sequences:
        rs = [r for r in records if r["sequence_label"] == seq]
        scratch = {r["job"]: r["target_steps"] for r in rs if r["method"] == "scratch"}
        for m in [m for m in ("pathnet", "finetune") if any(r["method"] == m for r in rs)]:
            mine = {r["job"]: r["target_steps"] for r in rs if r["method"] == m}
            s = sp.speedup(scratch, mine)
            reached = sum(r["target_reached"] for r in rs if r["method"] == m)
            rows.append(
                [
                    seq,
                    m,
                    s["ratio_of_means"],
                    s["mean_of_ratios"],
                    paper.get(m),
                    _diff(s["ratio_of_means"], paper.get(m)),
                    f"{reached}/{len(mine)}",
                ]
            )
        pathnet = [r for r in rs if r["method"] == "pathnet"]
        for t, task in enumerate(seq.split(" -> ")):
            if not pathnet:
                continue
            stages = [r["stages"][t] for r in pathnet]
            locked = [_locked_share(r, t, modules[r["job"][0]]) for r in pathnet]
            reuse_rows.append(
                [
                    task if len(sequences) == 1 else f"{seq}: {task}",
                    _ms([s["reuse"] for s in stages], 2),
                    _ms([s["random_reuse"] for s in stages], 2),
                    " / ".join(f"{v:.2f}" for v in np.mean([s["reuse_per_layer"] for s in stages], axis=0)),
                    _ms(
                        [
                            pa.mean_training(np.asarray(s["counters"]), np.asarray(s["best_path"]))
                            for s in stages
                        ]
                    ),
                    _ms(locked, 2),
                ]
            )
    table.add(
        "Speedup = agent steps to criterion from scratch / of the method (docs/papers.md 2.4)",
        ["sequence", "method", "ratio of means", "mean of per-run ratios", "paper", "Δ", "reached criterion"],
        rows,
    )
    if reuse_rows:
        table.add(
            "Per task: reuse of earlier locked modules by the task's path, its training, capacity used",
            [
                "task",
                "reuse",
                "random selection",
                "reuse per layer",
                "mean training counter of the path's modules",
                "capacity used after the task (share of L x M locked)",
            ],
            reuse_rows,
        )
        reuse = [r["stages"][-1]["reuse"] for r in records if r["method"] == "pathnet"]
        top = max(
            (
                len(r["stages"][-1]["best_path"]) * len(r["stages"][-1]["best_path"][0])
                for r in records
                if r["method"] == "pathnet"
            ),
            default=1,
        )
        table.figures += plots.grouped_bars(
            {"pathnet": pa.reuse_histogram(reuse, top)},
            [str(k) for k in range(top + 1)],
            fig_dir / "reuse_histogram",
            title="module reuse of the target path",
            xlabel="reused modules",
            ylabel="share of runs",
        )
    table.notes.append("Runs that never reach the criterion count their whole budget (censored).")
    return table


def selection_pressure_table(name: str, runs: list[Run], options: Options, fig_dir: Path) -> Table:

    table = Table("Thesis follow-up: selection pressure over a task curriculum (capacity, reuse, diversity)")
    records = [r for run in runs for r in run.records]
    schemes = list(dict.fromkeys(r["scheme"] for r in records))
    tasks = sorted({(r["task"], r["task_label"]) for r in records})
    rows = []
    for s in schemes:
        for t, label in tasks:
            rs = [r for r in records if r["scheme"] == s and r["task"] == t]
            if not rs:
                continue
            rows.append(
                [
                    s,
                    label,
                    _ms([r["generations"] for r in rs]),
                    _ms([r["test_acc"] for r in rs], 3),
                    _ms([r["reuse"] for r in rs], 2),
                    _ms([r["capacity_used"] for r in rs], 2),
                    _ms([r["diversity_curve"][-1] for r in rs if r["diversity_curve"]], 1),
                    len(rs),
                ]
            )
    table.add(
        "Per scheme and task (docs/papers.md 3.2)",
        [
            "scheme",
            "task",
            "generations",
            "test accuracy",
            "reuse (share of modules locked before)",
            "capacity used (share of L x M locked)",
            "final population diversity (modules)",
            "runs",
        ],
        rows,
    )
    table.figures += plots.grouped_bars(
        {
            s: [
                float(np.mean([r["capacity_used"] for r in records if r["scheme"] == s and r["task"] == t]))
                for t, _ in tasks
            ]
            for s in schemes
        },
        [label for _, label in tasks],
        fig_dir / "capacity_used",
        title="capacity used after each task",
        ylabel="share of modules locked",
    )
    table.notes.append(
        "A follow-up the thesis proposes (docs/papers.md 3.2); there are no published numbers to compare."
    )
    return table


def rl_learning_curves_table(name: str, runs: list[Run], options: Options, fig_dir: Path) -> Table:
    """The target learning curves of RL transfer runs (e.g. ``pnn_pong_soup preset=pong``, one
    column learning Pong): per run record, the curve's points at ten evenly spaced marks of agent
    steps, the final and greedy-evaluation returns, and a figure of every curve against agent
    steps. Missing points (no episode finished in the window) are shown as '-'."""
    table = Table(f"{name}: target learning curves (mean episode return per window of agent steps)")
    records = [(run, r) for run in runs for r in run.records]
    if not records:
        return table
    windows = {int(run.config.get("window", 1)) for run, _ in records}
    window = windows.pop() if len(windows) == 1 else None
    longest = max(len(r["target_curve"]) for _, r in records)
    marks = sorted({max(0, round(longest * k / 10) - 1) for k in range(1, 11)})
    header = ["run", *[f"{(m + 1) * window / 1e6:.2f}M" if window else f"point {m + 1}" for m in marks]]
    rows = []
    for _, r in records:
        curve = r["target_curve"]
        label = f"{short_label(method_key(r))} {r['target']} seed {r['seed']}"
        rows.append([label, *[_num(curve[m]) if m < len(curve) else None for m in marks]])
    table.add("Return at agent steps (the window ending there)", header, rows)
    table.add(
        "End of training",
        [
            "run",
            "agent steps",
            "final return (last 3 points)",
            "greedy eval return",
            "wall time, last invocation (min)",
        ],
        [
            [
                f"{short_label(method_key(r))} {r['target']} seed {r['seed']}",
                int(r["stages"][-1]["agent_steps"]),
                _num(r.get("final")),
                _num(r.get("eval_return")),
                float(run.summary.get("wall_time_s", 0.0)) / 60,
            ]
            for run, r in records
        ],
    )
    table.figures += plots.curves(
        {
            "target": {
                f"{short_label(method_key(r))} seed {r['seed']}": [r["target_curve"]] for _, r in records
            }
        },
        fig_dir / "learning_curves",
        xlabel=f"agent steps (x {window:,})" if window else "window",
        ylabel="mean episode return",
    )
    table.notes.append(
        "Points are the mean raw return of the episodes finished in each window of agent steps "
        "(docs/papers.md 1.3); a window without a finished episode is missing ('-')."
    )
    return table


Builder = Callable[[str, list[Run], Options, Path], Table]
TABLES: dict[str, tuple[tuple[str, ...], Builder]] = {
    **{e: ((e,), rl_transfer_table) for e in RL_TRANSFER},
    "pnn_table1": (tuple(TABLE1_DOMAINS), pnn_table1),
    "rl_learning_curves": (RL_TRANSFER, rl_learning_curves_table),
    "pathnet_binary_mnist": (("pathnet_binary_mnist",), binary_mnist_table),
    "pathnet_cifar_svhn": (("pathnet_cifar_svhn",), cifar_svhn_table),
    "thesis_first_path": (("thesis_first_path",), thesis_table),
    **{e: ((e,), pathnet_rl_table) for e in PATHNET_RL},
    "thesis_selection_pressure": (("thesis_selection_pressure",), selection_pressure_table),
}
