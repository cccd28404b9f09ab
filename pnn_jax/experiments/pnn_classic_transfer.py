"""pnn_classic_transfer: progressive nets vs baselines 1-4 on a CPU-scale RL transfer (PAPERS.md 1.4).

Source and target are the same envpool environment (default CartPole-v1) seen through different
observation transforms (:mod:`pnn_jax.envs.transforms`; default: source ``identity``, target
``mirror`` = negated and reversed features). Each method of :mod:`pnn_jax.train.transfer` trains
its stages with A2C (or PPO) inside compiled loops; the target stage's learning curve gives the
AUC, and the transfer score is AUC(method) / AUC(baseline 1) of the same seed, in % (PAPERS.md 1.4).

It exists so that every change to the RL stack is checked on real learning in minutes, not only on
smoke runs. No published numbers exist for this setting (no paper.yaml).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from pnn_jax.config import ConfigError, check, check_choice
from pnn_jax.experiments import units as unitlib
from pnn_jax.train import transfer

NAME = "pnn_classic_transfer"
SUMMARY = "PNN transfer on CartPole with transformed observations: progressive vs baselines 1-4, transfer %"
PRESETS = {"smoke": "~30 s", "quick": "~2 min (a documented return and transfer score)", "paper": "~10 min"}


@dataclasses.dataclass
class EnvSection:
    env_id: str = "CartPole-v1"
    """A vector-observation envpool env (CartPole-v1, LunarLander-v2, Acrobot-v1, ...)."""
    num_envs: int = 16
    max_episode_steps: int = 0
    """0 = envpool's default (500 for CartPole-v1)."""
    interface: str = "xla"
    """xla (envpool's XLA step inside jit) or host (numpy interface via a callback)."""


@dataclasses.dataclass
class ModelSection:
    widths: list[int] = dataclasses.field(default_factory=lambda: [32])
    lateral: str = "adapter"
    head_laterals: bool = True
    adapter_width: str = "in"
    alpha_init: float = 1.0


@dataclasses.dataclass
class RLSection:
    algorithm: str = "a2c"
    """a2c (A3C's synchronous form) or ppo."""
    t_max: int = 5
    gamma: float = 0.99
    entropy_cost: float = 0.01
    value_cost: float = 0.5
    clip_rewards: bool = False
    """Clip rewards to [-1, 1] for learning (Atari); CartPole's +1 rewards need no clipping."""
    gae_lambda: float = 0.95
    ppo_clip: float = 0.2
    ppo_epochs: int = 4
    ppo_minibatches: int = 4


@dataclasses.dataclass
class OptimSection:
    optimizer: str = "rmsprop"
    """rmsprop (A3C's: decay 0.99, eps 0.1), adam or sgd."""
    lr: float = 0.003
    grad_clip: float = 40.0


@dataclasses.dataclass
class Config:
    experiment: str = NAME
    preset: str = "quick"
    seed: int = 0
    seeds: int = 3
    """Runs per method, seeds seed .. seed+seeds-1 (a seed fixes parameters and env streams)."""
    sources: list[str] = dataclasses.field(default_factory=lambda: ["identity"])
    """Observation transforms of the source tasks (one column each in a progressive net)."""
    target: str = "mirror"
    methods: list[str] = dataclasses.field(default_factory=lambda: list(transfer.METHODS))
    reset_heads: bool = False
    iterations: int = 1500
    """Training iterations per stage (each: t_max steps of every env, then one update)."""
    chunk: int = 250
    """Iterations per compiled call (one lax.scan)."""
    window: int = 4000
    """Agent steps per learning-curve point (mean return of the episodes finished in the window)."""
    eval_episodes: int = 32
    """Greedy episodes on the target after training."""
    out_dir: str = "runs"
    env: EnvSection = dataclasses.field(default_factory=EnvSection)
    model: ModelSection = dataclasses.field(default_factory=ModelSection)
    rl: RLSection = dataclasses.field(default_factory=RLSection)
    optim: OptimSection = dataclasses.field(default_factory=OptimSection)


def _env_config(cfg: Config, seed: int):
    from pnn_jax.envs.envpool_env import EnvConfig

    return EnvConfig(
        cfg.env.env_id,
        num_envs=cfg.env.num_envs,
        seed=seed,
        interface=cfg.env.interface,
        max_episode_steps=cfg.env.max_episode_steps,
    )


def _ac_config(cfg: Config):
    from pnn_jax.rl.actor_critic import ACConfig

    r = cfg.rl
    return ACConfig(
        algorithm=r.algorithm,
        t_max=r.t_max,
        gamma=r.gamma,
        value_cost=r.value_cost,
        entropy_cost=r.entropy_cost,
        clip_rewards=r.clip_rewards,
        gae_lambda=r.gae_lambda,
        ppo_clip=r.ppo_clip,
        ppo_epochs=r.ppo_epochs,
        ppo_minibatches=r.ppo_minibatches,
    )


