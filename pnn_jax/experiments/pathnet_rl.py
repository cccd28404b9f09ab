"""The PathNet transfer protocol in reinforcement learning (docs/papers.md 2.2-2.4), shared by
``pathnet_atari`` and ``pathnet_lunarlander_curriculum``.

A **sequence** is a list of tasks learned in order; the last is the target. A task is
``"<env id>[:<variant>]"``: an observation transform (:mod:`pnn_jax.envs.transforms`, Pong Soup for
Atari) or a LunarLander sub-task reward (:mod:`pnn_jax.envs.lunar_curriculum`).
Methods, per sequence and seed, with the same population and budget per task:

* ``pathnet``: every task searched by the population of :class:`pnn_jax.rl.pathnet_ac.PathNetAC`;
  after each task its best path is locked and every other module re-initialised.
* ``finetune``: the same sequence without locking or re-initialising (the paper's fine-tuning
  control: everything keeps training on each new task).
* ``scratch``: the target alone, from a fresh network (independent learning).

The learning curve of a task is the fitness of its best path at each evolution (mean return of
the episodes it finished in the window) against agent steps. **Speedup** (docs/papers.md 2.4) =
agent steps for ``scratch`` to reach ``threshold`` on the target / those of the method; a run
that never reaches it counts its whole budget (a lower bound on its time, marked in the table).
**Training saved** = scratch's target steps - the method's target steps, and the same minus the
steps spent on the earlier tasks. **Module reuse**: modules of the target's best path that are in
earlier tasks' locked paths (same layer), against the overlap of as many random modules per layer.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jax
import numpy as np

from pnn_jax import plots
from pnn_jax.analysis import pathnet as pathnet_analysis
from pnn_jax.analysis import speedup
from pnn_jax.config import ConfigError, check, check_choice
from pnn_jax.envs import lunar_curriculum, transforms
from pnn_jax.envs.envpool_env import EnvConfig, check_env_config, env_shapes
from pnn_jax.experiments import units as unitlib
from pnn_jax.experiments.chunks import Chunk, loss_metrics, resume_seed, run_stage
from pnn_jax.experiments.rl_transfer.schema import (
    CheckpointSection,
    EnvSection,
    OptimSection,
    RLSection,
    optim_kwargs,
)
from pnn_jax.nets.columns import Conv, Dense
from pnn_jax.nets.pathnet import PathNet
from pnn_jax.rl.actor_critic import ACConfig, preprocess
from pnn_jax.rl.pathnet_ac import EvolutionConfig, PathNetAC
from pnn_jax.train import population as pop
from pnn_jax.train.optim import OPTIMIZERS, make_optimizer

METHODS = ("pathnet", "finetune", "scratch")
NETWORKS = ("mlp", "atari")


@dataclasses.dataclass
class ModelSection:
    network: str = "mlp"
    """mlp (dense modules; vector observations) or atari (docs/papers.md 2.3: 3 conv layers of 8
    kernels, 8x8/4, 4x4/2, 3x3/1, then a linear layer of 50 units)."""
    layers: int = 2
    """mlp: L."""
    units: int = 32
    """mlp: units per module."""
    num_modules: int = 8
    """M, modules per layer (Atari: 10)."""
    max_active: int = 2
    """N, modules per layer in a path (Atari: 4)."""


@dataclasses.dataclass
class EvolutionSection:
    population: int = 8
    """P, paths trained at once (the paper: 64 workers); split over the devices."""
    evolve_every: int = 10
    """Iterations per fitness window."""
    compare: int = 1
    """B, random others each path compares with."""
    mutation_prob: float = 0.0
    """Per gene; 0 = 1/(N*L) (docs/papers.md 2.2)."""
    keep_fixed_path: bool = False
    """Keep the previous task's locked path active in the forward pass."""
    reset: str = "initial"
    """Unlocked modules after a task: initial weights or fresh."""


