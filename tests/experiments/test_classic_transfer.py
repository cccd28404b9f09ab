"""pnn_classic_transfer: learning-curve points, the smoke preset end to end, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("envpool")

from smoke_runs import group
from table_check import build_and_check

from pnn_jax import (
    cli,
    experiments,
    rundir,
)
from pnn_jax import config as cfglib
from pnn_jax.analysis.transfer import learning_curve as curve_points
from pnn_jax.config import ConfigError
from pnn_jax.experiments.rl_transfer import Config, PairSpec, validate


def test_curve_points_are_window_means_of_finished_episodes():
    steps = np.array([10, 10, 10, 10, 10, 10])
    episodes = np.array([1, 1, 0, 0, 2, 0])
    returns = np.array([5.0, 7.0, 0.0, 0.0, 20.0, 0.0])
    # windows of 20 steps: iterations (0, 1), (2, 3), (4, 5)
    points = curve_points(steps, episodes, returns, 20)
    assert points[0] == 6.0 and points[2] == 10.0
    assert np.isnan(points[1])  # a window in which no episode finished is missing, not 0


def test_smoke_run(tmp_path):
    module = experiments.get("pnn_classic_transfer")
    folder = cfglib.EXPERIMENTS_DIR / "pnn_classic_transfer"
    cfg = cfglib.structured(
        module.Config,
        cfglib.compose(
            folder, ["preset=smoke", "methods=[progressive,baseline1]", f"out_dir={tmp_path}"], module.Config
        ),
    )
    summary = module.run(cfg, tmp_path / "r", quiet=True)
    assert [r["method"] for r in summary["rows"]] == ["progressive, 2 columns", "baseline1"]
    assert summary["rows"][1]["transfer_mean_pct"] == pytest.approx(100.0)
    records = [json.loads(line) for line in (tmp_path / "r" / "runs.jsonl").read_text().splitlines()]
    prog = next(r for r in records if r["method"] == "progressive")
    assert [s["task"] for s in prog["stages"]] == ["source0", "target"] and prog["columns"] == 2
    assert [s["env_task"] for s in prog["stages"]] == ["CartPole-v1:identity", "CartPole-v1:mirror"]
    assert len(prog["target_curve"]) >= 3 and prog["eval_return"] > 0
    assert (tmp_path / "r" / "figures" / "target_curves.png").exists()
    # the sensitivity of the trained target policy: one layer, two columns, shares adding up to 1
    assert len(prog["afs"]) == 1 and sum(prog["afs"][0]) == pytest.approx(1.0)
    assert len(prog["aps_scores"][0]) == 2 and len(prog["aps_scores"][0][0]) == len(cfg.analysis.aps_grid)
    baseline = next(r for r in records if r["method"] == "baseline1")
    assert "afs" not in baseline  # one column: nothing to compare
    md = build_and_check(
        "pnn_classic_transfer",
        [tmp_path],
        "Table 1 column",
        "| Progressive, 2 columns |",
        "Transfer matrix, progressive 2 columns",
        "| CartPole-v1:identity |",
        "Targets with positive / negative transfer",
        "AFS (share per column)",
        figures=("transfer_matrix", "afs", "aps_vs_afs"),
    )
    assert "mean over jobs of per-job scores" in md
    top = build_and_check("pnn_classic_transfer", [tmp_path / "r"], "mean of the top 1 jobs", top_k=1)
    assert "| Baseline 1 (single column, target only) | 100 | 100 |" in top


def _run(tmp_path, name, *overrides):
    module = experiments.get("pnn_classic_transfer")
    folder = cfglib.EXPERIMENTS_DIR / "pnn_classic_transfer"
    cfg = cfglib.structured(
        module.Config,
        cfglib.compose(
            folder,
            ["preset=smoke", "analysis.afs=false", "analysis.aps_episodes=0", *overrides],
            module.Config,
        ),
    )
    module.run(cfg, tmp_path / name, quiet=True)
    runs = [json.loads(line) for line in (tmp_path / name / "runs.jsonl").read_text().splitlines()]
    chunks = [m for m in rundir.read_metrics(tmp_path / name) if m.get("kind") == "chunk"]
    return {r["method"]: r for r in runs}, chunks


def test_a_source_column_is_trained_once_and_reused_by_later_units(tmp_path):
    """Progressive and baseline 3 start from column 0 trained on the same (source, seed): the first
    unit trains it (with ``source_iterations`` of its own) and saves it, the second loads it, so
    the source stage's chunks appear once and both units record the same source curve. Without
    sharing, the second unit trains it again, to the same curve (the same computation). (Its target
    stage then continues the env stream the source stage used, so target curves agree in
    distribution, not bit for bit.)"""
    over = ["methods=[progressive,baseline1,baseline3]", "source_iterations=60", "share_sources=true"]
    shared, chunks = _run(tmp_path, "shared", *over)
    sources = [c for c in chunks if c["stage"].startswith("source0")]
    assert {c["unit"] for c in sources} == {0} and sources[-1]["iterations"] == 60
    targets = [c for c in chunks if c["stage"].startswith("target")]
    assert {c["iterations"] for c in targets} == {40} and {c["unit"] for c in targets} == {0, 1, 2}
    prog, b3 = shared["progressive"]["stages"][0], shared["baseline3"]["stages"][0]
    assert b3["trained_by"] == "pair 0 seed 0 progressive"
    assert b3["curve"] == prog["curve"] and b3["agent_steps"] == prog["agent_steps"] > 0
    assert (tmp_path / "shared" / "sources").is_dir()
    alone, chunks = _run(tmp_path, "alone", *over, "share_sources=false")
    assert {c["unit"] for c in chunks if c["stage"].startswith("source0")} == {0, 2}
    assert (
        alone["baseline3"]["stages"][0]["curve"] == alone["progressive"]["stages"][0]["curve"] == b3["curve"]
    )
    assert "trained_by" not in alone["baseline3"]["stages"][0]
    assert alone["progressive"]["target_curve"] == shared["progressive"]["target_curve"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["model.network=resnet"], "model.network='resnet'"),
        (["model.network=atari"], "CartPole-v1 has vector observations: use mlp"),
        (["rl.algorithm=dqn"], "algorithm must be one of"),
        (["methods=[baseline2]"], "must include baseline1"),
        (["env.interface=tpu"], "interface must be one of"),
        (["iterations=0"], "iterations=0"),
        (["optim.lr=0"], "optim.lr=0.0"),
        (["member_loop=scan"], "member_loop='scan'"),
    ],
)
def test_bad_input(args, message, tmp_path, capsys):
    code = cli.main(["run", "experiment=pnn_classic_transfer", "preset=smoke", f"out_dir={tmp_path}", *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ({"sources": ["CartPol-v1"], "target": "CartPole-v1"}, "unknown env id 'CartPol-v1'"),
        (
            {"sources": ["CartPole-v1"], "target": "CartPole-v1:upside_down"},
            "unknown vector-observation transform",
        ),
        ({"sources": ["Acrobot-v1"], "target": "CartPole-v1"}, "the same observation shape and action count"),
        ({"sources": [], "target": "CartPole-v1"}, "needs at least one source task"),
    ],
)
def test_bad_pairs(pair, message):

    with pytest.raises(ConfigError, match=message):
        validate(Config(experiment="t", pairs=[PairSpec(**pair)]))


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("pnn_pong_soup", marks=group("pnn_pong_soup")),
        pytest.param("pnn_atari", marks=pytest.mark.slow),  # same code path
    ],
)
def test_atari_smoke_presets(name, tmp_path, smoke_run):
    """The Atari experiments end to end at their smoke presets (structure; numbers meaningless).
    Every env finishes an episode (cut at 40 steps), so every curve has a point; Boxing's scores
    are shifted by 100 (> -100) so that baseline 1's AUC is positive and transfer is defined."""
    module = experiments.get(name)
    folder = cfglib.EXPERIMENTS_DIR / name
    over = ["preset=smoke", f"out_dir={tmp_path}"] + (["score_offset=100"] if name == "pnn_atari" else [])
    cfg = cfglib.structured(module.Config, cfglib.compose(folder, over, module.Config))
    if name == "pnn_pong_soup":  # the session's smoke run (smoke_runs), not a second one
        run_dir = smoke_run(name)
        summary = json.loads((run_dir / "summary.json").read_text())
    else:
        run_dir = tmp_path / "r"
        summary = module.run(cfg, run_dir, quiet=True)
    k = len(cfg.pairs[0].sources) + 1
    assert [r["method"] for r in summary["rows"]] == [f"progressive, {k} columns", "baseline1"]
    # the printed table is the one `pnn-jax table` builds: the paper's numbers beside ours
    assert "| paper mean | paper median |" in summary["table"]
    assert "| Baseline 1 (single column, target only) | 100 | 100 |" in summary["table"]
    build_and_check(name, [run_dir], "| Baseline 1 (single column, target only) | 100 | 100 | 100 | 100 |")
    if name == "pnn_pong_soup":  # the paper's Table 1 over the domains given, ours beside it
        build_and_check("pnn_table1", [run_dir], "Pong Soup: ours", "209 / 169", figures=("table1",))
        build_and_check(
            "rl_learning_curves",
            [run_dir],
            "| run | agent steps | final return (last 3 points) |",
            "| Progressive, 2 columns Pong-v5:vflip seed 0 |",
            figures=("learning_curves",),
        )
    records = [json.loads(line) for line in (run_dir / "runs.jsonl").read_text().splitlines()]
    prog = next(r for r in records if r["method"] == "progressive")
    assert prog["columns"] == len(cfg.pairs[0].sources) + 1 and len(prog["stages"]) == prog["columns"]
    assert all(any(v is not None for v in s["curve"]) for r in records for s in r["stages"])
    chunks = [m for m in rundir.read_metrics(run_dir) if m.get("kind") == "chunk"]
    assert len(chunks) == sum(len(r["stages"]) for r in records) * cfg.iterations // cfg.chunk
    assert "| pair | method |" in summary["table"]
