"""The population axis split across 4 (forced) CPU devices gives the 1-device results.

Runs in a subprocess: XLA_FLAGS=--xla_force_host_platform_device_count=4 must be set before jax
starts, and the test session's jax is already up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from conftest import with_xla_flag

SCRIPT = textwrap.dedent(
    """
    import json, jax, numpy as np
    from pnn_jax.data import class_task, load_digits
    from pnn_jax.experiments.pathnet_supervised import common as pc
    from pnn_jax.train.pathnet import task_data
    from pnn_jax.train.population import population_mesh, shard_population

    assert len(jax.devices()) == 4, jax.devices()
    x, y = load_digits()
    (d,) = task_data([class_task(x, y, [3, 4], test_fraction=0.2, seed=0)])
    engine = pc.Engine(64, pc.PathNetConfig(units=8), pc.SearchConfig(population=8, steps=5,
                       max_generations=6, threshold=0.9), pc.OptimConfig(lr=0.05), num_heads=2, head_size=2)
    keys = jax.random.split(jax.random.key(0), 8)
    _, states = engine.init(keys)
    search = engine.search_population
    out = {}
    for name, devices in (("1", jax.devices()[:1]), ("4", jax.devices())):
        run = shard_population(search, (True, True, False), mesh=population_mesh(devices))
        st, res = run(states, keys, d)
        out[name] = {"gens": np.asarray(res.generations).tolist(), "paths": np.asarray(res.path).tolist(),
                     "fitness": np.asarray(res.fitness).tolist(),
                     "w0": float(np.asarray(st.params["modules"][0]["w"]).sum())}
    try:
        shard_population(search, (True, True, False))(jax.tree.map(lambda a: a[:6], states), keys[:6], d)
    except ValueError as e:
        out["error"] = str(e)
    st, res = shard_population(search, (True, True, False), pad=True)(
        jax.tree.map(lambda a: a[:6], states), keys[:6], d)
    out["padded"] = np.asarray(res.generations).tolist()
    print(json.dumps(out))
    """
)


@pytest.mark.slow  # make test runs the RL population's device test (tests/rl/test_pathnet_ac.py)
def test_four_devices_equal_one_device():
    four = with_xla_flag("--xla_force_host_platform_device_count=4")
    env = {**os.environ, "XLA_FLAGS": four, "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["4"]["gens"] == out["1"]["gens"]
    assert out["4"]["paths"] == out["1"]["paths"]
    for a, b in zip(out["4"]["fitness"], out["1"]["fitness"], strict=True):
        assert abs(a - b) < 1e-6
    assert abs(out["4"]["w0"] - out["1"]["w0"]) < 1e-3
    assert "a population of 6 does not divide over 4 devices" in out["error"]
    assert out["padded"] == out["1"]["gens"][:6]


THESIS = textwrap.dedent(
    """
    import json, sys, tempfile, pathlib, jax
    from pnn_jax import config as cfglib, experiments
    module = experiments.get("thesis_first_path")
    folder = cfglib.EXPERIMENTS_DIR / "thesis_first_path"
    with tempfile.TemporaryDirectory() as tmp:
        overrides = ["preset=smoke", f"out_dir={tmp}"]
        cfg = cfglib.structured(module.Config, cfglib.compose(folder, overrides, module.Config))
        module.run(cfg, pathlib.Path(tmp) / "r", quiet=True)
        rows = [json.loads(l) for l in (pathlib.Path(tmp) / "r" / "runs.jsonl").read_text().splitlines()]
    runs = [[r["generations1"], r["generations2"], r["path1"], r["path2"]] for r in rows]
    print(json.dumps({"devices": len(jax.devices()), "runs": runs}))
    """
)


@pytest.mark.slow
def test_thesis_study_on_four_devices_matches_one():
    """The smoke study (chunks of 2 repetitions: padded to 4 devices) gives the 1-device runs."""
    outs = []
    for flags in ("--xla_force_host_platform_device_count=4", ""):
        env = {**os.environ, "XLA_FLAGS": with_xla_flag(flags), "JAX_PLATFORMS": "cpu"}
        done = subprocess.run(
            [sys.executable, "-c", THESIS], capture_output=True, text=True, env=env, timeout=600
        )
        assert done.returncode == 0, done.stderr[-3000:]
        outs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert [o["devices"] for o in outs] == [4, 1]
    assert outs[0]["runs"] == outs[1]["runs"]