@dataclasses.dataclass
class Config:
    experiment: str = ""
    """The experiment's name (selects its module and experiments/<name>/)."""
    preset: str = "quick"
    """The preset the run started from (experiments/<name>/preset/<preset>.yaml)."""
    seed: int = 0
    """The first seed; run s of a method uses seed + s (parameters, population, env streams)."""
    seeds: int = 1
    """Runs per method: seeds seed .. seed+seeds-1."""
    sequences: list[list[str]] = dataclasses.field(
        default_factory=lambda: [["LunarLander-v3:stabilise", "LunarLander-v3:land"]]
    )
    """Tasks in order; the last is the target."""
    methods: list[str] = dataclasses.field(default_factory=lambda: list(METHODS))
    """pathnet (paths evolved over one shared bank, locked and reused) and/or scratch (each task
    alone, from a fresh network)."""
    steps_per_task: int = 400_000
    """Agent-step budget of every task (rounded up to whole compiled chunks)."""
    chunk: int = 20
    """Iterations per compiled call."""
    threshold: float = 100.0
    """Target return defining the time to criterion for the speedup."""
    out_dir: str = "runs"
    """Root of run directories: <out_dir>/<experiment>/<date>_<time>_<id>/."""
    env: EnvSection = dataclasses.field(default_factory=EnvSection)
    """env.num_envs = envs of each path."""
    model: ModelSection = dataclasses.field(default_factory=ModelSection)
    evolution: EvolutionSection = dataclasses.field(default_factory=EvolutionSection)
    rl: RLSection = dataclasses.field(default_factory=RLSection)
    optim: OptimSection = dataclasses.field(default_factory=OptimSection)
    checkpoint: CheckpointSection = dataclasses.field(default_factory=CheckpointSection)


def parse_task(task: str) -> tuple[str, str]:
    env_id, _, variant = task.partition(":")
    return env_id, variant or ("pong" if env_id.endswith("-v5") else "identity")


def task_functions(task: str, seed: int):
    """``(obs_fn, reward_fn)`` of a task (preprocessing included)."""
    env_id, variant = parse_task(task)
    if variant in lunar_curriculum.SUBTASKS:
        if not env_id.startswith("LunarLander"):
            raise ValueError(f"sub-task {variant!r} needs a LunarLander env, got {env_id!r}")
        return preprocess, lunar_curriculum.reward_fn(variant)
    transform = transforms.observation_transform(variant, env_id.endswith("-v5"), seed)
    return (lambda o: preprocess(transform(o))), None


def validate(cfg: Config) -> None:

    try:
        ACConfig(**dataclasses.asdict(cfg.rl))
        evolution_config(cfg)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    check(len(cfg.sequences) >= 1, "sequences", cfg.sequences, "needs at least one list of tasks")
    check_choice("model.network", cfg.model.network, NETWORKS)
    for m in cfg.methods:
        check_choice("methods", m, METHODS)
    check("scratch" in cfg.methods, "methods", cfg.methods, "must include scratch (the speedup's reference)")
    for i, seq in enumerate(cfg.sequences):
        check(len(seq) >= 1, f"sequences[{i}]", seq, "needs at least one task")
        shapes = set()
        for task in seq:
            env_id, _ = parse_task(task)
            ecfg = EnvConfig(env_id, seed=cfg.seed, **dataclasses.asdict(cfg.env))
            try:
                check_env_config(ecfg)
                task_functions(task, cfg.seed)
            except ValueError as e:
                raise ConfigError(f"sequences[{i}]: {e}") from None
            obs_shape, num_actions = env_shapes(ecfg)
            shapes.add((obs_shape, num_actions))
            vector = len(obs_shape) == 1
            check(
                vector == (cfg.model.network == "mlp"),
                "model.network",
                cfg.model.network,
                f"{env_id} has {'vector' if vector else 'image'} observations: "
                f"use {'mlp' if vector else 'atari'}",
            )
        check(
            len(shapes) == 1,
            f"sequences[{i}]",
            seq,
            "all tasks need the same observation shape and action count "
            "(for different Atari games set env.full_action_space=true)",
        )
    for key in ("seeds", "steps_per_task", "chunk"):
        check(getattr(cfg, key) >= 1, key, getattr(cfg, key), "must be at least 1")
    check(cfg.env.num_envs >= 1, "env.num_envs", cfg.env.num_envs, "must be at least 1 (envs per path)")
    check(cfg.model.layers >= 1 and cfg.model.units >= 1, "model", cfg.model, "layers and units >= 1")
    check(
        1 <= cfg.model.max_active <= cfg.model.num_modules,
        "model.max_active",
        cfg.model.max_active,
        f"N must be in 1..num_modules (M={cfg.model.num_modules})",
    )
    check_choice("optim.optimizer", cfg.optim.optimizer, OPTIMIZERS)
    check(cfg.optim.lr > 0, "optim.lr", cfg.optim.lr, "must be positive")


