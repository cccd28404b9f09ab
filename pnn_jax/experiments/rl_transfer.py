"""The PNN transfer protocol in reinforcement learning (docs/papers.md 1.3-1.5), shared by
``pnn_classic_transfer``, ``pnn_pong_soup`` and ``pnn_atari``.

A **task** is an envpool environment seen through an observation transform, written
``"<env id>[:<transform>]"`` (``"Pong-v5:hflip"``, ``"CartPole-v1:mirror"``; no transform =
``pong`` / ``identity``). A **pair** is a list of source tasks and a target. For every pair, seed
and method of :mod:`pnn_jax.train.transfer`, the plan's stages are trained with A2C or PPO in
compiled loops; the target stage's learning curve (points = mean raw return of the episodes
finished in each window of agent steps) gives the AUC, and the transfer score is AUC(method) /
AUC(baseline 1) of the same pair and seed, in % (docs/papers.md 1.4). Aggregates over pairs are the
mean and the median, as in the paper's Table 1.

Every (pair, seed, method) is a unit of :mod:`pnn_jax.experiments.units`: checkpointed and resumable.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from pnn_jax import plots
from pnn_jax.analysis.sensitivity import policy_sensitivity
from pnn_jax.analysis.transfer import CurveAccumulator, auc, final_return, transfer_pct
from pnn_jax.config import ConfigError, check, check_choice
from pnn_jax.envs import transforms
from pnn_jax.envs.envpool_env import EnvConfig, VecEnv, check_env_config, env_shapes
from pnn_jax.experiments import shared_sources
from pnn_jax.experiments import units as unitlib
from pnn_jax.experiments.chunks import Chunk, loss_metrics, resume_seed, run_stage
from pnn_jax.nets.columns import INIT_SCHEMES, atari_column, mlp_column, nature_cnn_column
from pnn_jax.nets.progressive import ProgressiveNet
from pnn_jax.rl.actor_critic import ACConfig, make_evaluate, make_loop, start
from pnn_jax.rl.column_population import ColumnPopulation
from pnn_jax.rl.pools import DevicePools
from pnn_jax.train import population as pop
from pnn_jax.train import transfer
from pnn_jax.train.optim import OPTIMIZERS, make_optimizer
from pnn_jax.train.progressive import init_state

NETWORKS = ("mlp", "atari", "nature_cnn")


@dataclasses.dataclass
class EnvSection:
    """Settings of every task's envpool batch (the tasks name the environments)."""

    num_envs: int = 16
    """Parallel envs per column being trained (one envpool pool, stepped inside jit)."""
    max_episode_steps: int = 0
    """0 = envpool's default."""
    interface: str = "xla"
    """xla (envpool's XLA step inside jit) or host (numpy interface via a callback; TPU)."""
    full_action_space: bool = False
    """Atari: all 18 actions for every game (needed when a pair mixes games)."""
    img_size: int = 84
    """Atari frames: img_size x img_size grayscale (docs/papers.md 1.2)."""
    stack_num: int = 4
    """Atari / ViZDoom: frames stacked into one observation."""
    frame_skip: int = 4
    """Action repeat."""
    noop_max: int = 30
    """Atari: up to this many no-op actions at the start of an episode."""
    episodic_life: bool = False
    """Atari: a lost life ends the episode for learning (envpool's episodic_life)."""
    repeat_action_probability: float = 0.0
    """Atari: sticky actions (0 = off, as in the paper's era)."""


@dataclasses.dataclass
class ModelSection:
    network: str = "mlp"
    """mlp (vector observations), atari (the paper's column, docs/papers.md 1.2) or nature_cnn."""
    widths: list[int] = dataclasses.field(default_factory=lambda: [32])
    """Hidden widths of the mlp network."""
    lateral: str = "adapter"
    """adapter (Eq. 2, the paper's non-linear lateral), plain (Eq. 1) or none."""
    head_laterals: bool = True
    """Whether the output heads also receive laterals from earlier columns."""
    adapter_width: str = "in"
    """Channels of an adapter's projection V: in (its source's width, the paper's) or out (the layer's)."""
    alpha_init: float = 1.0
    """Initial value of the adapters' learned scale alpha (the paper's grid: 1, 0.1, 0.01)."""
    adapter_v: str = "1x1"
    """Where the fc layer reads conv maps: V as a 1x1 conv (1x1) or dense."""
    init: str = "lecun_normal"
    """Kernels: lecun_normal, or orthogonal with public A2C's gains (sqrt 2 hidden, 0.01 policy)."""


