"""The main job (pnn_digits): a tiny end-to-end run, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import os
import stat

import pytest

from pnn_jax.experiments import pnn_digits

TINY = ["train.steps=60", "train.log_every=30", "train.batch_size=32", "model.widths=[16]"]


def test_tiny_run_prints_table_and_progressive_keeps_task_a(tmp_path, capsys):
    code = pnn_digits.main([*TINY, f"out_dir={tmp_path}", "methods=[progressive,baseline3,baseline1]"])
    assert code == 0
    out = capsys.readouterr().out
    assert "| progressive | 2 |" in out and "| baseline3 | 1 |" in out and "run directory:" in out
    run_dir = next((tmp_path / "pnn_digits").iterdir())
    rows = {r["method"]: r for r in json.loads((run_dir / "results.json").read_text())["rows"]}
    prog = rows["progressive"]
    assert prog["a_column_unchanged"] is True and prog["a_before"] == prog["a_after"]
    assert prog["a_before"] > 0.5 and prog["b"] > 0.5  # learns something even in 60 steps
    assert rows["baseline3"]["a_column_unchanged"] is False
    assert rows["baseline1"]["a_before"] is None
    assert (run_dir / "config.yaml").read_text().count("steps: 60") == 1
    assert (run_dir / "table.md").exists()


BAD = [
    (["train.lrr=0.1"], "unknown config key 'train.lrr'"),
    (["train.lr=-0.1"], "train.lr=-0.1"),
    (["train.steps=0"], "train.steps=0"),
    (["train.steps=abc"], "bad value for 'train.steps'"),
    (["methods=[progressive,baseline9]"], "methods='baseline9'"),
    (["task_a=[3]"], "at least 2 digit classes"),
    (["task_b=[5,12]"], "digit classes are 0..9"),
    (["task_a=[1,1]"], "distinct"),
    (["model.lateral=dense"], "model.lateral='dense'"),
    (["model.adapter_width=wide"], "model.adapter_width='wide'"),
    (["model.alpha_init=0"], "model.alpha_init=0.0"),
    (["model.adapter_v=conv"], "model.adapter_v='conv'"),
    (["model.widths=[]"], "model.widths"),
    (["train.optimizer=lbfgs"], "train.optimizer='lbfgs'"),
    (["train.batch_size=100000"], "at most the smallest task's training set"),
    (["test_fraction=1.5"], "test_fraction=1.5"),
    (["steps"], "not of the form key=value"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[a[0][0] for a in BAD])
def test_bad_config_is_one_line_exit_2(args, message, capsys, tmp_path):
    code = pnn_digits.main([*args, f"out_dir={tmp_path}"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and err.startswith("error: ") and err.count("\n") == 1, err
    assert not any((tmp_path / "pnn_digits").glob("*")) if (tmp_path / "pnn_digits").exists() else True


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_out_dir(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    assert pnn_digits.main([*TINY, f"out_dir={locked}"]) == 2
    assert "not writable" in capsys.readouterr().err


def test_file_as_out_dir(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert pnn_digits.main([*TINY, f"out_dir={blocker}"]) == 2
    assert "not writable" in capsys.readouterr().err


@pytest.mark.slow
def test_default_config_shows_no_forgetting_only_for_progressive(tmp_path):
    """The main job at its default budget: the README's claims hold."""
    from pnn_jax import config as cfglib

    cfg = cfglib.load(pnn_digits.DigitsConfig, pnn_digits.CONFIG_PATH, [f"out_dir={tmp_path}"])
    rows = {r["method"]: r for r in pnn_digits.run(cfg, log=lambda *_: None)["rows"]}
    prog = rows["progressive"]
    assert prog["a_column_unchanged"] and prog["a_after"] == prog["a_before"] > 0.97
    assert prog["b"] > 0.95 and rows["baseline1"]["b"] > 0.95 and rows["baseline4"]["b"] > 0.95
    assert rows["baseline3"]["a_before"] - rows["baseline3"]["a_after"] > 0.2  # fine-tuning forgets A
    assert rows["baseline2"]["a_after"] < rows["baseline2"]["a_before"]
