"""Checkpoints with orbax: save every N steps and at task boundaries, restore with fallback.

A checkpoint holds two items: ``state``, a pytree of arrays (parameters, optimiser state, trainable
masks, PRNG key data, counters) and ``meta``, a JSON object (the run's position: which method,
stage and step, results so far, and the SHA-256 of every frozen column). orbax writes each step
into a temporary directory and renames it when complete, so a process killed during a save leaves
the previous checkpoints intact; only the newest ``max_to_keep`` are kept.

Restoring takes the newest step that reads back. A step that fails to read (truncated or corrupted
files) is reported with a warning naming it and the step used instead; nothing is deleted.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orbax.checkpoint as ocp


@contextlib.contextmanager
def _quiet_asyncio() -> Iterator[None]:
    """orbax's failed reads also log "exception never retrieved" from asyncio; the warning we give
    already says what happened, so keep stderr to that one line."""
    logger = logging.getLogger("asyncio")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


class CheckpointError(RuntimeError):
    """No checkpoint could be restored, or a restored one failed its integrity checks."""


class Checkpointer:
    """Save and restore ``(state pytree, meta dict)`` pairs under ``directory``."""

    def __init__(self, directory: Path | str, max_to_keep: int = 3):
        self.directory = Path(directory).resolve()
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True),
            item_names=("state", "meta"),
        )

    def steps(self) -> list[int]:
        """Finalised checkpoint steps, oldest first (unfinished temporary saves are not listed)."""
        return sorted(self._manager.all_steps())

    def save(self, step: int, state: Any, meta: dict) -> None:
        """Save ``state`` and ``meta`` as checkpoint ``step`` (written in the background)."""
        self._manager.save(
            step,
            args=ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)),
        )

    def wait(self) -> None:
        """Block until every save started so far is on disk."""
        self._manager.wait_until_finished()

    def close(self) -> None:
        self._manager.wait_until_finished()
        self._manager.close()

    def restore_latest(
        self, template_for: Callable[[dict], Any], verify: Callable[[Any, dict], None] | None = None
    ) -> tuple[int, Any, dict]:
        """The newest checkpoint that reads back and passes ``verify``: ``(step, state, meta)``.

        ``template_for(meta)`` returns a pytree with the structure, shapes and dtypes of the state
        saved with that meta. ``verify(state, meta)`` raises :class:`CheckpointError` if the
        restored state is inconsistent (e.g. a frozen column's checksum does not match); such a
        mismatch is an error, not a reason to fall back.
        """
        steps = self.steps()
        if not steps:
            raise CheckpointError(f"no checkpoint in {self.directory}")
        failed: list[tuple[int, str]] = []
        for step in reversed(steps):
            try:
                with _quiet_asyncio():
                    meta = self._manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))[
                        "meta"
                    ]
                    template = template_for(meta)
                    state = self._manager.restore(
                        step, args=ocp.args.Composite(state=ocp.args.StandardRestore(template))
                    )["state"]
            except Exception as e:
                first = str(e).splitlines()[0][:200] if str(e) else ""
                failed.append((step, f"{type(e).__name__}: {first}"))
                continue
            if failed:
                bad = ", ".join(f"step {s} ({why})" for s, why in failed)
                warnings.warn(
                    f"checkpoint {bad} in {self.directory} could not be read; resuming from step {step}",
                    stacklevel=2,
                )
            if verify is not None:
                verify(state, meta)
            return step, state, meta
        raise CheckpointError(
            f"no readable checkpoint in {self.directory}: "
            + "; ".join(f"step {s}: {why}" for s, why in failed)
        )
