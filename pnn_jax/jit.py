"""``counted_jit``: ``jax.jit`` that counts how often its function is traced.

Every training step in pnn_jax is built with it, so tests can assert that many steps (and switching
the trained column, or evaluating new PathNet paths) trace exactly once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax


class counted_jit:
    """``counted_jit(fn, **jit_kwargs)``: a jitted ``fn`` with a ``traces`` counter."""

    def __init__(self, fn: Callable, **jit_kwargs):

        self.traces = 0

        @functools.wraps(fn)
        def traced(*args, **kwargs):
            self.traces += 1  # runs only while jax traces, never at execution
            return fn(*args, **kwargs)

        self._jitted = jax.jit(traced, **jit_kwargs)
        functools.update_wrapper(self, fn)

    def __call__(self, *args, **kwargs):
        return self._jitted(*args, **kwargs)

    def lower(self, *args, **kwargs):
        return self._jitted.lower(*args, **kwargs)
