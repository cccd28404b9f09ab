"""Checkpoints and exact resume: kill -9 at a random moment, corrupted checkpoints, frozen checksums."""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from smoke_runs import group

RUN = [sys.executable, "-m", "pnn_jax.cli", "run", "experiment=pnn_digits", "preset=smoke", "quiet=true"]
RESUME = [sys.executable, "-m", "pnn_jax.cli", "resume"]


def run_dir_in(root: Path) -> Path:
    (run_dir,) = list((root / "pnn_digits").iterdir())
    return run_dir


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def checkpoints(run_dir: Path, folder: str = "checkpoints") -> list[int]:
    """Finalised checkpoints: ``checkpoints/`` (after each finished unit, a method) or
    ``unit_checkpoints/`` (inside a unit)."""
    path = run_dir / folder
    return sorted(int(p.name) for p in path.iterdir() if p.name.isdigit()) if path.exists() else []


# On the worker of pnn_digits' session smoke run (`--dist loadgroup`, make test), which is the
# uninterrupted reference: made once per session, read only (tests copy it before changing it).
pytestmark = group("pnn_digits")


@pytest.fixture
def reference(smoke_run) -> Path:
    """An uninterrupted smoke run (the session's, :mod:`smoke_runs`)."""
    return smoke_run("pnn_digits")


def test_killed_run_resumes_to_the_same_parameters(reference, tmp_path):
    proc = subprocess.Popen([*RUN, f"out_dir={tmp_path}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        # A finalised step directory is named by its step alone; orbax writes into
        # "<step>.orbax-checkpoint-tmp-*" first and renames it when complete.
        if any(checkpoints(d, "unit_checkpoints") for d in tmp_path.glob("pnn_digits/*")):
            break
        time.sleep(0.05)
    delay = random.uniform(0.0, 1.5)  # an arbitrary moment after the first checkpoint
    time.sleep(delay)
    assert proc.poll() is None, f"run finished before the kill (delay {delay:.2f} s); make it longer"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    run_dir = run_dir_in(tmp_path)
    kept = checkpoints(run_dir, "unit_checkpoints")
    assert kept and not (run_dir / "summary.json").exists()
    resume_and_compare(run_dir, reference, f"killed after {delay:.2f} s at checkpoint {kept}")


def test_killed_before_its_first_checkpoint_resumes_from_the_beginning(reference, tmp_path):
    """Killed as soon as its run directory exists, long before a checkpoint is finalised: the
    resume says it starts over and ends where an uninterrupted run ends."""
    proc = subprocess.Popen([*RUN, f"out_dir={tmp_path}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if any((d / "config.yaml").exists() for d in tmp_path.glob("pnn_digits/*")):
            break
        time.sleep(0.01)
    assert proc.poll() is None, proc.stderr.read().decode()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    run_dir = run_dir_in(tmp_path)
    assert not checkpoints(run_dir) and not checkpoints(run_dir, "unit_checkpoints"), (
        "a checkpoint was finalised before the kill; kill earlier"
    )
    out = resume_and_compare(run_dir, reference, "killed before its first checkpoint")
    assert "no finalised checkpoint" in (run_dir / "run.log").read_text(), out


def resume_and_compare(run_dir: Path, reference: Path, context: str) -> str:
    """``pnn-jax resume run_dir``; the resumed run must end with the reference's parameters, rows
    and metrics log. Returns the resume's stdout."""
    out = subprocess.run([*RESUME, str(run_dir), "quiet=true"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    resumed, ref = summary(run_dir), summary(reference)
    assert resumed["resumed"] is True
    assert resumed["params_sha256"] == ref["params_sha256"], context
    assert resumed["column_sha256"] == ref["column_sha256"]
    assert [r["b"] for r in resumed["rows"]] == [r["b"] for r in ref["rows"]]
    # The metrics log has every step once, as if the run had never stopped.
    steps = [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == [
        json.loads(line)["step"] for line in (reference / "metrics.jsonl").read_text().splitlines()
    ]
    return out.stdout


def test_corrupted_latest_checkpoint_falls_back_with_a_warning(reference, tmp_path):

    run_dir = tmp_path / "run"
    shutil.copytree(reference, run_dir)
    newest, previous = checkpoints(run_dir)[-1], checkpoints(run_dir)[-2]
    for f in (run_dir / "checkpoints" / str(newest) / "state").rglob("*"):
        if f.is_file() and f.parent.name == "d":  # the array data
            f.write_bytes(f.read_bytes()[:7])  # truncated
    (run_dir / "summary.json").unlink()
    out = subprocess.run([*RESUME, str(run_dir), "quiet=true"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert f"checkpoint step {newest}" in out.stderr and f"resuming from step {previous}" in out.stderr
    assert summary(run_dir)["params_sha256"] == summary(reference)["params_sha256"]
    assert previous in checkpoints(run_dir)  # the good one was not deleted


def test_frozen_checksum_mismatch_is_an_error(reference, tmp_path):

    run_dir = tmp_path / "run"
    shutil.copytree(reference, run_dir)
    shutil.rmtree(run_dir / "checkpoints" / str(checkpoints(run_dir)[-1]))  # the last unit is to redo
    (run_dir / "summary.json").unlink()
    newest = checkpoints(run_dir, "unit_checkpoints")[-1]  # inside the last unit (baseline4)
    meta_file = run_dir / "unit_checkpoints" / str(newest) / "meta" / "metadata"
    meta = json.loads(meta_file.read_text())
    assert meta["frozen_sha256"], "the newest smoke checkpoint (baseline4) has a frozen column"
    slot = next(iter(meta["frozen_sha256"]))  # "<population member>:<column>"
    member, column = slot.split(":")
    meta["frozen_sha256"][slot] = "0" * 64
    meta_file.write_text(json.dumps(meta))
    out = subprocess.run([*RESUME, str(run_dir)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 2
    assert f"frozen column {column} of baseline4 (member {member}) does not match its checksum" in out.stderr
    assert out.stderr.count("\n") == 1
