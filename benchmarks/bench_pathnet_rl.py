"""PathNet actor-critic populations (pnn_jax.rl.pathnet_ac): agent steps per second.

1. Atari population with the paper's modules (L/M/N = 4/10/4, conv modules of 8 kernels and a
   linear layer of 50 units; Pong, 84x84x4 frames, A2C t_max 5, one env per path): P = 1, 8 and
   64 paths vmapped in one compiled iteration; per path against the single path; for both
   forward passes (``gather``: each path's own N kernels, which vmap turns into grouped
   convolutions; ``masked``: all M modules in one ordinary convolution, masked per path).
2. Split over 1, 2 and 4 forced CPU devices (LunarLander, dense modules, P = 8 x 8 envs, PPO), in
   fresh processes: steps per second and compile time. On one CPU the forced devices share the
   same cores, so this shows that the split runs (and equals 1 device, see tests), not scaling;
   real scaling needs GPUs.

Prints a table and appends it to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jax

sys.path.insert(0, str(Path(__file__).parent))
from common import append_results, heading, record

from pnn_jax.envs.envpool_env import EnvConfig
from pnn_jax.nets.columns import Conv, Dense
from pnn_jax.nets.pathnet import PathNet
from pnn_jax.rl.actor_critic import ACConfig
from pnn_jax.rl.pathnet_ac import EvolutionConfig, PathNetAC
from pnn_jax.train.optim import make_optimizer
from pnn_jax.train.population import population_mesh


def atari(paths: int, iterations: int, forward: str) -> tuple[float, float]:
    net = PathNet((84, 84, 4), (Conv(8, 8, 4), Conv(8, 4, 2), Conv(8, 3, 1), Dense(50)), 10, 4, 2, 7)
    evo = EvolutionConfig(population=paths, evolve_every=10)
    tx = make_optimizer("rmsprop", 7e-4, 40.0)
    tr = PathNetAC(net, tx, ACConfig(), evo, mesh=population_mesh(jax.devices()[:1]), forward=forward)
    envs = tr.make_envs(EnvConfig("Pong-v5", seed=0, num_envs=1))
    state, _ = tr.init(jax.random.key(0))
    actor = tr.start(envs, jax.random.key(1))
    loop = tr.make_loop(envs, iterations)
    t0 = time.perf_counter()
    state, actor, m = loop(state, actor)
    jax.block_until_ready(state.shared.params)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    state, actor, m = loop(state, actor)
    jax.block_until_ready(state.shared.params)
    steps = float(jax.device_get(m["agent_steps"]).sum())
    return steps / (time.perf_counter() - t0), compile_s


SPLIT = """
import json, time, jax
from pnn_jax.envs.envpool_env import EnvConfig
from pnn_jax.nets.pathnet import mlp_pathnet
from pnn_jax.rl.actor_critic import ACConfig
from pnn_jax.rl.pathnet_ac import EvolutionConfig, PathNetAC
from pnn_jax.train.optim import make_optimizer
from pnn_jax.train.population import population_mesh
net = mlp_pathnet(8, num_layers=2, num_modules=8, max_active=2, units=32, num_heads=3, head_size=5)
ac = ACConfig(algorithm="ppo", t_max=32, clip_rewards=False)
evo = EvolutionConfig(population=8, evolve_every=10)
tr = PathNetAC(net, make_optimizer("adam", 1e-3, 0.5), ac, evo, mesh=population_mesh())
envs = tr.make_envs(EnvConfig("LunarLander-v3", seed=0, num_envs=8, max_episode_steps=400))
state, _ = tr.init(jax.random.key(0)); actor = tr.start(envs, jax.random.key(1))
loop = tr.make_loop(envs, 10)
t0 = time.perf_counter(); state, actor, m = loop(state, actor); jax.block_until_ready(state.shared.params)
compile_s = time.perf_counter() - t0
t0 = time.perf_counter(); steps = 0
for _ in range(3):
    state, actor, m = loop(state, actor); steps += float(jax.device_get(m["agent_steps"]).sum())
rate = steps / (time.perf_counter() - t0)
print(json.dumps({"rate": rate, "compile": compile_s, "devices": len(jax.devices())}))
"""


def split(devices: int) -> dict:
    env = {
        **os.environ,
        "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
        "JAX_PLATFORMS": "cpu",
    }
    done = subprocess.run([sys.executable, "-c", SPLIT], capture_output=True, text=True, env=env, timeout=900)
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes (a dry run): P = 1, 8; 1-2 devices")
    args = ap.parse_args()
    sizes = ((1, 4), (8, 2)) if args.quick else ((1, 40), (8, 10), (64, 2))
    figures = {}
    rows = [
        "| PathNet Atari population (4/10/4 conv modules, Pong, A2C) | forward | agent steps/s | per path | "
        "per path / single path | compile s |",
        "|---|---|---|---|---|---|",
    ]
    for forward in ("gather", "masked"):
        single = None
        for paths, iters in sizes:
            rate, compile_s = atari(paths, iters, forward)
            per = rate / paths
            single = single or per
            figures[f"p{paths}_{forward}_total_over_single"] = round(rate / single, 3)
            rows.append(
                f"| P = {paths} | {forward} | {rate:,.0f} | {per:,.1f} | {per / single:.2f} | "
                f"{compile_s:.1f} |"
            )
            print(rows[-1], flush=True)
    rows += [
        "",
        "| LunarLander population (P = 8 x 8 envs, PPO) split over | agent steps/s | vs 1 device | "
        "compile s |",
        "|---|---|---|---|",
    ]
    base = None
    for d in (1, 2) if args.quick else (1, 2, 4):
        r = split(d)
        base = base or r["rate"]
        rows.append(
            f"| {d} forced CPU device(s) | {r['rate']:,.0f} | {r['rate'] / base:.2f} | {r['compile']:.1f} |"
        )
        print(rows[-1], flush=True)
    text = f"{heading('bench_pathnet_rl')}\n\n" + "\n".join(rows) + "\n"
    print(text)
    append_results(text)
    record("pathnet_rl", figures, quick=args.quick)


if __name__ == "__main__":
    main()
