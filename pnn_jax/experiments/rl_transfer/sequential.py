"""One (pair, seed, method) of the RL transfer protocol as a unit: the plan's stages trained one
after another in compiled chunks, the target's learning curve, evaluation and sensitivity."""

from __future__ import annotations

import time

import jax

from pnn_jax import methods
from pnn_jax.analysis.transfer import CurveAccumulator, auc, final_return
from pnn_jax.envs import transforms
from pnn_jax.envs.envpool_env import VecEnv
from pnn_jax.experiments import shared_sources
from pnn_jax.experiments.chunks import resume_seed, run_stage
from pnn_jax.experiments.rl_transfer.schema import (
    Config,
    column_account,
    env_config,
    optim_kwargs,
    pair_label,
    parse_task,
    stage_iterations,
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
    def work(ctx) -> list[dict]:

        t0 = time.perf_counter()
        pair = cfg.pairs[pair_index]
        plan = methods.get(method).plan(len(pair.sources), cfg.reset_heads)
        lengths = stage_iterations(cfg, plan)
        envs: dict[tuple[str, int], VecEnv] = {}

        def env_for(env_id, env_seed=seed):
            if (env_id, env_seed) not in envs:
                envs[(env_id, env_seed)] = VecEnv(env_config(cfg, env_id, env_seed))
            return envs[(env_id, env_seed)]

        first = env_for(parse_task(pair.target)[0])
        net = make_net(cfg, first.obs_shape, first.num_actions, plan.max_columns)
        tx = make_optimizer(
            cfg.optim.optimizer, cfg.optim.lr, cfg.optim.grad_clip or None, **optim_kwargs(cfg)
        )
        key = jax.random.key(seed)
        params = net.init(key)
        ac = cfg.rl
        loops = {}
        stages: list[dict] = []
        resumed = None
        restored = ctx.restore(
            lambda meta: {
                "state": transfer.stage_state(net, params, tx, plan.stages[meta["stage"]], key),
                "key": jax.random.key_data(key),
                "actor_key": jax.random.key_data(key),
            }
        )
        if restored is not None:  # continue inside the stage the checkpoint was written in
            tree, meta = restored
            stages = list(meta["stages"])
            key = jax.random.wrap_key_data(tree["key"])
            resumed = (meta, tree["state"], jax.random.wrap_key_data(tree["actor_key"]))
        for index, stage in enumerate(plan.stages):
            if index < len(stages):
                continue
            task = (
                pair.target
                if stage.task == "target"
                else pair.sources[int(stage.task.removeprefix("source"))]
            )
            env_id, name = parse_task(task)
            base = sum(lengths[:index])
            shareable = cfg.share_sources and stage.task != "target" and stage.column == 0
            if shareable and resumed is None:
                template = transfer.column_weights(params, 0)
                shared = shared_sources.load(ctx.run_dir, task, seed, template)
                if shared is not None:  # trained by an earlier unit: the same computation
                    key, _, _ = jax.random.split(key, 3)  # the key chain of a unit that trains it
                    weights, record = shared
                    params = transfer.with_column_weights(params, 0, weights)
                    stages.append(record)
                    continue
            if resumed is not None:
                meta, state, k_actor = resumed
                done, acc = meta["iteration"], CurveAccumulator(cfg.window, meta["curve"])
                env = env_for(env_id, resume_seed(seed, base + done))
            else:
                key, k_stage, k_actor = jax.random.split(key, 3)
                state = transfer.stage_state(net, params, tx, stage, k_stage)
                done, acc = 0, CurveAccumulator(cfg.window)
                env = env_for(env_id)
            if (task, env) not in loops:
                loops[(task, env)] = make_loop(
                    net,
                    tx,
                    env,
                    ac,
                    cfg.chunk,
                    transforms.observation_transform(name, env.cfg.is_atari, seed),
                )

            def snapshot(st, actor, it, acc=acc, index=index, key=key):
                tree = {
                    "state": st,
                    "key": jax.random.key_data(key),
                    "actor_key": jax.random.key_data(actor.key),
                }
                return tree, {"stage": index, "iteration": it, "curve": acc.state(), "stages": stages}

            state, _ = run_stage(
                ctx,
                loops[(task, env)],
                state,
                start(env, k_actor),
                stage=f"{stage.task}:{task}",
                iterations=lengths[index],
                chunk=cfg.chunk,
                done=done,
                position=base,
                every=cfg.checkpoint.every,
                agent_steps=acc.steps,
                account=column_account(cfg, acc),
                finite=lambda st, m: {
                    "loss": {k: m[k] for k in ("policy_loss", "value_loss") if k in m},
                    "parameters": st.params,
                },
                snapshot=snapshot,
            )
            resumed = None
            params = state.params
            stages.append(
                {
                    "task": stage.task,
                    "env_task": task,
                    "column": stage.column,
                    "scope": stage.scope,
                    "curve": acc.points + acc.pending(),
                    "agent_steps": acc.steps,
                }
            )
            if shareable:
                shared_sources.save(
                    ctx.run_dir,
                    task,
                    seed,
                    transfer.column_weights(params, 0),
                    {**stages[-1], "trained_by": ctx.label},
                )
        env_id, name = parse_task(pair.target)
        target_env = env_for(env_id)
        evaluate = make_evaluate(
            net,
            target_env,
            cfg.eval_episodes,
            transform=transforms.observation_transform(name, target_env.cfg.is_atari, seed),
        )
        key, k_eval = jax.random.split(key)
        _, ev = evaluate(params, plan.column_for("target"), start(target_env, k_eval))
        target = stages[-1]
        key, k_sens = jax.random.split(key)
        sensitivity = sensitivity_of(
            cfg,
            method,
            net,
            params,
            plan.column_for("target"),
            target_env,
            transforms.observation_transform(name, target_env.cfg.is_atari, seed),
            k_sens,
        )
        return [
            {
                "pair": pair_index,
                "pair_label": pair_label(pair),
                "sources": list(pair.sources),
                "target": pair.target,
                "method": method,
                "seed": seed,
                "columns": plan.max_columns,
                "stages": stages,
                "target_curve": target["curve"],
                "auc": auc(target["curve"], cfg.score_offset),
                "final": final_return(target["curve"]),
                "eval_return": float(ev["return"]),
                "seconds": time.perf_counter() - t0,
                **sensitivity,
            }
        ]

    return work


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
