"""Benchmark: progressive Atari columns, train-step time and compile time against the number of columns.

For K = 1..4 columns (capacity K, training the last column with the others frozen) at batch 256:
compile time of the jitted train step, median step time, its ratio to K = 1, and the parameter
count; for plain laterals and adapters. Then, at fixed capacity K = 4, training each column
k = 0..3 with ONE compiled step (trace count and per-column step time): adding a column does not
recompile.

Prints a markdown table and appends it to benchmarks/RESULTS.md with machine, jax version and
commit. Usage: ``python benchmarks/bench_columns.py [--batch 256] [--iters 10] [--max-k 4]``
(``make bench``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from pnn_jax.nets.columns import atari_column
from pnn_jax.nets.progressive import ProgressiveNet
from pnn_jax.train import progressive as ptrain
from pnn_jax.train.optim import make_optimizer

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
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


def time_steps(step, state, batch, iters: int) -> tuple[float, object]:
    """Median seconds per step over ``iters`` steps (after one warm-up step)."""
    state, m = step(state, batch)
    jax.block_until_ready(m)
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        state, m = step(state, batch)
        jax.block_until_ready(m)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), state


def bench_k(lateral: str, k: int, batch, iters: int) -> dict:
    net = ProgressiveNet(atari_column(NUM_ACTIONS), k, lateral=lateral)
    tx = make_optimizer("rmsprop", 1e-4, grad_clip=40.0)
    step = ptrain.make_train_step(net, tx, actor_critic_loss)
    state = ptrain.init_state(net, net.init(jax.random.key(0)), tx, k - 1)
    t0 = time.perf_counter()
    compiled = step.lower(state, batch).compile()
    compile_s = time.perf_counter() - t0
    seconds, _ = time_steps(compiled, state, batch, iters)
    return {
        "lateral": lateral,
        "K": k,
        "compile_s": compile_s,
        "step_ms": 1e3 * seconds,
        "params": net.param_count(),
    }


def bench_activation(lateral: str, capacity: int, batch, iters: int) -> tuple[list[float], int]:
    """Step time for training each column of a capacity-``capacity`` net with one compiled step."""
    net = ProgressiveNet(atari_column(NUM_ACTIONS), capacity, lateral=lateral)
    tx = make_optimizer("rmsprop", 1e-4, grad_clip=40.0)
    step = ptrain.make_train_step(net, tx, actor_critic_loss)
    params = net.init(jax.random.key(0))
    per_column = []
    for column in range(capacity):
        state = ptrain.init_state(net, params, tx, column)
        seconds, state = time_steps(step, state, batch, iters)
        params = state.params
        per_column.append(1e3 * seconds)
    return per_column, step.traces


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    dev = jax.devices()[0]
    host = f"host {cpu}, {os.cpu_count()} cores"
    return host if dev.platform == "cpu" else f"{dev.platform} {dev.device_kind}; {host}"


def commit() -> str:
    root = Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--max-k", type=int, default=4)
    ap.add_argument("--laterals", default="adapter,plain")
    ap.add_argument("--no-write", action="store_true", help="print only; do not append to RESULTS.md")
    args = ap.parse_args()

    batch = make_batch(args.batch)
    bench_k("plain", 1, batch, args.iters)  # discarded: the process's first runs are slower
    rows = []
    for lateral in args.laterals.split(","):
        base = None
        for k in range(1, args.max_k + 1):
            r = bench_k(lateral, k, batch, args.iters)
            base = base or r["step_ms"]
            r["ratio"] = r["step_ms"] / base
            rows.append(r)
            print(
                f"  {lateral:<8} K={k}: step {r['step_ms']:.1f} ms ({r['ratio']:.2f}x K=1), "
                f"compile {r['compile_s']:.2f} s, {r['params']:,} params",
                flush=True,
            )
    per_column, traces = bench_activation("adapter", args.max_k, batch, args.iters)

    lines = [
        f"### Progressive Atari columns, batch {args.batch} ({dt.date.today().isoformat()})",
        "",
        f"Machine: {machine()}. jax {jax.__version__}. Commit {commit()}. "
        f"Median of {args.iters} steps after warm-up; RMSProp, {NUM_ACTIONS} actions; capacity K, "
        "training the last column (the others frozen, forward only).",
        "",
        "| laterals | K | train step (ms) | ratio to K=1 | compile (s) | parameters |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['lateral']} | {r['K']} | {r['step_ms']:.1f} | {r['ratio']:.2f} | "
        f"{r['compile_s']:.2f} | {r['params']:,} |"
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
        if not RESULTS.exists():
            RESULTS.write_text(
                "# Benchmark results\n\nAppended by `make bench` (benchmarks/). Newest last.\n\n"
            )
        with RESULTS.open("a") as f:
            f.write(table + "\n")
        print(f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
