"""``pnn-jax``: run, resume, list and show experiments.

Examples::

    pnn-jax list
    pnn-jax run experiment=pnn_digits                       # the default preset (quick)
    pnn-jax run experiment=pnn_digits preset=smoke seed=3 train.lr=5e-4
    pnn-jax run experiment=pnn_digits model.lateral=plain checkpoint.every=100
    pnn-jax resume runs/pnn_digits/2026-11-21_17-18-55_d9d274

A run composes the Hydra config ``experiments/<name>/config.yaml`` with ``preset/<preset>.yaml``,
then the ``key=value`` overrides; validates the result before anything compiles; and writes a run
directory (config, metrics, TensorBoard events, checkpoints, figures, summary, log). Bad input is
one line on stderr and exit code 2; ``debug=true`` shows the traceback instead. A NaN or infinite
loss or parameter stops the run the same way (one line naming the unit, iteration and quantity; the
last good checkpoint is kept). SIGTERM (e.g. SLURM before preemption) makes the run save a
checkpoint at its current iteration and exit with code 143; ``pnn-jax resume`` continues it.
"""

from __future__ import annotations

import argparse
import sys

from pnn_jax import config as cfglib
from pnn_jax.cli_help import EXAMPLES, HELP
from pnn_jax.config import ConfigError


