"""Benchmark: generations per second of the binary-MNIST PathNet search, and one full S+S run.

Task {3, 4}; PathNet 3/10/3 with 20-unit modules; population 64; T = 50 minibatches of 16; SGD.
The threshold is set out of reach so every variant runs exactly ``--generations`` generations:

* ``python loop``: the naive implementation: a Python loop over generations, contestants and the
  T minibatches, calling a jitted single-path step (plus jitted ask/tell) each time;
* ``jitted serial search``: our serial tournament, the whole search one compiled ``while_loop``
  (rows-only SGD steps, as the experiments use; the python loop uses the same step), and the same
  with the dense whole-bank update (the generic optax path);
* ``parallel tournaments``: P/2 = 32 binary tournaments per generation at once (combined schedule);
* ``32 repetitions vmapped``: 32 independent serial searches in one call (how the studies run).

Then the wall time of one full S+S run (thesis_first_path, one repetition, quick settings, compile
included). Uses MNIST when its files are in ``--mnist-root`` (default data/mnist), else the digits.
Prints a table and appends it to benchmarks/RESULTS.md. Usage:
``python benchmarks/bench_pathnet.py [--generations 20] [--no-write]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from common import append_results, commit, machine, record

from pnn_jax import config as cfglib
from pnn_jax import experiments
from pnn_jax.evolution import Tournament
from pnn_jax.experiments.pathnet_supervised import common as pc
from pnn_jax.nets.pathnet import mlp_pathnet
from pnn_jax.train import pathnet as tp
from pnn_jax.train import pathnet_search as search_lib


def timed(fn, *args):
    t = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return time.perf_counter() - t, out


def python_loop(net, tx, data, generations: int) -> float:
    """Seconds per generation of the host-driven serial tournament (after a warm-up generation)."""
    tour = Tournament(3, 10, 3, population=64)
    step = jax.jit(
        lambda s, path, i: tp.sparse_sgd_path_step(
            net, 1e-3, s, path, (data.x_train[i], data.y_train[i]), data.num_classes
        )
    )
    ask, tell = jax.jit(tour.ask), jax.jit(tour.tell)
    draw = jax.jit(lambda k: jax.random.randint(k, (50, 16), 0, data.n_train))
    state = tp.init_state(net, net.init(jax.random.key(0)), tx)
    search = tour.init(jax.random.key(1))
    key = jax.random.key(2)

    def generation(state, search, key):
        search, index, paths = ask(search)
        key, k = jax.random.split(key)
        idx = draw(k)
        fitness = []
        for c in range(2):
            accs = []
            for t in range(50):
                state, m = step(state, paths[0, c], idx[t])
                accs.append(m["accuracy"])
            fitness.append(jnp.mean(jnp.stack(accs)))
        search = tell(search, index, jnp.stack(fitness)[None])
        return state, search, key

    state, search, key = generation(state, search, key)  # compile
    jax.block_until_ready(search.paths)
    t = time.perf_counter()
    for _ in range(generations):
        state, search, key = generation(state, search, key)
    jax.block_until_ready(search.paths)
    return (time.perf_counter() - t) / generations


def compiled_search(
    net, tx, data, generations: int, *, parallel: bool, reps: int = 0, sparse: bool = True
) -> tuple[float, float]:
    """(seconds per generation, compile seconds) of one compiled search call."""
    tour = Tournament(3, 10, 3, population=64, parallel=parallel)
    session = tp.SessionConfig(
        50, 16, "combined" if parallel else "serial", 1e-3 if sparse and not parallel else None
    )
    search = search_lib.make_search(net, tx, tour, session, threshold=2.0, max_generations=generations)
    if reps:
        fn = jax.jit(jax.vmap(search, in_axes=(0, 0, None)))
        keys = jax.random.split(jax.random.key(0), reps)
        params = jax.vmap(net.init)(keys)
        state = jax.vmap(lambda p: tp.init_state(net, p, tx))(params)
    else:
        fn = jax.jit(search)
        keys = jax.random.key(0)
        state = tp.init_state(net, net.init(keys), tx)
    t0 = time.perf_counter()
    compiled = fn.lower(state, keys, data).compile()
    compile_s = time.perf_counter() - t0
    timed(compiled, state, keys, data)  # warm-up
    runs = [timed(compiled, state, keys, data)[0] for _ in range(3)]
    return float(np.median(runs)) / generations, compile_s


def one_ss_run(mnist_root: str) -> tuple[float, str]:
    module = experiments.get("thesis_first_path")
    folder = cfglib.EXPERIMENTS_DIR / "thesis_first_path"
    with tempfile.TemporaryDirectory() as tmp:
        cfg = cfglib.structured(
            module.Config,
            cfglib.compose(
                folder, ["repetitions=1", f"out_dir={tmp}", f"data.mnist_root={mnist_root}"], module.Config
            ),
        )
        t = time.perf_counter()
        summary = module.run(cfg, Path(tmp) / "run", quiet=True)
        seconds = time.perf_counter() - t
    ss = summary["rows"][0]
    return seconds, f"S+S generations {ss['generations1']:.0f} + {ss['generations2']:.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--generations", type=int, default=20)
    ap.add_argument("--mnist-root", default="data/mnist")
    ap.add_argument("--no-write", action="store_true", help="print only; do not append to RESULTS.md")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (a dry run): 2 generations")
    args = ap.parse_args()
    if args.quick:
        args.generations = 2
    g = args.generations
    data_cfg = pc.DataConfig(mnist_root=args.mnist_root)
    source = pc.resolve_source(data_cfg)
    x, y, desc = pc.load_source(data_cfg, source)
    (data,) = tp.task_data([pc.make_task(data_cfg, x, y, [3, 4], "1")])
    net = mlp_pathnet(x.shape[1])
    tx = optax.sgd(1e-3)

    loop = python_loop(net, tx, data, max(2, g // 4))
    serial, c_serial = compiled_search(net, tx, data, g, parallel=False)
    dense, c_dense = compiled_search(net, tx, data, g, parallel=False, sparse=False)
    parallel, c_parallel = compiled_search(net, tx, data, g, parallel=True)
    reps, c_reps = compiled_search(net, tx, data, g, parallel=False, reps=32)
    rows = [  # (variant, paths per step, generations per step, seconds per step, compile seconds)
        ("python loop of jitted single-path steps (serial)", 2, 1, loop, None),
        ("jitted serial search (one while_loop)", 2, 1, serial, c_serial),
        ("the same, dense whole-bank SGD update", 2, 1, dense, c_dense),
        ("parallel tournaments: 32 per generation, combined", 64, 1, parallel, c_parallel),
        ("32 repetitions vmapped (a serial search each)", 64, 32, reps, c_reps),
    ]
    lines = [
        "| variant | paths trained per step | generations/s (all repetitions) | path sessions/s "
        "| ratio to python loop (sessions/s) | compile (s) |",
        "|---|---|---|---|---|---|",
    ]
    base = 2 / loop
    for name, paths, gens, sec, comp in rows:
        lines.append(
            f"| {name} | {paths} | {gens / sec:.1f} | {paths / sec:.1f} | {paths / sec / base:.2f} "
            f"| {'-' if comp is None else f'{comp:.2f}'} |"
        )
    ss_seconds, ss_what = one_ss_run(args.mnist_root)
    table = "\n".join(lines)
    text = (
        f"\n### PathNet binary-MNIST search ({time.strftime('%Y-%m-%d')})\n\n"
        f"Machine: {machine()}. jax {jax.__version__}. Commit {commit()}. Data: {desc}, task {{3, 4}}. "
        f"PathNet 3/10/3, 20 units, population 64, T = 50 x 16, SGD; {g} generations per timing (median of 3 "
        "calls after a warm-up; the python loop: one timed pass). A step is one generation of every "
        "repetition; a path session is T minibatches of one path.\n\n"
        f"{table}\n\nOne full S+S run (thesis_first_path quick settings, 1 repetition, both conditions, "
        f"compile included): {ss_seconds:.1f} s ({ss_what}).\n"
    )
    print(text)
    if not args.no_write:
        append_results(text)
        ratios = {name: round(paths / sec / base, 3) for name, paths, _, sec, _ in rows}
        record(
            "pathnet",
            {
                "serial_search_over_python_loop": ratios[rows[1][0]],
                "vmapped_repetitions_over_python_loop": ratios[rows[4][0]],
                "ss_run_s": round(ss_seconds, 1),
            },
            quick=args.quick,
        )


if __name__ == "__main__":
    main()
