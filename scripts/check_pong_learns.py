"""Does the Atari learner still learn? A short Pong run must beat its own first (random) play.

Run before resolving any change to the RL stack (the learner, the envs, the optimiser settings):

    .venv/bin/python scripts/check_pong_learns.py [--iterations N] [key=value ...]

It runs ``pnn-jax run experiment=pnn_pong_soup preset=pong iterations=N`` (one column of the
paper's Atari network on Pong, A2C as the experiment configures it; extra ``key=value`` overrides
pass through) and compares, from the run's chunk records, the mean return of the episodes that
finished in the first ``--compare`` agent steps (the initial, near-uniform policy: random play,
about -20.5) with those that finished in the last ``--compare`` steps. It passes when the gain is
at least ``--min-gain`` points AND at least 4 standard errors (the per-chunk means' spread). Exit
code 0 = learns, 1 = does not; the run directory stays for inspection.

``--run-dir DIR [--stage S] [--upto N]`` applies the same criterion to a run that already exists
instead of starting one: the chunk records of stage ``S`` (a substring of the stage name, e.g.
``source0:Pong``; default: the only stage) up to ``N`` agent steps (default: all). Any run of this
learner on Pong qualifies, e.g. the Pong column of ``pnn_pong_soup preset=cpu`` (same settings as
``preset=pong``) with ``--upto 2000000``, which is what the default check would have run.

The default budget comes from the measured curve of ``preset=pong`` (docs/rl_learner.md): the
shortest run that clears the criterion there with a margin. A learner that cannot move its policy
stays within noise of random play, as the broken RMSProp settings of issue 13 did for 2.9M steps.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from pnn_jax import rundir


def window_stats(chunks: list[dict], lo: int, hi: int) -> tuple[float, float, int]:
    """Mean return of the episodes finished in chunks ending in ``(lo, hi]`` agent steps, the
    standard error of that mean (from the spread of the chunk means, weighted by episodes), and the
    episode count."""
    sel = [c for c in chunks if lo < c["agent_steps"] <= hi and c.get("episodes")]
    n = np.array([c["episodes"] for c in sel], float)
    means = np.array([c["episode_return"] for c in sel], float)
    if n.sum() == 0:
        return float("nan"), float("nan"), 0
    mean = float((n * means).sum() / n.sum())
    var = float((n * (means - mean) ** 2).sum() / n.sum())  # per-chunk spread
    se = float(np.sqrt(var / max(len(sel) - 1, 1)))
    return mean, se, int(n.sum())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=25_000, help="x 80 agent steps")
    parser.add_argument("--compare", type=int, default=200_000, help="agent steps at each end")
    parser.add_argument("--min-gain", type=float, default=2.0, help="points of mean episode return")
    parser.add_argument("--out", default=None, help="runs root (default: a temporary folder)")
    parser.add_argument("--run-dir", default=None, help="judge this existing run instead of starting one")
    parser.add_argument("--stage", default=None, help="with --run-dir: a substring of the stage to judge")
    parser.add_argument("--upto", type=int, default=None, help="with --run-dir: last agent step judged")
    args, overrides = parser.parse_known_args()
    if args.run_dir is not None:
        if overrides:
            parser.error(f"--run-dir takes no run overrides, got {overrides}")
        return judge(Path(args.run_dir), args, stage=args.stage, upto=args.upto)
    out = Path(args.out or tempfile.mkdtemp(prefix="pong_check_"))
    cmd = [
        sys.executable,
        "-m",
        "pnn_jax.cli",
        "run",
        "experiment=pnn_pong_soup",
        "preset=pong",
        f"iterations={args.iterations}",
        f"out_dir={out}",
        *overrides,
    ]
    print(" ".join(cmd[2:]), flush=True)
    if subprocess.run(cmd).returncode != 0:
        print("the run failed")
        return 1
    (run_dir,) = [p for p in out.glob("*/*") if p.is_dir()]
    return judge(run_dir, args)


def judge(run_dir: Path, args, stage: str | None = None, upto: int | None = None) -> int:
    """Print the verdict on the chunk records of ``run_dir`` (one stage, up to ``upto`` agent steps)."""
    chunks = [m for m in rundir.read_metrics(run_dir) if m.get("kind") == "chunk"]
    stages = stages_all = sorted({str(c.get("stage", "")) for c in chunks})
    if stage is not None:
        stages = [s for s in stages if stage in s]
    if len(stages) != 1:
        print(f"--stage must pick one stage of {run_dir}; it has {stages_all}")
        return 1
    chunks = [c for c in chunks if str(c.get("stage", "")) == stages[0]]
    if upto is not None:
        chunks = [c for c in chunks if c["agent_steps"] <= upto]
    if not chunks:
        print(f"no chunk records in {run_dir} for stage {stages[0]!r}")
        return 1
    end = max(c["agent_steps"] for c in chunks)
    first = window_stats(chunks, 0, args.compare)
    last = window_stats(chunks, end - args.compare, end)
    gain = last[0] - first[0]
    se = float(np.hypot(first[1], last[1]))
    ok = gain >= args.min_gain and gain >= 4 * se
    print(f"run directory: {run_dir}, stage {stages[0]}")
    verdict = "LEARNS" if ok else "DOES NOT LEARN"
    print(f"first {args.compare:,} agent steps: {first[0]:+.2f} +- {first[1]:.2f} ({first[2]} episodes)")
    print(f"last {args.compare:,} steps (to {end:,}): {last[0]:+.2f} +- {last[1]:.2f} ({last[2]} episodes)")
    print(f"gain {gain:+.2f} (needs >= {args.min_gain} and >= 4 x {se:.2f}): {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
