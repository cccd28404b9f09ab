"""The main job (pnn_digits) through the CLI: a smoke run and its run directory."""

from __future__ import annotations

import json

import pytest

from pnn_jax import cli
from pnn_jax import config as cfglib
from pnn_jax.experiments import pnn_digits


def only_run(root):
    (run_dir,) = list((root / "pnn_digits").iterdir())
    return run_dir


def test_smoke_run_writes_a_complete_run_directory(tmp_path, capsys):
    code = cli.main(
        [
            "run",
            "experiment=pnn_digits",
            "preset=smoke",
            f"out_dir={tmp_path}",
            "methods=[progressive,baseline3,baseline1]",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "| progressive | 2 |" in out and "| baseline3 | 1 |" in out and "run directory:" in out
    run_dir = only_run(tmp_path)
    for name in ("config.yaml", "metrics.jsonl", "summary.json", "run.log", "checkpoints", "tb"):
        assert (run_dir / name).exists(), name
    assert {p.name for p in (run_dir / "figures").iterdir()} == {"accuracy_curves.png", "accuracy_curves.pdf"}
    assert any((run_dir / "tb").iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    rows = {r["method"]: r for r in summary["rows"]}
    prog = rows["progressive"]
    assert prog["a_column_unchanged"] is True and prog["a_before"] == prog["a_after"]
    assert prog["a_before"] > 0.5 and prog["b"] > 0.4  # learns something even in 60 steps
    assert rows["baseline3"]["a_column_unchanged"] is False
    assert rows["baseline1"]["a_before"] is None
    assert len(summary["params_sha256"]) == 64 and set(summary["column_sha256"]) == set(rows)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(20, 20 * len(records) + 1, 20))
    assert all({"wall_time", "steps_per_s", "loss", "test_acc_a", "method"} <= set(r) for r in records)
    cfg = (run_dir / "config.yaml").read_text()
    assert "preset: smoke" in cfg and "steps: 60" in cfg


@pytest.mark.slow
def test_default_config_shows_no_forgetting_only_for_progressive(tmp_path):
    """The main job at its default budget: the README's claims hold."""
    folder = cfglib.EXPERIMENTS_DIR / "pnn_digits"
    cfg = cfglib.load(pnn_digits.Config, [folder / "config.yaml"], [f"out_dir={tmp_path}"])
    rows = {r["method"]: r for r in pnn_digits.run(cfg, tmp_path, quiet=True)["rows"]}
    prog = rows["progressive"]
    assert prog["a_column_unchanged"] and prog["a_after"] == prog["a_before"] > 0.97
    assert prog["b"] > 0.95 and rows["baseline1"]["b"] > 0.95 and rows["baseline4"]["b"] > 0.95
    assert rows["baseline3"]["a_before"] - rows["baseline3"]["a_after"] > 0.2  # fine-tuning forgets A
    assert rows["baseline2"]["a_after"] < rows["baseline2"]["a_before"]
