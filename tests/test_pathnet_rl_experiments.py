"""The PathNet RL experiments and the ViZDoom substitute at their smoke presets, and the
LunarLander sub-task rewards."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest
from table_check import build_and_check

from pnn_jax import cli, experiments
from pnn_jax import config as cfglib
from pnn_jax.envs import lunar_curriculum
from pnn_jax.envs.envpool_env import EnvConfig, EnvOutput, check_env_config


def compose(name, tmp_path, *overrides):
    module = experiments.get(name)
    folder = cfglib.EXPERIMENTS_DIR / name
    args = ["preset=smoke", f"out_dir={tmp_path}", *overrides]
    return module, cfglib.structured(module.Config, cfglib.compose(folder, args, module.Config))


def out(obs, reward=0.0, terminated=False):
    b = obs.shape[0]
    return EnvOutput(
        obs=obs,
        reward=jnp.full(b, reward, jnp.float32),
        terminated=jnp.full(b, terminated),
        truncated=jnp.zeros(b, bool),
        first=jnp.zeros(b, bool),
    )


def test_lunar_subtask_rewards():
    still = jnp.zeros((1, 8))
    falling = jnp.asarray([[0.0, 1.0, 0.0, -1.0, 0.3, 0.0, 0.0, 0.0]])
    stabilise = lunar_curriculum.reward_fn("stabilise")
    assert float(stabilise(still, out(still))[0]) == 1.0  # slow and upright: full reward
    assert float(stabilise(still, out(falling))[0]) == pytest.approx(1 - 0.3 - 0.5)
    approach = lunar_curriculum.reward_fn("approach")
    assert float(approach(falling, out(still))[0]) > 0  # reaching the pad at rest is progress
    assert float(approach(still, out(falling, reward=-100.0, terminated=True))[0]) == -100.0  # crash
    assert float(approach(still, out(still, reward=100.0, terminated=True))[0]) == 0.0  # landing
    assert lunar_curriculum.reward_fn("land") is None  # the environment's own reward
    with pytest.raises(ValueError, match="unknown LunarLander sub-task 'hover'"):
        lunar_curriculum.reward_fn("hover")


def test_vizdoom_needs_the_host_interface():
    with pytest.raises(ValueError, match=r"use env\.interface=host"):
        check_env_config(EnvConfig("HealthGathering-v1", interface="xla"))
    kw = EnvConfig("HealthGathering-v1", interface="host").envpool_kwargs()
    assert kw["use_combined_action"] and kw["img_height"] == 84


def test_lunarlander_curriculum_smoke(tmp_path):
    module, cfg = compose("pathnet_lunarlander_curriculum", tmp_path)
    summary = module.run(cfg, tmp_path / "r", quiet=True)
    records = [json.loads(line) for line in (tmp_path / "r" / "runs.jsonl").read_text().splitlines()]
    by = {r["method"]: r for r in records}
    assert set(by) == {"pathnet", "scratch"}
    assert [s["task"] for s in by["pathnet"]["stages"]] == cfg.sequences[0]
    assert [s["task"] for s in by["scratch"]["stages"]] == cfg.sequences[0][-1:]
    first, target = by["pathnet"]["stages"]
    assert first["reuse"] == 0  # nothing locked before the first sub-task
    overlap = sum(len(set(a) & set(b)) for a, b in zip(first["best_path"], target["best_path"], strict=True))
    assert target["reuse"] == overlap and 0 <= target["random_reuse"] <= 2 * cfg.model.max_active
    assert by["pathnet"]["earlier_steps"] == first["agent_steps"] >= cfg.steps_per_task
    assert "| reuse per layer | random reuse per layer |" in summary["table"]
    assert {row["method"] for row in summary["rows"]} == {"pathnet", "scratch"}
    build_and_check(
        "pathnet_lunarlander_curriculum",
        [tmp_path / "r"],
        "ratio of means",
        "capacity used after the task",
        figures=("reuse_histogram",),
    )


def test_pathnet_atari_smoke(tmp_path):
    module, cfg = compose("pathnet_atari", tmp_path)
    assert (cfg.model.network, cfg.model.num_modules, cfg.model.max_active) == ("atari", 10, 4)
    summary = module.run(cfg, tmp_path / "r", quiet=True)
    assert "Paper (docs/papers.md 2.4): pathnet 1.33" in summary["table"]
    records = [json.loads(line) for line in (tmp_path / "r" / "runs.jsonl").read_text().splitlines()]
    pathnet = next(r for r in records if r["method"] == "pathnet")
    assert np.asarray(pathnet["stages"][0]["best_path"]).shape == (4, 4)
    build_and_check("pathnet_atari", [tmp_path / "r"], "| 1.33 |")


def test_vizdoom_substitute_smoke(tmp_path):
    """In a subprocess of its own session, with its streams in files: envpool starts one Doom
    process per env, and those inherit the parent's standard streams (in a pytest-xdist worker,
    the worker's channel to the controller). If the run dies, orphaned Doom processes keep any
    pipe open, so waiting for a pipe's end would hang (CI hung 600 s on a segfaulted run); files
    and killing the session afterwards cannot."""
    module = experiments.get("pnn_labyrinth_vizdoom")
    assert "SUBSTITUTE" in module.SUMMARY
    command = [sys.executable, "-m", "pnn_jax.cli", "run", "experiment=pnn_labyrinth_vizdoom", "preset=smoke"]
    log = tmp_path / "run.log"
    with log.open("w") as stream:
        child = subprocess.Popen(
            [*command, f"out_dir={tmp_path}", "quiet=true"],
            cwd=tmp_path,  # ViZDoom writes _vizdoom/ and _vizdoom.ini into the working directory
            stdin=subprocess.DEVNULL,
            stdout=stream,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            returncode = child.wait(timeout=400)
        finally:
            with contextlib.suppress(ProcessLookupError):  # the run's Doom processes, if any are left
                os.killpg(child.pid, signal.SIGKILL)
    assert returncode == 0, log.read_text()[-3000:]
    (run_dir,) = (tmp_path / "pnn_labyrinth_vizdoom").iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert [r["method"] for r in summary["rows"]] == ["progressive, 2 columns", "baseline1"]
    assert "HealthGathering-v1 -> HealthGatheringSupreme-v1" in (run_dir / "table.md").read_text()
    build_and_check("pnn_table1", [tmp_path], "Labyrinth (ViZDoom substitute): ours", "491 / 115")


def test_bad_distributed_settings_are_one_line_errors(capsys):

    args = ["run", "experiment=pathnet_atari", "preset=smoke", "distributed.num_processes=2"]
    assert cli.main([*args, "distributed.coordinator_address=nohost", "distributed.process_id=0"]) == 2
    assert "coordinator_address must be host:port" in capsys.readouterr().err
    assert cli.main([*args, "distributed.coordinator_address=127.0.0.1:1", "distributed.process_id=5"]) == 2
    assert "process_id must be in 0..1" in capsys.readouterr().err
