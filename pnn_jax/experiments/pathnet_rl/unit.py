"""One unit of the PathNet RL protocol: a (sequence, seed, method) run, task after task, with
checkpoints inside it (:class:`pnn_jax.experiments.units.UnitContext`)."""

from __future__ import annotations

import time

import jax
import numpy as np

from pnn_jax import methods
from pnn_jax.analysis import pathnet as pathnet_analysis
from pnn_jax.analysis import speedup
from pnn_jax.envs.envpool_env import env_shapes
from pnn_jax.experiments import units as unitlib
from pnn_jax.experiments.chunks import Chunk, finite_losses_and, loss_metrics, resume_seed, run_stage
from pnn_jax.experiments.pathnet_rl.schema import (
    Config,
    make_net,
    parse_task,
    task_functions,
)
from pnn_jax.experiments.rl_transfer.schema import optim_kwargs
from pnn_jax.rl.pathnet_ac import PathNetAC
from pnn_jax.train import population as pop
from pnn_jax.train.optim import make_optimizer


def sequence_unit(cfg: Config, seq_index: int, method: str, seed: int):
    """The unit's work: ``work(ctx) -> [record]`` (:class:`SequenceRun`)."""
    return lambda ctx: SequenceRun(cfg, seq_index, method, seed).run(ctx)


def fresh_curve() -> dict:
    """The learning-curve accumulator of a task (JSON, so a checkpoint carries it): agent steps,
    the best path's fitness at each evolution and the window's mean episode return."""
    return {"steps": 0, "curve_steps": [], "curve": [], "mean_curve": [], "win_ret": 0.0, "win_eps": 0.0}


def account_chunk(acc: dict, m: dict) -> Chunk:
    """Fold a chunk's per-iteration metrics ``m`` into ``acc`` (a point at each evolution)."""
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
            "episode_return": float(m["episode_return_sum"].sum()) / episodes if episodes else float("nan"),
        },
        curve_points=new,
        window_return=acc["curve"][-1] if acc["curve"] else None,
    )


