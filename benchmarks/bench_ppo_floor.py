"""PPO iteration time against its floor: the compulsory work as separately jitted pieces.

The reference settings (issue 16; CleanRL's envpool-XLA PPO): Nature CNN on Pong, 8 envs x 128
steps, 4 epochs x 4 minibatches of 256, Adam 2.5e-4. One iteration must do at least

- 128 policy forwards at batch 8 (the rollout),
- 1,024 env steps (envpool's XLA step),
- 16 x (forward + backward + Adam) at batch 256 (the update),

so the sum of those pieces, each compiled on its own, is the floor; the table shows our full
iteration (:func:`pnn_jax.rl.actor_critic.build_iteration`, rollout + ``ppo_update``) as a ratio to
it, and the pieces' shares. Everything is measured in one process, one after another, as the
median of ``--repeats`` timed calls after a warm-up call.

Prints a table and appends it to benchmarks/RESULTS.md with machine, jax version and commit.
Usage: ``python benchmarks/bench_ppo_floor.py [--repeats 3] [--no-write]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp

sys.path.insert(0, str(Path(__file__).parent))
from common import PPO_FULL, PPO_QUICK, PUBLIC_PPO_CPU, append_results, heading, ppo_reference, record

from pnn_jax.rl.actor_critic import build_iteration
from pnn_jax.rl.policy import column_policy, preprocess
from pnn_jax.rl.rollout import Members, make_rollout


def timed(fn, *args, repeats: int) -> tuple[float, float]:
    """``(median seconds per call, seconds of the first call incl. compilation)``."""
    t = time.perf_counter()
    jax.block_until_ready(fn(*args))
    first = time.perf_counter() - t
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t)
    return statistics.median(times), first


def measure(
    repeats: int, envs: int, t_max: int, epochs: int, minibatches: int
) -> list[tuple[str, float, float]]:
    """``[(piece, seconds, first call seconds)]``: the full iteration, then the floor's pieces."""
    env, net, tx, cfg, state, actor = ppo_reference(envs, t_max, epochs, minibatches)
    policy = column_policy(net, tx)
    out = []

    iteration = jax.jit(build_iteration(policy, env.step, cfg))
    out.append(("full iteration (ours)", *timed(iteration, state, actor, repeats=repeats)))

    rollout = jax.jit(make_rollout(policy, env.step, cfg, Members(1), preprocess))
    _, traj, _ = jax.block_until_ready(rollout(state, actor))  # real frames for the pieces below

    def forwards(st, obs):  # [T, B, ...] -> one forward per step, scanned (no loop-invariant hoisting)
        return jax.lax.scan(lambda c, o: (c + policy.act(st, preprocess(o))["value"].sum(), None), 0.0, obs)[
            0
        ]

    out.append(
        (f"{t_max} forwards at batch {envs}", *timed(jax.jit(forwards), state, traj["obs"], repeats=repeats))
    )

    def env_steps(handle):
        def body(h, _):
            h, o = env.step(h, jnp.zeros((envs,), jnp.int32))
            return h, o.reward.sum()

        return jax.lax.scan(body, handle, None, length=t_max)[1].sum()

    env_t = timed(jax.jit(env_steps), actor.handle, repeats=repeats)
    out.append((f"{t_max * envs:,} env steps", *env_t))

    size = t_max * envs // minibatches
    batch = traj["obs"].reshape(-1, *traj["obs"].shape[2:])[:size]

    def train_step(st):
        def loss(params):
            heads = policy.train(params, st, preprocess(batch))
            return heads["policy"].mean() + heads["value"].mean()

        return policy.apply_grads(st, jax.grad(loss)(policy.params(st)))

    step, first = timed(jax.jit(train_step), state, repeats=repeats)
    out.append(
        (
            f"{epochs * minibatches} x (forward + backward + Adam) at batch {size}",
            epochs * minibatches * step,
            first,
        )
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (a dry run): 2 envs x 16 steps")
    args = ap.parse_args()
    sizes = PPO_QUICK if args.quick else PPO_FULL
    rows = measure(1 if args.quick else args.repeats, **sizes)
    full = rows[0][1]
    floor = sum(s for _, s, _ in rows[1:])
    lines = [
        "| PPO reference settings: one iteration | ms | share of the floor | first call s |",
        "|---|---|---|---|",
        f"| {rows[0][0]} | {1000 * full:,.0f} | {full / floor:.2f} x floor | {rows[0][2]:.1f} |",
        *[f"| {name} | {1000 * s:,.0f} | {s / floor:.1%} | {first:.1f} |" for name, s, first in rows[1:]],
        f"| floor (sum of the pieces) | {1000 * floor:,.0f} | 100% | |",
    ]
    steps = sizes["t_max"] * sizes["envs"]
    rate, floor_rate = steps / full, steps / floor
    public = PUBLIC_PPO_CPU
    text = (
        f"{heading('bench_ppo_floor')} {sizes['envs']} envs x {sizes['t_max']} steps, "
        f"{sizes['epochs']} x {sizes['minibatches']} minibatches. Our iteration: {rate:.0f} agent "
        f"steps/s; the floor allows {floor_rate:.0f}. The public JAX + envpool PPO script with the "
        f"full settings measured {public['rate_low']}-{public['rate_high']} agent steps/s on the "
        "project's 2-core CPU (issue 16).\n\n" + "\n".join(lines) + "\n"
    )
    print(text)
    if not args.no_write:
        append_results(text)
        figures = {
            "rate": round(rate, 1),
            "floor_rate": round(floor_rate, 1),
            "over_floor": round(full / floor, 3),
            "shares": {name: round(s / floor, 3) for name, s, _ in rows[1:]},
            "first_call_s": round(rows[0][2], 1),
        }
        record("ppo_floor", figures | {"settings": sizes}, quick=args.quick)


if __name__ == "__main__":
    main()
