"""A Pong Soup sweep as one population vs one process per pair (wall time, compilation included).

The same sweep, two Pong Soup pairs x the five methods x 1 seed, the paper's Atari column, A2C,
a short budget (``ITERATIONS`` per stage, 4 envs per run):
* population: ``pnn-jax run experiment=pnn_pong_soup population=true`` (one process, every
  member in one compiled program per phase);
* one process per pair: ``pnn-jax run ... pairs=[pair]`` for each pair, one after another.

Prints a table and appends it to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import jax
from bench_columns import append_results, commit, machine

PAIRS = ["{sources:[Pong-v5:pong],target:Pong-v5:hflip}", "{sources:[Pong-v5:pong],target:Pong-v5:noisy}"]
ITERATIONS = 40
COMMON = [
    "experiment=pnn_pong_soup",
    "preset=smoke",
    "methods=[progressive,baseline1,baseline2,baseline3,baseline4]",
    f"iterations={ITERATIONS}",
    "chunk=20",
    "window=200",
    "eval_episodes=2",
    "env.num_envs=4",
    "env.max_episode_steps=200",
    "quiet=true",
]


def timed(args: list[str], out: str) -> float:
    t0 = time.perf_counter()
    cli = [sys.executable, "-m", "pnn_jax.cli", "run", *COMMON, *args, f"out_dir={out}"]
    subprocess.run(cli, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pop = timed([f"pairs=[{','.join(PAIRS)}]", "population=true"], tmp)
        per_pair = [timed([f"pairs=[{p}]"], tmp) for p in PAIRS]
    total = sum(per_pair)
    rows = [
        f"| Pong Soup sweep: {len(PAIRS)} pairs x 5 methods, {ITERATIONS} iterations per stage, 4 envs | "
        "wall s (compile included) | vs population |",
        "|---|---|---|",
        f"| one population (population=true), one process | {pop:.1f} | 1.00 |",
        f"| one process per pair ({len(PAIRS)} processes, one after another) | {total:.1f} | "
        f"{total / pop:.2f} |",
    ]
    text = (
        f"\n## bench_sweep ({time.strftime('%Y-%m-%d')}, commit {commit()})\n\n"
        f"{machine()}; jax {jax.__version__}.\n\n" + "\n".join(rows) + "\n"
    )
    print(text)
    append_results(text)


if __name__ == "__main__":
    main()
