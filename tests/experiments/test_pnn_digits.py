"""The main job (pnn_digits) through the CLI: a smoke run and its run directory."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest
from tolerance import assert_same_training

from pnn_jax import cli, experiments
from pnn_jax import config as cfglib
from pnn_jax.experiments.pnn_supervised import method as pnn_method

pnn_digits = experiments.get("pnn_digits")


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
    for name in (
        "config.yaml",
        "metrics.jsonl",
        "runs.jsonl",
        "summary.json",
        "run.log",
        "checkpoints",
        "tb",
    ):
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
    # Column 0 of the progressive net is frozen at the end; its checksum is the column's own.
    assert summary["frozen_column_sha256"]["progressive"] == {
        "0:0": summary["column_sha256"]["progressive"][0][0]
    }
    assert summary["frozen_column_sha256"]["baseline3"] == {}
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    records = [r for r in records if r.get("kind") == "chunk"]  # the units' chunks (not unit ends)
    assert [r["global_step"] for r in records] == list(range(20, 20 * len(records) + 1, 20))
    assert all({"wall_time", "steps_per_s", "loss", "test_acc_a", "method"} <= set(r) for r in records)
    cfg = (run_dir / "config.yaml").read_text()
    assert "preset: smoke" in cfg and "steps: 60" in cfg


@pytest.mark.slow
def test_default_config_shows_no_forgetting_only_for_progressive(tmp_path):
    """The main job at its default budget: the README's claims hold."""
    folder = cfglib.EXPERIMENTS_DIR / "pnn_digits"
    composed = cfglib.compose(folder, [f"out_dir={tmp_path}"], pnn_digits.Config)
    cfg = cfglib.structured(pnn_digits.Config, composed)
    rows = {r["method"]: r for r in pnn_digits.run(cfg, tmp_path, quiet=True)["rows"]}
    prog = rows["progressive"]
    assert prog["a_column_unchanged"] and prog["a_after"] == prog["a_before"] > 0.97
    assert prog["b"] > 0.95 and rows["baseline1"]["b"] > 0.95 and rows["baseline4"]["b"] > 0.95
    assert rows["baseline3"]["a_before"] - rows["baseline3"]["a_after"] > 0.2  # fine-tuning forgets A
    assert rows["baseline2"]["a_after"] < rows["baseline2"]["a_before"]


def test_vmapped_population_equals_separate_runs(tmp_path):
    """population.seeds=3 in one vmapped run == three single-seed runs (within float tolerance)."""

    def run(name, *overrides):
        folder = cfglib.EXPERIMENTS_DIR / "pnn_digits"
        cfg = cfglib.structured(
            pnn_digits.Config,
            cfglib.compose(
                folder,
                ["preset=smoke", "methods=[progressive]", f"out_dir={tmp_path}", *overrides],
                pnn_digits.Config,
            ),
        )
        run_dir = tmp_path / name
        run_dir.mkdir()
        summary = pnn_digits.run(cfg, run_dir, quiet=True)
        _, state = pnn_method.load_checkpoint(run_dir)
        return summary, state["train"].params

    pop_summary, pop_params = run("population", "population.seeds=3")
    assert [m["seed"] for m in pop_summary["population"]] == [0, 1, 2]
    for seed in range(3):
        one_summary, one_params = run(f"seed{seed}", f"seed={seed}")
        got, want = pop_summary["rows"][seed], one_summary["rows"][0]
        for key in ("a_before", "a_after", "b"):
            assert abs(got[key] - want[key]) <= 1 / 250, (seed, key)  # at most one test digit
        # the smoke preset: 2 stages of 60 Adam steps; the longest sum of one: column 1's forward
        # pass (64 pixels + bias, 16 + bias with the adapter's 16 + 16 at the head), the same
        # backward, and the gradients' sum over a minibatch of 32
        member = jax.tree.map(lambda a, s=seed: np.asarray(a)[s], pop_params)
        alone = jax.tree.map(lambda b: np.asarray(b)[0], one_params)
        assert_same_training(member, alone, steps=120, terms=2 * (65 + 49) + 32 + 2, err_msg=str(seed))


def test_population_of_learning_rates_and_alphas(tmp_path, capsys):

    args = [
        "run",
        "experiment=pnn_digits",
        "preset=smoke",
        "methods=[progressive]",
        "population.lr=[1e-3,3e-3]",
        "population.alpha_init=[1,0.1]",
        f"out_dir={tmp_path}",
        "quiet=true",
    ]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "member (seed, lr, alpha)" in out and "| progressive | 3 (0, 0.003, 0.1) |" in out
    (run_dir,) = list((tmp_path / "pnn_digits").iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert [(m["lr"], m["alpha_init"]) for m in summary["population"]] == [
        (1e-3, 1.0),
        (1e-3, 0.1),
        (3e-3, 1.0),
        (3e-3, 0.1),
    ]
    assert len({r["b"] for r in summary["rows"]}) > 1  # the members differ
    # Each member starts with its own adapter scale (alpha is learned, so check the initial values).
    cfg = cfglib.load(pnn_digits.Config, [run_dir / "config.yaml"])
    *_, method = pnn_method.setup(cfg)
    init_params, _ = method(0).init()
    alphas = np.asarray(init_params["heads"]["logits"]["lateral"]["alpha"])  # [P, K]
    np.testing.assert_allclose(alphas[:, 1], [1.0, 0.1, 1.0, 0.1])
    _, state = pnn_method.load_checkpoint(run_dir)
    lrs = state["train"].opt_state.hyperparams["learning_rate"]
    assert [round(float(v), 6) for v in lrs] == [1e-3, 1e-3, 3e-3, 3e-3]
