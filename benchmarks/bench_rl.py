"""Benchmark: agent steps per second of progressive actor-critic training on Pong (envpool XLA).

Reference rows (issue 5's target): PPO with the Nature CNN (32-64-64 conv + 512 fc), 8 envs, 128
steps per iteration, 4 epochs x 4 minibatches, each in a fresh subprocess so that its peak memory
(max RSS) and compile time are its own; then the same with the paper's smaller column.

Rows: raw envpool throughput with random actions (its numpy interface, and its XLA step inside a
jitted scan), then A2C and PPO with a 1-column net (the paper's Atari column), then A2C training
the last column of nets of k = 2..4 columns. Each learner row is rollout + update in compiled
loops of ``--chunk`` iterations; the ratio is to raw envpool (numpy) and to k = 1; the compile
time is that of the first call. Prints a table and appends it to benchmarks/RESULTS.md. Usage:
``python benchmarks/bench_rl.py [--envs 8] [--chunk 20] [--repeats 3] [--no-write]``
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import jax
import numpy as np
from common import PUBLIC_PPO_CPU, append_results, commit, machine, ppo_reference, record

from pnn_jax.envs.envpool_env import EnvConfig, VecEnv
from pnn_jax.nets.columns import atari_column, nature_cnn_column
from pnn_jax.nets.progressive import ProgressiveNet
from pnn_jax.rl.actor_critic import ACConfig, make_iteration, make_loop, start
from pnn_jax.train.optim import make_optimizer
from pnn_jax.train.progressive import init_state


def raw_numpy(envs: int, steps: int) -> float:
    """Agent steps/s of envpool's numpy interface with random actions."""
    env = VecEnv(EnvConfig("Pong-v5", num_envs=envs))
    env._env.reset()
    rng = np.random.default_rng(0)
    acts = rng.integers(0, env.num_actions, (steps, envs)).astype(np.int32)
    env._env.step(acts[0])
    t = time.perf_counter()
    for a in acts[1:]:
        env._env.step(a)
    return (steps - 1) * envs / (time.perf_counter() - t)


def raw_xla(envs: int, steps: int) -> float:
    """Agent steps/s of envpool's XLA step in a jitted scan, random actions, no network."""
    env = VecEnv(EnvConfig("Pong-v5", num_envs=envs))
    handle, _ = env.reset()

    @jax.jit
    def run(handle, key):
        def body(c, k):
            h, _ = env.step(c, jax.random.randint(k, (envs,), 0, env.num_actions))
            return h, None

        return jax.lax.scan(body, handle, jax.random.split(key, steps))[0]

    handle = jax.block_until_ready(run(handle, jax.random.key(0)))
    t = time.perf_counter()
    jax.block_until_ready(run(handle, jax.random.key(1)))
    return steps * envs / (time.perf_counter() - t)


def learner(envs: int, columns: int, algorithm: str, chunk: int, repeats: int) -> tuple[float, float]:
    """(agent steps/s, compile s) of training the last column of a ``columns``-column net."""
    env = VecEnv(EnvConfig("Pong-v5", num_envs=envs))
    net = ProgressiveNet(atari_column(env.num_actions), columns)
    tx = make_optimizer("rmsprop" if algorithm == "a2c" else "adam", 1e-4, grad_clip=40.0)
    cfg = ACConfig(
        algorithm=algorithm, t_max=5 if algorithm == "a2c" else 16, ppo_epochs=2, ppo_minibatches=2
    )
    state = init_state(net, net.init(jax.random.key(0)), tx, columns - 1)
    loop = make_loop(net, tx, env, cfg, chunk)
    actor = start(env, jax.random.key(1))
    t = time.perf_counter()
    state, actor, _ = jax.block_until_ready(loop(state, actor))
    compile_s = time.perf_counter() - t  # includes one chunk of execution
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        state, actor, _ = jax.block_until_ready(loop(state, actor))
        times.append(time.perf_counter() - t)
    steps = chunk * cfg.t_max * envs
    run_s = statistics.median(times)
    return steps / run_s, max(0.0, compile_s - run_s)