class SequenceRun:
    """One (sequence, method, seed): a PathNet population searches each task in turn (``scratch``:
    the target only); after a task the method locks its best path or not (:mod:`pnn_jax.methods`).
    Checkpoints inside a task carry the population, the initial weights and the curve."""

    def __init__(self, cfg: Config, seq_index: int, method: str, seed: int):
        self.cfg, self.seq_index, self.method, self.seed = cfg, seq_index, method, seed
        self.t0 = time.perf_counter()
        self.seq = cfg.sequences[seq_index]
        self.spec = methods.get(method)
        self.tasks = self.seq if self.spec.learns_source else self.seq[-1:]
        tx = make_optimizer(
            cfg.optim.optimizer, cfg.optim.lr, cfg.optim.grad_clip or None, **optim_kwargs(cfg)
        )
        first_cfg = cfg.env.for_env(parse_task(self.tasks[0])[0], seed)
        net = make_net(cfg, *env_shapes(first_cfg), len(self.seq))
        self.trainer = PathNetAC(net, tx, cfg.rl, cfg.search, obs_fn=task_functions(self.tasks[0], seed)[0])
        per_iteration = cfg.search.population * cfg.env.num_envs * cfg.rl.t_max  # agent steps, at most
        self.iterations = -(-cfg.steps_per_task // (per_iteration * cfg.chunk)) * cfg.chunk  # the estimate
        self.key = jax.random.key(seed)
        self.env_cache: dict = {}
        self.loops: dict = {}
        self.stages: list[dict] = []
        self.locked: list[np.ndarray] = []
        self.state = self.initial = self.resumed = None

    def run(self, ctx) -> list[dict]:
        state, initial = self.trainer.init(jax.random.key(0))  # structure for a restore
        key = self.key
        restored = ctx.restore(
            lambda meta: {
                "state": self.trainer.to_checkpoint(state),
                "initial": pop.to_host(initial),
                "key": jax.random.key_data(key),
            }
        )
        if restored is not None:
            tree, meta = restored
            self.stages = list(meta["stages"])
            self.locked = [np.asarray(p, np.int32) for p in meta["locked"]]
            self.key = jax.random.wrap_key_data(tree["key"])
            self.initial = jax.tree.map(jax.numpy.asarray, tree["initial"])
            self.resumed = (meta, self.trainer.from_checkpoint(tree["state"]))
        for index, task in enumerate(self.tasks):
            if index >= len(self.stages):
                self.train_task(ctx, index, task)
        return [self.record()]

    def train_task(self, ctx, index: int, task: str) -> None:
        cfg, seed, trainer = self.cfg, self.seed, self.trainer
        env_id, _ = parse_task(task)
        obs_fn, reward_fn = task_functions(task, seed)
        trainer.obs_fn = obs_fn
        position = index * 10**9
        if self.resumed is not None:
            meta, self.state = self.resumed
            done, acc = meta["iteration"], meta["curve"]
            acc["mean_curve"] = [unitlib.num(v) for v in acc["mean_curve"]]  # JSON null = NaN
            k_actor = jax.random.fold_in(self.key, done)
            env_seed = resume_seed(seed, position + done)
        else:
            self.key, k_init, k_actor, k_next = jax.random.split(self.key, 4)
            if self.state is None:
                self.state, self.initial = trainer.init(k_init)
            else:
                self.state = trainer.next_task(self.state, k_next, self.initial, lock=self.spec.locks_path)
            done, env_seed, acc = 0, seed, fresh_curve()
        if (env_id, env_seed) not in self.env_cache:
            ecfg = cfg.env.for_env(env_id, env_seed)
            self.env_cache[(env_id, env_seed)] = trainer.make_envs(ecfg)
        envs = self.env_cache[(env_id, env_seed)]
        if (task, env_seed) not in self.loops:  # one compiled loop per task (its transform and reward)
            self.loops[(task, env_seed)] = trainer.make_loop(envs, cfg.chunk, reward_fn=reward_fn)
        key, initial, stages, locked = self.key, self.initial, self.stages, self.locked

        def snapshot(st, actor, it):
            tree = {
                "state": trainer.to_checkpoint(st),
                "initial": pop.to_host(initial),
                "key": jax.random.key_data(key),
            }
            locked_paths = [np.asarray(p).tolist() for p in locked]
            return tree, {
                "stage": index,
                "iteration": it,
                "curve": acc,
                "stages": stages,
                "locked": locked_paths,
            }

        self.state, _ = run_stage(
            ctx,
            self.loops[(task, env_seed)],
            self.state,
            trainer.start(envs, k_actor),
            stage=task,
            iterations=self.iterations,
            chunk=cfg.chunk,
            done=done,
            position=position,
            every=cfg.checkpoint.every,
            agent_steps=acc["steps"],
            account=lambda m: account_chunk(acc, m),
            finite=finite_losses_and(lambda st: st.shared.params),
            snapshot=snapshot,
            finished=lambda d: acc["steps"] >= cfg.steps_per_task,
        )
        self.resumed = None
        self.stages.append(self.task_record(task, acc))

    def task_record(self, task: str, acc: dict) -> dict:
        """A task's curve, its best path, reuse of earlier locked paths (and its random baseline),
        and the training counters; the path is locked for the next task if the method locks."""
        curve, mean_curve = acc["curve"], acc["mean_curve"]
        best = pop.to_host(self.state.shared.best_path)
        observed = pathnet_analysis.reuse_of_locked(best, self.locked)
        baseline = pathnet_analysis.expected_reuse_of_locked(best, self.locked, self.cfg.model.modules)
        record = {
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
            "counters": pop.to_host(self.state.shared.counters).tolist(),
        }
        if self.spec.locks_path:
            self.locked.append(best)
        return record

    def record(self) -> dict:
        """The unit's record: the target's time to ``threshold``, AUC and final fitness."""
        target = self.stages[-1]
        reached_at, reached = speedup.time_to_criterion(
            target["curve_steps"], target["curve"], self.cfg.threshold, target["agent_steps"]
        )
        return {
            "sequence": self.seq_index,
            "sequence_label": " -> ".join(self.seq),
            "method": self.method,
            "seed": self.seed,
            "stages": self.stages,
            "target_steps": int(reached_at),
            "target_reached": reached,
            "earlier_steps": int(sum(s["agent_steps"] for s in self.stages[:-1])),
            "target_auc": float(np.mean(target["curve"])) if target["curve"] else float("nan"),
            "target_final": target["final_best"],
            "seconds": time.perf_counter() - self.t0,
        }
