"""Long RL runs a researcher can watch, preempt and resume (issue 13, parts 3 and 4).

* every chunk appends a metrics record (metrics.jsonl) while a unit runs;
* a NaN in the parameters stops the unit at the next chunk boundary with one line and exit code 2,
  and the last good checkpoint stays readable;
* a run killed with SIGKILL in the middle of a unit resumes from its last checkpoint inside the
  unit (no finished iteration redone), completes, and its records have the structure and counts of
  an uninterrupted run; SIGTERM leaves a checkpoint at the current iteration (exit code 143). For
  the sequential transfer runs, the population mode and the PathNet RL runs.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pnn_jax import cli, rundir
from pnn_jax.checkpoint import Checkpointer
from pnn_jax.experiments.rl_transfer import sequential
from pnn_jax.experiments.units import UNIT_CHECKPOINTS
from pnn_jax.rl import actor_critic

CHUNK_KEYS = {"agent_steps", "sps", "policy_loss", "value_loss", "entropy", "episodes", "episode_return"}

# (experiment, overrides): long enough to be killed inside a unit, short enough for CI
RUNS = {
    "sequential": (
        "pnn_classic_transfer",
        ["preset=smoke", "iterations=300", "chunk=20", "checkpoint.every=40", "analysis.afs=false"],
    ),
    "population": (
        "pnn_classic_transfer",
        [
            "preset=smoke",
            "population=true",
            "iterations=600",
            "chunk=20",
            "checkpoint.every=40",
            "analysis.afs=false",
        ],
    ),
    "pathnet": (
        "pathnet_lunarlander_curriculum",
        ["preset=smoke", "steps_per_task=60000", "checkpoint.every=40"],
    ),
}


def command(kind: str, out: Path) -> list[str]:
    name, over = RUNS[kind]
    return [
        sys.executable,
        "-m",
        "pnn_jax.cli",
        "run",
        f"experiment={name}",
        *over,
        f"out_dir={out}",
        "quiet=true",
    ]


def only_run_dir(root: Path) -> Path:
    (run_dir,) = [p for p in root.glob("*/*") if p.is_dir()]
    return run_dir


def chunk_records(run_dir: Path) -> list[dict]:
    return [m for m in rundir.read_metrics(run_dir) if m.get("kind") == "chunk"]


def runs(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "runs.jsonl").read_text().splitlines()]


def shape(value):
    """The structure of a record: keys, types and the lengths of lists of records, not the numbers
    (a list of numbers is "numbers": how many curve points fit into the agent steps depends on how
    many steps were auto-resets, and a resumed run restarts its envs)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items() if k not in ("seconds",)}
    if isinstance(value, list):
        if value and isinstance(value[0], dict | list):
            return [len(value), shape(value[0])]
        return "numbers"
    return type(value).__name__ if value is not None else "float"


def curve_lengths(records: list[dict]) -> list[int]:
    return [len(s["curve"]) for r in records for s in r["stages"]]


