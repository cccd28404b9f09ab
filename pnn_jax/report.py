"""``pnn-jax report <run or sweep dir>``: one table over the runs, with mean, std and median.

Every run directory below the given folder that has a ``summary.json`` is a row. A run's metrics
are its result rows flattened to ``<method>/<metric>`` (e.g. ``progressive/b``; with a population,
``<method>[<member>]/<metric>``) plus its wall time.
Written next to the runs: ``report.md`` (the runs and their overrides, then mean / std / median /
n per metric), ``report.csv`` (one line per run and metric) and ``figures/report.png|pdf``.

With ``metrics=<name>,<name>`` (e.g. ``metrics=pathnet/speedup``), each factor of the sweep (an
override key with two or more values across the runs) gets a section: the metric's mean, std and n
over the runs at each of its values (the marginal mean, averaged over the other factors), and
``figures/by_factor_<metric>.png|pdf`` with one panel per factor.
"""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

from omegaconf import OmegaConf

from pnn_jax import plots
from pnn_jax.config import ConfigError

SKIP = {"columns", "param_count", "seconds", "member", "seed", "lr", "alpha_init"}  # not outcomes


def find_runs(path: Path) -> list[Path]:
    """Run directories (with a ``summary.json``) at or below ``path``, sorted."""
    path = Path(path)
    if not path.is_dir():
        raise ConfigError(f"{str(path)!r} is not a directory; pass a run or sweep directory")
    runs = sorted({p.parent for p in path.rglob("summary.json")})
    if not runs:
        raise ConfigError(f"no finished run (summary.json) under {str(path)!r}")
    return runs


def run_metrics(run_dir: Path) -> dict[str, float]:
    """``{<method>/<metric>: value}`` for the numeric results of one run, plus ``wall_time_s``."""
    summary = json.loads((run_dir / "summary.json").read_text())
    many = len(summary.get("population", [])) > 1
    out: dict[str, float] = {}
    for row in summary.get("rows", []):
        name = f"{row['method']}[{row['member']}]" if many else row["method"]
        for k, v in row.items():
            if k not in SKIP and isinstance(v, int | float) and not isinstance(v, bool):
                out[f"{name}/{k}"] = float(v)
    out["wall_time_s"] = float(summary["wall_time_s"])
    return out


def overrides_of(run_dir: Path) -> str:
    """The job's overrides in a sweep (from Hydra's record), or '' for a single run."""
    f = run_dir / ".hydra" / "overrides.yaml"
    if not f.exists():
        return ""

    return " ".join(str(o) for o in OmegaConf.load(f) if not str(o).startswith("hydra"))


def factors_of(run_dir: Path) -> dict[str, str]:
    """The job's overrides as ``{key: value}`` (empty for a single run)."""
    out = {}
    for item in overrides_of(run_dir).split():
        key, sep, value = item.partition("=")
        if sep:
            out[key.lstrip("+~")] = value
    return out


def _value_order(values: set[str]) -> list[str]:
    """Numbers in numeric order, then other values alphabetically."""

    def key(v):
        try:
            return (0, float(v), "")
        except ValueError:
            return (1, 0.0, v)

    return sorted(values, key=key)


def by_factor(per_run: dict[Path, dict[str, float]], metric: str) -> dict[str, dict[str, list[float]]]:
    """``{factor: {value: [metric of each run at that value]}}`` over the factors that vary."""
    factors = {r: factors_of(r) for r in per_run}
    keys = sorted({k for f in factors.values() for k in f})
    out = {}
    for key in keys:
        values = {f[key] for f in factors.values() if key in f}
        if len(values) < 2:
            continue
        out[key] = {
            v: [m[metric] for r, m in per_run.items() if factors[r].get(key) == v and metric in m]
            for v in _value_order(values)
        }
    return out


def write_report(path: Path, metrics: tuple[str, ...] = ()) -> str:
    """Write ``report.md``, ``report.csv`` and the figures under ``path``; returns the markdown.
    ``metrics``: metrics to break down by the sweep's factors (module docstring)."""
    path = Path(path)
    runs = find_runs(path)
    per_run = {r: run_metrics(r) for r in runs}
    names = sorted({k for m in per_run.values() for k in m})
    unknown = [m for m in metrics if m not in names]
    if unknown:
        raise ConfigError(
            f"metrics={','.join(metrics)!r}: {', '.join(unknown)} not among the runs' metrics "
            f"({', '.join(names)})"
        )
    stats = {}
    for name in names:
        values = [m[name] for m in per_run.values() if name in m]
        stats[name] = {
            "mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "median": statistics.median(values),
            "n": len(values),
        }
    lines = [f"# Report: {path}", "", f"{len(runs)} run(s).", "", "| run | overrides |", "|---|---|"]
    lines += [f"| {r.relative_to(path) if r != path else '.'} | {overrides_of(r) or '-'} |" for r in runs]
    lines += ["", "| metric | mean | std | median | n |", "|---|---|---|---|---|"]
    lines += [
        f"| {n} | {s['mean']:.4f} | {s['std']:.4f} | {s['median']:.4f} | {s['n']} |" for n, s in stats.items()
    ]
    for metric in metrics:
        groups = by_factor(per_run, metric)
        lines += ["", f"## {metric} by factor", ""]
        if not groups:
            lines.append("No override takes two or more values across these runs.")
            continue
        lines += ["| factor | value | mean | std | n |", "|---|---|---|---|---|"]
        for key, by_value in groups.items():
            for value, vals in by_value.items():
                std = statistics.stdev(vals) if len(vals) > 1 else 0.0
                mean = statistics.fmean(vals) if vals else float("nan")
                lines.append(f"| {key} | {value} | {mean:.4f} | {std:.4f} | {len(vals)} |")
        plots.by_factor(groups, path / "figures" / f"by_factor_{metric.replace('/', '_')}", ylabel=metric)
    markdown = "\n".join(lines)
    (path / "report.md").write_text(markdown + "\n")
    with (path / "report.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["run", "overrides", "metric", "value"])
        for r, m in per_run.items():
            for name, value in m.items():
                writer.writerow(
                    [str(r.relative_to(path)) if r != path else ".", overrides_of(r), name, value]
                )
    plots.metric_bars(
        {n: s for n, s in stats.items() if n != "wall_time_s"},
        path / "figures" / "report",
        title=str(path.name),
    )
    return markdown