def validate(cfg: Config) -> None:
    from pnn_jax.envs import transforms
    from pnn_jax.envs.envpool_env import check_env_config
    from pnn_jax.train.optim import OPTIMIZERS

    try:
        check_env_config(_env_config(cfg, cfg.seed))
        _ac_config(cfg)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    check(not _env_config(cfg, 0).is_atari, "env.env_id", cfg.env.env_id, "use a vector-observation env here")
    for name in [*cfg.sources, cfg.target]:
        check_choice("sources/target", name, transforms.names(atari=False))
    check(len(cfg.sources) >= 1, "sources", cfg.sources, "needs at least one source task")
    for m in cfg.methods:
        check_choice("methods", m, transfer.METHODS)
    check(
        "baseline1" in cfg.methods,
        "methods",
        cfg.methods,
        "must include baseline1 (the transfer score's reference)",
    )
    check(cfg.seeds >= 1, "seeds", cfg.seeds, "must be at least 1")
    check(cfg.iterations >= 1, "iterations", cfg.iterations, "must be at least 1")
    check(cfg.chunk >= 1, "chunk", cfg.chunk, "must be at least 1")
    check(cfg.window >= 1, "window", cfg.window, "must be at least 1")
    check(cfg.eval_episodes >= 1, "eval_episodes", cfg.eval_episodes, "must be at least 1")
    check(
        len(cfg.model.widths) >= 1 and min(cfg.model.widths) >= 1,
        "model.widths",
        cfg.model.widths,
        "positive widths",
    )
    check_choice("model.lateral", cfg.model.lateral, ("adapter", "plain", "none"))
    check_choice("optim.optimizer", cfg.optim.optimizer, OPTIMIZERS)
    check(cfg.optim.lr > 0, "optim.lr", cfg.optim.lr, "must be positive")
    check(cfg.optim.grad_clip >= 0, "optim.grad_clip", cfg.optim.grad_clip, "must be >= 0 (0 = off)")


def curve_points(steps: np.ndarray, episodes: np.ndarray, returns: np.ndarray, window: int) -> list[float]:
    """The paper's learning-curve points: per window of ``window`` agent steps, the mean return of
    the episodes finished in it (PAPERS.md 1.3). Inputs are per iteration; a window without a
    finished episode repeats the previous point (0 before the first)."""
    cum = np.cumsum(steps)
    group = (cum - 1) // window
    points, last = [], 0.0
    for g in range(int(group[-1]) + 1 if len(group) else 0):
        sel = group == g
        n = episodes[sel].sum()
        last = float(returns[sel].sum() / n) if n else last
        points.append(last)
    return points


def run(cfg: Config, run_dir: Path, *, resume: bool = False, quiet: bool = False) -> dict:
    import jax

    from pnn_jax import config as cfglib
    from pnn_jax.rundir import CONFIG_FILE, prepare_run_dir

    validate(cfg)
    if not resume:
        prepare_run_dir(run_dir)
        (run_dir / CONFIG_FILE).write_text(cfglib.to_yaml(cfg))
    units = [
        (f"{method} seed {cfg.seed + s}", _unit(cfg, method, cfg.seed + s))
        for s in range(cfg.seeds)
        for method in cfg.methods
    ]
    header = [
        f"{NAME} ({cfg.preset}): {cfg.env.env_id} x {cfg.env.num_envs} envs ({cfg.env.interface}); sources "
        f"{cfg.sources} -> target {cfg.target}; {cfg.rl.algorithm}, t_max {cfg.rl.t_max}, "
        f"{cfg.optim.optimizer} lr {cfg.optim.lr}; {cfg.iterations} iterations per stage; "
        f"{cfg.seeds} seed(s); "
        f"jax {jax.__version__} on {jax.devices()[0].platform}"
    ]
    records, seconds = unitlib.run_units(run_dir, units, resume=resume, quiet=quiet, header=header)
    return summarize(cfg, run_dir, records, seconds, quiet, resume)


