"""The current benchmark figures, rendered from ``benchmarks/results.jsonl`` (never typed).

For each benchmark and backend, the newest full-size record (``quick`` records are dry runs and
never shown) gives one row: the figure, its value, and the date, commit and machine it was
measured on. ``--write`` puts the table between ``<!-- bench:figures -->`` and
``<!-- /bench:figures -->`` in README.md and docs/benchmarks.md; ``--check`` fails if either is
stale (``tests/test_benchmarks.py`` runs it).

Usage: ``python benchmarks/readme.py [--write | --check] [--results FILE]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common import PUBLIC_PPO_CPU, PUBLIC_PPO_GPU_RATE

from pnn_jax.rundir import read_jsonl

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TARGETS = [ROOT / "README.md", ROOT / "docs" / "benchmarks.md"]
START, END = "<!-- bench:figures -->", "<!-- /bench:figures -->"


def latest(records: list[dict]) -> dict[tuple[str, str], dict]:
    """The newest full-size record per ``(bench, backend)`` (file order: newest last)."""
    out = {}
    for rec in records:
        if not rec.get("quick"):
            out[(rec["bench"], rec["backend"])] = rec
    return out


def rows_of(rec: dict) -> list[tuple]:
    """``[(figure, value)]`` of one record; a third element says where a figure that this
    benchmark did not measure (the public script's) comes from."""
    f, bench = rec["figures"], rec["bench"]
    if bench == "ppo_floor":
        train = next(v for k, v in f["shares"].items() if "backward" in k)
        s = f["settings"]
        rows = [
            (
                f"PPO, Nature CNN, {s['envs']} envs x {s['t_max']} steps, {s['epochs']} x "
                f"{s['minibatches']} minibatches (`bench_ppo_floor`)",
                f"{f['rate']:,.0f} agent steps/s; {f['over_floor']:.2f}x the time of its compulsory work "
                f"(the floor allows {f['floor_rate']:,.0f}; the training steps are {train:.0%} of it)",
            )
        ]
        if rec["backend"] == "cpu":
            rows.append(
                (
                    "the public JAX + envpool PPO script, the same settings",
                    f"{PUBLIC_PPO_CPU['rate_low']}-{PUBLIC_PPO_CPU['rate_high']} agent steps/s",
                    PUBLIC_PPO_CPU["where"],
                )
            )
        return rows
    if bench == "rl":
        rows = [
            (
                f"A2C, the paper's Atari column, {f['envs']} envs (`bench_rl`)",
                f"{f['a2c_paper_column']:,} agent steps/s = {f['a2c_over_raw_envpool']:.2f}x raw envpool "
                f"({f['raw_envpool_numpy']:,}/s, random actions)",
            ),
            (
                f"PPO reference, Nature CNN, {f['ppo_reference_envs']} envs (`bench_rl`)",
                f"{f['ppo_nature_cnn']:,} agent steps/s, compile {f['ppo_nature_cnn_compile_s']} s, "
                f"peak {f['ppo_nature_cnn_peak_gib']} GiB",
            ),
        ]
        if rec["backend"] != "cpu":
            rows.append(
                (
                    "the public script's published GPU rate (10M steps in 36.8 min)",
                    f"{PUBLIC_PPO_GPU_RATE:,.0f}",
                )
            )
        return rows
    if bench == "sweep":
        return [
            (
                f"Pong Soup sweep (2 pairs x {f['methods']} methods, {f['iterations']} iterations a stage): "
                "one population vs one process per pair "
                "(`bench_sweep`)",
                f"{f['speedup']:.2f}x faster ({f['population_s']} s vs {f['per_pair_s']} s, "
                "compile included)",
            )
        ]
    if bench == "columns":
        k = f["max_k"]
        return [
            (
                f"progressive columns: train step at K = {k} vs K = 1, batch {f['batch']} (`bench_columns`)",
                ", ".join(
                    f"{v:.2f}x ({name.rsplit('_', 1)[1]})" for name, v in f.items() if name.startswith("k")
                ),
            )
        ]
    if bench == "pathnet":
        return [
            (
                "PathNet binary-MNIST search: jitted serial search vs a Python loop of jitted steps "
                "(`bench_pathnet`)",
                f"{f['serial_search_over_python_loop']:.2f}x path sessions/s; one S+S run {f['ss_run_s']} s",
            )
        ]
    if bench == "pathnet_rl":
        big = max(
            (k for k in f if k.endswith("masked_total_over_single")), key=lambda k: int(k[1:].split("_")[0])
        )
        paths = big[1:].split("_")[0]
        return [
            (
                f"PathNet Atari: {paths} paths in one program vs one path "
                "(`bench_pathnet_rl`, masked forward)",
                f"{f[big]:.2f}x the agent steps/s",
            )
        ]
    if bench == "pong_ppo":
        ret = (
            f"; mean return {f['first_return']:.1f} at first, {f['last_return']:.1f} at the end"
            if f["first_return"] is not None
            else ""
        )
        return [
            (
                f"Pong PPO, Nature CNN, {f['envs']} envs, {f['seconds']:.0f} s of training "
                "(`scripts/pong_ppo.py`)",
                f"{f['rate']:,.0f} agent steps/s ({f['rate'] / f['public_gpu_rate']:.2f}x the public "
                f"script's published {f['public_gpu_rate']:,}/s on a GPU){ret}",
            )
        ]
    raise ValueError(f"no rows for benchmark {bench!r}")


ORDER = ["ppo_floor", "rl", "pong_ppo", "sweep", "columns", "pathnet", "pathnet_rl"]


def render(records: list[dict]) -> str:
    """The markdown table of the current figures."""
    newest = latest(records)
    lines = ["| figure | value | measured on |", "|---|---|---|"]

    def order(item):  # accelerators first, then the benchmarks in ORDER
        (bench, backend), _ = item
        return backend == "cpu", ORDER.index(bench) if bench in ORDER else len(ORDER)

    for _, rec in sorted(newest.items(), key=order):
        where = f"{rec['machine']}; {rec['date']}, commit {rec['commit']}"
        lines += [f"| {row[0]} | {row[1]} | {row[2] if len(row) > 2 else where} |" for row in rows_of(rec)]
    if len(lines) == 2:
        lines.append("| (no benchmark recorded yet: `make bench`) | | |")
    return "\n".join(lines) + "\n"


def fill(text: str, table: str, where: Path) -> str:
    if START not in text or END not in text:
        raise SystemExit(f"{where} has no '{START}' ... '{END}' block")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table}{END}{tail}"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default=str(HERE / "results.jsonl"))
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true")
    group.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    table = render(read_jsonl(Path(args.results)))
    print(table)
    for path in TARGETS:
        text = path.read_text()
        new = fill(text, table, path)
        if args.write and new != text:
            path.write_text(new)
            print(f"updated {path}")
        elif args.check and new != text:
            sys.exit(f"{path}: the benchmark figures are stale; run python benchmarks/readme.py --write")


if __name__ == "__main__":
    main()
