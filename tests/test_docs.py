"""The documentation site builds strictly: a broken link or anchor, or a docstring the API and
configuration reference cannot read, fails `make test` as it fails `make docs`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build(project: Path, site: Path) -> subprocess.CompletedProcess:
    """``mkdocs build --strict`` of ``project`` (mkdocs comes with the dev extra, beside pytest)."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "mkdocs"), "build", "--strict", "-d", str(site)],
        cwd=project,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_site_builds_with_strict(tmp_path):
    built = build(ROOT, tmp_path / "site")
    assert built.returncode == 0, built.stderr[-3000:]
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    assert "pnn_jax.nets.laterals" in api  # the API reference was rendered from the docstrings
    config = (tmp_path / "site" / "configuration" / "index.html").read_text()
    assert "noise_mode" in config  # and the configuration reference from the schemas


def test_a_broken_link_fails_the_build(tmp_path):
    """The check can fail: the same build over a copy of the docs with one dead link."""
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    config = (ROOT / "mkdocs.yml").read_text().replace("paths: [.]", f"paths: [{ROOT}]")
    (tmp_path / "mkdocs.yml").write_text(config)
    with (tmp_path / "docs" / "index.md").open("a") as f:
        f.write("\nSee [nowhere](no_such_page.md).\n")
    built = build(tmp_path, tmp_path / "site")
    assert built.returncode != 0 and "no_such_page.md" in built.stderr
