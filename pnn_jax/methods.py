"""The transfer methods the two papers compare, as one registry of objects.

A method is what a row of a result table is named after. Configs and records name it by
``name``; everything else that differs between methods (the table label, which tasks it trains
on, the stages of a progressive net, whether its path is locked, whether AFS is measured on it)
is a field here, so code asks the method instead of comparing names.

Two families:

``"progressive"`` -- the PNN paper's methods (docs/papers.md 1.4), each a capacity of one
progressive net and a list of stages; a stage trains one column (or only its output layer) on one
task with everything else frozen:

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

``"pathnet"`` -- the PathNet paper's comparison (docs/papers.md 2.4-2.6): ``pathnet`` fixes the
best path of the source task and re-initialises the rest; ``finetune`` keeps every module
trainable and trained; ``scratch`` learns the target alone (the paper's "independent" control).

This module is plain Python (no JAX), so the tables can read labels without loading a framework.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

FAMILIES = ("progressive", "pathnet")


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
    """A progressive-family method's net capacity (``max_columns``) and ``stages``, in order."""

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


# (num_sources, reset_heads) -> (max_columns, stages); baselines use only the last source.
StagesFn = Callable[[int, bool], tuple[int, tuple[Stage, ...]]]


@dataclasses.dataclass(frozen=True)
class Method:
    """One method of a family.

    ``label``: the table label. ``learns_source``: trains on a source task before the target.
    ``reference``: the method the others are measured against (baseline 1, scratch).
    ``sensitivity``: AFS/APS are measured on its target column (PNN paper section 5.1).
    ``grows``: one column per source task, so its table key carries the column count.
    ``locks_path``: fixes the best source path before the target (PathNet).
    ``paper_name``: the name the paper's own table uses, where it differs.
    """

    name: str
    family: str
    label: str
    learns_source: bool
    reference: bool = False
    sensitivity: bool = False
    grows: bool = False
    locks_path: bool = False
    paper_name: str = ""
    stages: StagesFn | None = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def short_label(self) -> str:
        """``Baseline 2`` rather than ``Baseline 2 (source column, output layer fine-tuned)``."""
        return self.label.split(" (")[0]

    def plan(self, num_sources: int = 1, reset_heads: bool = False) -> TransferPlan:
        """The progressive net capacity and stages of this method with ``num_sources`` sources."""
        if self.stages is None:
            raise ValueError(f"{self.name} is a {self.family} method; only progressive methods have a plan")
        if num_sources < 1:
            raise ValueError(f"num_sources must be >= 1, got {num_sources}")
        columns, stages = self.stages(num_sources, reset_heads)
        return TransferPlan(self.name, columns, stages)


def _last(n: int) -> str:
    return f"source{n - 1}"


_REGISTRY = (
    Method(
        "baseline1",
        "progressive",
        "Baseline 1 (single column, target only)",
        learns_source=False,
        reference=True,
        stages=lambda n, reset: (1, (Stage("target", 0),)),
    ),
    Method(
        "baseline2",
        "progressive",
        "Baseline 2 (source column, output layer fine-tuned)",
        learns_source=True,
        stages=lambda n, reset: (1, (Stage(_last(n), 0), Stage("target", 0, "heads", reset_heads=reset))),
    ),
    Method(
        "baseline3",
        "progressive",
        "Baseline 3 (source column, fully fine-tuned)",
        learns_source=True,
        stages=lambda n, reset: (1, (Stage(_last(n), 0), Stage("target", 0, reset_heads=reset))),
    ),
    Method(
        "baseline4",
        "progressive",
        "Baseline 4 (random frozen first column)",
        learns_source=False,
        sensitivity=True,
        stages=lambda n, reset: (2, (Stage("target", 1),)),
    ),
    Method(
        "progressive",
        "progressive",
        "Progressive",
        learns_source=True,
        sensitivity=True,
        grows=True,
        stages=lambda n, reset: (n + 1, (*(Stage(f"source{i}", i) for i in range(n)), Stage("target", n))),
    ),
    Method("pathnet", "pathnet", "pathnet", learns_source=True, locks_path=True),
    Method("finetune", "pathnet", "finetune", learns_source=True),
    Method("scratch", "pathnet", "scratch", learns_source=False, reference=True, paper_name="independent"),
)
METHODS: dict[str, Method] = {m.name: m for m in _REGISTRY}


def names(family: str) -> tuple[str, ...]:
    """The methods of ``family``, in table order."""
    if family not in FAMILIES:
        raise ValueError(f"unknown method family {family!r}; choose one of {FAMILIES}")
    return tuple(m.name for m in _REGISTRY if m.family == family)


def get(name: str, family: str | None = None) -> Method:
    """The method called ``name`` (of ``family``, if given); a one-line error naming the choices."""
    allowed = names(family) if family else tuple(METHODS)
    if name not in allowed:
        raise ValueError(f"unknown {family + ' ' if family else ''}method {name!r}; choose one of {allowed}")
    return METHODS[name]


def reference(family: str) -> Method:
    """The method ``family``'s others are measured against (baseline 1, scratch)."""
    return next(m for m in _REGISTRY if m.family == family and m.reference)


def order(name: str) -> int:
    """Position of ``name`` in the registry (table rows follow it); unknown names go last."""
    return list(METHODS).index(name) if name in METHODS else len(METHODS)
