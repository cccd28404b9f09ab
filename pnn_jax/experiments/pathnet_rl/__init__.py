"""The PathNet transfer protocol in reinforcement learning (docs/papers.md 2.2-2.4), shared by
``pathnet_atari`` and ``pathnet_lunarlander_curriculum``.

A unit is one (sequence, seed, method) run (:mod:`.unit`); the config and its checks are in
:mod:`.schema`; a record per unit (:data:`pnn_jax.tables.records.PATHNET_RL`); the table is
:func:`pnn_jax.tables.pathnet_rl.pathnet_rl_table`.
"""

from __future__ import annotations

import numpy as np

from pnn_jax import methods
from pnn_jax.analysis import speedup
from pnn_jax.experiments.pathnet_rl.schema import Config, validate
from pnn_jax.experiments.pathnet_rl.unit import sequence_unit
from pnn_jax.experiments.runner import Plan, Protocol
from pnn_jax.experiments.units import num
from pnn_jax.tables.records import PATHNET_RL

__all__ = ["Config", "PathNetRL"]


class PathNetRL(Protocol):
    """PathNet, fine-tuning and scratch over each task sequence (speedup on its last task)."""

    Config = Config
    records = PATHNET_RL
    table = "pathnet_rl"

    def validate(self, cfg: Config) -> None:
        validate(cfg)

    def plan(self, cfg: Config) -> Plan:
        units = [
            (f"sequence {q} seed {cfg.seed + s} {method}", sequence_unit(cfg, q, method, cfg.seed + s))
            for q in range(len(cfg.sequences))
            for s in range(cfg.seeds)
            for method in cfg.methods
        ]
        e, m = cfg.search, cfg.model
        header = [
            f"{cfg.experiment} ({cfg.preset}): {len(cfg.sequences)} sequence(s) x {cfg.seeds} seed(s) x "
            f"{len(cfg.methods)} method(s); {e.population} paths x {cfg.env.num_envs} envs, "
            f"L/M/N = {m.layers if m.network == 'mlp' else 4}/{m.modules}/{m.active} "
            f"({m.network}), {cfg.rl.algorithm} t_max {cfg.rl.t_max}, {cfg.steps_per_task:,} agent steps "
            "per task",
            *[f"  sequence {i}: {' -> '.join(s)}" for i, s in enumerate(cfg.sequences)],
        ]
        return Plan(units, header)

    def rows(self, cfg: Config, records: list[dict]) -> list[dict]:
        """Per (sequence, method): mean speedup over seeds (per-run ratios), target steps, seeds
        that reached the criterion, training saved and target AUC."""
        rows = []
        for q in range(len(cfg.sequences)):
            ref = methods.reference("pathnet").name
            scratch = {r["seed"]: r for r in records if r["sequence"] == q and r["method"] == ref}
            for m in cfg.methods:
                rs = [r for r in records if r["sequence"] == q and r["method"] == m]
                paired = [r for r in rs if r["seed"] in scratch]
                ratios = speedup.per_run_ratios(
                    {r["seed"]: scratch[r["seed"]]["target_steps"] for r in paired},
                    {r["seed"]: r["target_steps"] for r in paired},
                )
                saved = [scratch[r["seed"]]["target_steps"] - r["target_steps"] for r in paired]
                saved_all = [s - r["earlier_steps"] for s, r in zip(saved, paired, strict=True)]
                rows.append(
                    {
                        "sequence": q,
                        "method": m,
                        "speedup": float(np.mean(ratios)) if ratios else float("nan"),
                        "target_steps": float(np.mean([r["target_steps"] for r in rs])),
                        "reached": sum(r["target_reached"] for r in rs),
                        "training_saved": float(np.mean(saved)) if saved else float("nan"),
                        "training_saved_incl_earlier": float(np.mean(saved_all))
                        if saved_all
                        else float("nan"),
                        "target_auc": float(np.mean([num(r["target_auc"]) for r in rs])),
                    }
                )
        return rows
