"""envpool inside jit: XLA and host interfaces agree; episode accounting against a hand-stepped
run (auto-reset steps, terminations vs truncations); Pong with a Pong Soup transform in one compiled
rollout; one trace over many rollouts; clear errors."""

from __future__ import annotations

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerance import assert_within, gamma

envpool = pytest.importorskip("envpool")

from pnn_jax.envs import pong_soup  # noqa: E402
from pnn_jax.envs.envpool_env import (  # noqa: E402
    EnvConfig,
    EnvSettings,
    Episodes,
    VecEnv,
    check_env_config,
    update_episodes,
)
from pnn_jax.jit import counted_jit  # noqa: E402


def make_rollout(env: VecEnv, num_steps: int, transform=None):
    """A jitted rollout of ``num_steps`` with the given actions ``[T, B]``; returns the outputs."""

    def rollout(handle, actions):
        def body(carry, a):
            handle, ep = carry
            handle, out = env.step(handle, a)
            if transform is not None:
                out = out.replace(obs=transform(out.obs))
            ep, info = update_episodes(ep, out)
            return (handle, ep), (out, info)

        (handle, _), (outs, infos) = jax.lax.scan(body, (handle, Episodes.zeros(env.cfg.num_envs)), actions)
        return handle, outs, infos

    return counted_jit(rollout)


def actions_for(num_steps, num_envs, num_actions, seed=0):
    return np.random.default_rng(seed).integers(0, num_actions, (num_steps, num_envs)).astype(np.int32)


