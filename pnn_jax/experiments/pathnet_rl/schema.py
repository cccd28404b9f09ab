"""The PathNet RL protocol's config, its checks and what derives from it (docs/papers.md 2.2-2.4).

The protocol, shared by ``pathnet_atari`` and ``pathnet_lunarlander_curriculum``:

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

from pnn_jax import methods, ranges
from pnn_jax.config import check, check_choice, check_methods, check_section
from pnn_jax.envs import lunar_curriculum, transforms
from pnn_jax.envs.envpool_env import EnvSettings
from pnn_jax.experiments.rl_transfer.schema import (
    CheckpointSection,
    OptimSection,
    check_tasks,
    env_section,
    parse_task,
    rl_section,
)
from pnn_jax.nets.columns import Conv, Dense
from pnn_jax.nets.pathnet import PathNet
from pnn_jax.rl.pathnet_ac import EvolutionConfig
from pnn_jax.rl.policy import ACConfig, preprocess
from pnn_jax.train.optim import OPTIMIZERS

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
    modules: int = 8
    """M, modules per layer (Atari: 10)."""
    active: int = 2
    """N, at most this many distinct modules per layer in a path (Atari: 4)."""


def search_section() -> EvolutionConfig:
    """The ``search`` section: the path search's own config, with a fitness window of 10
    iterations (the library's default is 20)."""
    return EvolutionConfig(evolve_every=10)


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
    methods: list[str] = dataclasses.field(default_factory=lambda: list(methods.names("pathnet")))
    """pathnet (paths evolved over one shared bank, locked and reused) and/or scratch (each task
    alone, from a fresh network)."""
    steps_per_task: int = 400_000
    """Agent-step budget of every task (rounded up to whole compiled chunks)."""
    chunk: int = 20
    """Iterations per compiled call."""
    threshold: float = ranges.field(100.0)
    """Target return defining the time to criterion for the speedup."""
    out_dir: str = "runs"
    """Root of run directories: <out_dir>/<experiment>/<date>_<time>_<id>/."""
    env: EnvSettings = dataclasses.field(default_factory=env_section)
    """env.num_envs = envs of each path."""
    model: ModelSection = dataclasses.field(default_factory=ModelSection)
    search: EvolutionConfig = dataclasses.field(default_factory=search_section)
    rl: ACConfig = dataclasses.field(default_factory=rl_section)
    optim: OptimSection = dataclasses.field(default_factory=OptimSection)
    checkpoint: CheckpointSection = dataclasses.field(default_factory=CheckpointSection)


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

    check_section("rl", cfg.rl)
    check_section("search", cfg.search)
    check(len(cfg.sequences) >= 1, "sequences", cfg.sequences, "needs at least one list of tasks")
    check_choice("model.network", cfg.model.network, NETWORKS)
    check_methods("methods", cfg.methods, "pathnet")
    for i, seq in enumerate(cfg.sequences):
        check(len(seq) >= 1, f"sequences[{i}]", seq, "needs at least one task")
        check_tasks(
            cfg.env,
            cfg.seed,
            cfg.model.network,
            seq,
            f"sequences[{i}]",
            lambda task, ecfg: task_functions(task, cfg.seed),
            image_networks="atari",
        )
    for key in ("seeds", "steps_per_task", "chunk"):
        check(getattr(cfg, key) >= 1, key, getattr(cfg, key), "must be at least 1")
    check(cfg.env.num_envs >= 1, "env.num_envs", cfg.env.num_envs, "must be at least 1 (envs per path)")
    check(cfg.model.layers >= 1 and cfg.model.units >= 1, "model", cfg.model, "layers and units >= 1")
    check(
        1 <= cfg.model.active <= cfg.model.modules,
        "model.active",
        cfg.model.active,
        f"N must be in 1..modules (M={cfg.model.modules})",
    )
    check_choice("optim.optimizer", cfg.optim.optimizer, OPTIMIZERS)


def make_net(cfg: Config, obs_shape: tuple[int, ...], num_actions: int, num_heads: int):

    m = cfg.model
    if m.network == "mlp":
        layers = tuple(Dense(m.units) for _ in range(m.layers))
        shape = obs_shape
    else:  # docs/papers.md 2.3: conv modules of 8 kernels, then a linear layer of 50 units
        layers = (Conv(8, 8, 4), Conv(8, 4, 2), Conv(8, 3, 1), Dense(50))
        frames, h, w = obs_shape
        shape = (h, w, frames)
    return PathNet(shape, layers, m.modules, m.active, num_heads, num_actions + 1)
