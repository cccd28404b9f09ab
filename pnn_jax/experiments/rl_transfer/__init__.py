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
The package: :mod:`.schema` (config, checks), :mod:`.sequential` (a (pair, seed, method) unit),
:mod:`.population` (``population=true``: the whole sweep as one compiled population), and here the
protocol. The table is :func:`pnn_jax.tables.pnn.rl_transfer_table`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from pnn_jax.analysis import transfer as tr
from pnn_jax.experiments.rl_transfer.population import population_unit
from pnn_jax.experiments.rl_transfer.schema import Config, PairSpec, pair_label, source_iterations, validate
from pnn_jax.experiments.rl_transfer.sequential import pair_unit
from pnn_jax.experiments.runner import Plan, Protocol
from pnn_jax.experiments.units import num
from pnn_jax.tables.core import Options, Run
from pnn_jax.tables.pnn import method_key, method_of, pnn_scores
from pnn_jax.tables.records import PNN_RL

__all__ = ["Config", "PairSpec", "RLTransfer", "validate"]


class RLTransfer(Protocol):
    """Every (pair, seed, method) of the config, one unit each (or one population unit)."""

    Config = Config
    records = PNN_RL
    table = "rl_transfer"

    def validate(self, cfg: Config) -> None:
        validate(cfg)

    def plan(self, cfg: Config) -> Plan:
        if cfg.population:
            units = [("population: every pair, seed and method", population_unit(cfg))]
        else:
            units = [
                (f"pair {p} seed {cfg.seed + s} {method}", pair_unit(cfg, p, method, cfg.seed + s))
                for p in range(len(cfg.pairs))
                for s in range(cfg.seeds)
                for method in cfg.methods
            ]
        header = [
            f"{cfg.experiment} ({cfg.preset}): {len(cfg.pairs)} pair(s) x {cfg.seeds} seed(s) x "
            f"{len(cfg.methods)} method(s); {cfg.env.num_envs} envs ({cfg.env.interface}), "
            f"{cfg.model.network} columns, {cfg.rl.algorithm} t_max {cfg.rl.t_max}, {cfg.optim.optimizer} "
            f"lr {cfg.optim.lr}; {cfg.iterations} iterations per stage"
            f"{f' ({source_iterations(cfg)} per source stage)' if cfg.source_iterations else ''}; "
            f"{'one population' if cfg.population else 'one run at a time'}",
            *[f"  pair {i}: {pair_label(p)}" for i, p in enumerate(cfg.pairs)],
        ]
        return Plan(units, header)

    def rows(self, cfg: Config, records: list[dict]) -> list[dict]:
        """Per method (progressive nets per column count): mean and median transfer % over pairs
        (the scores of :func:`pnn_jax.tables.pnn.pnn_scores`, as the table's), mean AUC and greedy
        return."""
        scores, _, _ = pnn_scores([Run(None, dataclasses.asdict(cfg), records, {})], Options())
        keys = list(dict.fromkeys(method_key(r) for r in records))
        order = [k for m in cfg.methods for k in sorted(keys) if method_of(k) == m]
        rows = []
        for key in order:
            mean, median = tr.mean_median([v for (_, k), v in scores.items() if k == key])
            mine = [r for r in records if method_key(r) == key]
            rows.append(
                {
                    "method": key.replace("_columns", " columns").replace("progressive_", "progressive, "),
                    "transfer_mean_pct": mean,
                    "transfer_median_pct": median,
                    "auc": float(np.mean([num(r["auc"]) for r in mine])),
                    "eval_return": float(np.mean([num(r["eval_return"]) for r in mine])),
                }
            )
        return rows
