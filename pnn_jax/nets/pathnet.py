"""PathNet (Fernando et al., 2017; docs/papers.md 2.1): a bank of modules, and paths through it as data.

The super network has L layers of M modules. All modules of a layer share one architecture, so
their parameters stack on a leading axis ``[M, ...]``. A module is a dense (or conv) layer followed
by ReLU. A **path** is an int array ``[L, N]``: the modules active in each layer. A layer's output is
the sum of its active modules' outputs (``aggregation="sum"``, the paper's text), or their mean
(``"mean"``), or the sum except a mean at the last layer (``"mean_last"``: what the first author
told a reimplementer the published MNIST figures used, docs/papers.md 2.2), and it is the input of
every active module of the next layer. One linear head per task reads the last layer (heads
stacked ``[H, ...]``, H = task slots).

**Set semantics.** A module listed twice in a layer counts once. This is also how a variable number
of active modules is encoded: a layer with 1 <= n <= N distinct modules lists them and repeats one
(``[3, 3, 3]`` is one active module, ``[3, 7, 3]`` two). The forward pass gathers the N listed
modules' parameters and weights each by 1 if its index has not appeared earlier in the row, else 0,
so it costs N module evaluations (not M) with static shapes. Gradients reach the bank through the
gather (a scatter-add); a path is data, so new genotypes never recompile.

**Freezing.** A frozen mask ``[L, M]`` marks modules locked by earlier tasks. Training uses the
trainable mask of :meth:`PathNet.trainable_mask` with :mod:`pnn_jax.freezing`: gradients and optax
updates of frozen modules (and of other tasks' heads) are zeroed and applied by select, so frozen
parameters stay bit-identical under any optimiser.

**Training counters** ``[L, M]`` count training sessions per module (1 unit = one session of T
minibatches on a path through it), as in the thesis (docs/papers.md 3.1).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from pnn_jax.nets.columns import Dense, KernelDraws, Layer, output_shapes

Params = dict[str, Any]
RESET_MODES = ("initial", "fresh")
AGGREGATIONS = ("sum", "mean", "mean_last")


@dataclasses.dataclass(frozen=True)
class PathNet:
    """Static description of a PathNet super network; parameters are a separate pytree.

    Attributes:
      input_shape: one input without the batch axis, e.g. ``(784,)`` or ``(32, 32, 3)``.
      layers: the module architecture of each layer (``Dense(20)``, ``Conv(8, 3, 1)``, ...).
      num_modules: M, modules per layer.
      max_active: N, the path width (at most N distinct modules per layer).
      num_heads: task slots H (one linear head per task).
      head_size: outputs of each head (e.g. 2 for a binary task).
      aggregation: how a layer combines its distinct active modules (:data:`AGGREGATIONS`).
      init_scheme: kernels of modules and heads, ``"lecun_normal"`` (default) or
        ``"glorot_uniform"`` (Keras's default, the thesis's code); biases are zero.
    """

    input_shape: tuple[int, ...]
    layers: tuple[Layer, ...]
    num_modules: int
    max_active: int
    num_heads: int
    head_size: int
    aggregation: str = "sum"
    init_scheme: str = "lecun_normal"

    def __post_init__(self):
        if not self.layers:
            raise ValueError("a PathNet needs at least one layer")
        for name in ("num_modules", "max_active", "num_heads", "head_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.max_active > self.num_modules:
            raise ValueError(
                f"max_active (N={self.max_active}) must be at most num_modules (M={self.num_modules}): "
                "a path picks N modules out of M per layer"
            )
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {self.aggregation!r}")
        if self.init_scheme not in ("lecun_normal", "glorot_uniform"):
            raise ValueError(
                f"init_scheme must be 'lecun_normal' or 'glorot_uniform', got {self.init_scheme!r}"
            )
        self.layer_shapes()  # raises if a conv does not fit

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def layer_shapes(self) -> tuple[tuple[int, ...], ...]:
        """Input shape of every layer, then the output shape of the last one."""
        return (tuple(self.input_shape), *output_shapes(self.input_shape, self.layers))

    # ----------------------------------------------------------------------------------------
    # Parameters
    def init(self, key: jax.Array) -> Params:
        """``{"modules": [{"w": [M, ...], "b": [M, F]} per layer], "heads": {"w": [H, ...], "b": [H, out]}}``.

        Kernels by ``init_scheme``, zero biases; one PRNG call (see :class:`KernelDraws`).
        """
        return _jitted_init(self, key)

    def _draw_all(self, draw: KernelDraws) -> Params:
        shapes = self.layer_shapes()
        modules = []
        for layer, in_shape in zip(self.layers, shapes[:-1], strict=True):
            w = jnp.stack([draw(layer.kernel_shape(in_shape)) for _ in range(self.num_modules)])
            modules.append({"w": w, "b": jnp.zeros((self.num_modules, layer.features), jnp.float32)})
        head = Dense(self.head_size)
        heads = {
            "w": jnp.stack([draw(head.kernel_shape(shapes[-1])) for _ in range(self.num_heads)]),
            "b": jnp.zeros((self.num_heads, self.head_size), jnp.float32),
        }
        return {"modules": modules, "heads": heads}

    def _init(self, key: jax.Array) -> Params:
        counter = KernelDraws()
        self._draw_all(counter)
        noise = KernelDraws.noise_for(key, counter.offset, scheme=self.init_scheme)
        return self._draw_all(KernelDraws(noise, self.init_scheme))

    # ----------------------------------------------------------------------------------------
    # Paths
    def check_path(self, path) -> None:
        """Raise if a concrete path has the wrong shape or indices outside ``0..M-1``."""
        if isinstance(path, jax.core.Tracer):
            return

        p = np.asarray(path)
        if p.shape[-2:] != (self.num_layers, self.max_active):
            raise ValueError(
                f"a path must have shape [L, N] = [{self.num_layers}, {self.max_active}] (or [P, L, N]), "
                f"got {p.shape}"
            )
        if not np.issubdtype(p.dtype, np.integer) or p.min() < 0 or p.max() >= self.num_modules:
            raise ValueError(f"path entries must be module indices in 0..{self.num_modules - 1}")

    def active_mask(self, path: jax.Array) -> jax.Array:
        """``[L, M]`` bool: which modules a path ``[L, N]`` uses (duplicates count once)."""
        return jnp.any(path[:, :, None] == jnp.arange(self.num_modules), axis=1)

    def averages(self, layer: int) -> bool:
        """Whether ``layer`` takes the mean of its active modules (else their sum)."""
        return self.aggregation == "mean" or (
            self.aggregation == "mean_last" and layer == self.num_layers - 1
        )

    @staticmethod
    def first_occurrence(path: jax.Array) -> jax.Array:
        """``[L, N]`` float: 1 where the entry has not appeared earlier in its row, else 0."""
        n = path.shape[-1]
        same = path[..., :, None] == path[..., None, :]  # [L, N, N]
        earlier = jnp.tril(jnp.ones((n, n), bool), k=-1)
        return (~jnp.any(same & earlier, axis=-1)).astype(jnp.float32)

    # ----------------------------------------------------------------------------------------
    # Forward
    def apply(self, params: Params, x: jax.Array, path: jax.Array, task) -> jax.Array:
        """Logits ``[B, head_size]`` of path ``[L, N]`` on ``x`` ``[B, *input_shape]``, head ``task``."""
        self.check_path(path)
        rows, head = self.gather(params, path, task)
        return self.apply_rows(rows, head, x, path)

    def gather(self, params: Params, path: jax.Array, task) -> tuple[list[Params], Params]:
        """The parameters a path uses: per layer the N listed modules ``{"w": [N, ...], "b": [N, F]}``,
        and head ``task``."""
        rows = [
            jax.tree.map(lambda a, idx=idx: jnp.take(a, idx, axis=0), p)
            for p, idx in zip(params["modules"], path, strict=True)
        ]
        head = jax.tree.map(lambda a: jnp.take(a, task, axis=0), params["heads"])
        return rows, head

    def apply_rows(self, rows: list[Params], head: Params, x: jax.Array, path: jax.Array) -> jax.Array:
        """The forward pass on gathered parameters (:meth:`gather`): each layer sums (or averages,
        :meth:`averages`) its distinct modules."""
        weights = self.first_occurrence(path)  # [L, N]
        h = x
        for i, (layer, p, wgt) in enumerate(zip(self.layers, rows, weights, strict=True)):
            outs = jax.vmap(lambda wk, bk, h=h, layer=layer: jax.nn.relu(layer.linear(wk, h) + bk))(
                p["w"], p["b"]
            )
            if self.averages(i):
                wgt = wgt / wgt.sum()
            h = jnp.tensordot(wgt, outs, axes=1)  # sum (or mean) of the distinct active modules
        return Dense(self.head_size).linear(head["w"], h) + head["b"]

    def apply_masked(self, params: Params, x: jax.Array, path: jax.Array, task) -> jax.Array:
        """The same value as :meth:`apply`, computed the other way round: every module of a layer
        runs and the path's active mask ``[L, M]`` weights their outputs (set semantics).

        Costs M modules per layer instead of N, but the kernels are the bank's own, not gathered
        per path: under a vmap over paths the path axis folds into the batch of one ordinary
        convolution or matmul. The gathered form (:meth:`apply`) vmapped over paths gives every
        path its own kernels, which XLA:CPU runs as grouped convolutions, far slower (measured in
        ``benchmarks/bench_pathnet_rl.py``). ``path`` may be wider than N (a fixed path appended).
        """
        mask = self.active_mask(path).astype(x.dtype)  # [L, M]
        h = x
        for i, (layer, p, m) in enumerate(zip(self.layers, params["modules"], mask, strict=True)):
            if self.averages(i):
                m = m / m.sum()
            h = jnp.tensordot(jax.nn.relu(_all_modules(layer, p, h)), m, axes=([-2], [0]))
        head = jax.tree.map(lambda a: jnp.take(a, task, axis=0), params["heads"])
        return Dense(self.head_size).linear(head["w"], h) + head["b"]

    def apply_population(self, params: Params, x: jax.Array, paths: jax.Array, task) -> jax.Array:
        """Logits ``[P, B, head_size]`` of every path ``[P, L, N]``: one vmap over paths.

        ``x`` is shared ``[B, ...]`` or per path ``[P, B, ...]``.
        """
        self.check_path(paths)
        x_axis = 0 if x.ndim == len(self.input_shape) + 2 else None
        return jax.vmap(lambda p, xp: self.apply(params, xp, p, task), in_axes=(0, x_axis))(paths, x)

    # ----------------------------------------------------------------------------------------
    # Freezing, counters, transfer
    def trainable_mask(self, params: Params, frozen: jax.Array, task) -> Params:
        """Trainable slices: modules not in ``frozen`` ``[L, M]`` and only head ``task``."""
        heads = jnp.arange(self.num_heads) == task
        return {
            "modules": [{"w": ~frozen[i], "b": ~frozen[i]} for i in range(self.num_layers)],
            "heads": {"w": heads, "b": heads},
        }

    def count_training(
        self, counters: jax.Array, paths: jax.Array, frozen: jax.Array | None = None
    ) -> jax.Array:
        """Add one training session to every module used by each of ``paths`` ``[..., L, N]``.

        Frozen modules (``frozen [L, M]``) are used but not trained, so their counters stay.
        """
        flat = paths.reshape(-1, self.num_layers, self.max_active)
        used = jax.vmap(self.active_mask)(flat).astype(counters.dtype).sum(axis=0)  # [L, M]
        if frozen is not None:
            used = jnp.where(frozen, 0, used)
        return counters + used

    def lock_path(
        self,
        params: Params,
        frozen: jax.Array,
        counters: jax.Array,
        path: jax.Array,
        *,
        reset: str = "initial",
        initial_params: Params | None = None,
        key: jax.Array | None = None,
    ) -> tuple[Params, jax.Array, jax.Array]:
        """After a task (docs/papers.md 2.2, 3.1): lock ``path``'s modules; reset every unlocked module.

        ``reset="initial"`` restores the unlocked modules' saved initial weights (``initial_params``,
        as the thesis did); ``"fresh"`` draws new ones from ``key``. Their training counters go back
        to 0. Heads are untouched: the next task uses the next head slot.
        Returns ``(params, frozen [L, M], counters [L, M])``.
        """
        if reset not in RESET_MODES:
            raise ValueError(f"reset must be one of {RESET_MODES}, got {reset!r}")
        if reset == "initial" and initial_params is None:
            raise ValueError('reset="initial" needs initial_params (the bank saved at init)')
        if reset == "fresh" and key is None:
            raise ValueError('reset="fresh" needs a PRNG key')
        frozen = frozen | self.active_mask(path)
        source = initial_params if reset == "initial" else self.init(key)
        modules = []
        for i, (cur, new) in enumerate(zip(params["modules"], source["modules"], strict=True)):
            keep = frozen[i]
            modules.append(
                jax.tree.map(
                    lambda c, n, keep=keep: jnp.where(keep.reshape((-1,) + (1,) * (c.ndim - 1)), c, n),
                    cur,
                    new,
                )
            )
        counters = jnp.where(frozen, counters, jnp.zeros_like(counters))
        return {**params, "modules": modules}, frozen, counters


_jitted_init = jax.jit(PathNet._init, static_argnums=0)


def _all_modules(layer: Layer, p: Params, h: jax.Array) -> jax.Array:
    """Every module of a layer on ``h``: ``[B, ..., M, F]`` before the ReLU (bias added)."""
    w, b = p["w"], p["b"]  # [M, *kernel], [M, F]
    m, f = b.shape
    if isinstance(layer, Dense):
        return jnp.einsum("bi,mif->bmf", h.reshape(h.shape[0], -1), w) + b
    kernel = jnp.moveaxis(w, 0, -2).reshape(*w.shape[1:-1], m * f)  # [kh, kw, C, M * F]
    out = layer.linear(kernel, h)  # one convolution with M * F maps
    return out.reshape(*out.shape[:-1], m, f) + b


def mlp_pathnet(
    input_dim: int,
    num_layers: int = 3,
    num_modules: int = 10,
    max_active: int = 3,
    units: int = 20,
    num_heads: int = 2,
    head_size: int = 2,
    aggregation: str = "sum",
    init_scheme: str = "lecun_normal",
) -> PathNet:
    """Dense PathNet; defaults are the binary-MNIST settings L/M/N = 3/10/3, 20 units (docs/papers.md 2.3)."""
    return PathNet(
        (input_dim,),
        tuple(Dense(units) for _ in range(num_layers)),
        num_modules,
        max_active,
        num_heads,
        head_size,
        aggregation,
        init_scheme,
    )
