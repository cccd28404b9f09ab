"""Every experiment of the registry at its smoke preset, through the one runner: the run directory
is complete, its records follow their schema, and the table the run printed is the table
``pnn-jax table`` builds from the directory (the same function on the same records)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from smoke_runs import group

from pnn_jax import experiments, tables
from pnn_jax.config import ConfigError

NAMES = experiments.names()


def test_the_registry_is_the_folders_and_every_experiment_has_a_table_and_a_schema():
    assert NAMES[0] == experiments.MAIN and len(NAMES) == len(set(NAMES)) >= 11
    for name in NAMES:
        experiment = experiments.get(name)
        assert experiment.name == name and experiment.folder.name == name
        assert "smoke" in experiment.presets and experiment.summary
        protocol = experiment.protocol
        assert protocol.table in tables.BUILDERS and name in tables.names()
        assert tables.SCHEMAS[protocol.records.name] is protocol.records


SLOW = {"pnn_atari"}  # the code path of pnn_pong_soup with other games (slow before, as here)


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=[group(n), *([pytest.mark.slow] if n in SLOW else [])]) for n in NAMES]
)
def test_smoke_run_through_the_runner(name, smoke_run):
    run_dir = smoke_run(name)
    for f in (
        "config.yaml",
        "started.json",
        "runs.jsonl",
        "metrics.jsonl",
        "summary.json",
        "table.md",
        "run.log",
    ):
        assert (run_dir / f).exists(), f
    summary = json.loads((run_dir / "summary.json").read_text())
    schema = experiments.get(name).protocol.records
    assert summary["records"] == {"schema": schema.name, "version": schema.version}
    assert summary["builder"] == experiments.get(name).protocol.table
    data = (run_dir / "runs.jsonl").read_bytes()
    assert summary["records_sha256"] == hashlib.sha256(data).hexdigest()
    records = [json.loads(line) for line in data.decode().splitlines()]
    assert records and all(set(schema.fields) <= set(r) for r in records)
    assert summary["provenance"]["commit"] and summary["experiment"] == name
    # the printed table is `pnn-jax table <name> <run dir>`; only the provenance line (third) differs
    markdown, _ = tables.build(name, [run_dir])
    printed, built = summary["table"].splitlines(), markdown.rstrip().splitlines()
    assert printed[:2] == built[:2] and printed[3:] == built[3:]
    assert (run_dir / "table.md").read_text().startswith(summary["table"])


@group("thesis_first_path")
def test_a_run_of_another_schema_version_fails_with_one_line(tmp_path, smoke_run):
    run_dir = smoke_run("thesis_first_path")
    copy = tmp_path / "old"
    copy.mkdir()
    for f in ("config.yaml", "runs.jsonl", "summary.json"):
        (copy / f).write_bytes((run_dir / f).read_bytes())
    summary = json.loads((copy / "summary.json").read_text())
    summary["records"]["version"] = 0
    (copy / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(ConfigError, match="thesis_first_path version 0, this pnn_jax reads") as e:
        tables.build("thesis_first_path", [copy])
    assert "\n" not in str(e.value)
    summary.pop("records")  # written before versions were recorded: version 1, read as today's
    (copy / "summary.json").write_text(json.dumps(summary))
    tables.build("thesis_first_path", [copy])


NEW_MODULE = '''"""thesis_other_pair: the thesis study on another pair of tasks (a demonstration)."""

from pnn_jax.experiments.pathnet_supervised.first_path import FirstPath
from pnn_jax.experiments.runner import Experiment

experiment = Experiment(
    name="thesis_other_pair",
    protocol=FirstPath(),
    summary="the thesis study, S+S vs P+S, on digits {0,1} -> {6,7}",
    presets={"smoke": "~20 s"},
)
'''
NEW_CONFIG = """defaults:
  - schema
  - _self_
  - preset: smoke
experiment: thesis_other_pair
task1: [0, 1]
task2: [6, 7]
"""


def test_adding_an_experiment_takes_its_module_its_yaml_and_its_paper_yaml(tmp_path):
    """A copy of the package plus three files (the module, config.yaml with a preset, paper.yaml)
    and nothing else edited: the new experiment is listed, runs through the runner and has its
    table (its protocol's, with its own paper.yaml)."""
    root = Path(__file__).resolve().parents[2]
    shutil.copytree(root / "pnn_jax", tmp_path / "pnn_jax", symlinks=True)
    shutil.copytree(root / "experiments", tmp_path / "experiments")
    (tmp_path / "pnn_jax" / "experiments" / "thesis_other_pair.py").write_text(NEW_MODULE)
    folder = tmp_path / "experiments" / "thesis_other_pair"
    (folder / "preset").mkdir(parents=True)
    (folder / "config.yaml").write_text(NEW_CONFIG)
    (folder / "preset" / "smoke.yaml").write_bytes(
        (root / "experiments" / "thesis_first_path" / "preset" / "smoke.yaml").read_bytes()
    )
    (folder / "paper.yaml").write_text("stuck_at_chance: {ps_task1: 1, runs: 2}\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}

    def cli(*args):
        done = subprocess.run(
            [sys.executable, "-m", "pnn_jax.cli", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    assert "thesis_other_pair" in cli("list")
    cli("run", "experiment=thesis_other_pair", f"out_dir={tmp_path / 'runs'}", "quiet=true")
    (run_dir,) = (tmp_path / "runs" / "thesis_other_pair").iterdir()
    assert "task1:\n- 0\n- 1" in (run_dir / "config.yaml").read_text()
    table = cli("table", "thesis_other_pair", str(run_dir))
    assert "| 1 / 2 (50%) |" in table  # its own paper.yaml beside its numbers
