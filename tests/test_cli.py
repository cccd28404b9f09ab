"""`pnn-jax` commands, and bad input: one line on stderr, exit code 2, nothing written."""

from __future__ import annotations

import os
import stat

import pytest

from pnn_jax import cli
from pnn_jax.config import ConfigError

SMOKE = ["run", "experiment=pnn_digits", "preset=smoke"]


def test_help_and_list(capsys):
    assert cli.main(["--help"]) == 0
    assert "examples:" in capsys.readouterr().out
    assert cli.main(["run", "--help"]) == 0
    out = capsys.readouterr().out
    assert "preset=<preset>" in out and "Examples:" in out
    assert cli.main(["resume", "--help"]) == 0
    assert "newest readable checkpoint" in capsys.readouterr().out
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("thesis_first_path") and "pnn_digits" in out and "smoke" in out and "paper" in out


BAD = [
    (["run"], "experiment=<name> is required"),
    (["run", "experiment=pnn_atari_soup"], "experiment='pnn_atari_soup' is unknown"),
    ([*SMOKE[:2], "preset=huge"], "preset='huge' is not allowed: choose one of paper, quick, smoke"),
    ([*SMOKE, "train.lrr=0.1"], "unknown config key 'train.lrr'"),
    ([*SMOKE, "train.lr=-0.1"], "train.lr=-0.1"),
    ([*SMOKE, "train.steps=0"], "train.steps=0"),
    ([*SMOKE, "train.steps=abc"], "bad value for 'train.steps'"),
    ([*SMOKE, "methods=[progressive,baseline9]"], "methods='baseline9'"),
    ([*SMOKE, "task_a=[3]"], "at least 2 digit classes"),
    ([*SMOKE, "task_b=[5,12]"], "digit classes are 0..9"),
    ([*SMOKE, "task_a=[1,1]"], "distinct"),
    ([*SMOKE, "model.lateral=dense"], "model.lateral='dense'"),
    ([*SMOKE, "model.adapter_width=wide"], "model.adapter_width='wide'"),
    ([*SMOKE, "model.adapter_v=conv"], "model.adapter_v='conv'"),
    ([*SMOKE, "model.alpha_init=0"], "model.alpha_init=0.0"),
    ([*SMOKE, "model.widths=[]"], "model.widths"),
    ([*SMOKE, "train.optimizer=lbfgs"], "train.optimizer='lbfgs'"),
    ([*SMOKE, "train.batch_size=100000"], "at most the smallest task's training set"),
    ([*SMOKE, "test_fraction=1.5"], "test_fraction=1.5"),
    ([*SMOKE, "checkpoint.every=30"], "checkpoint.every=30"),
    ([*SMOKE, "checkpoint.keep=0"], "checkpoint.keep=0"),
    ([*SMOKE, "steps"], "not of the form key=value"),
    ([*SMOKE, "quiet=maybe"], "quiet='maybe'"),
    (["resume"], "resume takes one run directory"),
    (["resume", "/nonexistent/run"], "does not exist"),
    (["frobnicate"], "unknown command 'frobnicate'"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[" ".join(a[0][1:]) or a[0][0] for a in BAD])
def test_bad_input_is_one_line_exit_2(args, message, capsys, tmp_path):
    code = cli.main([*args, f"out_dir={tmp_path}"] if args[0] == "run" else args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and err.startswith("error: ") and err.count("\n") == 1, err
    assert not (tmp_path / "pnn_digits").exists()  # validated before a run directory is made


def test_resume_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert cli.main(["resume", str(tmp_path)]) == 2
    assert "is not a run directory (no config.yaml or checkpoints)" in capsys.readouterr().err


def test_out_dir_that_is_a_file(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert cli.main([*SMOKE, f"out_dir={blocker}"]) == 2
    assert "is not writable" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_out_dir(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    assert cli.main([*SMOKE, f"out_dir={locked}"]) == 2
    assert "not writable" in capsys.readouterr().err


def test_debug_shows_the_traceback(tmp_path):

    with pytest.raises(ConfigError, match=r"train\.lr"):
        cli.main([*SMOKE, "train.lr=-1", "debug=true", f"out_dir={tmp_path}"])


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ("population.seeds=0", "population.seeds=0"),
        ("population.lr=[1e-3,-1]", "population.lr=-1"),
        ("population.alpha_init=[0]", "population.alpha_init=0"),
    ],
)
def test_bad_population(arg, message, tmp_path, capsys):
    assert cli.main([*SMOKE, arg, f"out_dir={tmp_path}"]) == 2
    assert message in capsys.readouterr().err
