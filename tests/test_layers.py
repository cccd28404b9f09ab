"""The package's layering, read from the imports: analysis is NumPy metrics that import nothing
of pnn_jax but themselves (no JAX, experiments, rl or runner); the tables read run directories and
never import the experiments that write them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "pnn_jax"


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of the file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_analysis_is_numpy_metrics_only():
    for path in sorted((PACKAGE / "analysis").glob("*.py")):
        for name in imported(path):
            top = name.split(".")[0]
            assert top not in ("jax", "flax", "optax", "envpool"), (path.name, name)
            if top == "pnn_jax":
                assert name.startswith("pnn_jax.analysis"), (path.name, name)


def test_tables_never_import_the_experiments():
    for path in sorted((PACKAGE / "tables").glob("*.py")):
        assert not any(n.startswith(("pnn_jax.experiments", "pnn_jax.rl")) for n in imported(path)), path.name


def test_scipy_is_not_loaded_until_a_statistic_is_computed():
    """scipy's OpenBLAS thread pool, loaded before a ViZDoom pool starts, made the pool hang at
    startup (2 of 6 trials); so neither the CLI nor any experiment imports it (analysis/speedup.py)."""
    code = (
        "import sys\n"
        "from pnn_jax import cli, experiments\n"
        "for name in experiments.names():\n"
        "    experiments.get(name)\n"
        "assert not [m for m in sys.modules if m == 'scipy' or m.startswith('scipy.')], 'scipy loaded'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
