"""The paper's transfer setups as configurations of one progressive net (docs/papers.md 1.4).

Each method is a net capacity and a list of stages; a stage trains one column (or only its output
layer) on one task with everything else frozen:

==============  ========  ===============================================================
method          columns   stages
==============  ========  ===============================================================
baseline1       1         target: column 0
baseline2       1         source: column 0; target: column 0, output layer only
baseline3       1         source: column 0; target: column 0, all of it (fine-tuning)
baseline4       2         target: column 1 (column 0 stays random and frozen)
progressive     n+1       source i: column i (i = 0..n-1); target: column n
==============  ========  ===============================================================

For baselines 2 and 3 the output layer carries over from the source task (the paper fine-tunes
it); ``reset_heads`` re-initialises it before the target stage instead.
"""

from __future__ import annotations

import dataclasses

from pnn_jax.train.progressive import init_state

METHODS = ("baseline1", "baseline2", "baseline3", "baseline4", "progressive")


@dataclasses.dataclass(frozen=True)
class Stage:
    """Train ``column`` on ``task`` (``"source0"``, ``"source1"``, ..., or ``"target"``).

    ``scope``: ``"column"`` (all of the column) or ``"heads"`` (its output layer only).
    ``reset_heads``: re-initialise the column's heads before this stage.
    """

    task: str
    column: int
    scope: str = "column"
    reset_heads: bool = False


@dataclasses.dataclass(frozen=True)
class TransferPlan:
    method: str
    max_columns: int
    stages: tuple[Stage, ...]

    def column_for(self, task: str) -> int:
        """The column that answers ``task`` after the plan ran (the last stage that trained it)."""
        cols = [s.column for s in self.stages if s.task == task]
        if not cols:
            raise KeyError(f"{self.method} never trains on {task!r}")
        return cols[-1]

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.task for s in self.stages))


def transfer_plan(method: str, num_sources: int = 1, reset_heads: bool = False) -> TransferPlan:
    """The plan of ``method`` (one of :data:`METHODS`) with ``num_sources`` source tasks.

    Baselines use only the last source (``source{num_sources-1}``); a progressive net with
    ``num_sources`` sources has ``num_sources + 1`` columns.
    """
    if method not in METHODS:
        raise ValueError(f"unknown transfer method {method!r}; choose one of {METHODS}")
    if num_sources < 1:
        raise ValueError(f"num_sources must be >= 1, got {num_sources}")
    src = f"source{num_sources - 1}"
    if method == "baseline1":
        return TransferPlan(method, 1, (Stage("target", 0),))
    if method == "baseline2":
        return TransferPlan(method, 1, (Stage(src, 0), Stage("target", 0, "heads", reset_heads=reset_heads)))
    if method == "baseline3":
        return TransferPlan(method, 1, (Stage(src, 0), Stage("target", 0, reset_heads=reset_heads)))
    if method == "baseline4":
        return TransferPlan(method, 2, (Stage("target", 1),))
    sources = tuple(Stage(f"source{i}", i) for i in range(num_sources))
    return TransferPlan(method, num_sources + 1, (*sources, Stage("target", num_sources)))


def stage_state(net, params, tx, stage: Stage, key):
    """The :class:`~pnn_jax.train.progressive.TrainState` that trains ``stage``.

    Re-initialises the column's heads first if ``stage.reset_heads``; the trainable mask covers
    ``stage.column`` (all of it, or only its heads); the optimiser state is fresh.
    """
    if stage.reset_heads:
        params = net.reset_heads(params, key, stage.column)
    return init_state(net, params, tx, stage.column, stage.scope)


def column_weights(params, column: int) -> dict:
    """The own weights of ``column`` (kernels and biases of its hidden layers and heads, no
    laterals): ``{"hidden": [{"w", "b"}...], "heads": {name: {"w", "b"}}}`` without the column axis.
    Column 0 has no lateral inputs, so these are all of a first column's parameters."""
    own = lambda layer: {"w": layer["w"][column], "b": layer["b"][column]}  # noqa: E731
    return {
        "hidden": [own(layer) for layer in params["hidden"]],
        "heads": {name: own(layer) for name, layer in params["heads"].items()},
    }


def with_column_weights(params, column: int, weights: dict):
    """``params`` with ``column``'s own weights replaced by ``weights`` (as :func:`column_weights`
    returns them, e.g. from a net of another capacity); everything else unchanged."""

    def put(layer, own):
        return {
            **layer,
            "w": layer["w"].at[column].set(own["w"]),
            "b": layer["b"].at[column].set(own["b"]),
        }

    return {
        **params,
        "hidden": [put(layer, own) for layer, own in zip(params["hidden"], weights["hidden"], strict=True)],
        "heads": {name: put(layer, weights["heads"][name]) for name, layer in params["heads"].items()},
    }
