"""The README's quick start is exactly two commands and its list of experiments is the registry's;
the API example (in docs/usage.md) runs as written."""

from __future__ import annotations

import re
from pathlib import Path

from pnn_jax import experiments

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def section(title: str, path: Path = README) -> str:
    text = path.read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def test_api_example_runs_and_is_short():
    code = re.search(
        r"```python\n(.*?)```", section("The API in a few lines", ROOT / "docs" / "usage.md"), re.S
    )
    code = code.group(1)
    assert len(code.strip().splitlines()) <= 15
    namespace: dict = {}
    exec(compile(code, "docs/usage.md API example", "exec"), namespace)
    assert namespace["logits"].shape == (8, 10)
    assert namespace["loop"].traces == 1


def test_quick_start_is_two_commands():
    block = re.search(r"```sh\n(.*?)```", section("Quick start"), re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make run", "make test"]


def test_readme_lists_every_experiment_as_the_registry_does_and_stays_short():
    block = README.read_text().split("<!-- experiments -->\n")[1].split("\n<!-- /experiments -->")[0]
    assert block == experiments.markdown_table(), "regenerate it: pnn-jax list --markdown"
    assert len(README.read_text().splitlines()) <= 250
