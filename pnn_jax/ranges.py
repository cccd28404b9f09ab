"""Declared ranges of numeric config keys: each float field of a config dataclass says which values
it allows, and one walk checks them all.

A field is declared with :func:`field` (``threshold: float | None = ranges.field(0.99, low=0,
high=1, low_open=True, none="no early stop")``); :func:`violations` walks a config (nested
dataclasses, lists of them, lists of floats element by element) and yields every value outside its
range; :func:`check` raises the first as a one-line ``ValueError``. Values must be finite: NaN and
infinities are outside every range. Stdlib only, so library configs (:class:`pnn_jax.rl.policy.ACConfig`)
and experiment schemas declare their ranges the same way.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from typing import Any

KEY = "range"
"""The ``dataclasses.field`` metadata key that holds a field's :class:`Range`."""


@dataclasses.dataclass(frozen=True)
class Range:
    """Finite numbers from ``low`` to ``high`` (None: unbounded on that side; ``*_open``: the end
    itself excluded); ``none``, if set, says what a null value means (null is then allowed)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    none: str | None = None

    def __contains__(self, value: Any) -> bool:
        if value is None:
            return self.none is not None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return self.high is None or not (value > self.high or (self.high_open and value == self.high))

    def describe(self) -> str:
        """``"a number in (0, 1], or null (no early stop)"``."""
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            text = f"a number in {left}{self.low:g}, {self.high:g}{right}"
        elif self.low is not None:
            text = f"a number {'>' if self.low_open else '>='} {self.low:g}"
        elif self.high is not None:
            text = f"a number {'<' if self.high_open else '<='} {self.high:g}"
        else:
            text = "a finite number"
        return f"{text}, or null ({self.none})" if self.none is not None else text

    def outside(self) -> list[float]:
        """Values just outside the range (its open ends, beyond its ends, NaN): what a test tries."""
        values: list[float] = [math.nan, math.inf]
        if self.low is not None:
            values += [self.low] if self.low_open else []
            values += [self.low - max(1.0, abs(self.low))]
        if self.high is not None:
            values += [self.high] if self.high_open else []
            values += [self.high + max(1.0, abs(self.high))]
        return values


def field(default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING, **bounds) -> Any:
    """A dataclass field with a declared :class:`Range` (``bounds`` are its arguments)."""
    metadata = {KEY: Range(**bounds)}
    return dataclasses.field(default=default, default_factory=default_factory, metadata=metadata)


def range_of(f: dataclasses.Field) -> Range | None:
    """The declared range of field ``f`` (None if it declares none)."""
    return f.metadata.get(KEY)


def violations(obj: Any, prefix: str = "") -> Iterator[tuple[str, Any, Range]]:
    """``(key, value, range)`` for every value of the config ``obj`` outside its declared range;
    keys are dotted paths (``search.threshold``, ``pairs[1].x``); a list of numbers is checked
    element by element under its own key (``population.lr``)."""
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        return
    for f in dataclasses.fields(obj):
        value, key, declared = getattr(obj, f.name), prefix + f.name, range_of(f)
        if declared is not None:
            if isinstance(value, list | tuple):
                yield from ((key, v, declared) for v in value if v not in declared)
            elif value not in declared:
                yield key, value, declared
        elif dataclasses.is_dataclass(value):
            yield from violations(value, key + ".")
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                yield from violations(item, f"{key}[{i}].")


def check(obj: Any, prefix: str = "") -> None:
    """Raise ``ValueError("key=value is not allowed: <range>")`` for the first value of ``obj``
    outside its declared range."""
    for key, value, declared in violations(obj, prefix):
        raise ValueError(f"{key}={value!r} is not allowed: {declared.describe()}")