@dataclasses.dataclass
class RLSection:
    algorithm: str = "a2c"
    """a2c (A3C's synchronous form) or ppo."""
    t_max: int = 5
    """Steps of every env per update: A3C's n-step horizon (docs/papers.md 1.3)."""
    gamma: float = 0.99
    """Discount factor."""
    entropy_cost: float = 0.01
    """Weight of the entropy bonus (the paper's grid: 1e-2, 1e-3, 1e-4)."""
    value_cost: float = 0.5
    """Weight of the value loss."""
    clip_rewards: bool = False
    """Clip rewards to [-1, 1] for learning (Atari); CartPole's +1 rewards need no clipping."""
    gae_lambda: float = 0.95
    """PPO: lambda of generalised advantage estimation."""
    ppo_clip: float = 0.2
    """PPO: clip range of the probability ratio."""
    ppo_epochs: int = 4
    """PPO: passes over each rollout."""
    ppo_minibatches: int = 4
    """PPO: minibatches per pass."""
    truncation: str = "bootstrap"
    """An episode cut by a time limit: bootstrap from the value of its last state, or terminal."""


@dataclasses.dataclass
class OptimSection:
    optimizer: str = "rmsprop"
    """rmsprop (decay 0.99, no momentum), adam or sgd."""
    lr: float = 0.003
    """Learning rate (the paper's grid: 1e-4 to 5e-3; docs/rl_learner.md for the defaults)."""
    grad_clip: float = 40.0
    """Global gradient-norm clip (0 = none; A3C: 40, the paper's grid: 20, 40)."""
    eps: float = 0.0
    """rmsprop / adam epsilon; 0 = the optimizer's default (rmsprop: A3C's 0.1, adam: 1e-8).
    Public A2C implementations use rmsprop with 1e-5."""
    eps_in_sqrt: bool = True
    """rmsprop: ``g / sqrt(nu + eps)`` (TensorFlow's and optax's form, so eps 0.1 bounds every
    denominator below by 0.32) or ``g / (sqrt(nu) + eps)`` (PyTorch's)."""


@dataclasses.dataclass
class CheckpointSection:
    every: int = 1000
    """Iterations between checkpoints inside a unit (0 = only between units and on SIGTERM)."""


@dataclasses.dataclass
class PairSpec:
    sources: list[str] = dataclasses.field(default_factory=lambda: ["CartPole-v1:identity"])
    target: str = "CartPole-v1:mirror"


@dataclasses.dataclass
class AnalysisSection:
    """Sensitivity of the trained target policy (docs/papers.md 1.7; :mod:`pnn_jax.analysis.sensitivity`),
    for the methods with more than one column at the target (progressive nets, baseline 4)."""

    afs: bool = True
    """Average Fisher sensitivity per hidden layer and column."""
    states: int = 1024
    """States (and sampled actions) of the trained target policy the Fisher is averaged over."""
    aps_episodes: int = 0
    """Average perturbation sensitivity: greedy episodes per noise level (the paper: 10); 0 = off."""
    aps_grid: list[float] = dataclasses.field(
        default_factory=lambda: [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0]
    )
    """Noise variances (x each feature's activation variance) searched for the one that halves the score."""


SENSITIVITY_METHODS = ("progressive", "baseline4")