def reference(network: str, iterations: int, envs: int = 8) -> dict:
    """PPO with the reference settings (``envs`` envs); run in its own process (``--reference``)."""
    column = nature_cnn_column if network == "nature_cnn" else atari_column
    env, net, tx, cfg, state, actor = ppo_reference(envs, column=column)
    loop = make_iteration(net, tx, env, cfg)
    t = time.perf_counter()
    lowered = loop.lower(state, actor)
    compiled = lowered.compile()
    compile_s = time.perf_counter() - t
    state, actor, _ = jax.block_until_ready(compiled(state, actor))  # warm-up
    t = time.perf_counter()
    for _ in range(iterations):
        state, actor, _ = compiled(state, actor)
    jax.block_until_ready(state)
    rate = iterations * 128 * envs / (time.perf_counter() - t)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    return {"rate": rate, "compile_s": compile_s, "peak_gib": peak, "traces": loop.traces}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--envs", type=int, default=8)
    ap.add_argument("--chunk", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--reference", choices=["nature_cnn", "atari"], help=argparse.SUPPRESS)
    ap.add_argument("--reference-iterations", type=int, default=5)
    ap.add_argument("--reference-envs", type=int, default=8, help="envs of the PPO reference rows")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (a dry run)")
    args = ap.parse_args()
    if args.quick:
        args.envs, args.chunk, args.repeats, args.reference_iterations = 2, 2, 1, 1
        args.reference_envs = min(args.reference_envs, 2)
    if args.reference:
        print(json.dumps(reference(args.reference, args.reference_iterations, args.reference_envs)))
        return
    e = args.envs
    raw_np = raw_numpy(e, 40 if args.quick else 400)
    raw_x = raw_xla(e, 40 if args.quick else 400)
    rows = [
        ("envpool numpy, random actions", raw_np, None),
        ("envpool XLA in jit, random actions", raw_x, None),
    ]
    learners = [("A2C, 1 column", 1, "a2c"), ("PPO, 1 column", 1, "ppo")] + [
        (f"A2C, {k} columns (training column {k})", k, "a2c") for k in (2, 3, 4)
    ]
    one = None
    figures = {"envs": e, "raw_envpool_numpy": round(raw_np), "raw_envpool_xla": round(raw_x)}
    lines = [
        "| run | agent steps/s | ratio to raw envpool (numpy) | ratio to A2C k = 1 | compile (s) |",
        "|---|---|---|---|---|",
    ]
    for name, rate, _ in rows:
        lines.append(f"| {name} | {rate:,.0f} | {rate / raw_np:.2f} | - | - |")
    for name, k, alg in learners:
        rate, comp = learner(e, k, alg, args.chunk, args.repeats)
        if alg == "a2c" and k == 1:
            one = rate
            figures |= {"a2c_paper_column": round(rate), "a2c_over_raw_envpool": round(rate / raw_np, 3)}
        if alg == "a2c" and k == 4:
            figures["a2c_k4_over_k1"] = round(rate / one, 3)
        ratio = f"{rate / one:.2f}" if alg == "a2c" and one else "-"
        lines.append(f"| {name} | {rate:,.0f} | {rate / raw_np:.2f} | {ratio} | {comp:.1f} |")
    refs = {}
    for network in ("nature_cnn", "atari"):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--reference",
                network,
                "--reference-iterations",
                str(args.reference_iterations),
                "--reference-envs",
                str(args.reference_envs),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        refs[network] = json.loads(out.strip().splitlines()[-1])
    public = PUBLIC_PPO_CPU
    ref_lines = [
        f"| PPO reference settings | agent steps/s | vs the public script on the 2-core CPU "
        f"({public['rate_low']}-{public['rate_high']}) | compile (s) | peak memory (GiB) |",
        "|---|---|---|---|---|",
    ]
    for network, r in refs.items():
        name = "Nature CNN 32-64-64 + 512" if network == "nature_cnn" else "the paper's column 12-12-12 + 256"
        cells = [
            f"{r['rate']:,.0f}",
            f"{r['rate'] / public['rate_high']:.2f}-{r['rate'] / public['rate_low']:.2f}x",
            f"{r['compile_s']:.1f}",
            f"{r['peak_gib']:.2f}",
        ]
        ref_lines.append(f"| {name} | " + " | ".join(cells) + " |")
    text = (
        f"\n### Progressive actor-critic on Pong, {e} envs ({time.strftime('%Y-%m-%d')})\n\n"
        f"Machine: {machine()}. jax {jax.__version__}. Commit {commit()}. The paper's Atari column "
        f"(84x84x4); A2C t_max 5 with RMSProp, PPO t_max 16 with 2 epochs x 2 minibatches; {args.chunk} "
        f"iterations per compiled call, median of {args.repeats} calls; compile = first call minus one "
        "timed call.\n\n"
        + "\n".join(lines)
        + f"\n\nReference PPO ({args.reference_envs} envs, 128 steps per iteration, 4 epochs x 4 "
        "minibatches, Adam; each in a fresh process: compile = lower + compile of the iteration, peak "
        "memory = the process's max RSS). The public JAX + envpool PPO script with these settings "
        f"(8 envs) measured {public['rate_low']}-{public['rate_high']} agent steps/s, compile "
        f"~{public['compile_s']} s and {public['peak_gib']} GiB on the project's 2-core CPU "
        "(issue 16); the ratio means something only on that machine:\n\n" + "\n".join(ref_lines) + "\n"
    )
    print(text)
    if not args.no_write:
        append_results(text)
        nature = refs["nature_cnn"]
        figures |= {
            "ppo_reference_envs": args.reference_envs,
            "ppo_nature_cnn": round(nature["rate"]),
            "ppo_nature_cnn_compile_s": round(nature["compile_s"], 1),
            "ppo_nature_cnn_peak_gib": round(nature["peak_gib"], 2),
        }
        record("rl", figures, quick=args.quick)


if __name__ == "__main__":
    main()