def resume(run_dir: Path) -> None:
    """``pnn-jax resume run_dir`` in a fresh process; it must end the run."""
    done = subprocess.run(
        [sys.executable, "-m", "pnn_jax.cli", "resume", str(run_dir), "quiet=true"],
        capture_output=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr.decode()


def wait_for_chunks(proc, run_root: Path, count: int, timeout: float = 300) -> Path:
    """Wait until the run has written ``count`` chunk records and a checkpoint inside its unit."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()
        dirs = [p for p in run_root.glob("*/*") if p.is_dir()]
        if dirs:
            ckpts = dirs[0] / UNIT_CHECKPOINTS
            done = ckpts.exists() and any(p.name.isdigit() for p in ckpts.iterdir())
            if done and len(chunk_records(dirs[0])) >= count:
                return dirs[0]
        time.sleep(0.05)
    raise AssertionError("the run wrote no chunk records in time")


class References(dict):
    """Uninterrupted runs, one per kind, made when a test first asks for it."""

    def __init__(self, factory):
        super().__init__()
        self.factory = factory

    def __missing__(self, kind):
        root = self.factory.mktemp(f"reference_{kind}")
        subprocess.run(
            command(kind, root), check=True, capture_output=True, timeout=600, stdin=subprocess.DEVNULL
        )
        self[kind] = only_run_dir(root)
        return self[kind]


# One worker for the whole file under `--dist loadgroup` (make test): the module-scoped reference
# is then made once, not once per worker.
pytestmark = pytest.mark.xdist_group("rl_runs")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return References(tmp_path_factory)


# The sequential runs in the fast suite; the population and PathNet RL runs (same machinery, more
# compile time) are slow tests.
KINDS = [
    "sequential",
    pytest.param("population", marks=pytest.mark.slow),
    pytest.param("pathnet", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("kind", KINDS)
def test_chunk_records_while_a_unit_runs(kind, reference):
    records = chunk_records(reference[kind])
    assert records and all(CHUNK_KEYS <= set(r) for r in records)
    for unit in {r["unit"] for r in records}:  # positions grow within a unit
        pos = [r["position"] for r in records if r["unit"] == unit]
        assert pos == sorted(pos) and len(set(pos)) == len(pos)
    assert any(r["curve_points"] for r in records) or kind == "population"
    assert all(r["agent_steps"] > 0 and r["sps"] > 0 for r in records)
    events = list((reference[kind] / "tb").glob("events.*"))
    assert events and sum(e.stat().st_size for e in events) > 1000  # the scalars went to TensorBoard


def sigterm(proc, run_dir: Path) -> None:
    """SIGTERM (what SLURM sends before preemption): exit code 143 with the resume command, and a
    checkpoint at the last chunk done."""
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=120)[1].decode()
    assert proc.returncode == cli.PREEMPTED_EXIT, err
    assert "stopped by SIGTERM" in err and "pnn-jax resume" in err
    last = chunk_records(run_dir)[-1]
    ckpt = Checkpointer(run_dir / UNIT_CHECKPOINTS)
    step = ckpt.steps()[-1]
    ckpt.close()
    assert step % 10**12 == last["position"]  # the checkpoint is at the last chunk done


@pytest.mark.parametrize("kind", KINDS)
def test_sigkill_inside_a_unit_resumes_from_its_checkpoint(kind, reference, tmp_path):
    """SIGKILL inside a unit, then resume to the end. The sequential run is first stopped by SIGTERM
    and resumed (one run checks both signals, for CI time)."""

    def start(cmd):
        return subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
        )

    proc = start(command(kind, tmp_path))
    run_dir = wait_for_chunks(proc, tmp_path, count=3 if kind == "sequential" else 4)
    if kind == "sequential":
        sigterm(proc, run_dir)
        done = len(chunk_records(run_dir))
        proc = start([sys.executable, "-m", "pnn_jax.cli", "resume", str(run_dir), "quiet=true"])
        wait_for_chunks(proc, tmp_path, count=done + 2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    before = chunk_records(run_dir)
    assert not (run_dir / "runs.jsonl").exists() or len(runs(run_dir)) < len(runs(reference[kind]))
    resume(run_dir)
    log = (run_dir / "run.log").read_text()
    assert "resumed inside the unit" in log
    after = chunk_records(run_dir)
    # nothing redone: each chunk position of a unit appears once, and the records kept from before
    # the kill are the same lines
    for unit in {r["unit"] for r in after}:
        pos = [r["position"] for r in after if r["unit"] == unit]
        assert pos == sorted(pos) and len(set(pos)) == len(pos)
    kept = [
        r for r in before if r["position"] <= max(r2["position"] for r2 in after if r2["unit"] == r["unit"])
    ]
    assert all(r in after for r in kept[: len(kept) - 2])
    # the same structure and counts as the uninterrupted run
    got, want = runs(run_dir), runs(reference[kind])
    assert [shape(r) for r in got] == [shape(r) for r in want]
    assert np.abs(np.subtract(curve_lengths(got), curve_lengths(want))).max() <= 1
    assert len(after) == len(chunk_records(reference[kind]))
    assert json.loads((run_dir / "summary.json").read_text())["resumed"] is True


def test_a_nan_stops_the_unit_with_one_line_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, capsys):

    make_loop = actor_critic.make_loop
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        loop = make_loop(*args, **kwargs)

        def call(state, actor):
            state, actor, m = loop(state, actor)
            calls["n"] += 1
            if calls["n"] == 3:  # the first chunk of the target stage
                state = state.replace(params=jax.tree.map(lambda a: a * jnp.nan, state.params))
            return state, actor, m

        return call

    monkeypatch.setattr(sequential, "make_loop", poisoned)  # where the runner looks it up
    code = cli.main(
        [
            "run",
            "experiment=pnn_classic_transfer",
            "preset=smoke",
            "methods=[progressive,baseline1]",
            "iterations=40",
            "chunk=20",
            "checkpoint.every=20",
            f"out_dir={tmp_path}",
            "quiet=true",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert "pnn_classic_transfer" in err[0] and "unit 1/2" in err[0]
    assert "iteration 20" in err[0] and "parameters is not finite" in err[0] and "target" in err[0]
    run_dir = only_run_dir(tmp_path)
    ckpt = Checkpointer(run_dir / UNIT_CHECKPOINTS)
    _, state, meta = ckpt.restore_latest(lambda meta: None)  # reads back: the last good checkpoint
    ckpt.close()
    assert meta["stage"] == 0 and meta["iteration"] == 20
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(state))
