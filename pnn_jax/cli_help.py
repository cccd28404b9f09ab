"""The help texts of ``pnn-jax``: the top-level examples and one text per command (``--help``).

Kept apart from :mod:`pnn_jax.cli` so the commands read as code; the texts are tested for every
command (``tests/test_cli.py``).
"""

RUN_HELP = """\
usage: pnn-jax run [-m] experiment=<name> [preset=<preset>] [key=value ...] [debug=true] [quiet=true]

Compose the experiment's Hydra config (experiments/<name>/config.yaml, then preset/<preset>.yaml,
then the overrides), validate it, run it, and print where the run directory is.

  -m, --multirun      a sweep: comma-separated values (seed=0,1,2 train.lr=1e-3,5e-4) give the
                      cartesian product of jobs. Every job is validated before any starts. By
                      default the jobs run in parallel local processes, one per core (Hydra's
                      joblib launcher); hydra/launcher=submitit_slurm submits them to SLURM
                      (submitit_local runs them through submitit on this machine). The sweep
                      directory holds one run directory per job, Hydra's multirun.yaml and the
                      report (pnn-jax report).
  experiment=<name>   required; `pnn-jax list` shows the experiments
  preset=<preset>     smoke (seconds, for tests), quick (CPU minutes; the default), paper (the
                      paper's budget)
  key=value           any config key, dotted for nested ones: train.lr=5e-4 model.widths=[32,32]
  debug=true          show the traceback of an error instead of one line
  quiet=true          print only the result table and the run directory
  distributed.coordinator_address=HOST:PORT distributed.num_processes=N distributed.process_id=I
                      join a multi-host run (or set JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES,
                      JAX_PROCESS_ID); each process steps its own envs and writes its own run dir

Examples:
  pnn-jax run experiment=pnn_digits preset=smoke
  pnn-jax run experiment=pnn_digits seed=1 train.steps=3000 model.lateral=plain
  pnn-jax run -m experiment=pnn_digits preset=smoke seed=0,1 train.lr=1e-3,5e-4
"""


EXAMPLES = """\
examples:
  pnn-jax list
  pnn-jax show experiment=pnn_pong_soup preset=cpu   # the resolved config, each key documented
  pnn-jax run experiment=pnn_digits                  # the default preset (quick)
  pnn-jax run experiment=pnn_digits preset=smoke seed=3 train.lr=5e-4
  pnn-jax run -m experiment=pnn_digits preset=smoke seed=0,1,2 train.lr=1e-3,5e-4   # a sweep
  pnn-jax run -m experiment=pnn_digits seed=0,1 hydra/launcher=submitit_slurm      # on SLURM
  pnn-jax resume runs/pnn_digits/2026-11-21_17-18-55_d9d274
  pnn-jax report runs/pnn_digits/sweeps/2026-11-21_18-30-00_ab12cd
  pnn-jax table pnn_classic_transfer runs/pnn_classic_transfer    # the paper's table, ours beside it

`pnn-jax <command> --help` explains each command.
"""

HELP = {
    "run": RUN_HELP,
    "resume": """\
usage: pnn-jax resume <run_dir> [debug=true] [quiet=true]

Continue a run that was stopped or killed, from its newest readable checkpoint, with the config
saved in the run directory. A checkpoint that cannot be read is skipped with a warning naming it
and the one used instead; a frozen column whose checksum does not match is an error. On the same
machine the resumed run ends with the same parameters, bit for bit, as an uninterrupted one.

Example: pnn-jax resume runs/pnn_digits/2026-11-21_17-18-55_d9d274
""",
    "list": "usage: pnn-jax list [--markdown]\n\nThe experiments, one line each: what they reproduce and "
    "their presets.\n--markdown prints them as the README's table.\n",
    "show": """\
usage: pnn-jax show experiment=<name> [preset=<preset>] [key=value ...]

The config a run with these arguments would use, resolved (schema defaults, the experiment's
config.yaml, the preset, the overrides) and checked, printed as YAML with each key's one-line
documentation from the schema. Nothing runs and nothing is written.

Example: pnn-jax show experiment=pathnet_binary_mnist preset=paper search.population=64
""",
    "report": """\
usage: pnn-jax report <run_dir or sweep_dir> [metrics=<method>/<metric>,...]

A table over the finished runs below the folder: the runs with their sweep overrides, then mean,
std, median and n of every metric (<method>/<metric>, wall time). Writes report.md, report.csv and
figures/report.png and .pdf into the folder. With metrics=..., each factor of the sweep (an
override with two or more values) gets a table of the metric's mean per value and a figure
figures/by_factor_<metric>.png with a panel per factor.

Example: pnn-jax report runs/pnn_digits/sweeps/2026-11-21_18-30-00_ab12cd
         pnn-jax report runs/pathnet_binary_mnist/sweeps/<sweep> metrics=pathnet/speedup
""",
    "table": """\
usage: pnn-jax table <table> <run or sweep dir> [<dir> ...] [--out DIR] [--top-k K] [--band PCT]
                     [--readme README.md [--block NAME] [--sections 1,2]]

Build a paper's table from finished runs: every run of the table's experiment(s) at or below the
folders is pooled, our numbers are computed (pnn_jax.analysis) and shown beside the published ones
(experiments/<name>/paper.yaml) with the difference. Writes table.md, table.csv (long form) and
figures (transfer-matrix heat maps, AFS bars, APS vs AFS, reuse histograms) to --out (default:
<first dir>/tables/<table>).

Tables: pnn_classic_transfer, pnn_pong_soup, pnn_atari, pnn_labyrinth_vizdoom (Table 1's column,
matrix, positive/negative counts, AFS/APS), pnn_table1 (over the three domains), pathnet_binary_mnist,
pathnet_cifar_svhn, thesis_first_path, thesis_selection_pressure, pathnet_atari,
pathnet_lunarlander_curriculum.

  --top-k K     the PNN paper's protocol: per pair and method, the mean of the K best jobs
                (the paper: top 3 of 25 hyperparameter settings); default: mean over jobs
  --band PCT    positive / negative transfer counts leave 100 +- PCT % neutral (default 0)
  --readme F    also replace the <!-- table:<table> --> ... <!-- /table:<table> --> block of F
  --block NAME  the block's name in F instead of the table's (two runs of one table in one file,
                e.g. --block pathnet_binary_mnist:paper)
  --sections S  put only these sections of the table (1-based, e.g. 1,2) in F's block, without the
                notes: a compact excerpt for a front page whose full table lives in the docs

Example: pnn-jax table pnn_pong_soup runs/pnn_pong_soup/sweeps/2026-11-22_10-00-00 --top-k 3
""",
}
