"""A2C and PPO iterations over envpool inside one compiled call: one trace, frozen columns stay
bit-identical, and A2C learns CartPole."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from tolerance import assert_same_training

pytest.importorskip("envpool")

from pnn_jax.envs import pong_soup
from pnn_jax.envs.envpool_env import EnvConfig, VecEnv
from pnn_jax.freezing import checksum
from pnn_jax.nets.columns import atari_column, mlp_column
from pnn_jax.nets.progressive import ProgressiveNet
from pnn_jax.rl.actor_critic import ACConfig, make_iteration, make_loop, start
from pnn_jax.train.optim import make_optimizer
from pnn_jax.train.progressive import init_state


def setup(algorithm, num_envs=8, columns=2, lr=3e-3, seed=0):
    env = VecEnv(EnvConfig("CartPole-v1", num_envs=num_envs, seed=seed))
    net = ProgressiveNet(mlp_column(4, [32], {"policy": env.num_actions, "value": 1}), columns)
    params = net.init(jax.random.key(seed))
    tx = make_optimizer("adam" if algorithm == "ppo" else "rmsprop", lr, grad_clip=40.0)
    cfg = ACConfig(algorithm=algorithm, t_max=16 if algorithm == "ppo" else 5, clip_rewards=False)
    return env, net, tx, cfg, params


@pytest.mark.parametrize("algorithm", ["a2c", "ppo"])
def test_one_trace_and_frozen_columns_bit_identical(algorithm):
    env, net, tx, cfg, params = setup(algorithm)
    state = init_state(net, params, tx, column=1)
    before = checksum(jax.tree.map(lambda a: a[0], params))
    it = make_iteration(net, tx, env, cfg)
    actor = start(env, jax.random.key(1))
    for _ in range(5):
        state, actor, metrics = it(state, actor)
    assert it.traces == 1
    assert checksum(jax.tree.map(lambda a: a[0], state.params)) == before  # column 0 frozen
    assert np.isfinite(float(metrics["policy_loss"])) and int(metrics["agent_steps"]) > 0


@pytest.mark.parametrize(("algorithm", "iterations", "lr"), [("a2c", 1500, 3e-3), ("ppo", 250, 1e-3)])
def test_learns_cartpole(algorithm, iterations, lr):
    """Random CartPole lasts ~22 steps; both learners pass 100 within a few seconds (16 envs)."""
    env, net, tx, cfg, params = setup(algorithm, num_envs=16, columns=1, lr=lr)
    state = init_state(net, params, tx, column=0)
    it = make_iteration(net, tx, env, cfg)
    actor = start(env, jax.random.key(0))
    first, last = [], []
    for i in range(iterations):
        state, actor, m = it(state, actor)
        if int(m["episodes"]):
            (first if i < iterations // 20 else last).append(
                float(m["episode_return_sum"]) / int(m["episodes"])
            )
    assert np.mean(first) < 40 and np.mean(last[-30:]) > 100, (np.mean(first), np.mean(last[-30:]))


def test_pong_soup_column_trains_inside_one_compiled_iteration():
    """The paper's Atari column on Pong with the H-flip transform, rollout and update in one call."""
    env = VecEnv(EnvConfig("Pong-v5", num_envs=2, seed=0))
    net = ProgressiveNet(atari_column(env.num_actions), 2)
    tx = make_optimizer("rmsprop", 1e-4, grad_clip=40.0)
    state = init_state(net, net.init(jax.random.key(0)), tx, column=1)
    frozen = checksum(jax.tree.map(lambda a: a[0], state.params))
    it = make_iteration(net, tx, env, ACConfig(), transform=pong_soup.transform("hflip"))
    actor = start(env, jax.random.key(1))
    for _ in range(3):
        state, actor, m = it(state, actor)
    assert it.traces == 1 and int(m["agent_steps"]) == 10
    assert checksum(jax.tree.map(lambda a: a[0], state.params)) == frozen


def test_scan_and_dispatch_loops_agree():
    """make_loop's two modes run the same iterations (one compiled scan vs repeated dispatch)."""
    outs = []
    for mode in ("scan", "dispatch"):
        env, net, tx, cfg, params = setup("a2c", num_envs=4, columns=1)  # fresh envs, same seed
        state = init_state(net, params, tx, column=0)
        loop = make_loop(net, tx, env, cfg, 6, mode=mode)
        env_state = start(env, jax.random.key(3))
        state, _, m = loop(state, env_state)
        outs.append((jax.device_get(state.params), jax.device_get(m)))
        assert loop.traces == 1 and m["agent_steps"].shape == (6,)
    np.testing.assert_array_equal(outs[0][1]["agent_steps"], outs[1][1]["agent_steps"])
    # 6 updates; the longest sum of one: the forward pass (4 inputs + bias, 32 + bias), the same
    # backward, the gradients' sum over 4 envs x 5 steps, and the clip's global norm over the 259
    # parameters
    assert_same_training(outs[0][0], outs[1][0], steps=6, terms=2 * (5 + 33) + 20 + 259 + 2)