@dataclasses.dataclass
class Config:
    experiment: str = ""
    """The experiment's name (selects its module and experiments/<name>/)."""
    preset: str = "quick"
    """The preset the run started from (experiments/<name>/preset/<preset>.yaml)."""
    seed: int = 0
    """The first seed; run s of a (pair, method) uses seed + s."""
    seeds: int = 1
    """Runs per (pair, method): seeds seed .. seed+seeds-1 (parameters and env streams)."""
    pairs: list[PairSpec] = dataclasses.field(default_factory=lambda: [PairSpec()])
    """Transfer pairs: source tasks (one column each in a progressive net) and a target task."""
    methods: list[str] = dataclasses.field(default_factory=lambda: list(transfer.METHODS))
    """progressive and/or baseline1-4 (docs/papers.md 1.3)."""
    reset_heads: bool = False
    """Baselines 2/3: re-initialise the output layer before the target stage."""
    iterations: int = 1500
    """Training iterations per stage (each: t_max steps of every env, then the update)."""
    source_iterations: int = 0
    """Iterations of a source stage (0 = ``iterations``): a source column that must learn its
    task before anything can transfer, with shorter target stages, where compute is short."""
    share_sources: bool = False
    """Sequential runs: train column 0 on each (source task, seed) once and reuse it in every
    method and pair that starts from it (:mod:`pnn_jax.experiments.shared_sources`); false: every
    unit trains its own (the same computation)."""
    chunk: int = 250
    """Iterations per compiled call (one lax.scan)."""
    window: int = 4000
    """Agent steps per learning-curve point (the paper: 2.5e5 environment steps = 62,500 agent steps)."""
    eval_episodes: int = 32
    """Greedy episodes on the target after training."""
    score_offset: float = 0.0
    """Added to every learning-curve point before the AUC, so that the AUC ratio is meaningful for
    games with negative scores (Pong: 21). The paper does not say how it treated them [?]."""
    population: bool = False
    """Train every (pair, method, seed) as members of one compiled population (two phases: all
    source columns at once, then all target stages at once) instead of one after another.
    Needs one source per pair and one env id; statistically the same protocol, not the same
    random streams as the sequential runs."""
    out_dir: str = "runs"
    """Root of run directories: <out_dir>/<experiment>/<date>_<time>_<id>/."""
    env: EnvSection = dataclasses.field(default_factory=EnvSection)
    model: ModelSection = dataclasses.field(default_factory=ModelSection)
    rl: RLSection = dataclasses.field(default_factory=RLSection)
    optim: OptimSection = dataclasses.field(default_factory=OptimSection)
    checkpoint: CheckpointSection = dataclasses.field(default_factory=CheckpointSection)
    analysis: AnalysisSection = dataclasses.field(default_factory=AnalysisSection)


def parse_task(task: str) -> tuple[str, str]:
    """``"Pong-v5:hflip"`` -> ``("Pong-v5", "hflip")``; no transform -> ``pong`` / ``identity``."""
    env_id, _, name = task.partition(":")
    return env_id, name or ("pong" if env_id.endswith("-v5") else "identity")


def env_config(cfg: Config, env_id: str, seed: int):
    """The :class:`EnvConfig` of ``env_id``: ``env`` settings (same field names) and ``seed``."""
    return EnvConfig(env_id, seed=seed, **dataclasses.asdict(cfg.env))


def ac_config(cfg: Config):
    """The learner's :class:`ACConfig` from the ``rl`` section (same field names; it validates)."""
    return ACConfig(**dataclasses.asdict(cfg.rl))


def optim_kwargs(cfg) -> dict:
    """``eps`` and ``eps_in_sqrt`` of the ``optim`` section for :func:`make_optimizer`."""
    return {"eps": cfg.optim.eps or None, "eps_in_sqrt": cfg.optim.eps_in_sqrt}


