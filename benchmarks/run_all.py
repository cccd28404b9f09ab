"""Every benchmark, one after another (``make bench``; ``scripts/gpu_check.sh``), each in its own
process; then the README's and docs' benchmark block is rendered from the new records.

Usage: ``python benchmarks/run_all.py [--quick] [--only NAME ...]``. ``--quick`` passes tiny
sizes to each benchmark (a dry run: its records are marked and never shown as current figures).
With ``PNN_BENCH_RESULTS`` set (benchmarks/common.py) the README is left alone.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import readme

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    "bench_columns",
    "bench_pathnet",
    "bench_rl",
    "bench_ppo_floor",
    "bench_pathnet_rl",
    "bench_sweep",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", nargs="+", choices=BENCHMARKS, default=BENCHMARKS)
    args = ap.parse_args()
    for name in args.only:
        t0 = time.perf_counter()
        print(f"== {name}", flush=True)
        extra = ["--quick"] if args.quick else []
        subprocess.run([sys.executable, str(HERE / f"{name}.py"), *extra], check=True)
        print(f"== {name}: {time.perf_counter() - t0:.0f} s", flush=True)
    if not args.quick and "PNN_BENCH_RESULTS" not in os.environ:  # the repository's own records
        readme.main(["--write"])


if __name__ == "__main__":
    main()
