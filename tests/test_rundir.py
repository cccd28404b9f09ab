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


def test_a_line_torn_by_a_kill_is_dropped_on_resume(tmp_path):
    """A kill in the middle of an append leaves a last line without its newline; reading skips it
    and the resume rewrites the file without it (CI once saw a resume fail on a torn file)."""
    rundir.prepare_run_dir(tmp_path)
    file = tmp_path / rundir.METRICS_FILE
    file.write_text(json.dumps({"step": 10}) + "\n" + '{"step": 2')
    assert [r["step"] for r in rundir.read_metrics(tmp_path)] == [10]
    log = rundir.RunLog(tmp_path, total_steps=40, start_step=10, stream=io.StringIO())
    log.advance(20, {}, "redo")
    log.close()
    assert [r["step"] for r in rundir.read_metrics(tmp_path)] == [10, 20]


def test_atomic_writes_leave_the_old_or_the_new_file(tmp_path, monkeypatch):
    """``write_atomic`` never truncates the target: a failure while writing (as a kill would)
    leaves the previous content in place."""
    file = tmp_path / "started.json"
    rundir.write_atomic(file, '{"commits": ["a"]}')
    real = type(file).write_text

    def torn(self, text, *a, **k):
        real(self, text[:3], *a, **k)
        raise KeyboardInterrupt  # killed half-way through the write

    monkeypatch.setattr(type(file), "write_text", torn)
    try:
        rundir.write_atomic(file, '{"commits": ["a", "b"]}')
    except KeyboardInterrupt:
        pass
    monkeypatch.undo()
    assert json.loads(file.read_text()) == {"commits": ["a"]}
