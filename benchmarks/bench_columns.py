"""Benchmark: progressive Atari columns, train-step time and compile time against the number of columns.

For K = 1..4 columns (capacity K, training the last column with the others frozen) at batch 256:
compile time of the jitted train step, median step time, its ratio to K = 1, and the parameter
count; for plain laterals and adapters. All configurations are compiled first and then timed
round-robin (4 steps each per round), so the drift of a shared machine cancels in the ratios.
Then, at fixed capacity K = 4, training each column k = 0..3 with ONE compiled step (trace count
and per-column step time): adding a column does not recompile.

Prints a markdown table and appends it to benchmarks/RESULTS.md with machine, jax version and
commit. Usage: ``python benchmarks/bench_columns.py [--batch 256] [--iters 20] [--max-k 4]``
(``make bench``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from common import append_results, commit, machine, record

from pnn_jax.nets.columns import atari_column
from pnn_jax.nets.progressive import ProgressiveNet
from pnn_jax.train import progressive as ptrain
from pnn_jax.train.optim import make_optimizer

README = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
MARKERS = ("<!-- bench_columns:start -->", "<!-- bench_columns:end -->")
NUM_ACTIONS = 18  # Atari's full action set


def actor_critic_loss(outputs, batch):
    """A stand-in for the A2C loss with the same shapes: policy cross-entropy + value regression."""
    _, actions, returns = batch
    logp = jax.nn.log_softmax(outputs["policy"])
    pg = -jnp.take_along_axis(logp, actions[:, None], axis=1).mean()
    value = jnp.mean((outputs["value"][:, 0] - returns) ** 2)
    loss = pg + 0.5 * value
    return loss, {"loss": loss}


def make_batch(batch: int):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (batch, 84, 84, 4), dtype=np.uint8).astype(np.float32) / 255.0
    actions = rng.integers(0, NUM_ACTIONS, batch).astype(np.int32)
    returns = rng.standard_normal(batch).astype(np.float32)
    return jnp.asarray(frames), jnp.asarray(actions), jnp.asarray(returns)


def run_steps(step, state, batch, n: int) -> tuple[list[float], object]:
    """Seconds of each of ``n`` steps (each waited for)."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        state, m = step(state, batch)
        jax.block_until_ready(m)
        times.append(time.perf_counter() - t0)
    return times, state


def prepare(lateral: str, k: int, batch) -> dict:
    """Compile the train step of a capacity-``k`` net training its last column; one warm-up step."""
    net = ProgressiveNet(atari_column(NUM_ACTIONS), k, lateral=lateral)
    tx = make_optimizer("rmsprop", 1e-4, grad_clip=40.0)
    step = ptrain.make_train_step(net, tx, actor_critic_loss)
    state = ptrain.init_state(net, net.init(jax.random.key(0)), tx, k - 1)
    t0 = time.perf_counter()
    compiled = step.lower(state, batch).compile()
    compile_s = time.perf_counter() - t0
    cost = compiled.cost_analysis()  # XLA's count for the compiled step
    cost = cost[0] if isinstance(cost, list | tuple) else cost
    _, state = run_steps(compiled, state, batch, 1)
    return {
        "lateral": lateral,
        "K": k,
        "compile_s": compile_s,
        "params": net.param_count(),
        "gflop": (cost or {}).get("flops", float("nan")) / 1e9,
        "step": compiled,
        "state": state,
        "times": [],
    }


