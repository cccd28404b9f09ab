"""What every benchmark shares: where results go, and the headline figures they keep.

Each benchmark appends its markdown table to ``RESULTS.md`` and its headline figures, one JSON
object per run, to ``results.jsonl`` (``bench``, ``date``, ``commit``, ``machine``, ``backend``,
``jax``, ``quick``, ``figures``). The README's and docs' benchmark block is rendered from the
newest full-size record of each benchmark (:mod:`readme`), never typed.

``PNN_BENCH_RESULTS=<folder>`` sends both files to another folder (``scripts/gpu_check.sh``
collects a GPU machine's results in its output folder that way; its dry run keeps the
repository's files untouched).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import jax

from pnn_jax.envs.envpool_env import EnvConfig, VecEnv
from pnn_jax.nets.columns import nature_cnn_column
from pnn_jax.nets.progressive import ProgressiveNet
from pnn_jax.provenance import commit, machine
from pnn_jax.rl.actor_critic import ACConfig, start
from pnn_jax.train.optim import make_optimizer
from pnn_jax.train.progressive import init_state

HERE = Path(__file__).resolve().parent
HEADER = "# Benchmark results\n\nAppended by `make bench` (benchmarks/). Newest last.\n\n"

__all__ = ["append_results", "commit", "heading", "machine", "ppo_reference", "record", "results_dir"]


def results_dir() -> Path:
    """``$PNN_BENCH_RESULTS`` if set, else ``benchmarks/``."""
    return Path(os.environ.get("PNN_BENCH_RESULTS") or HERE)


def append_results(text: str) -> None:
    """Append ``text`` to ``RESULTS.md`` (made with its header if missing)."""
    path = results_dir() / "RESULTS.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(HEADER)
    with path.open("a") as f:
        f.write(text)
    print(f"appended to {path}")


def heading(bench: str) -> str:
    """The head of a benchmark's ``RESULTS.md`` entry: its name, date and commit, then the machine
    and jax version (the sentence goes on after it)."""
    date = time.strftime("%Y-%m-%d")
    return f"\n## {bench} ({date}, commit {commit()})\n\n{machine()}; jax {jax.__version__}."


def record(bench: str, figures: dict, *, quick: bool = False) -> dict:
    """Append the headline ``figures`` of one run of ``bench`` to ``results.jsonl``; returns the
    record. ``quick``: tiny sizes (a dry run), never shown as a current figure."""
    rec = {
        "bench": bench,
        "date": time.strftime("%Y-%m-%d"),
        "commit": commit(),
        "machine": machine(),
        "backend": jax.default_backend(),
        "jax": jax.__version__,
        "quick": quick,
        "figures": figures,
    }
    path = results_dir() / "results.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(rec) + "\n")
    return rec


# The public JAX + envpool PPO script (CleanRL's ppo_atari_envpool_xla_jax.py, patched only for
# envpool 1.x) with the same settings as our PPO reference rows: measured on this project's 2-core
# CPU, alternating with ours, twice each (issue 16). A figure from this machine only: compare it
# with ours measured on the same machine.
PUBLIC_PPO_CPU = {
    "rate_low": 123,
    "rate_high": 134,
    "compile_s": 99,
    "peak_gib": 3.6,
    "where": "host AMD EPYC, 2 cores (this project's machine), as issue 16 reports it",
}
# The same script's published GPU figure: 10M agent steps of Pong in 36.8 minutes (CleanRL's docs).
PUBLIC_PPO_GPU_RATE = 10_000_000 / (36.8 * 60)


PPO_FULL = {"envs": 8, "t_max": 128, "epochs": 4, "minibatches": 4}
"""The public script's PPO settings: envs x steps per iteration, epochs x minibatches."""
PPO_QUICK = {"envs": 2, "t_max": 16, "epochs": 1, "minibatches": 2}
"""Tiny sizes for a dry run (``--quick``)."""


def ppo_reference(
    envs: int = 8, t_max: int = 128, epochs: int = 4, minibatches: int = 4, column=nature_cnn_column
):
    """PPO on Pong with the public JAX + envpool script's settings (one ``column`` net, the
    Nature CNN by default, orthogonal init; Adam 2.5e-4, gradient clip 0.5; ``epochs`` x
    ``minibatches`` per rollout of ``envs`` x ``t_max`` steps), ready to run:
    ``(env, net, tx, ac_config, state, actor)``."""
    env = VecEnv(EnvConfig("Pong-v5", num_envs=envs))
    net = ProgressiveNet(column(env.num_actions), 1, init_scheme="orthogonal")
    tx = make_optimizer("adam", 2.5e-4, grad_clip=0.5)
    cfg = ACConfig(algorithm="ppo", t_max=t_max, ppo_epochs=epochs, ppo_minibatches=minibatches)
    state = init_state(net, net.init(jax.random.key(0)), tx, 0)
    return env, net, tx, cfg, state, start(env, jax.random.key(1))