def validate(cfg: Config) -> None:
    """One-line :class:`ConfigError` for any bad value, before anything compiles."""

    try:
        ac_config(cfg)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    check(len(cfg.pairs) >= 1, "pairs", cfg.pairs, "needs at least one {sources, target} pair")
    check_choice("model.network", cfg.model.network, NETWORKS)
    for i, pair in enumerate(cfg.pairs):
        check(len(pair.sources) >= 1, f"pairs[{i}].sources", pair.sources, "needs at least one source task")
        shapes = set()
        for task in [*pair.sources, pair.target]:
            env_id, name = parse_task(task)
            ecfg = env_config(cfg, env_id, cfg.seed)
            try:
                check_env_config(ecfg)
                transforms.observation_transform(name, ecfg.is_atari)
            except ValueError as e:
                raise ConfigError(f"pairs[{i}]: {e}") from None
            obs_shape, num_actions = env_shapes(ecfg)
            shapes.add((obs_shape, num_actions))
            vector = len(obs_shape) == 1
            check(
                vector == (cfg.model.network == "mlp"),
                "model.network",
                cfg.model.network,
                f"{env_id} has {'vector' if vector else 'image'} observations: use "
                f"{'mlp' if vector else 'atari or nature_cnn'}",
            )
        check(
            len(shapes) == 1,
            f"pairs[{i}]",
            [*pair.sources, pair.target],
            "all tasks of a pair need the same observation shape and action count "
            "(for different Atari games set env.full_action_space=true)",
        )
    if cfg.population:
        check(
            all(len(p.sources) == 1 for p in cfg.pairs),
            "pairs",
            [pair_label(p) for p in cfg.pairs if len(p.sources) != 1],
            "population=true needs one source per pair (run 3-column pairs with population=false)",
        )
        ids = {parse_task(t)[0] for p in cfg.pairs for t in [*p.sources, p.target]}
        check(
            len(ids) == 1,
            "pairs",
            sorted(ids),
            "population=true needs one env id (tasks differ by transform)",
        )
    for m in cfg.methods:
        check_choice("methods", m, transfer.METHODS)
    check(
        "baseline1" in cfg.methods,
        "methods",
        cfg.methods,
        "must include baseline1 (the transfer score's reference)",
    )
    check(cfg.analysis.states >= 1, "analysis.states", cfg.analysis.states, "must be at least 1")
    check(
        cfg.analysis.aps_episodes >= 0,
        "analysis.aps_episodes",
        cfg.analysis.aps_episodes,
        "must be >= 0 (0 = off)",
    )
    grid = cfg.analysis.aps_grid
    check(
        len(grid) >= 2 and all(v > 0 for v in grid) and list(grid) == sorted(grid),
        "analysis.aps_grid",
        grid,
        "needs 2+ positive, increasing noise variances",
    )
    for key in ("seeds", "iterations", "chunk", "window", "eval_episodes"):
        check(getattr(cfg, key) >= 1, key, getattr(cfg, key), "must be at least 1")
    check(
        cfg.source_iterations >= 0,
        "source_iterations",
        cfg.source_iterations,
        "must be >= 0 (0 = iterations)",
    )
    check(cfg.env.num_envs >= 1, "env.num_envs", cfg.env.num_envs, "must be at least 1")
    check(min(cfg.model.widths, default=0) >= 1, "model.widths", cfg.model.widths, "positive widths")
    check_choice("model.lateral", cfg.model.lateral, ("adapter", "plain", "none"))
    check_choice("model.init", cfg.model.init, INIT_SCHEMES)
    check_choice("model.adapter_width", cfg.model.adapter_width, ("in", "out"))
    check_choice("optim.optimizer", cfg.optim.optimizer, OPTIMIZERS)
    check(cfg.optim.lr > 0, "optim.lr", cfg.optim.lr, "must be positive")
    check(cfg.optim.grad_clip >= 0, "optim.grad_clip", cfg.optim.grad_clip, "must be >= 0 (0 = off)")
    check(cfg.optim.eps >= 0, "optim.eps", cfg.optim.eps, "must be >= 0 (0 = the optimizer's default)")
    check(cfg.checkpoint.every >= 0, "checkpoint.every", cfg.checkpoint.every, "must be >= 0 (0 = off)")


def column_account(cfg: Config, acc):
    """``account`` for :func:`~pnn_jax.experiments.chunks.run_stage` of one column: the chunk's
    losses, episodes and mean return, and the curve points completed in ``acc``
    (:class:`~pnn_jax.analysis.transfer.CurveAccumulator`)."""

    def account(m):
        before = acc.steps
        new = acc.add(m["agent_steps"], m["episodes"], m["episode_return_sum"])
        episodes = int(m["episodes"].sum())
        ends = [(len(acc.points) - len(new) + j + 1) * cfg.window for j in range(len(new))]
        return Chunk(
            agent_steps=acc.steps - before,
            metrics={
                **loss_metrics(m),
                "episodes": episodes,
                "episode_return": float(m["episode_return_sum"].sum()) / episodes
                if episodes
                else float("nan"),
            },
            curve_points=list(zip(ends, new, strict=True)),
            window_return=acc.points[-1] if acc.points else None,
        )

    return account