def evolution_config(cfg: Config):

    e = cfg.evolution
    return EvolutionConfig(
        population=e.population,
        envs_per_path=cfg.env.num_envs,
        evolve_every=e.evolve_every,
        compare=e.compare,
        mutation_prob=e.mutation_prob or None,
        keep_fixed_path=e.keep_fixed_path,
        reset=e.reset,
    )


def make_net(cfg: Config, obs_shape: tuple[int, ...], num_actions: int, num_heads: int):

    m = cfg.model
    if m.network == "mlp":
        layers = tuple(Dense(m.units) for _ in range(m.layers))
        shape = obs_shape
    else:  # docs/papers.md 2.3: conv modules of 8 kernels, then a linear layer of 50 units
        layers = (Conv(8, 8, 4), Conv(8, 4, 2), Conv(8, 3, 1), Dense(50))
        frames, h, w = obs_shape
        shape = (h, w, frames)
    return PathNet(shape, layers, m.num_modules, m.max_active, num_heads, num_actions + 1)


def run(cfg: Config, run_dir: Path, *, resume: bool = False, quiet: bool = False) -> dict:

    validate(cfg)
    unitlib.begin(run_dir, cfg, resume)
    units = [
        (f"sequence {q} seed {cfg.seed + s} {method}", _unit(cfg, q, method, cfg.seed + s))
        for q in range(len(cfg.sequences))
        for s in range(cfg.seeds)
        for method in cfg.methods
    ]
    e = cfg.evolution
    header = [
        f"{cfg.experiment} ({cfg.preset}): {len(cfg.sequences)} sequence(s) x {cfg.seeds} seed(s) x "
        f"{len(cfg.methods)} method(s); {e.population} paths x {cfg.env.num_envs} envs, "
        f"L/M/N = {cfg.model.layers if cfg.model.network == 'mlp' else 4}/{cfg.model.num_modules}/"
        f"{cfg.model.max_active} ({cfg.model.network}), {cfg.rl.algorithm} t_max {cfg.rl.t_max}, "
        f"{cfg.steps_per_task:,} agent steps per task; {len(jax.devices())} device(s), "
        f"jax {jax.__version__} on {jax.devices()[0].platform}",
        *[f"  sequence {i}: {' -> '.join(s)}" for i, s in enumerate(cfg.sequences)],
    ]
    records, seconds = unitlib.run_units(
        run_dir, units, resume=resume, quiet=quiet, header=header, experiment=cfg.experiment
    )
    return summarize(cfg, run_dir, records, seconds, quiet, resume)


def _unit(cfg: Config, seq_index: int, method: str, seed: int):
    def work(ctx) -> list[dict]:

        t0 = time.perf_counter()
        seq = cfg.sequences[seq_index]
        tasks = seq[-1:] if method == "scratch" else seq
        ac = ACConfig(**dataclasses.asdict(cfg.rl))
        tx = make_optimizer(
            cfg.optim.optimizer, cfg.optim.lr, cfg.optim.grad_clip or None, **optim_kwargs(cfg)
        )
        evo = evolution_config(cfg)
        env_cache: dict = {}
        loops: dict = {}
        key = jax.random.key(seed)
        stages, locked = [], []
        first_cfg = EnvConfig(parse_task(tasks[0])[0], seed=seed, **dataclasses.asdict(cfg.env))
        net = make_net(cfg, *env_shapes(first_cfg), len(seq))
        trainer = PathNetAC(net, tx, ac, evo, obs_fn=task_functions(tasks[0], seed)[0])
        per_iteration = evo.population * evo.envs_per_path * ac.t_max  # agent steps, at most
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
                    state = trainer.next_task(
                        state, k_next, "pathnet" if method == "pathnet" else "finetune", initial
                    )
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
            baseline = pathnet_analysis.expected_reuse_of_locked(best, locked, cfg.model.num_modules)
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
            if method == "pathnet":
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


