"""One unit of the PathNet RL protocol: a (sequence, seed, method) run, task after task, with
checkpoints inside it (:class:`pnn_jax.experiments.units.UnitContext`)."""

from __future__ import annotations

import dataclasses
import time

import jax
import numpy as np

from pnn_jax import methods
from pnn_jax.analysis import pathnet as pathnet_analysis
from pnn_jax.analysis import speedup
from pnn_jax.envs.envpool_env import EnvConfig, env_shapes
from pnn_jax.experiments import units as unitlib
from pnn_jax.experiments.chunks import Chunk, loss_metrics, resume_seed, run_stage
from pnn_jax.experiments.pathnet_rl.schema import (
    Config,
    make_net,
    parse_task,
    task_functions,
)
from pnn_jax.experiments.rl_transfer.schema import (
    optim_kwargs,
)
from pnn_jax.rl.pathnet_ac import PathNetAC
from pnn_jax.train import population as pop
from pnn_jax.train.optim import make_optimizer


def sequence_unit(cfg: Config, seq_index: int, method: str, seed: int):
    def work(ctx) -> list[dict]:

        t0 = time.perf_counter()
        seq = cfg.sequences[seq_index]
        spec = methods.get(method)
        tasks = seq if spec.learns_source else seq[-1:]
        ac = cfg.rl
        tx = make_optimizer(
            cfg.optim.optimizer, cfg.optim.lr, cfg.optim.grad_clip or None, **optim_kwargs(cfg)
        )
        evo = cfg.search
        env_cache: dict = {}
        loops: dict = {}
        key = jax.random.key(seed)
        stages, locked = [], []
        first_cfg = EnvConfig(parse_task(tasks[0])[0], seed=seed, **dataclasses.asdict(cfg.env))
        net = make_net(cfg, *env_shapes(first_cfg), len(seq))
        trainer = PathNetAC(net, tx, ac, evo, obs_fn=task_functions(tasks[0], seed)[0])
        per_iteration = evo.population * cfg.env.num_envs * ac.t_max  # agent steps, at most
        iterations = -(-cfg.steps_per_task // (per_iteration * cfg.chunk)) * cfg.chunk  # the estimate
        state, initial = trainer.init(jax.random.key(0))  # structure for a restore
        restored = ctx.restore(
            lambda meta: {
                "state": trainer.to_checkpoint(state),
                "initial": pop.to_host(initial),
                "key": jax.random.key_data(key),
            }
        )
        state = initial = resumed = None
        if restored is not None:
            tree, meta = restored
            stages = list(meta["stages"])
            locked = [np.asarray(p, np.int32) for p in meta["locked"]]
            key = jax.random.wrap_key_data(tree["key"])
            initial = jax.tree.map(jax.numpy.asarray, tree["initial"])
            resumed = (meta, trainer.from_checkpoint(tree["state"]))
        for index, task in enumerate(tasks):
            if index < len(stages):
                continue
            env_id, _ = parse_task(task)
            obs_fn, reward_fn = task_functions(task, seed)
            trainer.obs_fn = obs_fn
            position = index * 10**9
            if resumed is not None:
                meta, state = resumed
                done, acc = meta["iteration"], meta["curve"]
                acc["mean_curve"] = [unitlib.num(v) for v in acc["mean_curve"]]  # JSON null = NaN
                k_actor = jax.random.fold_in(key, done)
                env_seed = resume_seed(seed, position + done)
            else:
                key, k_init, k_actor, k_next = jax.random.split(key, 4)
                if state is None:
                    state, initial = trainer.init(k_init)
                else:
                    state = trainer.next_task(state, k_next, initial, lock=spec.locks_path)
                done, env_seed = 0, seed
                acc = {
                    "steps": 0,
                    "curve_steps": [],
                    "curve": [],
                    "mean_curve": [],
                    "win_ret": 0.0,
                    "win_eps": 0.0,
                }
            if (env_id, env_seed) not in env_cache:
                ecfg = EnvConfig(env_id, seed=env_seed, **dataclasses.asdict(cfg.env))
                env_cache[(env_id, env_seed)] = trainer.make_envs(ecfg)
            envs = env_cache[(env_id, env_seed)]
            if (task, env_seed) not in loops:  # one compiled loop per task (its transform and reward)
                loops[(task, env_seed)] = trainer.make_loop(envs, cfg.chunk, reward_fn=reward_fn)

            def account(m, acc=acc):
                before = acc["steps"]
                new = []
                for i in range(len(m["agent_steps"])):
                    acc["steps"] += int(m["agent_steps"][i])
                    acc["win_ret"] += float(m["episode_return_sum"][i])
                    acc["win_eps"] += float(m["episodes"][i])
                    if m["evolved"][i] and np.isfinite(m["best_fitness"][i]):
                        acc["curve_steps"].append(acc["steps"])
                        acc["curve"].append(float(m["best_fitness"][i]))
                        w = acc["win_eps"]
                        acc["mean_curve"].append(acc["win_ret"] / w if w else float("nan"))
                        acc["win_ret"] = acc["win_eps"] = 0.0
                        new.append((acc["steps"], acc["curve"][-1]))
                episodes = int(m["episodes"].sum())
                return Chunk(
                    agent_steps=acc["steps"] - before,
                    metrics={
                        **loss_metrics(m),
                        "episodes": episodes,
                        "episode_return": float(m["episode_return_sum"].sum()) / episodes
                        if episodes
                        else float("nan"),
                    },
                    curve_points=new,
                    window_return=acc["curve"][-1] if acc["curve"] else None,
                )

            def snapshot(st, actor, it, acc=acc, index=index, key=key, initial=initial):
                tree = {
                    "state": trainer.to_checkpoint(st),
                    "initial": pop.to_host(initial),
                    "key": jax.random.key_data(key),
                }
                meta = {
                    "stage": index,
                    "iteration": it,
                    "curve": acc,
                    "stages": stages,
                    "locked": [np.asarray(p).tolist() for p in locked],
                }
                return tree, meta

            state, _ = run_stage(
                ctx,
                loops[(task, env_seed)],
                state,
                trainer.start(envs, k_actor),
                stage=task,
                iterations=iterations,
                chunk=cfg.chunk,
                done=done,
                position=position,
                every=cfg.checkpoint.every,
                agent_steps=acc["steps"],
                account=account,
                finite=lambda st, m: {
                    "loss": {k: m[k] for k in ("policy_loss", "value_loss") if k in m},
                    "parameters": st.shared.params,
                },
                snapshot=snapshot,
                finished=lambda d, acc=acc: acc["steps"] >= cfg.steps_per_task,
            )
            resumed = None
            curve, mean_curve = acc["curve"], acc["mean_curve"]
            best = pop.to_host(state.shared.best_path)
            observed = pathnet_analysis.reuse_of_locked(best, locked)
            baseline = pathnet_analysis.expected_reuse_of_locked(best, locked, cfg.model.modules)
            stages.append(
                {
                    "task": task,
                    "agent_steps": acc["steps"],
                    "curve_steps": acc["curve_steps"],
                    "curve": curve,
                    "mean_curve": mean_curve,
                    "final_best": float(np.mean(curve[-3:])) if curve else float("nan"),
                    "final_mean": float(np.nanmean(mean_curve[-3:])) if mean_curve else float("nan"),
                    "best_path": best.tolist(),
                    "reuse_per_layer": observed,
                    "reuse": int(sum(observed)),
                    "random_reuse_per_layer": baseline,
                    "random_reuse": float(sum(baseline)),
                    "counters": pop.to_host(state.shared.counters).tolist(),
                }
            )
            if spec.locks_path:
                locked.append(best)
        target = stages[-1]
        reached_at, reached = speedup.time_to_criterion(
            target["curve_steps"], target["curve"], cfg.threshold, target["agent_steps"]
        )
        return [
            {
                "sequence": seq_index,
                "sequence_label": " -> ".join(seq),
                "method": method,
                "seed": seed,
                "stages": stages,
                "target_steps": int(reached_at),
                "target_reached": reached,
                "earlier_steps": int(sum(s["agent_steps"] for s in stages[:-1])),
                "target_auc": float(np.mean(target["curve"])) if target["curve"] else float("nan"),
                "target_final": target["final_best"],
                "seconds": time.perf_counter() - t0,
            }
        ]

    return work
