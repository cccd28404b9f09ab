"""Run-directory logging: metrics records, progress output on a terminal and elsewhere."""

from __future__ import annotations

import io
import json

from pnn_jax import rundir


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_plain_lines_when_not_a_terminal(tmp_path):
    out = io.StringIO()
    log = rundir.RunLog(rundir.prepare_run_dir(tmp_path), total_steps=30, stream=out)
    for step in (10, 20, 30):
        log.advance(step, {"loss": 1.0 / step, "method": "x"}, f"step {step}")
    log.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and all("steps/s, ETA" in line for line in lines)
    records = rundir.read_metrics(tmp_path)
    assert [r["step"] for r in records] == [10, 20, 30] and records[0]["method"] == "x"
    assert {"wall_time", "steps_per_s", "loss"} <= set(records[0])
    assert (tmp_path / "run.log").read_text().count("step ") == 3
    assert any((tmp_path / "tb").iterdir())


def test_progress_bar_on_a_terminal(tmp_path):
    out = FakeTerminal()
    log = rundir.RunLog(rundir.prepare_run_dir(tmp_path), total_steps=40, stream=out)
    log.advance(20, {"loss": 0.5}, "a per-step line")
    log.info("a result line")
    log.close()
    screen = out.getvalue()
    assert "20/40" in screen and "a result line" in screen
    assert "a per-step line" not in screen  # per-step lines go to run.log only
    assert "a per-step line" in (tmp_path / "run.log").read_text()


def test_resume_drops_records_after_the_checkpoint(tmp_path):
    rundir.prepare_run_dir(tmp_path)
    (tmp_path / rundir.METRICS_FILE).write_text("".join(json.dumps({"step": s}) + "\n" for s in (10, 20, 30)))
    log = rundir.RunLog(tmp_path, total_steps=40, start_step=20, stream=io.StringIO())
    log.advance(30, {"loss": 0.1}, "redo")
    log.close()
    assert [r["step"] for r in rundir.read_metrics(tmp_path)] == [10, 20, 30]