def bench_activation(lateral: str, capacity: int, batch, iters: int) -> tuple[list[float], int]:
    """Median step time for training each column of a capacity net with ONE compiled step."""
    net = ProgressiveNet(atari_column(NUM_ACTIONS), capacity, lateral=lateral)
    tx = make_optimizer("rmsprop", 1e-4, grad_clip=40.0)
    step = ptrain.make_train_step(net, tx, actor_critic_loss)
    params = net.init(jax.random.key(0))
    states = [ptrain.init_state(net, params, tx, column) for column in range(capacity)]
    times = [[] for _ in range(capacity)]
    for _ in range(max(1, iters // 4)):  # round-robin over columns, so drift hits all alike
        for column in range(capacity):
            t, states[column] = run_steps(step, states[column], batch, 4)
            times[column] += t
    return [1e3 * statistics.median(t) for t in times], step.traces


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--max-k", type=int, default=4)
    ap.add_argument("--laterals", default="adapter,plain")
    ap.add_argument("--no-write", action="store_true", help="print only; do not append to RESULTS.md")
    ap.add_argument("--readme", action="store_true", help="also put the table into docs/benchmarks.md")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (a dry run): batch 8, 4 steps, K <= 2")
    args = ap.parse_args()
    if args.quick:
        args.batch, args.iters, args.max_k = 8, 4, 2

    batch = make_batch(args.batch)
    configs = [prepare(lat, k, batch) for lat in args.laterals.split(",") for k in range(1, args.max_k + 1)]
    # Round-robin timing: every configuration is measured in every round, so slow drift of a
    # shared machine affects all of them alike and the ratios stay meaningful.
    rounds = max(1, args.iters // 4)
    for _ in range(rounds):
        for c in configs:
            t, c["state"] = run_steps(c["step"], c["state"], batch, 4)
            c["times"] += t
    rows = []
    for c in configs:
        c["step_ms"] = 1e3 * statistics.median(c["times"])
        base = next(r for r in configs if r["lateral"] == c["lateral"] and r["K"] == 1)
        c["ratio"] = c["step_ms"] / (1e3 * statistics.median(base["times"]))
        c["flop_ratio"] = c["gflop"] / base["gflop"]
        rows.append(c)
        print(
            f"  {c['lateral']:<8} K={c['K']}: step {c['step_ms']:.1f} ms ({c['ratio']:.2f}x K=1), "
            f"compile {c['compile_s']:.2f} s, {c['params']:,} params",
            flush=True,
        )
    per_column, traces = bench_activation("adapter", args.max_k, batch, args.iters)

    lines = [
        f"### Progressive Atari columns, batch {args.batch} ({dt.date.today().isoformat()})",
        "",
        f"Machine: {machine()}. jax {jax.__version__}. Commit {commit()}. "
        f"Median of {4 * rounds} steps per row, timed round-robin over all rows after one warm-up "
        f"step each; RMSProp, {NUM_ACTIONS} actions; capacity K, "
        "training the last column (the others frozen, forward only).",
        "",
        "| laterals | K | train step (ms) | ratio to K=1 | GFLOP per step (XLA) | FLOP ratio to K=1 "
        "| compile (s) | parameters |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['lateral']} | {r['K']} | {r['step_ms']:.1f} | {r['ratio']:.2f} | {r['gflop']:.2f} | "
        f"{r['flop_ratio']:.2f} | {r['compile_s']:.2f} | {r['params']:,} |"
        for r in rows
    ]
    lines += [
        "",
        f"Capacity {args.max_k} (adapters), one compiled step for every column: traced {traces} time(s); "
        "step time when training column k: "
        + ", ".join(f"k={k}: {ms:.1f} ms" for k, ms in enumerate(per_column))
        + ".",
        "",
    ]
    table = "\n".join(lines)
    print()
    print(table)
    if not args.no_write:
        append_results(table + "\n")
        top = [r for r in rows if r["K"] == args.max_k]
        record(
            "columns",
            {f"k{args.max_k}_over_k1_{r['lateral']}": round(r["ratio"], 3) for r in top}
            | {"batch": args.batch, "max_k": args.max_k},
            quick=args.quick,
        )
    if args.readme and not args.quick:
        text = README.read_text()
        start, end = text.index(MARKERS[0]) + len(MARKERS[0]), text.index(MARKERS[1])
        README.write_text(text[:start] + "\n" + table + "\n" + text[end:])
        print(f"updated the table in {README}")


if __name__ == "__main__":
    main()
