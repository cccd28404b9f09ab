"""``population=true``: every (pair, method, seed) of a sweep as members of one compiled population
(two phases: all source columns at once, then all target stages), one unit of the runner."""

from __future__ import annotations

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np

from pnn_jax import methods
from pnn_jax.analysis.transfer import CurveAccumulator
from pnn_jax.envs import transforms
from pnn_jax.envs.envpool_env import VecEnv, env_shapes
from pnn_jax.experiments.chunks import Chunk, finite_losses_and, loss_metrics, resume_seed, run_stage
from pnn_jax.experiments.rl_transfer.schema import (
    Config,
    optim_kwargs,
    pair_record,
    parse_task,
    source_iterations,
    stage_record,
)
from pnn_jax.experiments.rl_transfer.sequential import make_net, sensitivity_of
from pnn_jax.rl.column_population import ColumnPopulation
from pnn_jax.rl.pools import DevicePools
from pnn_jax.train import population as pop
from pnn_jax.train import transfer
from pnn_jax.train.optim import make_optimizer
from pnn_jax.train.progressive import init_state


def population_unit(cfg: Config):
    """The unit's work: ``work(ctx) -> records`` (:class:`PopulationRun`)."""
    return lambda ctx: PopulationRun(cfg).run(ctx)


class PopulationRun:
    """All (pair, method, seed) runs as one population (:mod:`pnn_jax.rl.column_population`).

    Phase 1 trains column 0 of every distinct (source task, seed) that a method needs (progressive,
    baselines 2 and 3 start from the same trained source column, as in the sequential runs, where
    it is trained once per method from the same initial weights). Phase 2 trains every member's
    target stage at once: progressive and baseline 4 train column 1 (on the trained or the random
    column 0), baseline 1 column 0 from scratch, baseline 2 column 0's output layer, baseline 3 all
    of column 0. Members are padded (copies of the last, results dropped) to a multiple of the
    device count.
    """

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.t0 = time.perf_counter()
        self.env_id = parse_task(cfg.pairs[0].target)[0]
        self.names = sorted({parse_task(t)[1] for p in cfg.pairs for t in [*p.sources, p.target]})
        is_atari = self.env_id.endswith("-v5")
        self.fns = [transforms.observation_transform(n, is_atari, cfg.seed) for n in self.names]
        self.seeds = [cfg.seed + s for s in range(cfg.seeds)]
        self.probe = cfg.env.for_env(self.env_id, cfg.seed)
        self.net = make_net(cfg, *env_shapes(self.probe), 2)
        self.tx = make_optimizer(
            cfg.optim.optimizer, cfg.optim.lr, cfg.optim.grad_clip or None, **optim_kwargs(cfg)
        )
        self.popn = ColumnPopulation(self.net, self.tx, cfg.rl, self.fns, member_loop=cfg.member_loop)
        self.devices = self.popn.mesh.devices.size
        self.initial = {s: self.net.init(jax.random.key(s)) for s in self.seeds}
        # Phase 1: column 0 of every needed (source, seed)
        needs_source = [m for m in cfg.methods if methods.get(m).learns_source]
        self.sources = (
            sorted({(p.sources[0], s) for p in cfg.pairs for s in self.seeds}) if needs_source else []
        )
        self.plan_of = {m: methods.get(m).plan(1, cfg.reset_heads) for m in cfg.methods}
        self.members_spec = [
            (p, m, s) for p in range(len(cfg.pairs)) for s in self.seeds for m in cfg.methods
        ]
        self.trained: dict = {src: self.initial[src[1]] for src in self.sources}  # structure, for templates
        self.source_info: dict = {}

    def padded(self, states, variants):
        pad = (-len(states)) % self.devices
        return [*states, *[states[-1]] * pad], [*variants, *[variants[-1]] * pad]

    def source_states(self):
        return [init_state(self.net, self.initial[s], self.tx, 0) for _, s in self.sources]

    def phase2_states(self, key):
        """Every member's target-stage state (the same key chain as an uninterrupted run)."""
        states, variants = [], []
        for p, m, s in self.members_spec:
            pair, plan = self.cfg.pairs[p], self.plan_of[m]
            params = self.trained[(pair.sources[0], s)] if len(plan.stages) > 1 else self.initial[s]
            key, k = jax.random.split(key)
            states.append(transfer.stage_state(self.net, params, self.tx, plan.stages[-1], k))
            variants.append(self.names.index(parse_task(pair.target)[1]))
        return states, variants, key

    def template(self, meta):
        states = self.source_states() if meta["phase"] == 0 else self.phase2_states(jax.random.key(0))[0]
        return {"members": pop.to_host(self.popn.members(*self.padded(states, [0] * len(states))))}

    def run(self, ctx) -> list[dict]:
        key = jax.random.key(self.cfg.seed)
        restored = ctx.restore(self.template)
        phase = restored[1]["phase"] if restored is not None else 0
        if restored is not None and phase == 1:
            self.source_info = {(t, s): info for t, s, info in restored[1]["source_info"]}
        if self.sources:
            key, k = jax.random.split(key)
            if phase == 0:
                variants = [self.names.index(parse_task(t)[1]) for t, _ in self.sources]
                resumed = (restored[1], restored[0]["members"]) if restored is not None else None
                members, _, curves, agent_steps = self.train(
                    ctx, 0, self.source_states(), variants, k, resumed
                )
                params = pop.to_host(members.state.params)
                for i, (task, s) in enumerate(self.sources):
                    self.trained[(task, s)] = jax.tree.map(lambda a, i=i: jnp.asarray(a[i]), params)
                    self.source_info[(task, s)] = {"curve": curves[i], "agent_steps": int(agent_steps[i])}
        # Phase 2: every member's target stage
        states, variants, key = self.phase2_states(key)
        key, k = jax.random.split(key)
        resumed = (restored[1], restored[0]["members"]) if restored is not None and phase == 1 else None
        members, pools, curves, agent_steps = self.train(ctx, 1, states, variants, k, resumed)
        evaluate = self.popn.make_evaluate(pools, self.cfg.eval_episodes)
        key, k = jax.random.split(key)
        evals = np.asarray(pop.to_host(evaluate(members, pools.start(k))))
        return self.records(members, variants, curves, agent_steps, evals, key)

    def train(self, ctx, phase, states, variants, key, resumed=None):
        """One phase: the stage's iterations of every member (from a checkpoint when
        ``resumed = (meta, host members)``); returns the trained members, the pools, learning
        curves and agent steps per member."""
        cfg, popn = self.cfg, self.popn
        n = len(states)
        states, variants = self.padded(states, variants)
        position = 0 if phase == 0 else source_iterations(cfg)
        iterations = source_iterations(cfg) if phase == 0 else cfg.iterations
        if resumed is None:
            done, accs, env_cfg = 0, [CurveAccumulator(cfg.window) for _ in range(n)], self.probe
            members = popn.members(states, variants)
        else:
            meta, host = resumed
            done = meta["iteration"]
            accs = [CurveAccumulator(cfg.window, a) for a in meta["curves"]]
            env_cfg = dataclasses.replace(self.probe, seed=resume_seed(cfg.seed, position + done))
            members = pop.put_members(jax.tree.map(jnp.asarray, host), popn.mesh)
            key = jax.random.fold_in(key, done)
        pools = DevicePools(env_cfg, popn.mesh, len(states), cfg.env.num_envs)

        def snapshot(mem, actor, it):
            meta = {"phase": phase, "iteration": it, "curves": [a.state() for a in accs]}
            if phase == 1:
                meta["source_info"] = [[t, s, info] for (t, s), info in self.source_info.items()]
            return {"members": pop.to_host(mem)}, {**meta, "stage": f"phase {phase + 1}"}

        members, _ = run_stage(
            ctx,
            popn.make_loop(pools, cfg.chunk),
            members,
            pools.start(key),
            stage="sources" if phase == 0 else "targets",
            iterations=iterations,
            chunk=cfg.chunk,
            done=done,
            position=position,
            every=cfg.checkpoint.every,
            agent_steps=sum(a.steps for a in accs),
            account=lambda m: account_members(accs, m),
            finite=finite_losses_and(lambda mem: mem.state.params),
            snapshot=snapshot,
        )
        curves = [a.points + a.pending() for a in accs]
        return members, pools, curves, [a.steps for a in accs]

    def records(self, members, variants, curves, agent_steps, evals, key) -> list[dict]:
        """A record per (pair, method, seed) member, as the sequential runs write them; AFS one
        member at a time, after training."""
        cfg = self.cfg
        trained_params = pop.to_host(members.state.params) if cfg.analysis.afs else None
        seconds = time.perf_counter() - self.t0
        records = []
        for i, (p, m, s) in enumerate(self.members_spec):
            pair, plan = cfg.pairs[p], self.plan_of[m]
            stages = []
            for stage in plan.stages:
                if stage.task == "target":
                    stages.append(stage_record(stage, pair.target, curves[i], int(agent_steps[i])))
                else:
                    info = self.source_info[(pair.sources[0], s)]
                    stages.append(stage_record(stage, pair.sources[0], info["curve"], info["agent_steps"]))
            records.append(pair_record(cfg, p, m, s, stages, evals[i], seconds / len(self.members_spec)))
            if cfg.analysis.afs and methods.get(m).sensitivity:
                key, k = jax.random.split(key)
                member_params = jax.tree.map(lambda a, i=i: jnp.asarray(a[i]), trained_params)
                target_env = VecEnv(cfg.env.for_env(self.env_id, s))
                fn = self.fns[variants[i]]
                records[-1].update(sensitivity_of(cfg, m, self.net, member_params, 1, target_env, fn, k))
        return records


def account_members(accs: list[CurveAccumulator], m: dict) -> Chunk:
    """Fold a chunk's per-member metrics ``m`` (``[iterations, members]``, padding dropped) into
    each member's curve; the chunk line shows the members' mean latest window."""
    n = len(accs)
    steps, eps, rets = (m[k][:, :n] for k in ("steps", "episodes", "return_sum"))
    for i, acc in enumerate(accs):
        acc.add(steps[:, i], eps[:, i], rets[:, i])
    episodes = int(eps.sum())
    latest = [a.points[-1] for a in accs if a.points]
    return Chunk(
        agent_steps=int(steps.sum()),
        metrics={
            **loss_metrics(m),
            "episodes": episodes,
            "episode_return": float(rets.sum()) / episodes if episodes else float("nan"),
        },
        curve_points=[],  # per member: in the records (one curve per member)
        window_return=float(np.mean(latest)) if latest else None,
    )
