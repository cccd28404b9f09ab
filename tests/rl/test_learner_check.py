"""A learner that cannot move its policy is caught in seconds (issue 13).

The paper's Atari column on real Pong frames, with the reward replaced by +1 whenever the action
is UP: a working actor-critic makes UP nearly certain within 50 updates (P(UP) 0.99999 measured).
With A3C's RMSProp (eps 0.1 under the root) and a loss averaged over the batch, the steps are ~40x
smaller (docs/rl_learner.md), and the same budget leaves P(UP) at 0.22 (it gets there by 150). That
configuration is kept as a negative control, so the check is shown to fail on the fault it exists
for. The Pong learning check itself (a short Pong run that beats random play) is
``scripts/check_pong_learns.py``; its verdict on given chunk records is tested at the end.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("envpool")

from pnn_jax.envs.envpool_env import EnvConfig, VecEnv
from pnn_jax.nets.columns import atari_column
from pnn_jax.nets.progressive import ProgressiveNet
from pnn_jax.rl.actor_critic import ACConfig, build_iteration, column_policy, preprocess, start
from pnn_jax.train.optim import make_optimizer
from pnn_jax.train.progressive import init_state

UP = 2


def prob_up_after(iterations: int, init: str = "lecun_normal", **optim) -> float:
    """P(UP) of the column on fresh Pong frames after ``iterations`` A2C updates (16 envs x 5
    steps) with a reward of 1 for UP and 0 otherwise."""
    env = VecEnv(EnvConfig("Pong-v5", num_envs=16, seed=0))
    net = ProgressiveNet(atari_column(env.num_actions), 1, init_scheme=init)
    tx = make_optimizer(**optim)
    state = init_state(net, net.init(jax.random.key(0)), tx, 0)

    def press_up(handle, actions):
        handle, out = env.step(handle, actions)
        return handle, out.replace(reward=(actions == UP).astype(jnp.float32))

    iteration = jax.jit(build_iteration(column_policy(net, tx), press_up, ACConfig()))
    actor = start(env, jax.random.key(1))
    for _ in range(iterations):
        state, actor, _ = iteration(state, actor)
    probs = jax.nn.softmax(net.apply(state.params, preprocess(actor.out.obs), 0)["policy"])
    return float(probs[:, UP].mean())


def test_the_pong_preset_learner_moves_its_policy():
    settings = dict(name="rmsprop", lr=7e-4, grad_clip=0.5, eps=1e-5, eps_in_sqrt=False)
    assert prob_up_after(50, init="orthogonal", **settings) > 0.9


def test_a3c_rmsprop_eps_with_a_mean_loss_barely_moves_it():
    assert prob_up_after(50, name="rmsprop", lr=5e-4, grad_clip=40.0) < 0.5


def test_the_pong_check_compares_first_and_last_play_by_episodes():
    """``scripts/check_pong_learns.py``'s statistic: episode-weighted mean returns of the chunks at
    each end of the run, with the standard error from the spread of the chunk means."""
    path = Path(__file__).parents[2] / "scripts" / "check_pong_learns.py"
    spec = importlib.util.spec_from_file_location("check_pong_learns", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    chunks = [
        {"agent_steps": 100, "episodes": 1, "episode_return": -21.0},
        {"agent_steps": 200, "episodes": 3, "episode_return": -20.0},
        {"agent_steps": 300, "episodes": 0, "episode_return": None},
        {"agent_steps": 400, "episodes": 2, "episode_return": -10.0},
    ]
    mean, se, n = script.window_stats(chunks, 0, 200)
    assert (mean, n) == (-20.25, 4) and se == pytest.approx((0.1875**0.5) / 1)
    mean, se, n = script.window_stats(chunks, 200, 400)
    assert (mean, n) == (-10.0, 2)  # a chunk without finished episodes counts for nothing


def test_check_script_judges_an_existing_run(tmp_path):
    """``check_pong_learns.py --run-dir``: the verdict on a stage's chunk records. A stage rising
    from random play (-20.5) to -15 learns; a flat one does not; ``--upto`` cuts the records."""
    rng = np.random.default_rng(0)
    lines = []
    for stage, rise in (("source0:Pong-v5:pong", 5.5), ("target:Pong-v5:hflip", 0.0)):
        for i in range(100):  # 100 chunks of 20k agent steps: 2M
            ret = -20.5 + rise * i / 99 + rng.normal(0, 0.3)
            lines.append(
                {
                    "kind": "chunk",
                    "stage": stage,
                    "agent_steps": 20_000 * (i + 1),
                    "episodes": 10,
                    "episode_return": ret,
                }
            )
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    script = Path(__file__).parents[2] / "scripts" / "check_pong_learns.py"

    def check(*args):
        done = subprocess.run(
            [sys.executable, str(script), "--run-dir", str(tmp_path), *args], capture_output=True, text=True
        )
        return done.returncode, done.stdout

    code, out = check("--stage", "source0")
    assert code == 0 and "LEARNS" in out, out
    code, out = check("--stage", "target")
    assert code == 1 and "DOES NOT LEARN" in out, out
    code, out = check("--stage", "source0", "--upto", "400000")  # the first 400k: still random play
    assert code == 1, out
    code, out = check()  # two stages: one must be picked
    assert code == 1 and "--stage must pick one stage" in out, out
