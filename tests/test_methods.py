"""The methods registry (pnn_jax/methods.py): what each method is and needs, read by the code that
runs and tabulates it instead of names compared as strings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pnn_jax import methods
from pnn_jax.config import ConfigError, check_methods

PACKAGE = Path(__file__).resolve().parents[1] / "pnn_jax"


def test_families_and_their_references():
    assert methods.names("progressive") == ("baseline1", "baseline2", "baseline3", "baseline4", "progressive")
    assert methods.names("pathnet") == ("pathnet", "finetune", "scratch")
    assert methods.reference("progressive").name == "baseline1"
    assert methods.reference("pathnet").name == "scratch"
    assert methods.get("scratch").paper_name == "independent"  # PathNet figure 3's name


def test_what_each_method_needs():
    learns = {m for m in methods.METHODS if methods.get(m).learns_source}
    assert learns == {"baseline2", "baseline3", "progressive", "pathnet", "finetune"}
    assert {m for m in methods.METHODS if methods.get(m).sensitivity} == {"progressive", "baseline4"}
    assert {m for m in methods.METHODS if methods.get(m).locks_path} == {"pathnet"}
    assert {m for m in methods.METHODS if methods.get(m).grows} == {"progressive"}
    for name in methods.names("progressive"):  # a method learns a source iff its plan trains one
        plan = methods.get(name).plan(num_sources=2)
        assert methods.get(name).learns_source == any(t.startswith("source") for t in plan.tasks), name


def test_labels():
    assert methods.get("baseline2").short_label == "Baseline 2"
    assert methods.get("baseline4").label == "Baseline 4 (random frozen first column)"


def test_bad_names_fail_with_one_line():
    with pytest.raises(ValueError, match=r"unknown pathnet method 'baseline1'; choose one of \('pathnet'"):
        methods.get("baseline1", "pathnet")
    with pytest.raises(ValueError, match="only progressive methods have a plan"):
        methods.get("scratch").plan()
    with pytest.raises(ValueError, match="num_sources must be >= 1"):
        methods.get("progressive").plan(num_sources=0)
    with pytest.raises(ValueError, match="unknown method family"):
        methods.names("pnn")


@pytest.mark.parametrize(
    ("names", "family", "message"),
    [
        ([], "pathnet", "methods=[] is not allowed: a non-empty list"),
        (["pathnet", "baseline1"], "pathnet", "methods='baseline1' is not allowed: choose one of"),
        (["pathnet", "pathnet", "scratch"], "pathnet", "each method at most once"),
        (["pathnet"], "pathnet", "must include scratch"),
        (["progressive"], "progressive", "must include baseline1"),
    ],
)
def test_config_check(names, family, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_methods("methods", names, family)
    check_methods("methods", [*methods.names(family)], family)  # the whole family is fine


def test_no_code_compares_method_names_as_strings():
    """A method's behaviour is a field of its registry entry; code outside the registry does not
    branch on ``method == "scratch"``."""
    names = "|".join(methods.METHODS)
    pattern = re.compile(rf"""(==|!=|\bin)\s*\(?["']({names})["']""")
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "methods.py":
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(PACKAGE)}:{i}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