def _unit(cfg: Config, method: str, seed: int):
    def work() -> list[dict]:
        import jax

        from pnn_jax.envs import transforms
        from pnn_jax.envs.envpool_env import VecEnv
        from pnn_jax.nets.columns import mlp_column
        from pnn_jax.nets.progressive import ProgressiveNet
        from pnn_jax.rl.actor_critic import make_evaluate, make_loop, start
        from pnn_jax.train.optim import make_optimizer

        t0 = time.perf_counter()
        plan = transfer.transfer_plan(method, len(cfg.sources), cfg.reset_heads)
        env = VecEnv(_env_config(cfg, seed))
        column = mlp_column(env.obs_shape[0], cfg.model.widths, {"policy": env.num_actions, "value": 1})
        net = ProgressiveNet(
            column,
            plan.max_columns,
            lateral=cfg.model.lateral,
            head_laterals=cfg.model.head_laterals,
            adapter_width=cfg.model.adapter_width,
            alpha_init=cfg.model.alpha_init,
        )
        tx = make_optimizer(cfg.optim.optimizer, cfg.optim.lr, cfg.optim.grad_clip or None)
        key = jax.random.key(seed)
        params = net.init(key)
        ac = _ac_config(cfg)
        loops = {}
        stages = []
        for stage in plan.stages:
            name = (
                cfg.target if stage.task == "target" else cfg.sources[int(stage.task.removeprefix("source"))]
            )
            if name not in loops:
                loops[name] = make_loop(
                    net, tx, env, ac, cfg.chunk, transforms.observation_transform(name, False)
                )
            key, k_stage, k_actor = jax.random.split(key, 3)
            state = transfer.stage_state(net, params, tx, stage, k_stage)
            actor = start(env, k_actor)
            steps, eps, rets = [], [], []
            done = 0
            while done < cfg.iterations:
                state, actor, m = loops[name](state, actor)
                m = jax.device_get(m)
                take = min(cfg.chunk, cfg.iterations - done)
                steps.append(m["agent_steps"][:take])
                eps.append(m["episodes"][:take])
                rets.append(m["episode_return_sum"][:take])
                done += take
            params = state.params
            pts = curve_points(np.concatenate(steps), np.concatenate(eps), np.concatenate(rets), cfg.window)
            stages.append(
                {
                    "task": stage.task,
                    "transform": name,
                    "column": stage.column,
                    "scope": stage.scope,
                    "curve": pts,
                    "agent_steps": int(np.concatenate(steps).sum()),
                }
            )
        target_col = plan.column_for("target")
        evaluate = make_evaluate(
            net, env, cfg.eval_episodes, transform=transforms.observation_transform(cfg.target, False)
        )
        key, k_eval = jax.random.split(key)
        _, ev = evaluate(params, target_col, start(env, k_eval))
        target = stages[-1]
        return [
            {
                "method": method,
                "seed": seed,
                "columns": plan.max_columns,
                "stages": stages,
                "target_curve": target["curve"],
                "auc": float(np.mean(target["curve"])),
                "final": float(np.mean(target["curve"][-3:])),
                "eval_return": float(ev["return"]),
                "seconds": time.perf_counter() - t0,
            }
        ]

    return work


def summarize(
    cfg: Config, run_dir: Path, records: list[dict], seconds: float, quiet: bool, resumed: bool
) -> dict:
    from pnn_jax import plots

    base = {r["seed"]: r["auc"] for r in records if r["method"] == "baseline1"}
    rows, lines = (
        [],
        [
            "| method | columns | target AUC (mean return) | transfer (AUC / baseline 1) | final return "
            "| greedy eval return |",
            "|---|---|---|---|---|---|",
        ],
    )
    for m in cfg.methods:
        rs = [r for r in records if r["method"] == m]
        score = [100 * r["auc"] / base[r["seed"]] for r in rs if base.get(r["seed"])]
        row = {
            "method": m,
            "columns": rs[0]["columns"],
            "auc": float(np.mean([r["auc"] for r in rs])),
            "transfer_pct": float(np.mean(score)),
            "final": float(np.mean([r["final"] for r in rs])),
            "eval_return": float(np.mean([r["eval_return"] for r in rs])),
        }
        rows.append(row)
        cells = [
            mean_std_text([r["auc"] for r in rs]),
            f"{mean_std_text(score, 0)}%",
            mean_std_text([r["final"] for r in rs]),
            mean_std_text([r["eval_return"] for r in rs]),
        ]
        lines.append(f"| {m} | {row['columns']} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    window_k = cfg.window / 1000
    figures = plots.curves(
        {
            f"target ({cfg.target})": {
                m: [r["target_curve"] for r in records if r["method"] == m] for m in cfg.methods
            }
        },
        run_dir / "figures" / "target_curves",
        xlabel=f"agent steps (x {window_k:g}k)",
        ylabel="mean episode return",
    )
    notes = [
        f"{cfg.seeds} seed(s) per method; mean ± std over seeds. Transfer = AUC of the target learning curve "
        f"(points every {cfg.window} agent steps) over baseline 1's of the same seed (PAPERS.md 1.4). "
        f"Total {seconds:.1f} s."
    ]
    summary = {
        "experiment": NAME,
        "preset": cfg.preset,
        "rows": rows,
        "table": table,
        "wall_time_s": seconds,
        "resumed": resumed,
        "figures": [str(p.relative_to(run_dir)) for p in figures],
    }
    return unitlib.finish(run_dir, unitlib.jsonable(summary), table, quiet, notes)


def mean_std_text(values, digits: int = 1) -> str:
    a = np.asarray(values, float)
    return f"{a.mean():.{digits}f} ± {a.std():.{digits}f}" if a.size else "-"
