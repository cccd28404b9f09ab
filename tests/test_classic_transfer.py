"""pnn_classic_transfer: learning-curve points, the smoke preset end to end, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("envpool")

from pnn_jax import (
    cli,
    experiments,
)
from pnn_jax import config as cfglib
from pnn_jax.experiments.pnn_classic_transfer import curve_points


def test_curve_points_are_window_means_of_finished_episodes():
    steps = np.array([10, 10, 10, 10, 10, 10])
    episodes = np.array([1, 1, 0, 0, 2, 0])
    returns = np.array([5.0, 7.0, 0.0, 0.0, 20.0, 0.0])
    # windows of 20 steps: iterations (0, 1), (2, 3), (4, 5)
    assert curve_points(steps, episodes, returns, 20) == [6.0, 6.0, 10.0]  # an empty window repeats


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
    assert [r["method"] for r in summary["rows"]] == ["progressive", "baseline1"]
    assert summary["rows"][1]["transfer_pct"] == pytest.approx(100.0)
    records = [json.loads(line) for line in (tmp_path / "r" / "runs.jsonl").read_text().splitlines()]
    prog = next(r for r in records if r["method"] == "progressive")
    assert [s["task"] for s in prog["stages"]] == ["source0", "target"] and prog["columns"] == 2
    assert [s["transform"] for s in prog["stages"]] == ["identity", "mirror"]
    assert len(prog["target_curve"]) >= 3 and prog["eval_return"] > 0
    assert (tmp_path / "r" / "figures" / "target_curves.png").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["env.env_id=CartPol-v1"], "unknown env id 'CartPol-v1'"),
        (["env.env_id=Pong-v5"], "use a vector-observation env here"),
        (["target=upside_down"], "target='upside_down'"),
        (["rl.algorithm=dqn"], "algorithm must be one of"),
        (["methods=[baseline2]"], "must include baseline1"),
        (["env.interface=tpu"], "interface must be one of"),
    ],
)
def test_bad_input(args, message, tmp_path, capsys):
    code = cli.main(["run", "experiment=pnn_classic_transfer", "preset=smoke", f"out_dir={tmp_path}", *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err
