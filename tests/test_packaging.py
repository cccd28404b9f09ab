"""The wheel: an installed pnn_jax (not editable) runs an experiment from an unrelated directory,
its configs, presets and paper.yaml coming from the package (pnn_jax/_experiments, a link to
experiments/ in the checkout, is package data)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "pnn_jax", "experiments")


@pytest.mark.slow
def test_the_wheel_runs_an_experiment_from_an_unrelated_directory(tmp_path):
    # build from a copy, so the checkout gets no build/ or egg-info
    src = tmp_path / "src"
    for name in SOURCES:
        if (ROOT / name).is_dir():
            skip = shutil.ignore_patterns("__pycache__")
            shutil.copytree(ROOT / name, src / name, symlinks=True, ignore=skip)
        elif (ROOT / name).is_file():
            src.mkdir(exist_ok=True)
            shutil.copy(ROOT / name, src / name)
    run = lambda *cmd, **kw: subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)  # noqa: E731
    dist = tmp_path / "dist"
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src))
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = dist.glob("pnn_jax-*.whl")

    # a fresh venv holding only the wheel; its dependencies are this environment's, added after the
    # install (a .pth line adds a folder to sys.path without running that folder's own .pth files,
    # so this checkout's editable install stays out)
    venv = tmp_path / "venv"
    assert run(sys.executable, "-m", "venv", str(venv)).returncode == 0
    py = venv / "bin" / "python"
    installed = run(str(py), "-m", "pip", "install", "--no-deps", "-q", str(wheel))
    assert installed.returncode == 0, installed.stderr[-3000:]
    purelib = run(str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    Path(purelib, "reuse_test_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run(str(py), "-c", "import pnn_jax.config as c; print(c.EXPERIMENTS_DIR)", cwd=elsewhere)
    assert where.stdout.strip() == str(Path(purelib) / "pnn_jax" / "_experiments"), where.stderr[-2000:]
    cli = venv / "bin" / "pnn-jax"
    listed = run(str(cli), "list", cwd=elsewhere)
    assert listed.returncode == 0 and "pnn_pong_soup" in listed.stdout, listed.stderr[-2000:]
    ran = run(str(cli), "run", "experiment=thesis_first_path", "preset=smoke", "out_dir=runs", cwd=elsewhere)
    assert ran.returncode == 0, ran.stderr[-3000:]
    (summary,) = (elsewhere / "runs" / "thesis_first_path").glob("*/summary.json")
    assert (summary.parent / "runs.jsonl").read_text().strip()