def pair_label(pair: PairSpec) -> str:
    return " + ".join(pair.sources) + " -> " + pair.target


def run(cfg: Config, run_dir: Path, *, resume: bool = False, quiet: bool = False) -> dict:

    validate(cfg)
    unitlib.begin(run_dir, cfg, resume)
    if cfg.population:
        units = [("population: every pair, seed and method", _population_unit(cfg))]
    else:
        units = [
            (f"pair {p} seed {cfg.seed + s} {method}", _unit(cfg, p, method, cfg.seed + s))
            for p in range(len(cfg.pairs))
            for s in range(cfg.seeds)
            for method in cfg.methods
        ]
    header = [
        f"{cfg.experiment} ({cfg.preset}): {len(cfg.pairs)} pair(s) x {cfg.seeds} seed(s) x "
        f"{len(cfg.methods)} "
        f"method(s); {cfg.env.num_envs} envs ({cfg.env.interface}), {cfg.model.network} columns, "
        f"{cfg.rl.algorithm} t_max {cfg.rl.t_max}, {cfg.optim.optimizer} lr {cfg.optim.lr}; "
        f"{cfg.iterations} iterations per stage"
        f"{f' ({source_iterations(cfg)} per source stage)' if cfg.source_iterations else ''}; "
        f"{'one population' if cfg.population else 'one run at a time'}; "
        f"jax {jax.__version__} on {jax.devices()[0].platform}",
        *[f"  pair {i}: {pair_label(p)}" for i, p in enumerate(cfg.pairs)],
    ]
    records, seconds = unitlib.run_units(
        run_dir, units, resume=resume, quiet=quiet, header=header, experiment=cfg.experiment
    )
    return summarize(cfg, run_dir, records, seconds, quiet, resume)


def source_iterations(cfg: Config) -> int:
    """Iterations of a source stage."""
    return cfg.source_iterations or cfg.iterations


def stage_iterations(cfg: Config, plan) -> list[int]:
    """Iterations of each stage of ``plan``."""
    return [cfg.iterations if s.task == "target" else source_iterations(cfg) for s in plan.stages]


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