def _split_cli_keys(args: list[str], keys: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    """Take ``key=value`` items for the CLI itself (e.g. debug) out of the config overrides."""
    own, rest = {}, []
    for a in args:
        k, _, v = a.partition("=")
        if k in keys and _:
            own[k] = v
        else:
            rest.append(a)
    return own, rest


def _truthy(value: str | None, key: str) -> bool:
    if value is None:
        return False
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise ConfigError(f"{key}={value!r} is not allowed: true or false")


DISTRIBUTED_KEYS = (
    "distributed.coordinator_address",
    "distributed.num_processes",
    "distributed.process_id",
)


def _join_distributed(own: dict[str, str]) -> None:
    """Join a multi-host run (``distributed.*`` keys, else JAX_COORDINATOR_ADDRESS /
    JAX_NUM_PROCESSES / JAX_PROCESS_ID) before anything starts JAX. A single process does nothing."""
    from pnn_jax import distributed

    try:
        cfg = distributed.DistributedConfig(
            coordinator_address=own.get("distributed.coordinator_address", ""),
            num_processes=int(own.get("distributed.num_processes", "0")),
            process_id=int(own.get("distributed.process_id", "-1")),
        )
        distributed.initialize(cfg)
    except ValueError as e:
        raise ConfigError(str(e)) from None


def cmd_run(args: list[str]) -> int:
    from pnn_jax import experiments, rundir, sweep

    multirun = any(a in ("-m", "--multirun") for a in args)
    args = [a for a in args if a not in ("-m", "--multirun")]
    own, overrides = _split_cli_keys(args, ("experiment", "debug", "quiet", *DISTRIBUTED_KEYS))
    quiet = _truthy(own.get("quiet"), "quiet")
    _join_distributed(own)
    if "experiment" not in own:
        raise ConfigError(
            "experiment=<name> is required, e.g. pnn-jax run experiment=pnn_digits (pnn-jax list shows all)"
        )
    name = own["experiment"]
    experiment = experiments.get(name)
    if multirun:
        jobs = sweep.validate_all(experiment, overrides)
        first = experiment.config(jobs[0])
        _check_writable(first.out_dir)
        print(f"sweep: {len(jobs)} job(s) of {name}", flush=True)
        sweep_dir = sweep.launch(experiment, overrides, first.out_dir)
        from pnn_jax import report

        table = report.write_report(sweep_dir)
        print(table)
        print(f"sweep directory: {sweep_dir}")
        return 0
    if any(o.startswith(("hydra.", "hydra/")) for o in overrides):
        raise ConfigError("hydra.* and hydra/... settings apply to sweeps only: add -m")
    cfg = experiment.config(overrides)
    experiment.validate(cfg)
    run_dir = rundir.new_run_dir(cfg.out_dir, name)
    print(f"run directory: {run_dir}", flush=True)
    summary = experiment.run(cfg, run_dir, quiet=quiet)
    if quiet:
        print(summary["table"])
    print(f"run directory: {run_dir}")
    return 0


def _check_writable(out_dir: str) -> None:
    from pathlib import Path

    path = Path(out_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".pnn_jax_write_test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise ConfigError(f"out_dir={out_dir!r} is not writable ({e.strerror}); choose another") from None


def cmd_resume(args: list[str]) -> int:
    from pnn_jax import experiments, rundir

    own, rest = _split_cli_keys(args, ("debug", "quiet"))
    if len(rest) != 1:
        raise ConfigError("resume takes one run directory: pnn-jax resume runs/<experiment>/<run>")
    run_dir = rundir.check_run_dir(rest[0])
    from omegaconf import OmegaConf

    name = OmegaConf.load(run_dir / rundir.CONFIG_FILE).get("experiment")
    experiment = experiments.get(str(name))
    cfg = cfglib.load(experiment.Config, [run_dir / rundir.CONFIG_FILE], [])
    experiment.validate(cfg)
    summary = experiment.run(cfg, run_dir, resume=True, quiet=_truthy(own.get("quiet"), "quiet"))
    if _truthy(own.get("quiet"), "quiet"):
        print(summary["table"])
    print(f"run directory: {run_dir}")
    return 0


def cmd_report(args: list[str]) -> int:
    from pathlib import Path

    from pnn_jax import report

    own, rest = _split_cli_keys(args, ("debug", "metrics"))
    if len(rest) != 1:
        raise ConfigError(
            "report takes one run or sweep directory: pnn-jax report runs/pnn_digits/sweeps/<sweep> "
            "[metrics=<method>/<metric>,...]"
        )
    metrics = tuple(m for m in own.get("metrics", "").split(",") if m)
    print(report.write_report(Path(rest[0]), metrics))
    print(f"written: {Path(rest[0]) / 'report.md'}, report.csv, figures/report.png and .pdf")
    return 0


class _OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one-line :class:`ConfigError` s (no usage dump)."""

    def __init__(self, prog: str, hint: str):
        super().__init__(prog=prog, add_help=False)
        self.hint = hint

    def error(self, message: str):
        raise ConfigError(f"{message}; {self.hint}")


def cmd_table(args: list[str]) -> int:
    from pnn_jax import tables

    parser = _OneLineParser(
        "pnn-jax table",
        "table takes a table name and run or sweep directories: "
        "pnn-jax table pnn_classic_transfer runs/pnn_classic_transfer [--top-k 3] [--out DIR]",
    )
    parser.add_argument("table")
    parser.add_argument("dirs", nargs="+")
    parser.add_argument("--out")
    parser.add_argument("--top-k", type=int)
    parser.add_argument("--band", type=float, default=0.0)
    parser.add_argument("--readme")
    parser.add_argument("--block")
    parser.add_argument("--sections")
    ns = parser.parse_args(args)
    for flag in ("block", "sections"):
        if getattr(ns, flag) and not ns.readme:
            raise ConfigError(f"--{flag} {getattr(ns, flag)!r} only applies with --readme; give --readme too")
    excerpt = None
    if ns.sections:
        try:
            excerpt = [int(s) for s in ns.sections.split(",")]
        except ValueError:
            raise ConfigError(
                f"--sections {ns.sections!r} must be section numbers separated by commas, e.g. 1,2"
            ) from None
    options = tables.Options(top_k=ns.top_k, band=ns.band)
    built = tables.build(ns.table, ns.dirs, options, ns.out, excerpt=excerpt)
    markdown, out = built[:2]
    print(markdown)
    print(f"written: {out / 'table.md'}, {out / 'table.csv'}, {out / 'figures'}/")
    if ns.readme:
        from pathlib import Path

        block = ns.block or ns.table
        tables.update_readme(Path(ns.readme), block, built[2] if excerpt else markdown)
        print(f"updated the '{block}' block of {ns.readme}")
    return 0


def cmd_show(args: list[str]) -> int:
    from pnn_jax import experiments
    from pnn_jax.config import docs

    own, overrides = _split_cli_keys(args, ("experiment", "debug"))
    if "experiment" not in own:
        raise ConfigError("experiment=<name> is required, e.g. pnn-jax show experiment=pnn_pong_soup")
    name = own["experiment"]
    experiment = experiments.get(name)
    composed = cfglib.compose(experiment.folder, overrides, experiment.Config)
    cfg = cfglib.structured(experiment.Config, composed)
    print(f"# {name}, preset {cfg.preset}: {experiment.summary}")
    print(f"# overrides: {' '.join(overrides) or '(none)'}; any key below can be set as key=value")
    print(docs.render(cfg), end="", flush=True)
    experiment.validate(cfg)  # after printing: a value a run would refuse (or missing data) still shows
    return 0


def cmd_list(args: list[str]) -> int:
    from pnn_jax import experiments

    if args not in ([], ["--markdown"]):
        raise ConfigError(f"list takes no arguments but --markdown, got {' '.join(args)}")
    if args:  # the README's experiment table (generated: tests/test_readme.py compares)
        print(experiments.markdown_table())
        return 0
    for name in experiments.names():
        experiment = experiments.get(name)
        presets = ", ".join(f"{p} {t}" for p, t in experiment.presets.items())
        print(f"{name:<26} {experiment.summary}. Presets: {presets}.")
    return 0


COMMANDS = {
    "run": cmd_run,
    "resume": cmd_resume,
    "list": cmd_list,
    "show": cmd_show,
    "report": cmd_report,
    "table": cmd_table,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pnn-jax",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="PNN and PathNet in JAX: run, resume, list and tabulate experiments.",
        epilog=EXAMPLES,
    )
    parser.add_argument("command", choices=list(COMMANDS), help="run | resume | list | report | table")
    return parser


PREEMPTED_EXIT = 143  # 128 + SIGTERM, as a process killed by the signal would report


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"error: unknown command {command!r}; choose one of {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    if any(a in ("-h", "--help") for a in rest):
        print(HELP[command])
        return 0
    debug = any(
        a.split("=", 1)[0] == "debug" and a.split("=", 1)[1].lower() in ("true", "1", "yes")
        for a in rest
        if "=" in a
    )
    from pnn_jax.checkpoint import CheckpointError
    from pnn_jax.experiments.units import NonFiniteError, Preempted

    try:
        return COMMANDS[command](rest)
    except (ConfigError, CheckpointError, NonFiniteError) as e:
        if debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Preempted as e:  # SIGTERM: a checkpoint at the current iteration; resume continues
        print(str(e), file=sys.stderr)
        return PREEMPTED_EXIT
    except Exception as e:
        if debug:
            raise
        first = str(e).splitlines()[0] if str(e) else ""
        print(
            f"error: {type(e).__name__}: {first} (run again with debug=true for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
