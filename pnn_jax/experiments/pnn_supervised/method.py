"""One method of the supervised PNN protocol for a whole population: its transfer plan, its net,
its compiled training loop and evaluation, and the checksums of its columns."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from pnn_jax import config as cfglib
from pnn_jax import methods
from pnn_jax.checkpoint import Checkpointer
from pnn_jax.experiments.pnn_supervised.schema import Config, make_tasks, members
from pnn_jax.experiments.units import UNIT_CHECKPOINTS
from pnn_jax.nets.columns import mlp_column
from pnn_jax.nets.progressive import ProgressiveNet
from pnn_jax.train import progressive as ptrain
from pnn_jax.train import transfer
from pnn_jax.train.optim import make_optimizer, set_learning_rate


def _stack(trees):

    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def _member(tree, p: int):

    return jax.tree.map(lambda a: a[p], tree)


class Method:
    """Everything one method needs: its plan, net and compiled functions, for a population."""

    def __init__(self, cfg: Config, method: str, column, tx, loss_fn, population: list[dict]):

        self.name = method
        self.population = population
        self.plan = methods.get(method).plan(num_sources=1, reset_heads=cfg.reset_heads)
        self.net = ProgressiveNet(
            column,
            self.plan.max_columns,
            lateral=cfg.model.lateral,
            head_laterals=cfg.model.head_laterals,
            adapter_width=cfg.model.adapter_width,
            alpha_init=cfg.model.alpha_init,
            adapter_v=cfg.model.adapter_v,
        )
        self.tx = tx
        self.loop = ptrain.make_population_train_loop(self.net, tx, loss_fn, cfg.train.batch_size)
        self.evaluate = ptrain.make_evaluate(self.net, "logits", population=True)

    def init(self):
        """Initial ``(params [P, ...], keys [P])``: member p from ``key(seed_p)`` and its alpha."""
        params, keys = [], []
        for member in self.population:
            key, init_key = jax.random.split(jax.random.key(member["seed"]))
            p = self.net.init(init_key)
            p = jax.tree_util.tree_map_with_path(
                lambda path, a, m=member: (
                    jnp.full_like(a, m["alpha_init"])
                    if jax.tree_util.keystr(path).endswith("['alpha']")
                    else a
                ),
                p,
            )
            params.append(p)
            keys.append(key)
        return _stack(params), jnp.stack(keys)

    def stage_states(self, params, stage, stage_keys):
        """The population's training state for ``stage`` (each member with its learning rate)."""
        states = []
        for p, member in enumerate(self.population):
            st = transfer.stage_state(self.net, _member(params, p), self.tx, stage, stage_keys[p])
            states.append(st.replace(opt_state=set_learning_rate(st.opt_state, member["lr"])))
        return _stack(states)

    def state_template(self):
        """The structure of this method's checkpointed state (values are placeholders)."""
        params, keys = self.init()
        states = self.stage_states(params, self.plan.stages[0], keys)
        return {"train": states, "key": jax.random.key_data(keys)}

    def column_checksums(self, params) -> list[list[str]]:
        """SHA-256 of every column of every member: ``[P][K]``."""
        return [self.net.column_checksums(_member(params, p)) for p in range(len(self.population))]

    def frozen_checksums(self, states) -> dict[str, str]:
        """SHA-256 of every column that is entirely frozen, keyed ``"<member>:<column>"``."""
        trainable = [np.asarray(m) for m in jax.tree.leaves(states.trainable)]  # [P, K] each
        sums = self.column_checksums(states.params)
        return {
            f"{p}:{k}": sums[p][k]
            for p in range(len(self.population))
            for k in range(self.net.max_columns)
            if not any(bool(m[p, k].any()) for m in trainable)
        }