def summarize(
    cfg: Config, run_dir: Path, records: list[dict], seconds: float, quiet: bool, resumed: bool
) -> dict:

    paper = unitlib.load_paper(cfg.experiment)
    lines = [
        "| sequence | method | steps to criterion (target) | speedup vs scratch | training saved "
        "(target / incl. earlier tasks) | target AUC (best path) | final best-path return | reuse "
        "(target path) | random reuse |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    rows = []
    for q, seq in enumerate(cfg.sequences):
        scratch = {r["seed"]: r for r in records if r["sequence"] == q and r["method"] == "scratch"}
        for m in cfg.methods:
            rs = [r for r in records if r["sequence"] == q and r["method"] == m]
            speed = [
                scratch[r["seed"]]["target_steps"] / max(r["target_steps"], 1)
                for r in rs
                if r["seed"] in scratch
            ]
            saved = [
                scratch[r["seed"]]["target_steps"] - r["target_steps"] for r in rs if r["seed"] in scratch
            ]
            saved_all = [
                scratch[r["seed"]]["target_steps"] - r["target_steps"] - r["earlier_steps"]
                for r in rs
                if r["seed"] in scratch
            ]
            reached = sum(r["target_reached"] for r in rs)
            target_reuse = [r["stages"][-1]["reuse"] for r in rs]
            random_reuse = [r["stages"][-1]["random_reuse"] for r in rs]
            lines.append(
                f"| {' -> '.join(seq)} | {m} | {unitlib.fmt_ms([r['target_steps'] for r in rs], 0)} "
                f"({reached}/{len(rs)} reached) | {unitlib.fmt_ms(speed, 2)} | "
                f"{unitlib.fmt_ms(saved, 0)} / {unitlib.fmt_ms(saved_all, 0)} | "
                f"{unitlib.fmt_ms([unitlib.num(r['target_auc']) for r in rs])} | "
                f"{unitlib.fmt_ms([unitlib.num(r['target_final']) for r in rs])} | "
                + (
                    f"{unitlib.fmt_ms(target_reuse, 2)} | {unitlib.fmt_ms(random_reuse, 2)} |"
                    if m == "pathnet"
                    else "- | - |"
                )
            )
            rows.append(
                {
                    "sequence": q,
                    "method": m,
                    "speedup": float(np.mean(speed)) if speed else float("nan"),
                    "target_steps": float(np.mean([r["target_steps"] for r in rs])),
                    "reached": reached,
                    "training_saved": float(np.mean(saved)) if saved else float("nan"),
                    "training_saved_incl_earlier": float(np.mean(saved_all)) if saved_all else float("nan"),
                    "target_auc": float(np.mean([unitlib.num(r["target_auc"]) for r in rs])),
                }
            )
    per_task = [r for r in records if r["method"] == "pathnet"]
    if per_task:
        lines += [
            "",
            "| sequence | task | final best-path return | reuse per layer | random reuse per layer |",
            "|---|---|---|---|---|",
        ]
        for q, seq in enumerate(cfg.sequences):
            rs = [r for r in per_task if r["sequence"] == q]
            for t, task in enumerate(seq):
                per_layer = np.mean([r["stages"][t]["reuse_per_layer"] for r in rs], axis=0)
                rand = np.mean([r["stages"][t]["random_reuse_per_layer"] for r in rs], axis=0)
                finals = [unitlib.num(r["stages"][t]["final_best"]) for r in rs]
                lines.append(
                    f"| {q} | {task} | {unitlib.fmt_ms(finals)} | "
                    f"{' / '.join(f'{v:.2f}' for v in per_layer)} | {' / '.join(f'{v:.2f}' for v in rand)} |"
                )
    if paper.get("speedup"):
        published = ", ".join(f"{k} {v}" for k, v in paper["speedup"].items())
        lines += ["", "Paper (docs/papers.md 2.4): " + published]
    figures = plots.curves(
        {
            " -> ".join(seq): {
                m: [r["stages"][-1]["curve"] for r in records if r["sequence"] == q and r["method"] == m]
                for m in cfg.methods
            }
            for q, seq in enumerate(cfg.sequences[:6])
        },
        run_dir / "figures" / "target_curves",
        xlabel=f"fitness windows ({cfg.evolution.evolve_every} iterations)",
        ylabel="best path's mean return",
    )
    notes = [
        f"{cfg.seeds} seed(s); mean ± std over seeds. Criterion: best path's window return >= "
        f"{cfg.threshold:g} on the target; runs that never reach it count their whole budget "
        f"({cfg.steps_per_task:,} steps). Reuse: target-path modules in earlier locked paths (same "
        f"layer), random: as many random modules per layer. Total {seconds:.1f} s."
    ]
    return unitlib.finish(
        run_dir,
        cfg,
        rows=rows,
        table="\n".join(lines),
        seconds=seconds,
        resumed=resumed,
        figures=figures,
        quiet=quiet,
        notes=notes,
    )
