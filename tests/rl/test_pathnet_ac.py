"""Actor-critic PathNet populations (pnn_jax.rl.pathnet_ac): parallel evolution, freezing between
tasks, the fixed path, one trace, and the population split over devices and processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pnn_jax import evolution, freezing
from pnn_jax.envs.envpool_env import EnvConfig
from pnn_jax.nets.pathnet import mlp_pathnet
from pnn_jax.rl.actor_critic import ACConfig
from pnn_jax.rl.pathnet_ac import EvolutionConfig, PathNetAC
from pnn_jax.train.optim import make_optimizer
from pnn_jax.train.population import population_mesh

SCRIPT = Path(__file__).parents[1] / "scripts" / "pathnet_rl_population.py"


def tiny(evo=None, algorithm="a2c", devices=None):
    net = mlp_pathnet(4, num_layers=2, num_modules=6, max_active=2, units=8, num_heads=2, head_size=3)
    evo = evo or EvolutionConfig(population=4, evolve_every=3)
    ac = ACConfig(algorithm=algorithm, clip_rewards=False, t_max=4, ppo_epochs=1, ppo_minibatches=2)
    mesh = population_mesh(devices or jax.devices()[:1])
    return PathNetAC(net, make_optimizer("adam", 0.01), ac, evo, mesh=mesh)


def test_compare_and_copy_takes_better_genotypes_only():
    paths = jnp.arange(5)[:, None, None] * jnp.ones((5, 2, 3), jnp.int32)  # path i is all i
    fitness = jnp.asarray([0.0, 1.0, 2.0, -jnp.inf, 4.0])
    new, copied = evolution.compare_and_copy(jax.random.key(0), paths, fitness, 4, lambda k, p: p)
    new, copied = np.asarray(new), np.asarray(copied)
    assert not copied[4]  # the best has no better one to copy
    for i in range(5):
        if copied[i]:
            donor = int(new[i, 0, 0])
            assert donor != i and fitness[donor] > fitness[i]
        else:
            np.testing.assert_array_equal(new[i], paths[i])
    # with B = P - 1 (compare with... up to everyone), a worker that is not best usually copies
    assert copied[3]  # unevaluated (-inf) takes any evaluated genotype
    none = evolution.compare_and_copy(jax.random.key(1), paths, jnp.full(5, -jnp.inf), 2, lambda k, p: p)
    assert not np.asarray(none[1]).any()  # nobody evaluated: nobody copies


def test_compare_and_copy_never_picks_itself():
    paths = jnp.arange(3)[:, None, None] * jnp.ones((3, 1, 1), jnp.int32)
    step = jax.jit(lambda k, f: evolution.compare_and_copy(k, paths, f, 2, lambda _, p: p))
    for seed in range(5):
        # only worker 0 is better: 1 and 2 copy it, never themselves
        new, copied = step(jax.random.key(seed), jnp.asarray([1.0, 0.0, 0.0]))
        assert np.asarray(copied).tolist() == [False, True, True] or not np.asarray(copied)[0]
        assert (np.asarray(new)[np.asarray(copied)] == 0).all()
        _, copied = step(jax.random.key(seed), jnp.asarray([1.0, 1.0, 1.0]))
        assert not np.asarray(copied).any()  # nobody strictly better: nobody copies


def test_population_trains_evolves_and_traces_once():
    tr = tiny()
    envs = tr.make_envs(EnvConfig("CartPole-v1", seed=0, num_envs=2))
    state, init = tr.init(jax.random.key(0))
    actor = tr.start(envs, jax.random.key(1))
    loop = tr.make_loop(envs, 6)
    p0 = jax.device_get(state.shared.params)
    for _ in range(2):
        state, actor, m = loop(state, actor)
    assert loop.traces == 1
    m = jax.device_get(m)
    assert m["path_episodes"].shape == (6, 4) and m["evolved"].tolist() == [False, False, True] * 2
    assert np.isfinite(float(state.shared.best_fitness))
    used = float(np.asarray(state.shared.counters).sum())  # 12 iterations x P paths x L layers x 1..N
    assert 12 * 4 * 2 <= used <= 12 * 4 * 2 * 2
    moved = jax.tree.map(lambda a, b: not np.array_equal(a, b), p0, jax.device_get(state.shared.params))
    assert any(jax.tree.leaves(moved["modules"])) and bool(moved["heads"]["w"])
    state = tr.next_task(state, jax.random.key(2), init, lock=True)
    state, actor, _ = loop(state, actor)
    assert loop.traces == 1  # a new task is data


def test_counters_count_distinct_modules():
    tr = tiny()
    envs = tr.make_envs(EnvConfig("CartPole-v1", seed=0, num_envs=2))
    state, _ = tr.init(jax.random.key(0))
    paths = np.asarray(state.members.paths)
    expected = sum(len(set(row)) for p in paths for row in p)
    state, _, _ = tr.make_loop(envs, 1)(state, tr.start(envs, jax.random.key(1)))
    assert float(np.asarray(state.shared.counters).sum()) == expected


def test_locked_path_stays_bit_identical_and_others_reset():
    tr = tiny(algorithm="ppo")
    envs = tr.make_envs(EnvConfig("CartPole-v1", seed=0, num_envs=2))
    state, init = tr.init(jax.random.key(0))
    actor = tr.start(envs, jax.random.key(1))
    loop = tr.make_loop(envs, 6)
    state, actor, _ = loop(state, actor)
    best = np.asarray(state.shared.best_path)
    state = tr.next_task(state, jax.random.key(2), init, lock=True)
    frozen = np.asarray(state.shared.frozen)
    assert frozen.sum() == sum(len(set(r)) for r in best) and int(state.shared.task) == 1
    after_lock = jax.device_get(state.shared.params)
    for layer, mod in enumerate(after_lock["modules"]):  # unlocked modules are back to init
        for m in range(6):
            if not frozen[layer, m]:
                np.testing.assert_array_equal(mod["w"][m], np.asarray(init["modules"][layer]["w"][m]))
    trainable = tr.net.trainable_mask(after_lock, jnp.asarray(frozen), 1)
    before = freezing.frozen_checksum(after_lock, trainable)
    state, actor, _ = loop(state, actor)
    assert freezing.frozen_checksum(jax.device_get(state.shared.params), trainable) == before


def test_finetune_freezes_nothing_and_keeps_weights():
    tr = tiny()
    envs = tr.make_envs(EnvConfig("CartPole-v1", seed=0, num_envs=2))
    state, init = tr.init(jax.random.key(0))
    state, _, _ = tr.make_loop(envs, 3)(state, tr.start(envs, jax.random.key(1)))
    trained = jax.device_get(state.shared.params)
    state = tr.next_task(state, jax.random.key(2), init, lock=False)
    assert not np.asarray(state.shared.frozen).any()
    chex_equal = jax.tree.map(np.array_equal, trained, jax.device_get(state.shared.params))
    assert all(jax.tree.leaves(chex_equal))


def test_fixed_path_is_summed_into_the_forward_pass():
    tr = tiny(EvolutionConfig(population=4, evolve_every=3, keep_fixed_path=True))
    state, init = tr.init(jax.random.key(0))
    state = state.replace(shared=state.shared.replace(best_path=jnp.asarray([[0, 1], [2, 2]], jnp.int32)))
    state = tr.next_task(state, jax.random.key(2), init, lock=True)
    assert bool(state.shared.has_fixed)
    x = jax.random.normal(jax.random.key(3), (4 * 5, 4))
    heads = tr.policy().act(state, x)
    path = np.asarray(state.members.paths)[1]
    union = jnp.concatenate([path, np.asarray([[0, 1], [2, 2]])], axis=1)
    rows, head = tr.net.gather(state.shared.params, union, 1)
    expect = tr.net.apply_rows(rows, head, x[5:10], union)
    np.testing.assert_allclose(np.asarray(heads["policy"][5:10]), np.asarray(expect[:, :-1]), rtol=1e-5)
    # task 0 (no fixed path yet): the appended copy of the path itself changes nothing
    state0, _ = tr.init(jax.random.key(0))
    p0 = np.asarray(state0.members.paths)[0]
    rows, head = tr.net.gather(state0.shared.params, p0, 0)
    np.testing.assert_allclose(
        np.asarray(tr.policy().act(state0, x)["value"][:5]),
        np.asarray(tr.net.apply_rows(rows, head, x[:5], p0)[:, -1:]),
        rtol=1e-5,
    )


def test_bad_settings_are_one_line_errors():
    with pytest.raises(ValueError, match="population must be at least 1"):
        EvolutionConfig(population=0)
    with pytest.raises(ValueError, match="evolve_every must be at least 1"):
        EvolutionConfig(evolve_every=0)


DEVICES = textwrap.dedent(
    """
    import json, jax, numpy as np
    from tests.rl.test_pathnet_ac import tiny
    from pnn_jax.envs.envpool_env import EnvConfig
    from pnn_jax.rl.pathnet_ac import EvolutionConfig
    out = {}
    for alg in ("a2c", "ppo"):
        for d in (1, 2):  # 2 members per device: sharding and the psum both at work
            tr = tiny(algorithm=alg, devices=jax.devices()[:d])
            envs = tr.make_envs(EnvConfig("CartPole-v1", seed=0, num_envs=2))
            state, init = tr.init(jax.random.key(0))
            actor = tr.start(envs, jax.random.key(1))
            loop = tr.make_loop(envs, 7)
            state, actor, m = loop(state, actor)
            state = tr.next_task(state, jax.random.key(2), init, lock=True)
            state, actor, m = loop(state, actor)
            out[f"{alg}{d}"] = {
                "w": np.asarray(state.shared.params["modules"][0]["w"]).ravel().tolist(),
                "paths": np.asarray(state.members.paths).tolist(),
                "returns": np.asarray(m["path_return_sum"]).tolist(),
            }
    from tests.rl.test_column_population import population
    from pnn_jax.rl.pools import DevicePools
    from pnn_jax import methods
    from pnn_jax.train import transfer
    for d in (1, 4):  # independent members (progressive nets): no communication at all
        net, tx, popn = population(d)
        params = net.init(jax.random.key(0))
        names = ("progressive", "baseline1", "baseline2", "baseline4")
        stages = [methods.get(m).plan(1).stages[-1] for m in names]
        states = [transfer.stage_state(net, params, tx, st, jax.random.key(1)) for st in stages]
        members = popn.members(states, [0, 1, 1, 0])
        pools = DevicePools(EnvConfig("CartPole-v1", seed=0), popn.mesh, 4, 2)
        members, _, m = popn.make_loop(pools, 6)(members, pools.start(jax.random.key(2)))
        out[f"columns{d}"] = {
            "returns": np.asarray(m["return_sum"]).tolist(),
            "w": np.asarray(members.state.params["hidden"][0]["w"]).ravel().tolist(),
        }
    try:
        tiny(EvolutionConfig(population=6), devices=jax.devices())
    except ValueError as e:
        out["error"] = str(e)
    print(json.dumps(out))
    """
)


def test_four_devices_equal_one_device():
    """A population split over forced CPU devices equals it on one device (same paths, returns,
    weights): PathNet (shared bank, psum) over 2 devices, independent progressive-net members over
    4; a population of 6 does not divide over 4 devices."""
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [sys.executable, "-c", DEVICES],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    for alg in ("a2c", "ppo"):
        assert out[f"{alg}2"]["paths"] == out[f"{alg}1"]["paths"]
        assert out[f"{alg}2"]["returns"] == out[f"{alg}1"]["returns"]
        np.testing.assert_allclose(out[f"{alg}2"]["w"], out[f"{alg}1"]["w"], rtol=1e-5, atol=1e-6)
    assert "a population of 6 paths does not divide over 4 devices" in out["error"]
    assert out["columns4"]["returns"] == out["columns1"]["returns"]
    np.testing.assert_allclose(out["columns4"]["w"], out["columns1"]["w"], rtol=1e-5, atol=1e-6)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_end_with_identical_shared_parameters():
    """Two processes on 127.0.0.1 (gloo): each steps its own envs; the shared bank stays identical
    and equals the single-process run."""
    port = free_port()
    procs = []
    for pid in range(2):
        env = {
            **os.environ,
            "JAX_PLATFORMS": "cpu",
            "JAX_COORDINATOR_ADDRESS": f"127.0.0.1:{port}",
            "JAX_NUM_PROCESSES": "2",
            "JAX_PROCESS_ID": str(pid),
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, str(SCRIPT)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                text=True,
            )
        )
    outs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=600)
        assert p.returncode == 0, stderr[-3000:]
        outs.append(json.loads(stdout.strip().splitlines()[-1]))
    single = subprocess.run(
        [sys.executable, str(SCRIPT)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
        timeout=600,
    )
    assert single.returncode == 0, single.stderr[-3000:]
    one = json.loads(single.stdout.strip().splitlines()[-1])
    assert [o["devices"] for o in outs] == [2, 2] and one["devices"] == 1
    assert outs[0]["checksum"] == outs[1]["checksum"]
    assert outs[0]["paths"] + outs[1]["paths"] == one["paths"]  # each process holds its own paths
    np.testing.assert_allclose(outs[0]["w"], one["w"], rtol=1e-5)
