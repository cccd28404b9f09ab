"""Progressive nets as members of one population (pnn_jax.rl.column_population) and the
population mode of the RL transfer protocol."""

from __future__ import annotations

import json
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerance import assert_same_training, assert_within, magnitude_bound

from pnn_jax import config as cfglib
from pnn_jax import experiments, freezing, methods
from pnn_jax.config import ConfigError
from pnn_jax.envs import transforms
from pnn_jax.envs.envpool_env import EnvConfig
from pnn_jax.nets.columns import atari_column, mlp_column
from pnn_jax.nets.progressive import ProgressiveNet
from pnn_jax.rl.actor_critic import ACConfig
from pnn_jax.rl.column_population import ColumnPopulation
from pnn_jax.rl.pools import DevicePools
from pnn_jax.train import transfer
from pnn_jax.train.optim import make_optimizer
from pnn_jax.train.population import population_mesh


def population(devices=1, member_loop="auto"):
    net = ProgressiveNet(mlp_column(4, [8], {"policy": 2, "value": 1}), 2)
    fns = [transforms.observation_transform(n, False) for n in ("identity", "mirror")]
    tx = make_optimizer("adam", 0.01)
    popn = ColumnPopulation(
        net,
        tx,
        ACConfig(t_max=4, clip_rewards=False),
        fns,
        mesh=population_mesh(jax.devices()[:devices]),
        member_loop=member_loop,
    )
    return net, tx, popn


def test_auto_runs_members_one_after_another_on_cpu():
    """vmapped conv members are grouped convolutions, slow on XLA:CPU (resolve_member_loop)."""
    assert population()[2].member_loop == "unroll"
    with pytest.raises(ValueError, match="member_loop must be one of"):
        population(member_loop="scan")


def test_conv_members_give_the_same_heads_and_gradients_in_every_member_loop():
    """Members' conv columns (the paper's Atari column on small frames, 2 columns with adapters)
    vmapped, unrolled or lax.mapped: the same outputs and gradients within float tolerance."""
    net = ProgressiveNet(atari_column(3, frame_shape=(36, 36)), 2)
    m, b = 3, 5
    params = jax.tree.map(lambda *a: jnp.stack(a), *[net.init(jax.random.key(i)) for i in range(m)])
    state = SimpleNamespace(params=params, column=jnp.array([1, 0, 1], jnp.int32))
    members = SimpleNamespace(state=state, variant=jnp.array([0, 1, 0], jnp.int32))
    fns = [lambda o: o, lambda o: o[..., ::-1]]  # two observation variants
    obs = jax.random.randint(jax.random.key(9), (m * b, 4, 36, 36), 0, 256).astype(jnp.uint8)
    results = {}
    for loop in ("vmap", "unroll", "map"):
        policy = ColumnPopulation(
            net, make_optimizer("adam", 0.01), ACConfig(), fns, member_loop=loop
        ).policy(m)

        def loss(p, policy=policy):
            out = policy.train(p, members, obs)
            return jnp.sum(out["policy"] ** 2) + jnp.sum(out["value"])

        acted = jax.jit(
            lambda p, policy=policy: policy.act(SimpleNamespace(state=state, variant=members.variant), obs)
        )(params)
        results[loop] = (acted, jax.jit(jax.grad(loss))(params))
    # The bound: each loop within gamma(TERMS) of exact, times the same computation on |params|
    # and the (non-negative) frames, where ReLU is the identity (tolerance.magnitude_bound). The
    # longest sum of the forward pass, column 1 with its adapters: conv 8x8x4 + bias (257), conv
    # 4x4x12 + bias and its lateral (193 + 12 + 192), conv 3x3x12 (109 + 12 + 108), fc on 1x1x12
    # maps (13 + 12 + 12), the heads on 256 units (257 + 256 + 256): 1,689; the backward pass the
    # same again, plus the weight gradients' sums over 5 frames x 8 x 8 positions.
    terms = 2 * 1689 + 5 * 8 * 8

    def act_on(p, o):
        return policy.act(
            SimpleNamespace(state=SimpleNamespace(params=p, column=state.column), variant=members.variant), o
        )

    def loss_on(p, o):
        out = policy.train(p, members, o)
        return jnp.sum(out["policy"] ** 2) + jnp.sum(out["value"])

    bounds = (
        magnitude_bound(jax.jit(act_on), params, obs, terms=terms),
        magnitude_bound(jax.jit(jax.grad(loss_on)), params, obs, terms=terms),
    )
    for loop in ("unroll", "map"):
        for a, b_, bound in zip(
            jax.tree.leaves(results[loop]),
            jax.tree.leaves(results["vmap"]),
            jax.tree.leaves(bounds),
            strict=True,
        ):
            assert_within(a, b_, bound, err_msg=loop)


