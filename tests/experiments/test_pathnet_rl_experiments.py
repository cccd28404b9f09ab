"""The PathNet RL experiments and the ViZDoom substitute at their smoke presets, and the
LunarLander sub-task rewards."""

from __future__ import annotations

import json
import shutil

import jax.numpy as jnp
import numpy as np
import pytest
from smoke_runs import group, smoke_dir
from table_check import build_and_check

from pnn_jax import config as cfglib
from pnn_jax import experiments, tables
from pnn_jax.envs import lunar_curriculum
from pnn_jax.envs.envpool_env import EnvConfig, EnvOutput, check_env_config
from pnn_jax.tables.core import find_runs


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


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["sequences=[[CartPole-v1,Acrobot-v1]]"], r"sequences\[0\]=.* the same observation shape"),
        (["sequences=[[LunarLander-v3:stabilise,CartPole-v1:approach]]"], "needs a LunarLander env"),
        (["model.network=atari"], "LunarLander-v3 has vector observations: use mlp"),
        (["sequences=[[]]"], "needs at least one task"),
    ],
)
def test_bad_sequences_are_one_line_errors(overrides, message, tmp_path):
    module, cfg = compose("pathnet_lunarlander_curriculum", tmp_path, *overrides)
    with pytest.raises(cfglib.ConfigError, match=message):
        module.validate(cfg)


def test_vizdoom_needs_the_host_interface():
    with pytest.raises(ValueError, match=r"use env\.interface=host"):
        check_env_config(EnvConfig("HealthGathering-v1", interface="xla"))
    kw = EnvConfig("HealthGathering-v1", interface="host").envpool_kwargs()
    assert kw["use_combined_action"] and kw["img_height"] == 84


@group("pathnet_lunarlander_curriculum")
def test_lunarlander_curriculum_smoke(smoke_run):
    _, cfg, run_dir, summary = smoke_dir("pathnet_lunarlander_curriculum", smoke_run)
    records = [json.loads(line) for line in (run_dir / "runs.jsonl").read_text().splitlines()]
    by = {r["method"]: r for r in records}
    assert set(by) == {"pathnet", "scratch"}
    assert [s["task"] for s in by["pathnet"]["stages"]] == cfg.sequences[0]
    assert [s["task"] for s in by["scratch"]["stages"]] == cfg.sequences[0][-1:]
    first, target = by["pathnet"]["stages"]
    assert first["reuse"] == 0  # nothing locked before the first sub-task
    overlap = sum(len(set(a) & set(b)) for a, b in zip(first["best_path"], target["best_path"], strict=True))
    assert target["reuse"] == overlap and 0 <= target["random_reuse"] <= 2 * cfg.model.active
    assert by["pathnet"]["earlier_steps"] == first["agent_steps"] >= cfg.steps_per_task
    assert "| reuse per layer | random reuse per layer |" in summary["table"]
    assert {row["method"] for row in summary["rows"]} == {"pathnet", "scratch"}
    build_and_check(
        "pathnet_lunarlander_curriculum",
        [run_dir],
        "ratio of means",
        "capacity used after the task",
        figures=("reuse_histogram",),
    )


@group("pathnet_atari")
def test_pathnet_atari_smoke(smoke_run):
    _, cfg, run_dir, summary = smoke_dir("pathnet_atari", smoke_run)
    assert (cfg.model.network, cfg.model.modules, cfg.model.active) == ("atari", 10, 4)
    assert "Paper (docs/papers.md 2.4): pathnet 1.33" in summary["table"]
    records = [json.loads(line) for line in (run_dir / "runs.jsonl").read_text().splitlines()]
    pathnet = next(r for r in records if r["method"] == "pathnet")
    assert np.asarray(pathnet["stages"][0]["best_path"]).shape == (4, 4)
    build_and_check("pathnet_atari", [run_dir], "| 1.33 |")


@group("pnn_labyrinth_vizdoom")
def test_vizdoom_substitute_smoke(smoke_run):
    """Run in a subprocess of its own session with its streams in a file (:mod:`smoke_runs`): envpool
    starts one Doom process per env, which inherit the parent's streams; an orphan holding a pipe
    would hang the test (CI hung 600 s on a segfaulted run)."""
    module = experiments.get("pnn_labyrinth_vizdoom")
    assert "SUBSTITUTE" in module.summary
    _, _, run_dir, summary = smoke_dir("pnn_labyrinth_vizdoom", smoke_run)
    assert [r["method"] for r in summary["rows"]] == ["progressive, 2 columns", "baseline1"]
    assert "HealthGathering-v1 -> HealthGatheringSupreme-v1" in (run_dir / "table.md").read_text()
    build_and_check("pnn_table1", [run_dir], "Labyrinth (ViZDoom substitute): ours", "491 / 115")


@group("pathnet_lunarlander_curriculum")
def test_a_run_directory_with_the_old_key_names_builds_the_same_table(smoke_run, tmp_path):
    """A run written before model.num_modules / max_active and evolution were renamed: its
    config.yaml is read through config.RENAMED, so the table (capacity used, from M) is the same."""
    run_dir = smoke_run("pathnet_lunarlander_curriculum")
    old = tmp_path / "pathnet_lunarlander_curriculum" / "old"
    shutil.copytree(run_dir, old)
    config = (old / "config.yaml").read_text()
    config = config.replace("search:", "evolution:").replace("  modules:", "  num_modules:")
    (old / "config.yaml").write_text(config.replace("  active:", "  max_active:"))
    (run,) = find_runs([old], ("pathnet_lunarlander_curriculum",))
    assert (
        run.config["model"]["modules"]
        == cfglib.load(
            experiments.get("pathnet_lunarlander_curriculum").Config, [run_dir / "config.yaml"]
        ).model.modules
    )
    assert "evolution" not in run.config and "num_modules" not in run.config["model"]
    new = tables.build("pathnet_lunarlander_curriculum", [run_dir], out=tmp_path / "a")[0]
    built = tables.build("pathnet_lunarlander_curriculum", [old], out=tmp_path / "b")[0]
    sections = lambda md: md[md.index("\n**") :]  # noqa: E731  (after the provenance lines)
    assert "capacity used" in new and sections(new) == sections(built)
