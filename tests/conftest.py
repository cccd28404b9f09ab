"""Shared fixtures: jit / no-jit variants, tiny nets and synthetic data."""

from __future__ import annotations

import os
import shutil
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from smoke_runs import run_smoke

from pnn_jax.nets.columns import ColumnSpec, Conv, Dense, mlp_column


@pytest.fixture(params=["jit", "nojit"])
def variant(request):
    """Run a function compiled (``jax.jit``) and op by op (``jax.disable_jit``)."""
    if request.param == "jit":
        return jax.jit

    def nojit(f, **_):
        def call(*args, **kwargs):
            with jax.disable_jit():
                return f(*args, **kwargs)

        return call

    return nojit


def with_xla_flag(flag: str) -> str:
    """``XLA_FLAGS`` for a subprocess: this process's flags (an ``--xla_cpu_max_isa`` the suite
    runs under, docs/tests.md) and ``flag``."""
    return f"{os.environ.get('XLA_FLAGS', '')} {flag}".strip()


def tiny_mlp(heads=None) -> ColumnSpec:
    return mlp_column(6, (8, 7), heads or {"logits": 3})


def tiny_conv() -> ColumnSpec:
    """A small conv column with the Atari column's layer types (conv, conv, dense)."""
    return ColumnSpec((12, 12, 2), (Conv(4, 4, 2), Conv(3, 3, 1), Dense(8)), (("policy", 3), ("value", 1)))


def toy_classification(key, n=128, dim=6, classes=3):
    """Linearly separable-ish data: ``(x [n, dim] float32, y [n] int32)``."""
    kx, kw = jax.random.split(key)
    x = jax.random.normal(kx, (n, dim))
    w = jax.random.normal(kw, (dim, classes))
    return x, jnp.argmax(x @ w, -1).astype(jnp.int32)


def host(tree):
    return jax.tree.map(lambda a: np.array(a, copy=True), tree)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """``smoke_run(name) -> run directory`` of experiment ``name``'s smoke preset, run once per
    session (:mod:`smoke_runs`); mark the test with ``smoke_runs.group(name)``."""
    cache: dict[str, object] = {}

    def get(name: str):
        if name not in cache:
            cache[name] = run_smoke(name, tmp_path_factory.mktemp(f"smoke_{name}"))
        return cache[name]

    return get


LOADGROUP_BROKEN = (9, 2)  # pytest from which pytest-xdist 3.8's loadgroup loses its groups


def pytest_configure(config):
    """Refuse ``--dist loadgroup`` on a pytest that breaks it: xdist sends a group to one worker by
    a ``@<group>`` suffix on the node id, which pytest 9.2 drops without a word
    (pytest-dev/pytest-xdist#1386), so every shared smoke run and module-scoped reference would be
    computed once per worker and ``make test`` would take minutes longer."""
    version = tuple(int(p) for p in pytest.__version__.split(".")[:2])
    if config.getoption("dist", "no") == "loadgroup" and version >= LOADGROUP_BROKEN:
        raise pytest.UsageError(
            f"--dist loadgroup: pytest {pytest.__version__} breaks pytest-xdist's grouping "
            "(pytest-dev/pytest-xdist#1386); install pytest<9.2 (make venv does)"
        )
    share_compiled_programs(config)


CACHE_ENV = {
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
}


def share_compiled_programs(config) -> None:
    """One XLA compilation cache for the whole session: its xdist workers and every process a test
    starts (smoke runs, killed and resumed runs, device subprocesses) load a program another one
    has compiled instead of compiling it again; on 2 CPU cores compiling is most of the suite's
    time. The cache is keyed by the program, the compile options, XLA_FLAGS and the jax and
    jaxlib versions, so a hit is the same executable: bit-exact claims are unaffected. A fresh
    folder per session (removed at its end) unless JAX_COMPILATION_CACHE_DIR is set already."""
    if "JAX_COMPILATION_CACHE_DIR" not in os.environ:  # the controller (or a run without xdist)
        folder = tempfile.mkdtemp(prefix="pnn_jax_test_xla_cache_")
        os.environ["JAX_COMPILATION_CACHE_DIR"] = folder
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
        for key, value in CACHE_ENV.items():
            os.environ.setdefault(key, value)
    jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """The same guard by behaviour, in each xdist worker: a test marked ``xdist_group`` must carry
    its group in its node id (a worker's error ends the session with exit code 3)."""
    if not getattr(config.option, "loadgroup", False):  # set in xdist workers under loadgroup
        return
    lost = [i.nodeid for i in items if i.get_closest_marker("xdist_group") and "@" not in i.nodeid]
    if lost:
        raise pytest.UsageError(f"--dist loadgroup: {len(lost)} grouped tests lost their group ({lost[0]})")
