"""The RL transfer experiments' config schema (every key typed and documented), its checks,
and the helpers that read it: tasks, env and learner settings, stage budgets."""

from __future__ import annotations

import dataclasses

from pnn_jax import methods, ranges
from pnn_jax.analysis.transfer import auc, final_return
from pnn_jax.config import ConfigError, check, check_choice, check_methods, check_section
from pnn_jax.envs import transforms
from pnn_jax.envs.envpool_env import EnvSettings, check_env_config, env_shapes
from pnn_jax.experiments.chunks import Chunk, loss_metrics
from pnn_jax.methods import Stage
from pnn_jax.nets.columns import INIT_SCHEMES
from pnn_jax.rl.column_population import MEMBER_LOOPS
from pnn_jax.rl.policy import ACConfig
from pnn_jax.train.optim import OPTIMIZERS

NETWORKS = ("mlp", "atari", "nature_cnn")


def env_section() -> EnvSettings:
    """The ``env`` section: envpool's batch settings (:class:`EnvSettings`), 16 envs per column."""
    return EnvSettings(num_envs=16)


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
    alpha_init: float = ranges.field(1.0, low=0, low_open=True)
    """Initial value of the adapters' learned scale alpha (the paper's grid: 1, 0.1, 0.01)."""
    adapter_v: str = "1x1"
    """Where the fc layer reads conv maps: V as a 1x1 conv (1x1) or dense."""
    init: str = "lecun_normal"
    """Kernels: lecun_normal, or orthogonal with public A2C's gains (sqrt 2 hidden, 0.01 policy)."""


def rl_section() -> ACConfig:
    """The ``rl`` section: the learner's own config; rewards unclipped by default (CartPole's +1
    rewards need no clipping; the Atari experiments set ``rl.clip_rewards: true``)."""
    return ACConfig(clip_rewards=False)


@dataclasses.dataclass
class OptimSection:
    optimizer: str = "rmsprop"
    """rmsprop (decay 0.99, no momentum), adam or sgd."""
    lr: float = ranges.field(0.003, low=0, low_open=True)
    """Learning rate (the paper's grid: 1e-4 to 5e-3; docs/rl_learner.md for the defaults)."""
    grad_clip: float = ranges.field(40.0, low=0)
    """Global gradient-norm clip (0 = none; A3C: 40, the paper's grid: 20, 40)."""
    eps: float = ranges.field(0.0, low=0)
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
    aps_grid: list[float] = ranges.field(
        default_factory=lambda: [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0], low=0, low_open=True
    )
    """Noise variances (x each feature's activation variance) searched for the one that halves the score."""


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
    methods: list[str] = dataclasses.field(default_factory=lambda: list(methods.names("progressive")))
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
    score_offset: float = ranges.field(0.0)
    """Added to every learning-curve point before the AUC, so that the AUC ratio is meaningful for
    games with negative scores (Pong: 21). The paper does not say how it treated them [?]."""
    population: bool = False
    """Train every (pair, method, seed) as members of one compiled population (two phases: all
    source columns at once, then all target stages at once) instead of one after another.
    Needs one source per pair and one env id; statistically the same protocol, not the same
    random streams as the sequential runs."""
    member_loop: str = "auto"
    """population=true: how a device runs its members' networks: vmap (one batched program),
    unroll (one after another, written out), map (lax.map) or auto (unroll on CPU, vmap
    elsewhere; :func:`pnn_jax.rl.column_population.resolve_member_loop` has the measurements)."""
    out_dir: str = "runs"
    """Root of run directories: <out_dir>/<experiment>/<date>_<time>_<id>/."""
    env: EnvSettings = dataclasses.field(default_factory=env_section)
    model: ModelSection = dataclasses.field(default_factory=ModelSection)
    rl: ACConfig = dataclasses.field(default_factory=rl_section)
    optim: OptimSection = dataclasses.field(default_factory=OptimSection)
    checkpoint: CheckpointSection = dataclasses.field(default_factory=CheckpointSection)
    analysis: AnalysisSection = dataclasses.field(default_factory=AnalysisSection)


def parse_task(task: str) -> tuple[str, str]:
    """``"Pong-v5:hflip"`` -> ``("Pong-v5", "hflip")``; no transform -> ``pong`` / ``identity``."""
    env_id, _, name = task.partition(":")
    return env_id, name or ("pong" if env_id.endswith("-v5") else "identity")


