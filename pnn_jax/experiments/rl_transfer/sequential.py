"""One (pair, seed, method) of the RL transfer protocol as a unit: the plan's stages trained one
after another in compiled chunks, the target's learning curve, evaluation and sensitivity."""

from __future__ import annotations

import time

import jax

from pnn_jax import methods
from pnn_jax.analysis.transfer import CurveAccumulator
from pnn_jax.envs import transforms
from pnn_jax.envs.envpool_env import VecEnv
from pnn_jax.experiments import shared_sources
from pnn_jax.experiments.chunks import finite_losses_and, resume_seed, run_stage
from pnn_jax.experiments.rl_transfer.schema import (
    Config,
    column_account,
    optim_kwargs,
    pair_record,
    parse_task,
    stage_iterations,
    stage_record,
)
from pnn_jax.nets.columns import atari_column, mlp_column, nature_cnn_column
from pnn_jax.nets.progressive import ProgressiveNet
from pnn_jax.rl.actor_critic import make_evaluate, make_loop, start
from pnn_jax.rl.sensitivity import policy_sensitivity
from pnn_jax.train import transfer
from pnn_jax.train.optim import make_optimizer


def make_column(cfg: Config, obs_shape: tuple[int, ...], num_actions: int):

    if cfg.model.network == "mlp":
        return mlp_column(obs_shape[0], cfg.model.widths, {"policy": num_actions, "value": 1})
    frames, h, w = obs_shape  # envpool Atari frames are [stack, H, W]; columns read NHWC
    make = atari_column if cfg.model.network == "atari" else nature_cnn_column
    return make(num_actions, frame_shape=(h, w), frames=frames)


def make_net(cfg: Config, obs_shape: tuple[int, ...], num_actions: int, columns: int):
    """A progressive net of ``columns`` columns with the ``model`` section's laterals."""
    return ProgressiveNet(
        make_column(cfg, obs_shape, num_actions),
        columns,
        lateral=cfg.model.lateral,
        head_laterals=cfg.model.head_laterals,
        adapter_width=cfg.model.adapter_width,
        alpha_init=cfg.model.alpha_init,
        adapter_v=cfg.model.adapter_v,
        init_scheme=cfg.model.init,
    )


def pair_unit(cfg: Config, pair_index: int, method: str, seed: int):
    """The unit's work: ``work(ctx) -> [record]`` (:class:`PairRun`)."""
    return lambda ctx: PairRun(cfg, pair_index, method, seed).run(ctx)


