"""Sweeps through Hydra multirun (joblib and submitit-local launchers) and `pnn-jax report`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pnn_jax import cli, sweep

FAST = ["run", "-m", "experiment=pnn_digits", "preset=smoke", "methods=[baseline1]", "train.steps=40"]


def pnn_jax(*args: str) -> subprocess.CompletedProcess:
    """The CLI in its own process, as a user runs it (Hydra configures that process's logging)."""
    return subprocess.run(
        [sys.executable, "-m", "pnn_jax.cli", *args], capture_output=True, text=True, timeout=600
    )


def sweep_dir_in(root):
    (found,) = list((root / "pnn_digits" / "sweeps").iterdir())
    return found


def test_expand_is_the_cartesian_product_in_order():
    jobs = sweep.expand(["seed=0,1", "train.lr=1e-3,5e-4", "preset=smoke"])
    assert jobs == [
        ["seed=0", "train.lr=0.001", "preset=smoke"],
        ["seed=0", "train.lr=0.0005", "preset=smoke"],
        ["seed=1", "train.lr=0.001", "preset=smoke"],
        ["seed=1", "train.lr=0.0005", "preset=smoke"],
    ]


# submitit_local (the SLURM launcher's path, run here) is slow: the job function, run directories
# and report are the ones the joblib sweep checks in the fast suite
@pytest.mark.parametrize("launcher", ["joblib", pytest.param("submitit_local", marks=pytest.mark.slow)])
def test_two_job_sweep(launcher, tmp_path):
    done = pnn_jax(*FAST, "seed=0,1", f"out_dir={tmp_path}", f"hydra/launcher={launcher}")
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "sweep: 2 job(s)" in out and "sweep directory:" in out and "| baseline1/b |" in out
    found = sweep_dir_in(tmp_path)
    assert (found / "multirun.yaml").exists()  # the sweep's config, written by Hydra
    seeds = []
    for job in ("0", "1"):
        summary = json.loads((found / job / "summary.json").read_text())
        assert summary["experiment"] == "pnn_digits" and len(summary["params_sha256"]) == 64
        seeds.append(summary["params_sha256"])
        assert "seed: " + job in (found / job / "config.yaml").read_text()
        assert (found / job / "checkpoints").is_dir()
    assert seeds[0] != seeds[1]  # different seeds, different parameters
    report = (found / "report.md").read_text()
    assert "2 run(s)" in report and "| baseline1/b |" in report and "seed=1" in report
    assert (found / "report.csv").read_text().startswith("run,overrides,metric,value")
    assert (found / "figures" / "report.png").exists() and (found / "figures" / "report.pdf").exists()


def test_a_bad_value_in_one_job_stops_the_sweep_before_it_starts(tmp_path, capsys):
    assert cli.main([*FAST, "train.lr=1e-3,-1", f"out_dir={tmp_path}"]) == 2
    assert "train.lr=-1.0 is not allowed" in capsys.readouterr().err
    assert not (tmp_path / "pnn_digits").exists()


def test_hydra_settings_need_a_sweep(tmp_path, capsys):
    assert cli.main(["run", "experiment=pnn_digits", "hydra/launcher=joblib", f"out_dir={tmp_path}"]) == 2
    assert "apply to sweeps only" in capsys.readouterr().err


def test_report_errors(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path / "missing")]) == 2
    assert "is not a directory" in capsys.readouterr().err
    assert cli.main(["report", str(tmp_path)]) == 2
    assert "no finished run (summary.json)" in capsys.readouterr().err
    assert cli.main(["report"]) == 2
    assert "report takes one run or sweep directory" in capsys.readouterr().err


def test_report_on_a_single_run(tmp_path, capsys):
    assert (
        cli.main(
            [
                "run",
                "experiment=pnn_digits",
                "preset=smoke",
                "methods=[baseline1]",
                f"out_dir={tmp_path}",
                "quiet=true",
            ]
        )
        == 0
    )
    (run_dir,) = [p for p in (tmp_path / "pnn_digits").iterdir()]
    capsys.readouterr()
    assert cli.main(["report", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "1 run(s)" in out and "| baseline1/b |" in out
    assert (run_dir / "report.md").exists()


def test_report_breaks_a_metric_down_by_each_factor_of_the_sweep(tmp_path, capsys):
    """Four fake jobs of a 2 x 2 sweep (noise x aggregation): the marginal mean of the metric at
    each value of each factor, numbers ordered numerically; a factor with one value is not one;
    an unknown metric is a one-line error."""
    values = {("0", "sum"): 1.0, ("0", "mean_last"): 3.0, ("0.5", "sum"): 5.0, ("0.5", "mean_last"): 11.0}
    for i, ((noise, agg), speedup) in enumerate(values.items()):
        job = tmp_path / str(i)
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(
            f"- experiment=pathnet_binary_mnist\n- data.noise={noise}\n- pathnet.aggregation={agg}\n"
        )
        (job / "summary.json").write_text(
            json.dumps({"rows": [{"method": "pathnet", "speedup": speedup}], "wall_time_s": 1.0})
        )
    assert cli.main(["report", str(tmp_path), "metrics=pathnet/speedup"]) == 0
    out = capsys.readouterr().out
    assert "## pathnet/speedup by factor" in out
    assert "| data.noise | 0 | 2.0000 |" in out and "| data.noise | 0.5 | 8.0000 |" in out
    assert (
        "| pathnet.aggregation | mean_last | 7.0000 |" in out
        and "| pathnet.aggregation | sum | 3.0000 |" in out
    )
    assert out.index("| data.noise | 0 |") < out.index("| data.noise | 0.5 |")
    assert "| experiment |" not in out  # one value: not a factor
    assert (tmp_path / "figures" / "by_factor_pathnet_speedup.png").exists()
    assert cli.main(["report", str(tmp_path), "metrics=pathnet/nope"]) == 2
    assert "pathnet/nope not among the runs' metrics" in capsys.readouterr().err