def check_tasks(
    env: EnvSettings,
    seed: int,
    network: str,
    tasks: list[str],
    where: str,
    check_task,
    image_networks: str,
    group: str = "",
) -> None:
    """The tasks of one pair or sequence (config key ``where``): each makes an env and passes
    ``check_task(task, env_config)`` (a ``ValueError`` for a bad variant), its observations suit
    ``network`` (``mlp`` for vectors, ``image_networks`` for images), and all share one
    observation shape and action count."""
    shapes = set()
    for task in tasks:
        env_id, _ = parse_task(task)
        ecfg = env.for_env(env_id, seed)
        try:
            check_env_config(ecfg)
            check_task(task, ecfg)
        except ValueError as e:
            raise ConfigError(f"{where}: {e}") from None
        obs_shape, num_actions = env_shapes(ecfg)
        shapes.add((obs_shape, num_actions))
        vector = len(obs_shape) == 1
        check(
            vector == (network == "mlp"),
            "model.network",
            network,
            f"{env_id} has {'vector' if vector else 'image'} observations: use "
            f"{'mlp' if vector else image_networks}",
        )
    check(
        len(shapes) == 1,
        where,
        tasks,
        f"all tasks{group} need the same observation shape and action count "
        "(for different Atari games set env.full_action_space=true)",
    )


def optim_kwargs(cfg) -> dict:
    """``eps`` and ``eps_in_sqrt`` of the ``optim`` section for :func:`make_optimizer`."""
    return {"eps": cfg.optim.eps or None, "eps_in_sqrt": cfg.optim.eps_in_sqrt}


def validate(cfg: Config) -> None:
    """One-line :class:`ConfigError` for any bad value, before anything compiles."""

    check_section("rl", cfg.rl)
    check_choice("model.network", cfg.model.network, NETWORKS)
    _check_pairs(cfg)
    check_choice("member_loop", cfg.member_loop, MEMBER_LOOPS)
    check_methods("methods", cfg.methods, "progressive")
    _check_analysis(cfg.analysis)
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
    check(cfg.checkpoint.every >= 0, "checkpoint.every", cfg.checkpoint.every, "must be >= 0 (0 = off)")


def _check_pairs(cfg: Config) -> None:
    """Every task of every pair makes an env; a pair's tasks agree in shapes; populations need one
    source per pair and one env id."""
    check(len(cfg.pairs) >= 1, "pairs", cfg.pairs, "needs at least one {sources, target} pair")
    for i, pair in enumerate(cfg.pairs):
        check(len(pair.sources) >= 1, f"pairs[{i}].sources", pair.sources, "needs at least one source task")
        check_tasks(
            cfg.env,
            cfg.seed,
            cfg.model.network,
            [*pair.sources, pair.target],
            f"pairs[{i}]",
            lambda task, ecfg: transforms.observation_transform(parse_task(task)[1], ecfg.is_atari),
            image_networks="atari or nature_cnn",
            group=" of a pair",
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


def _check_analysis(analysis: AnalysisSection) -> None:
    """The AFS/APS settings: state count, APS episodes and its noise grid."""
    check(analysis.states >= 1, "analysis.states", analysis.states, "must be at least 1")
    check(
        analysis.aps_episodes >= 0,
        "analysis.aps_episodes",
        analysis.aps_episodes,
        "must be >= 0 (0 = off)",
    )
    grid = analysis.aps_grid
    check(
        len(grid) >= 2 and list(grid) == sorted(grid),
        "analysis.aps_grid",
        grid,
        "needs 2+ increasing noise variances",
    )


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


def stage_record(stage: Stage, task: str, curve: list, agent_steps: int) -> dict:
    """A record's entry for one stage: the plan's stage, the task it trained on, its curve."""
    return {
        "task": stage.task,
        "env_task": task,
        "column": stage.column,
        "scope": stage.scope,
        "curve": curve,
        "agent_steps": agent_steps,
    }


def pair_record(
    cfg: Config,
    pair_index: int,
    method: str,
    seed: int,
    stages: list[dict],
    eval_return: float,
    seconds: float,
) -> dict:
    """The record of one (pair, method, seed) run (the schema of ``runs.jsonl``, sequential or
    population); the last of ``stages`` is the target's."""
    pair, curve = cfg.pairs[pair_index], stages[-1]["curve"]
    return {
        "pair": pair_index,
        "pair_label": pair_label(pair),
        "sources": list(pair.sources),
        "target": pair.target,
        "method": method,
        "seed": seed,
        "columns": methods.get(method).plan(len(pair.sources), cfg.reset_heads).max_columns,
        "stages": stages,
        "target_curve": curve,
        "auc": auc(curve, cfg.score_offset),
        "final": final_return(curve),
        "eval_return": float(eval_return),
        "seconds": seconds,
    }


def source_iterations(cfg: Config) -> int:
    """Iterations of a source stage."""
    return cfg.source_iterations or cfg.iterations


def stage_iterations(cfg: Config, plan) -> list[int]:
    """Iterations of each stage of ``plan``."""
    return [cfg.iterations if s.task == "target" else source_iterations(cfg) for s in plan.stages]
