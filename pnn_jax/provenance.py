"""Where a result comes from: the code's commit and the machine it ran on (recorded in every
run's ``summary.json`` and every benchmark entry, shown beside every generated table)."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import jax

ROOT = Path(__file__).resolve().parents[1]


def machine() -> str:
    """``"host <cpu model>, <n> cores"``, prefixed with the accelerator when JAX has one."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    dev = jax.devices()[0]
    host = f"host {cpu}, {os.cpu_count()} cores"
    return host if dev.platform == "cpu" else f"{dev.platform} {dev.device_kind}; {host}"


def commit() -> str:
    """Short SHA of the checkout (``+dirty`` with uncommitted changes to tracked files), or
    ``unknown`` outside a git checkout."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def record() -> dict[str, str]:
    """``{"commit", "machine", "jax"}`` for a run's summary."""
    return {"commit": commit(), "machine": machine(), "jax": jax.__version__}