def test_members_train_alike_in_every_member_loop():
    """Two iterations of CartPole learners: the members' parameters agree across the loops."""
    after = {}
    for loop in ("vmap", "unroll", "map"):
        net, tx, popn = population(member_loop=loop)
        params = net.init(jax.random.key(0))
        stage = methods.get("progressive").plan(1).stages[-1]
        states = [transfer.stage_state(net, params, tx, stage, jax.random.key(1)) for _ in range(2)]
        members = popn.members(states, [0, 1])
        pools = DevicePools(EnvConfig("CartPole-v1", seed=0), popn.mesh, 2, 2)
        members, _, _ = popn.make_loop(pools, 3)(members, pools.start(jax.random.key(2)))
        after[loop] = jax.device_get(members.state.params)
    # 3 updates; the longest sum of one: column 1's forward pass (4 inputs + bias; 8 + bias and
    # the adapter's 8 + 8 + bias; the heads the same), the same backward, and the gradients' sum
    # over 2 envs x 4 steps
    terms = 2 * (5 + 2 * 25) + 8 + 2
    for loop in ("unroll", "map"):
        assert_same_training(after[loop], after["vmap"], steps=3, terms=terms, err_msg=loop)


def test_members_train_their_own_slices_exactly():
    """Progressive (column 1), baseline 2 (column 0's output layer) and baseline 3 (column 0) side
    by side: each trains only what its mask says; frozen slices stay bit-identical."""
    net, tx, popn = population()
    params = net.init(jax.random.key(0))
    stages = [methods.get(m).plan(1).stages[-1] for m in ("progressive", "baseline2", "baseline3")]
    states = [transfer.stage_state(net, params, tx, st, jax.random.key(1)) for st in stages]
    members = popn.members(states, [1, 1, 0])
    pools = DevicePools(EnvConfig("CartPole-v1", seed=0), popn.mesh, 3, 2)
    loop = popn.make_loop(pools, 5)
    actor = pools.start(jax.random.key(2))
    for _ in range(2):
        members, actor, metrics = loop(members, actor)
    assert loop.traces == 1 and metrics["steps"].shape == (5, 3)
    after = jax.device_get(members.state.params)
    for i, st in enumerate(states):
        mine = jax.tree.map(lambda a, i=i: a[i], after)
        assert freezing.frozen_checksum(mine, st.trainable) == freezing.frozen_checksum(params, st.trainable)
        changed = jax.tree.map(lambda a, b: not np.array_equal(a, b), mine, params)
        assert any(jax.tree.leaves(changed)), f"member {i} did not train"
    w0 = np.asarray(params["hidden"][0]["w"][0])  # column 0's first layer before the target stage
    member_w0 = np.asarray(after["hidden"][0]["w"])[:, 0]  # [member, ...]
    assert np.array_equal(member_w0[0], w0)  # progressive: column 0 frozen
    assert np.array_equal(member_w0[1], w0)  # baseline 2: only the output layer trains
    assert not np.array_equal(member_w0[2], w0)  # baseline 3: fine-tunes column 0
    evaluate = popn.make_evaluate(pools, 2, max_steps=600)
    returns = np.asarray(evaluate(members, pools.start(jax.random.key(3))))
    assert returns.shape == (3,) and (returns > 0).all()


def test_population_mode_of_the_transfer_protocol(tmp_path):
    module = experiments.get("pnn_classic_transfer")
    folder = cfglib.EXPERIMENTS_DIR / "pnn_classic_transfer"
    overrides = ["preset=smoke", f"out_dir={tmp_path}", "population=true", "seeds=2"]
    cfg = cfglib.structured(module.Config, cfglib.compose(folder, overrides, module.Config))
    summary = module.run(cfg, tmp_path / "r", quiet=True)
    records = [json.loads(line) for line in (tmp_path / "r" / "runs.jsonl").read_text().splitlines()]
    assert len(records) == 2 * len(cfg.methods)
    assert {r["method"] for r in records} == set(cfg.methods) and {r["seed"] for r in records} == {0, 1}
    prog = next(r for r in records if r["method"] == "progressive")
    b3 = next(r for r in records if r["method"] == "baseline3" and r["seed"] == prog["seed"])
    assert prog["stages"][0]["curve"] == b3["stages"][0]["curve"]  # one shared source column per seed
    assert [s["task"] for s in prog["stages"]] == ["source0", "target"] and prog["columns"] == 2
    assert (
        "| Baseline 1 (single column, target only) |" in summary["table"]
        and "one population" in (tmp_path / "r" / "run.log").read_text()
    )


def test_population_mode_needs_one_source_and_one_env(tmp_path):

    module = experiments.get("pnn_classic_transfer")
    folder = cfglib.EXPERIMENTS_DIR / "pnn_classic_transfer"
    cfg = cfglib.structured(
        module.Config, cfglib.compose(folder, ["preset=quick", "population=true"], module.Config)
    )
    with pytest.raises(ConfigError, match="one source per pair"):
        module.validate(cfg)