def setup(cfg: Config):
    """Tasks, device data, the population, and ``method(i) -> Method`` (built once each)."""
    task_a, task_b = make_tasks(cfg)
    population = members(cfg)
    data = {
        k: ((jnp.asarray(t.x_train), jnp.asarray(t.y_train)), (jnp.asarray(t.x_test), jnp.asarray(t.y_test)))
        for k, t in {"source0": task_a, "target": task_b}.items()
    }
    heads = {"logits": max(task_a.num_classes, task_b.num_classes)}
    column = mlp_column(task_a.x_train.shape[1], cfg.model.widths, heads)
    # The learning rate lives in the optimiser state, so each member can have its own.
    tx = make_optimizer(cfg.train.optimizer, cfg.train.lr, cfg.train.grad_clip or None, inject=True)
    loss_fn = ptrain.classification_loss("logits")
    methods: dict[int, Method] = {}

    def method(i: int) -> Method:
        if i not in methods:
            methods[i] = Method(cfg, cfg.methods[i], column, tx, loss_fn, population)
        return methods[i]

    return task_a, task_b, data, population, method


def load_checkpoint(run_dir: Path) -> tuple[dict, dict]:
    """The newest readable checkpoint inside a method of a run (``unit_checkpoints/``):
    ``(meta, {"train": TrainState [P, ...], "key"})``.

    ``meta`` says where the run was (``method``, ``stage_index``, ``steps_done``, ...); the state
    holds every population member's parameters and optimiser state, for analysis.
    """
    cfg = cfglib.load(Config, [Path(run_dir) / "config.yaml"])
    *_, method = setup(cfg)
    ckpt = Checkpointer(Path(run_dir) / UNIT_CHECKPOINTS, max_to_keep=cfg.checkpoint.keep)
    try:
        _, state, meta = ckpt.restore_latest(lambda meta: method(meta["method_index"]).state_template())
    finally:
        ckpt.close()
    return meta, state


def split_keys(keys):
    """Split every member's key: ``(next keys [P], subkeys [P])``."""
    both = jax.vmap(jax.random.split)(keys)
    return both[:, 0], both[:, 1]


def held_out_accuracies(m: Method, params, data, stage_index: int) -> dict[str, np.ndarray | None]:
    """Held-out accuracy ``[P]`` of the columns that answer A and B, once they have been trained."""
    out = {}
    for task, key in (("source0", "test_acc_a"), ("target", "test_acc_b")):
        trained = [i for i, s in enumerate(m.plan.stages[: stage_index + 1]) if s.task == task]
        if trained:
            xt, yt = data[task][1]
            out[key] = np.asarray(m.evaluate(params, xt, yt, m.plan.stages[trained[-1]].column))
        else:
            out[key] = None
    return out


def task_a_result(m: Method, params, data, column: int) -> tuple[list[float], list[str]]:
    """Per member: task-A accuracy of ``column`` and that column's checksum."""
    xa, ya = data["source0"][1]
    acc = np.asarray(m.evaluate(params, xa, ya, column)).tolist()
    return acc, [sums[column] for sums in m.column_checksums(params)]


def result_rows(m: Method, params, data, a_before, a_checksum, seconds: float) -> list[dict]:
    """One result row per member."""
    xb, yb = data["target"][1]
    b = np.asarray(m.evaluate(params, xb, yb, m.plan.column_for("target")))
    a_after = unchanged = None
    if "source0" in m.plan.tasks:
        col_a = m.plan.column_for("source0")
        xa, ya = data["source0"][1]
        a_after = np.asarray(m.evaluate(params, xa, ya, col_a))
        unchanged = [sums[col_a] == a_checksum[p] for p, sums in enumerate(m.column_checksums(params))]
    rows = []
    for p, member in enumerate(m.population):
        rows.append(
            {
                "method": m.name,
                "member": p,
                **member,
                "columns": m.plan.max_columns,
                "a_before": None if a_before is None else a_before[p],
                "a_after": None if a_after is None else float(a_after[p]),
                "a_column_unchanged": None if unchanged is None else unchanged[p],
                "b": float(b[p]),
                "seconds": seconds,
                "param_count": m.net.param_count(),
            }
        )
    return rows