def _unit(cfg: Config, pair_index: int, method: str, seed: int):
    def work(ctx) -> list[dict]:

        t0 = time.perf_counter()
        pair = cfg.pairs[pair_index]
        plan = transfer.transfer_plan(method, len(pair.sources), cfg.reset_heads)
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
        ac = ac_config(cfg)
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
        sensitivity = _sensitivity(
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


def _population_unit(cfg: Config):
    """All (pair, method, seed) runs as one population (:mod:`pnn_jax.rl.column_population`).

    Phase 1 trains column 0 of every distinct (source task, seed) that a method needs (progressive,
    baselines 2 and 3 start from the same trained source column, as in the sequential runs, where
    it is trained once per method from the same initial weights). Phase 2 trains every member's
    target stage at once: progressive and baseline 4 train column 1 (on the trained or the random
    column 0), baseline 1 column 0 from scratch, baseline 2 column 0's output layer, baseline 3 all
    of column 0. Members are padded (copies of the last, results dropped) to a multiple of the
    device count.
    """

    def work(ctx) -> list[dict]:

        t0 = time.perf_counter()
        env_id = parse_task(cfg.pairs[0].target)[0]
        names = sorted({parse_task(t)[1] for p in cfg.pairs for t in [*p.sources, p.target]})
        is_atari = env_id.endswith("-v5")
        fns = [transforms.observation_transform(n, is_atari, cfg.seed) for n in names]
        seeds = [cfg.seed + s for s in range(cfg.seeds)]
        probe = env_config(cfg, env_id, cfg.seed)
        net = make_net(cfg, *env_shapes(probe), 2)
        tx = make_optimizer(
            cfg.optim.optimizer, cfg.optim.lr, cfg.optim.grad_clip or None, **optim_kwargs(cfg)
        )
        popn = ColumnPopulation(net, tx, ac_config(cfg), fns)
        devices = popn.mesh.devices.size
        initial = {s: net.init(jax.random.key(s)) for s in seeds}
        # Phase 1: column 0 of every needed (source, seed)
        needs_source = [m for m in cfg.methods if m in ("progressive", "baseline2", "baseline3")]
        sources = sorted({(p.sources[0], s) for p in cfg.pairs for s in seeds}) if needs_source else []
        plan_of = {m: transfer.transfer_plan(m, 1, cfg.reset_heads) for m in cfg.methods}
        members_spec = [(p, m, s) for p in range(len(cfg.pairs)) for s in seeds for m in cfg.methods]

        def padded(states, variants):
            pad = (-len(states)) % devices
            return [*states, *[states[-1]] * pad], [*variants, *[variants[-1]] * pad]

        def train(phase, states, variants, key, resumed=None):
            """One phase: the stage's iterations of every member (from a checkpoint when
            ``resumed = (meta, host members)``); returns the trained members, the pools, learning
            curves and agent steps per member."""
            n = len(states)
            states, variants = padded(states, variants)
            position = 0 if phase == 0 else source_iterations(cfg)
            iterations = source_iterations(cfg) if phase == 0 else cfg.iterations
            if resumed is None:
                done, accs, env_cfg = 0, [CurveAccumulator(cfg.window) for _ in range(n)], probe
                members = popn.members(states, variants)
            else:
                meta, host = resumed
                done = meta["iteration"]
                accs = [CurveAccumulator(cfg.window, a) for a in meta["curves"]]
                env_cfg = dataclasses.replace(probe, seed=resume_seed(cfg.seed, position + done))
                members = pop.put_members(jax.tree.map(jnp.asarray, host), popn.mesh)
                key = jax.random.fold_in(key, done)
            pools = DevicePools(env_cfg, popn.mesh, len(states), cfg.env.num_envs)
            loop = popn.make_loop(pools, cfg.chunk)

            def account(m):
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

            def snapshot(mem, actor, it):
                meta = {"phase": phase, "iteration": it, "curves": [a.state() for a in accs]}
                if phase == 1:
                    meta["source_info"] = [[t, s, info] for (t, s), info in source_info.items()]
                return {"members": pop.to_host(mem)}, {**meta, "stage": f"phase {phase + 1}"}

            members, _ = run_stage(
                ctx,
                loop,
                members,
                pools.start(key),
                stage="sources" if phase == 0 else "targets",
                iterations=iterations,
                chunk=cfg.chunk,
                done=done,
                position=position,
                every=cfg.checkpoint.every,
                agent_steps=sum(a.steps for a in accs),
                account=account,
                finite=lambda mem, m: {
                    "loss": {k: m[k] for k in ("policy_loss", "value_loss") if k in m},
                    "parameters": mem.state.params,
                },
                snapshot=snapshot,
            )
            curves = [a.points + a.pending() for a in accs]
            return members, pools, curves, [a.steps for a in accs]

        def phase2_states(key):
            """Every member's target-stage state (the same key chain as an uninterrupted run)."""
            states, variants = [], []
            for p, m, s in members_spec:
                pair, plan = cfg.pairs[p], plan_of[m]
                params = trained[(pair.sources[0], s)] if len(plan.stages) > 1 else initial[s]
                key, k = jax.random.split(key)
                states.append(transfer.stage_state(net, params, tx, plan.stages[-1], k))
                variants.append(names.index(parse_task(pair.target)[1]))
            return states, variants, key

        def template(meta):
            if meta["phase"] == 0:
                states = [init_state(net, initial[s], tx, 0) for _, s in sources]
            else:
                states = phase2_states(jax.random.key(0))[0]
            return {"members": pop.to_host(popn.members(*padded(states, [0] * len(states))))}

        key = jax.random.key(cfg.seed)
        trained: dict = {src: initial[src[1]] for src in sources}  # the structure, for templates
        source_info: dict = {}
        restored = ctx.restore(template)
        phase = restored[1]["phase"] if restored is not None else 0
        if restored is not None and phase == 1:
            source_info = {(t, s): info for t, s, info in restored[1]["source_info"]}
        if sources:
            key, k = jax.random.split(key)
            if phase == 0:
                states = [init_state(net, initial[s], tx, 0) for _, s in sources]
                variants = [names.index(parse_task(t)[1]) for t, _ in sources]
                resumed = (restored[1], restored[0]["members"]) if restored is not None else None
                members, _, curves, agent_steps = train(0, states, variants, k, resumed)
                params = pop.to_host(members.state.params)
                for i, (task, s) in enumerate(sources):
                    trained[(task, s)] = jax.tree.map(lambda a, i=i: jnp.asarray(a[i]), params)
                    source_info[(task, s)] = {"curve": curves[i], "agent_steps": int(agent_steps[i])}
        # Phase 2: every member's target stage
        states, variants, key = phase2_states(key)
        key, k = jax.random.split(key)
        resumed = (restored[1], restored[0]["members"]) if restored is not None and phase == 1 else None
        members, pools, curves, agent_steps = train(1, states, variants, k, resumed)
        evaluate = popn.make_evaluate(pools, cfg.eval_episodes)
        key, k = jax.random.split(key)
        evals = np.asarray(pop.to_host(evaluate(members, pools.start(k))))
        trained_params = pop.to_host(members.state.params) if cfg.analysis.afs else None
        seconds = time.perf_counter() - t0
        records = []
        for i, (p, m, s) in enumerate(members_spec):
            pair, plan = cfg.pairs[p], plan_of[m]
            stages = []
            for stage in plan.stages:
                if stage.task == "target":
                    info = {"curve": curves[i], "agent_steps": int(agent_steps[i])}
                    task = pair.target
                else:
                    task = pair.sources[0]
                    info = source_info[(task, s)]
                stages.append(
                    {
                        "task": stage.task,
                        "env_task": task,
                        "column": stage.column,
                        "scope": stage.scope,
                        **info,
                    }
                )
            records.append(
                {
                    "pair": p,
                    "pair_label": pair_label(pair),
                    "sources": list(pair.sources),
                    "target": pair.target,
                    "method": m,
                    "seed": s,
                    "columns": plan.max_columns,
                    "stages": stages,
                    "target_curve": curves[i],
                    "auc": auc(curves[i], cfg.score_offset),
                    "final": final_return(curves[i]),
                    "eval_return": float(evals[i]),
                    "seconds": seconds / len(members_spec),
                }
            )
            if cfg.analysis.afs and m in SENSITIVITY_METHODS:  # one member at a time, after training
                key, k = jax.random.split(key)
                member_params = jax.tree.map(lambda a, i=i: jnp.asarray(a[i]), trained_params)
                target_env = VecEnv(env_config(cfg, env_id, s))
                fn = fns[variants[i]]
                records[-1].update(_sensitivity(cfg, m, net, member_params, 1, target_env, fn, k))
        return records

    return work


def _sensitivity(cfg: Config, method: str, net, params, column: int, env, transform, key) -> dict:
    """AFS (and APS) of the trained target column for :data:`SENSITIVITY_METHODS` (else ``{}``)."""
    if not cfg.analysis.afs or method not in SENSITIVITY_METHODS:
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


def transfer_scores(records: list[dict]) -> dict[tuple[int, str], list[float]]:
    """``{(pair, method): [AUC / baseline-1 AUC in % per seed]}`` (seeds whose baseline-1 AUC is not
    positive are left out; :func:`pnn_jax.analysis.transfer.transfer_pct`)."""
    base = {(r["pair"], r["seed"]): unitlib.num(r["auc"]) for r in records if r["method"] == "baseline1"}
    out: dict[tuple[int, str], list[float]] = {}
    for r in records:
        score = transfer_pct(unitlib.num(r["auc"]), base.get((r["pair"], r["seed"]), float("nan")))
        if score == score:
            out.setdefault((r["pair"], r["method"]), []).append(score)
    return out


def summarize(
    cfg: Config, run_dir: Path, records: list[dict], seconds: float, quiet: bool, resumed: bool
) -> dict:

    scores = transfer_scores(records)
    n_pairs = len(cfg.pairs)
    paper = unitlib.load_paper(cfg.experiment).get("transfer_pct", {})
    lines = [
        "| method | mean transfer | median transfer | paper (mean / median) | pairs |",
        "|---|---|---|---|---|",
    ]
    rows = []
    groups = []  # (label, method, pairs): progressive nets split by their number of columns
    for m in cfg.methods:
        if m == "progressive":
            for k in sorted({len(p.sources) + 1 for p in cfg.pairs}):
                groups.append(
                    (
                        f"progressive, {k} columns",
                        m,
                        [i for i, p in enumerate(cfg.pairs) if len(p.sources) + 1 == k],
                    )
                )
        else:
            groups.append((m, m, list(range(n_pairs))))
    for label, m, pairs in groups:
        per_pair = [float(np.mean(scores[(p, m)])) for p in pairs if (p, m) in scores]
        mean = float(np.mean(per_pair)) if per_pair else float("nan")
        median = float(np.median(per_pair)) if per_pair else float("nan")
        shown = [f"{v:.0f}%" if per_pair else "-" for v in (mean, median)]
        ref = paper.get(label.replace(", ", "_").replace(" ", "_"))
        ref_text = f"{ref['mean']}% / {ref['median']}%" if ref else "-"
        lines.append(f"| {label} | {shown[0]} | {shown[1]} | {ref_text} | {len(per_pair)} |")
        in_group = [r for r in records if r["method"] == m and r["pair"] in pairs]
        rows.append(
            {
                "method": label,
                "transfer_mean_pct": mean,
                "transfer_median_pct": median,
                "auc": float(np.mean([unitlib.num(r["auc"]) for r in in_group]))
                if in_group
                else float("nan"),
                "eval_return": float(np.mean([unitlib.num(r["eval_return"]) for r in in_group]))
                if in_group
                else float("nan"),
            }
        )
    lines += [
        "",
        "| pair | method | target AUC (mean return) | transfer | final return | greedy eval return |",
        "|---|---|---|---|---|---|",
    ]
    for p in range(n_pairs):
        for m in cfg.methods:
            rs = [r for r in records if r["pair"] == p and r["method"] == m]
            cells = [
                unitlib.fmt_ms([r["auc"] for r in rs]),
                f"{unitlib.fmt_ms(scores[(p, m)], 0)}%" if (p, m) in scores else "-",
                unitlib.fmt_ms([r["final"] for r in rs]),
                unitlib.fmt_ms([r["eval_return"] for r in rs]),
            ]
            lines.append(f"| {pair_label(cfg.pairs[p])} | {m} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    figures = plots.curves(
        {
            pair_label(cfg.pairs[p]): {
                m: [r["target_curve"] for r in records if r["pair"] == p and r["method"] == m]
                for m in cfg.methods
            }
            for p in range(min(n_pairs, 6))
        },
        run_dir / "figures" / "target_curves",
        xlabel=f"agent steps (x {cfg.window:,})",
        ylabel="mean episode return",
    )
    figures += plots.grouped_bars(
        {m: [float(np.mean(scores.get((p, m), [np.nan]))) for p in range(n_pairs)] for m in cfg.methods},
        [f"pair {p}" for p in range(n_pairs)],
        run_dir / "figures" / "transfer",
        title="transfer: target AUC / baseline 1 AUC (%)",
        ylabel="%",
    )
    notes = [
        f"{cfg.seeds} seed(s) per pair and method; mean ± std over seeds. Transfer = AUC of the target "
        f"learning curve (points every {cfg.window:,} agent steps) over baseline 1's for the same pair "
        f"and seed (docs/papers.md 1.4; score offset {cfg.score_offset:g}); mean and median over pairs; "
        f"'-' where baseline 1's AUC is not positive. Total {seconds:.1f} s."
    ]
    return unitlib.finish(
        run_dir,
        cfg,
        rows=rows,
        table=table,
        seconds=seconds,
        resumed=resumed,
        figures=figures,
        quiet=quiet,
        notes=notes,
    )
