"""A time-boxed Pong PPO run with its learning curve (a step of ``scripts/gpu_check.sh``).

The public JAX + envpool PPO's settings (benchmarks/bench_rl.py's reference rows): the Nature CNN,
``--envs`` envs x 128 steps per iteration, 4 epochs x 4 minibatches, Adam 2.5e-4, gradient clip
0.5, entropy 0.01, GAE 0.95, clip 0.2, rewards clipped. Iterations run in compiled chunks until
``--seconds`` of training (compilation excluded) have passed. After each chunk the curve gets
a point: wall seconds, agent steps, finished episodes and their mean raw return.

Writes into ``--out``: ``curve.jsonl``, ``curve.png`` (matplotlib) and ``summary.json`` (agent
steps/s, compile seconds, the first and last points' mean returns, the public script's published
GPU rate for comparison); appends the summary to ``results.jsonl`` as benchmark ``pong_ppo``
(``PNN_BENCH_RESULTS`` chooses the folder, see benchmarks/common.py).

Usage: ``python scripts/pong_ppo.py [--seconds 600] [--envs 8] [--out DIR] [--quick]``
(``--quick``: 2 envs x 16 steps, 1 epoch x 2 minibatches, a dry run on CPU).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jax
import matplotlib.pyplot as plt  # no display here: matplotlib falls back to Agg
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from common import PPO_FULL, PPO_QUICK, PUBLIC_PPO_GPU_RATE, ppo_reference, record

from pnn_jax.rl.actor_critic import make_loop


def plot(curve: list[dict], path: Path, title: str) -> None:
    pts = [p for p in curve if p["episodes"]]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([p["agent_steps"] for p in pts], [p["mean_return"] for p in pts], marker=".")
    ax.set_xlabel("agent steps")
    ax.set_ylabel("mean return of the episodes finished in the chunk")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=600.0, help="training time (compilation excluded)")
    ap.add_argument("--envs", type=int, default=8)
    ap.add_argument("--chunk", type=int, default=10, help="iterations per compiled call")
    ap.add_argument("--out", default="runs/pong_ppo")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.seconds <= 0 or args.envs < 1 or args.chunk < 1:
        sys.exit("error: --seconds, --envs and --chunk must be positive")
    sizes = {**PPO_FULL, "envs": args.envs}
    if args.quick:
        sizes, args.chunk = {**PPO_QUICK, "envs": min(args.envs, PPO_QUICK["envs"])}, 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    env, net, tx, cfg, state, actor = ppo_reference(**sizes)
    loop = make_loop(net, tx, env, cfg, args.chunk)

    t0 = time.perf_counter()
    state, actor, m = jax.block_until_ready(loop(state, actor))  # compiles; its chunk counts below
    compile_s = time.perf_counter() - t0
    curve, steps, trained = [], 0, 0.0
    while True:
        m = jax.device_get(m)
        episodes = int(np.sum(m["episodes"]))
        steps += int(np.sum(m["agent_steps"]))
        curve.append(
            {
                "seconds": round(trained, 2),
                "agent_steps": steps,
                "episodes": episodes,
                "mean_return": float(np.sum(m["episode_return_sum"]) / episodes) if episodes else None,
            }
        )
        if trained >= args.seconds:
            break
        t = time.perf_counter()
        state, actor, m = jax.block_until_ready(loop(state, actor))
        trained += time.perf_counter() - t
    timed_steps = steps - curve[0]["agent_steps"]
    rate = timed_steps / trained
    returns = [p["mean_return"] for p in curve if p["episodes"]]
    summary = {
        "device": str(jax.devices()[0]),
        "envs": sizes["envs"],
        "settings": {k: v for k, v in sizes.items() if k != "envs"},
        "seconds": round(trained, 1),
        "agent_steps": steps,
        "rate": round(rate, 1),
        "compile_s": round(compile_s, 1),
        "first_return": returns[0] if returns else None,
        "last_return": returns[-1] if returns else None,
        "public_gpu_rate": round(PUBLIC_PPO_GPU_RATE),
    }
    (out / "curve.jsonl").write_text("".join(json.dumps(p) + "\n" for p in curve))
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    plot(curve, out / "curve.png", f"Pong PPO, Nature CNN, {sizes['envs']} envs, {summary['device']}")
    record("pong_ppo", summary, quick=args.quick)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
