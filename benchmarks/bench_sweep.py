"""A Pong Soup sweep as one population vs one process per pair (wall time, compilation included).

The same sweep, two Pong Soup pairs x the five methods x 1 seed, the paper's Atari column, A2C,
a short budget (40 iterations per stage, 4 envs per run; ``--quick``: 2 methods, 4 iterations):
* population: ``pnn-jax run experiment=pnn_pong_soup population=true`` (one process, every
  member in one compiled program per phase);
* one process per pair: ``pnn-jax run ... pairs=[pair]`` for each pair, one after another.

Prints a table and appends it to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import append_results, heading, record

PAIRS = ["{sources:[Pong-v5:pong],target:Pong-v5:hflip}", "{sources:[Pong-v5:pong],target:Pong-v5:noisy}"]
METHODS = "methods=[progressive,baseline1,baseline2,baseline3,baseline4]"


def common(iterations: int, quick: bool) -> list[str]:
    return [
        "experiment=pnn_pong_soup",
        "preset=smoke",
        "methods=[progressive,baseline1]" if quick else METHODS,
        f"iterations={iterations}",
        f"chunk={iterations // 2}",
        "window=200",
        "eval_episodes=1" if quick else "eval_episodes=2",
        "env.num_envs=4",
        "env.max_episode_steps=200",
        "quiet=true",
    ]


def timed(args: list[str], out: str) -> float:
    t0 = time.perf_counter()
    cli = [sys.executable, "-m", "pnn_jax.cli", "run", *args, f"out_dir={out}"]
    subprocess.run(cli, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes (a dry run): 2 methods, 4 iterations")
    ap.add_argument(
        "--member-loop", default="auto", help="the population's member_loop (auto, vmap, unroll, map)"
    )
    args = ap.parse_args()
    iterations = 4 if args.quick else 40
    methods = 2 if args.quick else 5
    base = common(iterations, args.quick)
    with tempfile.TemporaryDirectory() as tmp:
        pop = timed(
            [*base, f"pairs=[{','.join(PAIRS)}]", "population=true", f"member_loop={args.member_loop}"], tmp
        )
        per_pair = [timed([*base, f"pairs=[{p}]"], tmp) for p in PAIRS]
    total = sum(per_pair)
    rows = [
        f"| Pong Soup sweep: {len(PAIRS)} pairs x {methods} methods, {iterations} iterations per stage, "
        "4 envs | "
        "wall s (compile included) | vs population |",
        "|---|---|---|",
        f"| one population (population=true, member_loop={args.member_loop}), one process | "
        f"{pop:.1f} | 1.00 |",
        f"| one process per pair ({len(PAIRS)} processes, one after another) | {total:.1f} | "
        f"{total / pop:.2f} |",
    ]
    text = f"{heading('bench_sweep')}\n\n" + "\n".join(rows) + "\n"
    print(text)
    append_results(text)
    record(
        "sweep",
        {
            "methods": methods,
            "member_loop": args.member_loop,
            "iterations": iterations,
            "population_s": round(pop, 1),
            "per_pair_s": round(total, 1),
            "speedup": round(total / pop, 3),
        },
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
