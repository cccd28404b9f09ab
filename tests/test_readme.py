"""The README's API example runs as written, and its quick start is exactly two commands."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def test_api_example_runs_and_is_short():
    code = re.search(r"```python\n(.*?)```", section("API example"), re.S).group(1)
    assert len(code.strip().splitlines()) <= 15
    namespace: dict = {}
    exec(compile(code, "README API example", "exec"), namespace)
    assert namespace["logits"].shape == (8, 10)
    assert namespace["loop"].traces == 1


def test_quick_start_is_two_commands():
    block = re.search(r"```sh\n(.*?)```", section("Quick start"), re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make run", "make test"]
