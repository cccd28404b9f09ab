"""Shared fixtures: jit / no-jit variants, tiny nets and synthetic data."""

from __future__ import annotations

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


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """The same guard by behaviour, in each xdist worker: a test marked ``xdist_group`` must carry
    its group in its node id (a worker's error ends the session with exit code 3)."""
    if not getattr(config.option, "loadgroup", False):  # set in xdist workers under loadgroup
        return
    lost = [i.nodeid for i in items if i.get_closest_marker("xdist_group") and "@" not in i.nodeid]
    if lost:
        raise pytest.UsageError(f"--dist loadgroup: {len(lost)} grouped tests lost their group ({lost[0]})")