@pytest.mark.parametrize("env_id", ["CartPole-v1"])
def test_xla_and_host_interfaces_give_the_same_trajectories(env_id):
    outs = {}
    for interface in ("xla", "host"):
        env = VecEnv(EnvConfig(env_id, num_envs=3, seed=7, interface=interface))
        handle, _ = env.reset()
        acts = actions_for(60, 3, env.num_actions)
        _, out, info = make_rollout(env, 60)(handle, acts)
        outs[interface] = jax.device_get((out, info))
    (xo, xi), (ho, hi) = outs["xla"], outs["host"]
    for a, b in zip(jax.tree.leaves(xo), jax.tree.leaves(ho), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(xi["episode_length"], hi["episode_length"])
    assert xo.done.sum() >= 3  # several episodes ended in 60 random steps


def hand_stepped(env_id, num_envs, seed, actions, **kw):
    """Episodes (return, length, truncated) of a plain numpy loop, counted the obvious way."""
    env = envpool.make(env_id, env_type="gymnasium", num_envs=num_envs, seed=seed, **kw)
    env.reset()
    ret, length = np.zeros(num_envs), np.zeros(num_envs, int)
    just_ended = np.zeros(num_envs, bool)
    finished = [[] for _ in range(num_envs)]
    for a in actions:
        _, r, term, trunc, info = env.step(a)
        for i in range(num_envs):
            if just_ended[i]:  # envpool's auto-reset step: not part of any episode
                assert r[i] == 0 and info["elapsed_step"][i] == 0
                just_ended[i] = False
                continue
            ret[i] += r[i]
            length[i] += 1
            if term[i] or trunc[i]:
                finished[i].append((ret[i], length[i], bool(trunc[i] and not term[i])))
                ret[i], length[i] = 0, 0
                just_ended[i] = True
    return finished


@pytest.mark.parametrize("max_steps", [0, 6])
def test_episode_accounting_matches_a_hand_stepped_run(max_steps):
    kw = {"max_episode_steps": max_steps} if max_steps else {}
    cfg = EnvConfig("CartPole-v1", num_envs=4, seed=3, max_episode_steps=max_steps)
    env = VecEnv(cfg)
    acts = actions_for(80, 4, env.num_actions, seed=1)
    handle, _ = env.reset()
    _, _, info = jax.device_get(make_rollout(env, 80)(handle, acts))
    want = hand_stepped("CartPole-v1", 4, 3, acts, **kw)
    for i in range(4):
        ended = np.flatnonzero(info["finished"][:, i])
        got = [
            (
                float(info["episode_return"][t, i]),
                int(info["episode_length"][t, i]),
                bool(info["truncated"][t, i]),
            )
            for t in ended
        ]
        assert got == [(float(r), int(n), tr) for r, n, tr in want[i]]
    truncations = sum(tr for eps in want for *_, tr in eps)
    assert (truncations > 0) == bool(max_steps)  # episodes of CartPole cut at 6 steps are truncations


def test_pong_with_a_soup_transform_in_one_compiled_rollout():
    env = VecEnv(EnvConfig("Pong-v5", num_envs=2, seed=0))
    assert env.obs_shape == (4, 84, 84) and env.num_actions == 6
    handle, _ = env.reset()
    rollout = make_rollout(env, 8, transform=pong_soup.transform("vflip"))
    for i in range(3):
        handle, outs, _ = rollout(handle, actions_for(8, 2, 6, seed=i))
    assert rollout.traces == 1
    assert outs.obs.shape == (8, 2, 4, 84, 84) and outs.obs.dtype == jnp.uint8
    top = np.asarray(outs.obs[-1, 0, -1])
    assert np.count_nonzero(top == pong_soup.PONG_BACKGROUND) > 3000  # still a Pong frame, flipped


def paddle_row(frame: np.ndarray) -> float:
    """Mean row of the agent's (right) paddle in an 84x84 Pong frame: the non-background pixels of
    column 74 inside the playfield (rows 15..76)."""
    rows = np.flatnonzero(frame[15:77, 74] != pong_soup.PONG_BACKGROUND) + 15
    return float(rows.mean()) if rows.size else float("nan")


def test_each_env_gets_its_own_action_inside_jit():
    """A scripted policy through the compiled step: UP (action 2) in env 0, DOWN (3) in env 1; the
    paddles end at the top and the bottom of the playfield, and swapping the actions swaps them."""
    for up_env in (0, 1):
        env = VecEnv(EnvConfig("Pong-v5", num_envs=2, seed=0))
        handle, _ = env.reset()
        actions = np.tile(np.array([3, 3], np.int32), (40, 1))
        actions[:, up_env] = 2
        _, outs, _ = make_rollout(env, 40)(handle, actions)
        rows = [paddle_row(np.asarray(outs.obs[-1, b, -1])) for b in range(2)]
        assert rows[up_env] < 25 and rows[1 - up_env] > 65, rows


def test_truncated_step_returns_the_real_last_observation():
    """What bootstrapping at a time limit relies on (pnn_jax.rl.returns): the step that reports
    ``truncated`` returns an observation that obeys CartPole's dynamics (x' = x + 0.02 x_dot);
    only the next step, the auto-reset, jumps."""
    cfg = EnvConfig("CartPole-v1", num_envs=1, seed=3, max_episode_steps=6)
    raw = envpool.make(cfg.env_id, env_type="gymnasium", **cfg.envpool_kwargs())
    obs = [raw.reset()[0][0]]
    flags = []
    for t in range(8):
        o, _, term, trunc, info = raw.step(np.array([t % 2]))
        obs.append(o[0])
        flags.append((bool(term[0]), bool(trunc[0]), int(info["elapsed_step"][0])))
    cut = next(t for t, (_, tr, _) in enumerate(flags) if tr)
    assert cut == 5 and not flags[cut][0]  # the 6th step is cut, not terminal
    for t in range(cut + 1):  # every step up to and including the cut obeys the dynamics
        # envpool steps in double and stores float32: x' = x + 0.02 xdot exactly, then each of x',
        # x and xdot rounded once to float32 (the sum here is taken in float64)
        x1, x0, v0 = (np.float64(v) for v in (obs[t + 1][0], obs[t][0], obs[t][1]))
        assert_within(x1, x0 + 0.02 * v0, gamma(2) * (abs(x1) + abs(x0) + 0.02 * abs(v0)), f"step {t}")
    assert flags[cut + 1][2] == 0  # the auto-reset step: a fresh state drawn from U(-0.05, 0.05)
    assert np.all(np.abs(obs[cut + 2]) <= 0.05) and not np.all(np.abs(obs[cut + 1]) <= 0.05)


def test_settings_name_an_env_and_a_seed():
    """An experiment's ``env`` section (:class:`EnvSettings`) makes each task's :class:`EnvConfig`."""
    settings = EnvSettings(num_envs=3, max_episode_steps=40)
    assert settings.for_env("Pong-v5", 7) == EnvConfig("Pong-v5", seed=7, num_envs=3, max_episode_steps=40)
    assert EnvConfig("Pong-v5", seed=1, num_envs=3).for_env("Breakout-v5", 2).env_id == "Breakout-v5"


def test_bad_env_config():
    with pytest.raises(ValueError, match=r"unknown env id 'Pongg-v5'.*Pong-v5"):
        check_env_config(EnvConfig("Pongg-v5"))
    with pytest.raises(ValueError, match="interface must be one of"):
        check_env_config(EnvConfig(interface="tpu"))
    with pytest.raises(ValueError, match="num_envs must be at least 1"):
        check_env_config(EnvConfig(num_envs=0))


RESET_UNDER_A_RUNNING_ROLLOUT = """
import jax
from pnn_jax.rl.sensitivity import make_collect
from pnn_jax.envs.envpool_env import EnvConfig, VecEnv
from pnn_jax.nets.columns import mlp_column
from pnn_jax.nets.progressive import ProgressiveNet
from pnn_jax.rl.actor_critic import start

env = VecEnv(EnvConfig("CartPole-v1", num_envs=16, seed=0))
net = ProgressiveNet(mlp_column(4, [32], {"policy": 2, "value": 1}), 2)
params = net.init(jax.random.key(0))
collect = make_collect(net, env, 3000)
jax.block_until_ready(collect(params, 1, start(env, jax.random.key(0))))  # compiled
for i in range(10):
    out = collect(params, 1, start(env, jax.random.key(i)))  # dispatched, not awaited
    env.reset()
print("survived")
"""


def test_reset_waits_for_a_rollout_still_stepping_the_pool():
    """A host reset while an asynchronously dispatched rollout still steps the same pool aborted
    the process ("StateBuffer out of storage"); ``VecEnv.reset`` now waits (in a subprocess, since
    the failure is an abort)."""
    done = subprocess.run(
        [sys.executable, "-c", RESET_UNDER_A_RUNNING_ROLLOUT],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and "survived" in done.stdout, done.stderr[-2000:]
