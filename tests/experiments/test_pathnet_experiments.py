"""The four PathNet experiments at their smoke presets; reuse analysis; exact resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from smoke_runs import group, smoke_dir
from table_check import build_and_check

from pnn_jax import cli, experiments
from pnn_jax import config as cfglib
from pnn_jax.analysis import pathnet as pa
from pnn_jax.experiments.pathnet_supervised import common as pc
from pnn_jax.experiments.pathnet_supervised import first_path


def smoke(name, tmp_path, *overrides):
    module = experiments.get(name)
    folder = cfglib.EXPERIMENTS_DIR / name
    cfg = cfglib.structured(
        module.Config,
        cfglib.compose(folder, ["preset=smoke", f"out_dir={tmp_path}", *overrides], module.Config),
    )
    return module, cfg


def test_reuse_analysis_by_hand():
    old = np.array([[0, 1, 1], [2, 3, 4], [5, 5, 5]])
    new = np.array([[1, 1, 1], [4, 3, 9], [6, 6, 7]])
    assert pa.reuse_per_layer(old, new) == [1, 2, 0]
    assert pa.expected_random_reuse(old, new, 10) == pytest.approx(2 * 1 / 10 + 3 * 3 / 10 + 1 * 2 / 10)
    draws = pa.random_reuse(old, new, 10, 20000, np.random.default_rng(0))
    assert draws.shape == (20000, 3) and draws[:, 0].max() <= 1 and draws[:, 2].max() <= 1
    assert draws.sum(axis=1).mean() == pytest.approx(pa.expected_random_reuse(old, new, 10), abs=0.03)
    counters = np.arange(30).reshape(3, 10)
    assert pa.mean_training(counters, old) == pytest.approx(np.mean([0, 1, 12, 13, 14, 25]))


@group("thesis_first_path")
def test_thesis_first_path_smoke_and_exact_resume(tmp_path, smoke_run):
    module, cfg, run_dir, summary = smoke_dir("thesis_first_path", smoke_run)
    records = [json.loads(line) for line in (run_dir / "runs.jsonl").read_text().splitlines()]
    assert len(records) == 2 * cfg.repetitions and {r["condition"] for r in records} == {"S+S", "P+S"}
    assert cfg.pick == "random"  # P+S's path is drawn, not S+S's (pick=search_path: the options test)
    assert any(ps["path1"] != ss["path1"] for ss, ps in zip(records[0::2], records[1::2], strict=True))
    for ss, ps in zip(records[0::2], records[1::2], strict=True):
        assert ss["run"] == ps["run"] and ps["generations1"] == ss["generations1"]  # P+S: as many sessions
        assert (
            ss["reuse"]
            == sum(ss["reuse_per_layer"])
            == sum(pa.reuse_per_layer(np.array(ss["path1"]), np.array(ss["path2"])))
        )
        assert len(ss["curve1"]) == ss["generations1"] and len(ss["curve2"]) == ss["generations2"]
        assert ss["training1"] >= 1 and 0 <= ss["test_acc2"] <= 1
    for row in (
        "generations, task 2",
        "module reuse (path 2 in path 1)",
        "reuse 0 / 1 / 2 / 3+",
        "random selection",
    ):
        assert row in summary["table"]
    for fig in ("a_training_vs_reuse", "b_reuse_histogram", "c_reuse_per_layer", "training_curves"):
        assert (run_dir / "figures" / f"{fig}.png").exists() and (run_dir / "figures" / f"{fig}.pdf").exists()
    assert (run_dir / "table.md").exists() and (run_dir / "metrics.jsonl").exists()
    build_and_check(
        "thesis_first_path",
        [run_dir],
        "| module reuse (path 2 in path 1) |",
        "| reuse 0 / 1 / 2 / 3+ (share of runs) |",
        "random selection",
        "Runs stuck at chance (test accuracy < 0.6)",
        "| 140 / 600 (23%) |",  # the thesis's log beside ours
        figures=("b_reuse_histogram", "c_reuse_per_layer"),
    )
    # Killed after the first unit: drop the last checkpoint and the results, resume.
    copy = tmp_path / "b"
    shutil.copytree(run_dir, copy)
    shutil.rmtree(copy / "checkpoints" / "2")
    (copy / "summary.json").unlink()
    resumed = module.run(cfg, copy, resume=True, quiet=True)
    assert resumed["table"] == summary["table"] and resumed["records_sha256"] == summary["records_sha256"]
    assert (copy / "runs.jsonl").read_text() == (run_dir / "runs.jsonl").read_text()


@group("pathnet_binary_mnist")
def test_pathnet_binary_mnist_smoke(tmp_path, smoke_run):
    _, cfg, run_dir, summary = smoke_dir("pathnet_binary_mnist", smoke_run)
    assert [r["method"] for r in summary["rows"]] == ["pathnet", "scratch", "finetune"]
    assert summary["rows"][1]["speedup"] == pytest.approx(1.0)
    assert "| pathnet |" in summary["table"] and "167" in summary["table"]  # the paper's number beside ours
    records = [json.loads(line) for line in (run_dir / "runs.jsonl").read_text().splitlines()]
    assert len(records) == len(cfg.pairs) * cfg.repetitions * 3
    md = build_and_check(
        "pathnet_binary_mnist",
        [run_dir],
        "| pathnet |",
        "| 167 |",  # the paper's generations beside ours
        "| 1.18 |",
        "mean of per-run ratios",
        "95% interval of the mean (t)",
        "Wilcoxon signed-rank",
        "| pathnet - scratch |",
        figures=("speedup_vs_overlap",),
    )
    assert "| scratch |" in md
    assert "| [3, 4] -> [1, 2] |" in md  # per pair
    # the table the run printed is the one `pnn-jax table` builds from its directory (same function,
    # same records); only the provenance line (third) differs
    printed, built = summary["table"].splitlines(), md.rstrip().splitlines()
    assert printed[:2] == built[:2] and printed[3:] == built[3:]
    # two runs of one table in one file: --block names the block that is replaced
    readme = tmp_path / "README.md"
    blocks = "".join(
        f"<!-- table:pathnet_binary_mnist:{p} -->\nold\n<!-- /table:pathnet_binary_mnist:{p} -->\n"
        for p in ("paper", "paper_text")
    )
    readme.write_text(blocks)
    args = [
        "table",
        "pathnet_binary_mnist",
        str(run_dir),
        "--out",
        str(tmp_path / "t"),
        "--readme",
        str(readme),
    ]
    assert cli.main([*args, "--block", "pathnet_binary_mnist:paper_text"]) == 0
    text = readme.read_text()
    assert text.startswith("<!-- table:pathnet_binary_mnist:paper -->\nold\n") and text.count("\nold\n") == 1
    assert "| pathnet |" in text.split("table:pathnet_binary_mnist:paper_text -->")[1]
    assert cli.main([*args[:3], "--block", "x"]) == 2  # --block without --readme
    # --sections: only the chosen sections (here the speedup, the second) and no notes
    assert cli.main([*args, "--block", "pathnet_binary_mnist:paper", "--sections", "2"]) == 0
    excerpt = readme.read_text().split("table:pathnet_binary_mnist:paper -->")[1].split("<!--")[0]
    assert "**Speedup = generations from scratch" in excerpt and "| pathnet |" in excerpt
    assert "**Generations to threshold" not in excerpt and "Wilcoxon" not in excerpt
    assert "Our threshold" not in excerpt  # the notes stay in the full table
    assert cli.main([*args, "--sections", "9"]) == 2  # a section the table does not have
    assert cli.main([*args, "--sections", "one"]) == 2
    assert cli.main([*args[:3], "--sections", "1"]) == 2  # --sections without --readme


@group("pathnet_cifar_svhn")
def test_pathnet_cifar_svhn_smoke_on_generated_files(smoke_run):
    _, _, run_dir, summary = smoke_dir("pathnet_cifar_svhn", smoke_run)  # generated files (smoke_runs)
    # the printed table is the one `pnn-jax table` builds (below): the paper's 35.7% beside ours
    assert len(summary["rows"]) == 4 and "| svhn (after cifar10) |" in summary["table"]
    assert "| 35.7 |" in summary["table"]
    build_and_check(
        "pathnet_cifar_svhn", [run_dir], "| svhn (after cifar10) |", "| 35.7 |", figures=("accuracy",)
    )


@group("thesis_selection_pressure")
def test_thesis_selection_pressure_smoke_skips_missing_data(smoke_run):
    _, _, run_dir, summary = smoke_dir("thesis_selection_pressure", smoke_run)
    assert summary["tasks"] == ["digits 0-2", "digits 3-5"]  # the SVHN task has no files: skipped
    assert "skipped" in (run_dir / "table.md").read_text()
    records = [json.loads(line) for line in (run_dir / "runs.jsonl").read_text().splitlines()]
    first = [r for r in records if r["task"] == 0]
    assert all(r["reuse"] == 0 for r in first)  # nothing is locked before the first task
    assert all(len(r["diversity_curve"]) == r["generations"] for r in records)
    build_and_check(
        "thesis_selection_pressure",
        [run_dir],
        "| digits 3-5 |",
        "capacity used (share of L x M locked)",
        figures=("capacity_used",),
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pathnet.active=11"], "pathnet.active=11 is not allowed: N must be at most M"),
        (["search.schedule=parallel"], "search.schedule='parallel'"),
        (["search.schedule=isolated", "search.parallel=true"], "isolated needs search.parallel=false"),
        (["search.tournament_size=100"], "search.tournament_size=100"),
        (["optim.lr=-1"], "optim.lr=-1.0"),
        (["task1=[3,11]"], "classes [11] do not occur"),
        (["data.source=mnist", "data.mnist_root=/nonexistent"], "t10k-images-idx3-ubyte[.gz]"),
        (["repetitions=0"], "repetitions=0"),
    ],
)
def test_thesis_bad_input(args, message, tmp_path, capsys):
    code = cli.main(["run", "experiment=thesis_first_path", "preset=smoke", f"out_dir={tmp_path}", *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "thesis_first_path").exists()


SHARED_MNIST = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist-test10k"


@pytest.mark.skipif(not SHARED_MNIST.exists(), reason="the real MNIST test digits are not present")
def test_thesis_smoke_on_the_real_mnist_test_digits(tmp_path):
    module, cfg = smoke("thesis_first_path", tmp_path, "data.source=auto", f"data.mnist_root={SHARED_MNIST}")
    assert pc.resolve_source(cfg.data) == "mnist"
    t1, _, desc = first_path.make_tasks(cfg)
    assert "10,000 digits" in desc and t1.x_train.shape[1] == 784
    assert len(t1.y_train) + len(t1.y_test) == 1010 + 982  # digits 3, 4
    assert len(t1.y_test) == 399  # sklearn rounds the held-out 20% up
    summary = module.run(cfg, tmp_path / "r", quiet=True)
    assert "| runs | 4 | 4 |" in summary["table"]
