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
from conftest import with_xla_flag
from tolerance import assert_same_training, assert_within, magnitude_bound

from pnn_jax import evolution, freezing
from pnn_jax.envs.envpool_env import EnvConfig
from pnn_jax.nets.pathnet import mlp_pathnet
from pnn_jax.rl.actor_critic import ACConfig
from pnn_jax.rl.pathnet_ac import EvolutionConfig, PathNetAC
from pnn_jax.train.optim import make_optimizer
from pnn_jax.train.population import population_mesh

SCRIPT = Path(__file__).parents[1] / "scripts" / "pathnet_rl_population.py"


PATHNET_TERMS = 2 * ((5 + 2) + (9 + 2) + 9) + 32 + 4 + 2
"""The longest sum of one update of :func:`tiny`'s population: the forward pass (4 inputs + bias
per module, 2 modules summed; 8 + bias likewise; the head on 8 units + bias), the same backward,
the gradients' sum over 4 paths x 2 envs x 4 steps, and the psum of the members' gradients."""


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
    # two programs of one forward pass: within magnitude_bound; the longest sum: 4 inputs + bias
    # per module, the path's 2 modules and the fixed path's 2 summed, 8 + bias per module likewise,
    # the head on 8 units + bias
    terms = (5 + 4) + (9 + 4) + 9

    def rows_apply(params, x, path):
        return tr.net.apply_rows(*tr.net.gather(params, path, 1), x, path)

    bound = magnitude_bound(lambda p, xx: rows_apply(p, xx, union), state.shared.params, x[5:10], terms=terms)
    assert_within(heads["policy"][5:10], expect[:, :-1], bound[:, :-1], "fixed path summed in")
    # task 0 (no fixed path yet): the appended copy of the path itself changes nothing
    state0, _ = tr.init(jax.random.key(0))
    p0 = np.asarray(state0.members.paths)[0]
    rows, head = tr.net.gather(state0.shared.params, p0, 0)

    def rows_apply0(params, xx):
        return tr.net.apply_rows(*tr.net.gather(params, p0, 0), xx, p0)

    assert_within(
        tr.policy().act(state0, x)["value"][:5],
        tr.net.apply_rows(rows, head, x[:5], p0)[:, -1:],
        magnitude_bound(rows_apply0, state0.shared.params, x[:5], terms=terms)[:, -1:],
        "task 0",
    )


def test_bad_settings_are_one_line_errors():
    with pytest.raises(ValueError, match="population must be at least 1"):
        EvolutionConfig(population=0)
    with pytest.raises(ValueError, match="evolve_every must be at least 1"):
        EvolutionConfig(evolve_every=0)


DEVICES = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, "tests")  # the test modules import tolerance and conftest from there
    import jax, numpy as np
    from tests.rl.test_pathnet_ac import tiny
    from pnn_jax.envs.envpool_env import EnvConfig
    from pnn_jax.rl.pathnet_ac import EvolutionConfig
    out = {}
    algorithms, columns = sys.argv[1].split(","), sys.argv[2] == "columns"
    for alg in algorithms:
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
    for d in (1, 4) if columns else ():  # independent members (progressive nets): no communication
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


@pytest.mark.parametrize(
    "algorithm",
    # PPO shards and reduces through the same code as A2C (PathNetAC's loop, its psum); only its
    # update differs, which test_locked_path_stays_bit_identical_and_others_reset runs on one device
    ["a2c", pytest.param("ppo", marks=pytest.mark.slow)],
)
def test_four_devices_equal_one_device(algorithm):
    """A population split over forced CPU devices equals it on one device (same paths, returns,
    weights): PathNet (shared bank, psum) over 2 devices, independent progressive-net members over
    4 (with A2C); a population of 6 does not divide over 4 devices."""
    four = with_xla_flag("--xla_force_host_platform_device_count=4")
    env = {**os.environ, "XLA_FLAGS": four, "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [sys.executable, "-c", DEVICES, algorithm, "columns" if algorithm == "a2c" else "-"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    for alg in (algorithm,):
        assert out[f"{alg}2"]["paths"] == out[f"{alg}1"]["paths"]
        assert out[f"{alg}2"]["returns"] == out[f"{alg}1"]["returns"]
        # 2 x 7 iterations (PPO: 2 minibatches each); PATHNET_TERMS: the longest sum of one
        steps = 14 * (2 if alg == "ppo" else 1)
        assert_same_training(
            np.asarray(out[f"{alg}2"]["w"]), np.asarray(out[f"{alg}1"]["w"]), steps, PATHNET_TERMS
        )
    assert "a population of 6 paths does not divide over 4 devices" in out["error"]
    if algorithm != "a2c":
        return
    assert out["columns4"]["returns"] == out["columns1"]["returns"]
    # 6 updates of progressive-net members (tests/rl/test_column_population.py: 2 * (5 + 50) + 8 + 2)
    assert_same_training(
        np.asarray(out["columns4"]["w"]), np.asarray(out["columns1"]["w"]), 6, 2 * 55 + 8 + 2
    )


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
    # the script: 2 x 7 iterations of a 4-16-16 PathNet; the longest sum of one: forward (5 + 2,
    # 17 + 2, the head 17), the same backward, the gradients over 4 paths x 4 envs x 8 steps, the psum
    assert_same_training(np.asarray(outs[0]["w"]), np.asarray(one["w"]), 14, 2 * 43 + 128 + 4 + 2)