class PairRun:
    """One (pair, method, seed): the plan's stages in order (each resumable inside the stage, a
    shared source column loaded if an earlier unit trained it), then the target's evaluation,
    sensitivity and record. The PRNG key chain is one ``key`` split stage by stage."""

    def __init__(self, cfg: Config, pair_index: int, method: str, seed: int):
        self.cfg, self.pair_index, self.method, self.seed = cfg, pair_index, method, seed
        self.t0 = time.perf_counter()
        self.pair = cfg.pairs[pair_index]
        self.plan = methods.get(method).plan(len(self.pair.sources), cfg.reset_heads)
        self.lengths = stage_iterations(cfg, self.plan)
        self.envs: dict[tuple[str, int], VecEnv] = {}
        first = self.env_for(parse_task(self.pair.target)[0])
        self.net = make_net(cfg, first.obs_shape, first.num_actions, self.plan.max_columns)
        self.tx = make_optimizer(
            cfg.optim.optimizer, cfg.optim.lr, cfg.optim.grad_clip or None, **optim_kwargs(cfg)
        )
        self.key = jax.random.key(seed)
        self.params = self.net.init(self.key)
        self.loops: dict = {}
        self.stages: list[dict] = []
        self.resumed = None  # (meta, state, actor key) of the stage a checkpoint was written in

    def env_for(self, env_id: str, env_seed: int | None = None) -> VecEnv:
        env_seed = self.seed if env_seed is None else env_seed
        if (env_id, env_seed) not in self.envs:
            self.envs[(env_id, env_seed)] = VecEnv(self.cfg.env.for_env(env_id, env_seed))
        return self.envs[(env_id, env_seed)]

    def run(self, ctx) -> list[dict]:
        key = self.key
        restored = ctx.restore(
            lambda meta: {
                "state": transfer.stage_state(
                    self.net, self.params, self.tx, self.plan.stages[meta["stage"]], key
                ),
                "key": jax.random.key_data(key),
                "actor_key": jax.random.key_data(key),
            }
        )
        if restored is not None:  # continue inside the stage the checkpoint was written in
            tree, meta = restored
            self.stages = list(meta["stages"])
            self.key = jax.random.wrap_key_data(tree["key"])
            self.resumed = (meta, tree["state"], jax.random.wrap_key_data(tree["actor_key"]))
        for index, stage in enumerate(self.plan.stages):
            if index >= len(self.stages):
                self.train_stage(ctx, index, stage)
        return [self.record()]

    def task_of(self, stage) -> str:
        if stage.task == "target":
            return self.pair.target
        return self.pair.sources[int(stage.task.removeprefix("source"))]

    def train_stage(self, ctx, index: int, stage) -> None:
        """Train ``stage`` (or load its column, trained by an earlier unit) and append its record."""
        cfg, seed = self.cfg, self.seed
        task = self.task_of(stage)
        env_id, name = parse_task(task)
        base = sum(self.lengths[:index])
        shareable = cfg.share_sources and stage.task != "target" and stage.column == 0
        if shareable and self.resumed is None:
            shared = shared_sources.load(ctx.run_dir, task, seed, transfer.column_weights(self.params, 0))
            if shared is not None:  # trained by an earlier unit: the same computation
                self.key, _, _ = jax.random.split(self.key, 3)  # the key chain of a unit that trains it
                weights, record = shared
                self.params = transfer.with_column_weights(self.params, 0, weights)
                self.stages.append(record)
                return
        if self.resumed is not None:
            meta, state, k_actor = self.resumed
            done, acc = meta["iteration"], CurveAccumulator(cfg.window, meta["curve"])
            env = self.env_for(env_id, resume_seed(seed, base + done))
        else:
            self.key, k_stage, k_actor = jax.random.split(self.key, 3)
            state = transfer.stage_state(self.net, self.params, self.tx, stage, k_stage)
            done, acc = 0, CurveAccumulator(cfg.window)
            env = self.env_for(env_id)
        if (task, env) not in self.loops:
            transform = transforms.observation_transform(name, env.cfg.is_atari, seed)
            self.loops[(task, env)] = make_loop(self.net, self.tx, env, cfg.rl, cfg.chunk, transform)
        key, stages = self.key, self.stages

        def snapshot(st, actor, it):
            tree = {"state": st, "key": jax.random.key_data(key), "actor_key": jax.random.key_data(actor.key)}
            return tree, {"stage": index, "iteration": it, "curve": acc.state(), "stages": stages}

        state, _ = run_stage(
            ctx,
            self.loops[(task, env)],
            state,
            start(env, k_actor),
            stage=f"{stage.task}:{task}",
            iterations=self.lengths[index],
            chunk=cfg.chunk,
            done=done,
            position=base,
            every=cfg.checkpoint.every,
            agent_steps=acc.steps,
            account=column_account(cfg, acc),
            finite=finite_losses_and(lambda st: st.params),
            snapshot=snapshot,
        )
        self.resumed = None
        self.params = state.params
        self.stages.append(stage_record(stage, task, acc.points + acc.pending(), acc.steps))
        if shareable:
            record = {**self.stages[-1], "trained_by": ctx.label}
            shared_sources.save(ctx.run_dir, task, seed, transfer.column_weights(self.params, 0), record)

    def record(self) -> dict:
        """The target column's greedy evaluation and sensitivity, and the unit's record."""
        cfg, pair = self.cfg, self.pair
        env_id, name = parse_task(pair.target)
        target_env = self.env_for(env_id)
        transform = transforms.observation_transform(name, target_env.cfg.is_atari, self.seed)
        evaluate = make_evaluate(self.net, target_env, cfg.eval_episodes, transform=transform)
        column = self.plan.column_for("target")
        self.key, k_eval = jax.random.split(self.key)
        _, ev = evaluate(self.params, column, start(target_env, k_eval))
        self.key, k_sens = jax.random.split(self.key)
        sensitivity = sensitivity_of(
            cfg, self.method, self.net, self.params, column, target_env, transform, k_sens
        )
        seconds = time.perf_counter() - self.t0
        record = pair_record(cfg, self.pair_index, self.method, self.seed, self.stages, ev["return"], seconds)
        return {**record, **sensitivity}


def sensitivity_of(cfg: Config, method: str, net, params, column: int, env, transform, key) -> dict:
    """AFS (and APS) of the trained target column for methods with ``sensitivity`` (else ``{}``)."""
    if not cfg.analysis.afs or not methods.get(method).sensitivity:
        return {}

    out = policy_sensitivity(
        net,
        params,
        column,
        env,
        key,
        transform=transform,
        states=cfg.analysis.states,
        aps_episodes=cfg.analysis.aps_episodes,
        grid=cfg.analysis.aps_grid,
        score_offset=cfg.score_offset,
    )
    if "aps_sigma2" in out:  # JSON has no infinity: never halved -> None
        out["aps_sigma2"] = [[None if v == float("inf") else v for v in row] for row in out["aps_sigma2"]]
    return out
