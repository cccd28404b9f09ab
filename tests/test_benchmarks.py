"""The benchmark figures in the README and docs are generated from benchmarks/results.jsonl, and
the GPU check (scripts/gpu_check.sh) runs end to end at tiny sizes on CPU (--dry-run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import readme  # benchmarks/readme.py

ROOT = Path(__file__).resolve().parents[1]


def rec(bench: str, figures: dict, *, backend: str = "cpu", quick: bool = False, commit: str = "abc") -> dict:
    return {
        "bench": bench,
        "date": "2026-12-04",
        "commit": commit,
        "machine": f"{backend} machine",
        "backend": backend,
        "jax": "0",
        "quick": quick,
        "figures": figures,
    }


SWEEP = {"methods": 5, "iterations": 40, "population_s": 64.0, "per_pair_s": 114.6, "speedup": 1.79}


def test_readme_and_docs_show_the_newest_recorded_figures():
    """Stale figures fail: regenerate with `python benchmarks/readme.py --write` (make bench does)."""
    readme.main(["--check"])


def test_the_table_shows_the_newest_full_size_record_per_backend_accelerators_first():
    records = [
        rec("sweep", SWEEP, commit="old"),
        rec("sweep", {**SWEEP, "speedup": 1.5}, commit="new"),
        rec("sweep", {**SWEEP, "speedup": 9.9}, quick=True, commit="dry"),
        rec("sweep", {**SWEEP, "speedup": 3.0}, backend="gpu", commit="gpu1"),
    ]
    table = readme.render(records)
    rows = table.splitlines()[2:]
    assert len(rows) == 2
    assert "3.00x faster" in rows[0] and "gpu1" in rows[0]
    assert "1.50x faster" in rows[1] and "new" in rows[1]
    assert "9.9" not in table and "dry" not in table
    assert "no benchmark recorded yet" in readme.render([])
    with pytest.raises(ValueError, match="no rows for benchmark 'nope'"):
        readme.render([rec("nope", {})])


def test_a_stale_block_fails_the_check(tmp_path, monkeypatch):
    doc = tmp_path / "README.md"
    doc.write_text(f"a\n{readme.START}\nold figures\n{readme.END}\nb\n")
    results = tmp_path / "results.jsonl"
    results.write_text(json.dumps(rec("sweep", SWEEP)) + "\n")
    monkeypatch.setattr(readme, "TARGETS", [doc])
    with pytest.raises(SystemExit, match="stale"):
        readme.main(["--check", "--results", str(results)])
    readme.main(["--write", "--results", str(results)])
    assert "1.79x faster (64.0 s vs 114.6 s" in doc.read_text() and doc.read_text().endswith("\nb\n")
    readme.main(["--check", "--results", str(results)])


def test_gpu_check_rejects_a_bad_argument_in_one_line():
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_check.sh"), "--pong-seconds", "ten"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "error: --pong-seconds must be a whole number of seconds, got 'ten'"


@pytest.mark.slow  # about 8 minutes on the 2-core CPU
def test_gpu_check_dry_run(tmp_path):
    results = (ROOT / "benchmarks" / "RESULTS.md").read_bytes()
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_check.sh"), "--dry-run", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = (tmp_path / "summary.md").read_text()
    for name in ("install", "device", "tests", "bench", "ppo", "pong"):
        assert f"| {name} | ok |" in summary, summary
    assert "dry run" in summary and "PPO reference, Nature CNN, 2 envs" in summary
    records = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert {r["bench"] for r in records} == {*readme.ORDER, "pong_ppo"}
    assert all(r["quick"] for r in records)
    pong = json.loads((tmp_path / "pong" / "summary.json").read_text())
    assert (
        pong["rate"] > 0 and pong["agent_steps"] > 0 and (tmp_path / "pong" / "curve.png").stat().st_size > 0
    )
    assert (tmp_path / "RESULTS.md").read_text().count("## gpu_check") == 1
    assert (ROOT / "benchmarks" / "RESULTS.md").read_bytes() == results  # a dry run leaves it alone
