"""A progressive network of K columns (PNN, Rusu et al. 2016, Eq. 1 and Eq. 2; docs/papers.md 1.1).

Columns are data. The net has a fixed capacity ``K = max_columns``; every parameter leaf carries
the column on its leading axis (``[K, ...]``; lateral ``U``/``V`` leaves ``[K, K-1, ...]`` with the
source column second). Column ``k`` receives laterals from columns ``j < k`` through a mask, so:

* all columns are computed by one ``vmap`` per layer (:meth:`ProgressiveNet.apply_all`);
* the column is an explicit, traceable argument: training or evaluating column ``k+1`` after
  column ``k`` reuses the same compiled function (no new shapes, no recompilation);
* the cost is memory for columns not yet in use (their parameters exist from the start).

Training column ``k`` (:meth:`ProgressiveNet.apply_train`) runs the earlier columns forward only:
a stacked pass over columns ``0..K-2`` under ``stop_gradient``, then column ``k`` alone from a
dynamic slice of the parameters. Gradients therefore exist only for column ``k``'s slice, and the
backward pass costs one column whatever ``K`` is.

Layer ``i`` of column ``k`` computes ``relu(W_i^(k) h_{i-1}^(k) + b_i^(k) + lateral_i^(k))``
where the lateral term is Eq. 1's ``sum_{j<k} U_i^(k:j) h_{i-1}^(j)`` or Eq. 2's adapter (see
:mod:`pnn_jax.nets.laterals`). Layer 1 gets no laterals (all columns see the same input, docs/papers.md
1.1); heads get laterals from the last hidden layer when ``head_laterals`` is true (default, as in
most reimplementations; the paper does not say whether the value head does [?]). Heads are linear.

Columns are numbered from 0 in the API (the paper's column 1 is ``column=0``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from pnn_jax.freezing import checksum
from pnn_jax.nets import laterals
from pnn_jax.nets.columns import INIT_SCHEMES, ColumnSpec, KernelDraws, Layer, init_gain

Params = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class ProgressiveNet:
    """Static description of a progressive net; parameters are a separate pytree.

    Attributes:
      column: the architecture shared by all columns.
      max_columns: capacity ``K`` (number of column slots allocated).
      lateral: ``"adapter"`` (Eq. 2, default), ``"plain"`` (Eq. 1) or ``"none"`` (independent
        columns).
      head_laterals: whether the heads receive laterals (docs/papers.md 1.1 [?]; default True).
      adapter_width: width of the adapter projection V: ``"in"`` = ``n_{i-1}`` (the paper's stated
        shape; default), ``"out"`` = ``n_i`` (the paper's text), or an int (docs/papers.md 1.1 [?]).
      alpha_init: initial adapter scale; the paper draws it per run from {1, 0.1, 0.01}.
      adapter_v: where an fc layer reads conv maps, V is a 1x1 conv over the maps (``"1x1"``,
        default) or dense over the flattened maps (``"dense"``) (docs/papers.md 1.1 [?]).
      init_scheme: kernels ``"lecun_normal"`` (default), ``"orthogonal"`` with public A2C's gains,
        or ``"glorot_uniform"`` (:data:`pnn_jax.nets.columns.INIT_SCHEMES`); the papers do not
        state theirs.
    """

    column: ColumnSpec
    max_columns: int
    lateral: laterals.LateralKind = "adapter"
    head_laterals: bool = True
    adapter_width: laterals.AdapterWidth = "in"
    alpha_init: float = 1.0
    adapter_v: str = "1x1"
    init_scheme: str = "lecun_normal"

    def __post_init__(self):
        if self.init_scheme not in INIT_SCHEMES:
            raise ValueError(f"init_scheme must be one of {INIT_SCHEMES}, got {self.init_scheme!r}")
        if not isinstance(self.max_columns, int) or self.max_columns < 1:
            raise ValueError(f"max_columns must be a positive int, got {self.max_columns!r}")
        if self.lateral not in laterals.LATERAL_KINDS:
            raise ValueError(f"lateral must be one of {laterals.LATERAL_KINDS}, got {self.lateral!r}")
        if not (isinstance(self.alpha_init, int | float) and self.alpha_init > 0):
            raise ValueError(f"alpha_init must be a positive number, got {self.alpha_init!r}")
        if self.lateral == "adapter":
            for _, layer, shape, _ in self._layers():  # raise here, not at init, if invalid
                shape = laterals.adapter_source_shape(shape, layer, self.adapter_v)
                laterals.adapter_width(self.adapter_width, shape, layer)

    # ----------------------------------------------------------------------------------------
    # Structure
    @property
    def num_sources(self) -> int:
        """Source slots per lateral: every column but the last can feed later ones."""
        return self.max_columns - 1

    def _lateral_kind(self, layer_index: int | None) -> laterals.LateralKind:
        """Lateral kind of hidden layer ``layer_index`` (``None`` = a head)."""
        if self.num_sources == 0 or layer_index == 0:
            return "none"
        if layer_index is None and not self.head_laterals:
            return "none"
        return self.lateral

    def _layers(self) -> list[tuple[str, Layer, tuple[int, ...], laterals.LateralKind]]:
        """(name, layer, input shape, lateral kind) for every hidden layer and head."""
        spec = self.column
        out = [
            (f"hidden_{i}", layer, shape, self._lateral_kind(i))
            for i, (layer, shape) in enumerate(zip(spec.hidden, spec.layer_in_shapes(), strict=True))
        ]
        last = spec.hidden_shapes()[-1]
        out += [(name, layer, last, self._lateral_kind(None)) for name, layer in spec.head_layers]
        return out

    def check_column(self, column) -> None:
        """Raise if a concrete ``column`` is outside ``0..K-1`` (traced values are not checked)."""
        if isinstance(column, jax.core.Tracer):
            return
        c = np.asarray(column)
        if c.ndim != 0 or not np.issubdtype(c.dtype, np.integer):
            raise ValueError(f"column must be an integer scalar, got {column!r}")
        if not 0 <= int(c) < self.max_columns:
            raise ValueError(
                f"column {int(c)} is out of range for a net of {self.max_columns} column(s) "
                f"(columns are numbered 0..{self.max_columns - 1}; raise max_columns to add one)"
            )

    # ----------------------------------------------------------------------------------------
    # Parameters
    def init(self, key: jax.Array) -> Params:
        """Parameters of all ``K`` columns, each column drawn independently (one compiled call).

        Returns ``{"hidden": [layer params...], "heads": {name: layer params}}`` where each layer is
        ``{"w": [K, *W.shape], "b": [K, F], "lateral": {...}}`` (laterals: see
        :mod:`pnn_jax.nets.laterals`).
        """
        return _jitted_init(self, key)

    def _init_column(self, own: KernelDraws, lateral: KernelDraws) -> dict[str, Any]:
        """One column's parameters: own kernels from ``own``, lateral ones from ``lateral``."""
        layers = {}
        for name, layer, in_shape, kind in self._layers():
            gain = init_gain(self.init_scheme, name)
            layers[name] = {
                "w": own(layer.kernel_shape(in_shape), gain),
                "b": jnp.zeros((layer.features,), jnp.float32),
                "lateral": laterals.init(
                    lateral,
                    kind,
                    layer,
                    in_shape,
                    self.num_sources,
                    width=self.adapter_width,
                    alpha_init=self.alpha_init,
                    adapter_v=self.adapter_v,
                    gain=gain,
                    adapter_gain=init_gain(self.init_scheme, "adapter"),
                ),
            }
        return layers

    def _init(self, key: jax.Array) -> Params:
        # Column k's own weights depend only on (key, k), not on the capacity: the same key gives
        # column 0 of a 1-column baseline and of a progressive net the same start. Laterals come
        # from a separate stream (their number depends on the capacity).
        own_count, lat_count = KernelDraws(), KernelDraws()
        self._init_column(own_count, lat_count)  # learns how many random numbers a column needs
        own_key, lat_key = jax.random.split(key)

        def column_noise(base, size):
            keys = jax.vmap(lambda k: jax.random.fold_in(base, k))(jnp.arange(self.max_columns))
            return jax.vmap(lambda k: KernelDraws.noise_for(k, size, scheme=self.init_scheme))(keys)

        own_noise = column_noise(own_key, own_count.offset)
        lat_noise = column_noise(lat_key, max(lat_count.offset, 1))
        scheme = self.init_scheme
        flat = jax.vmap(lambda o, l: self._init_column(KernelDraws(o, scheme), KernelDraws(l, scheme)))(
            own_noise, lat_noise
        )
        n_hidden = len(self.column.hidden)
        return {
            "hidden": [flat[f"hidden_{i}"] for i in range(n_hidden)],
            "heads": {name: flat[name] for name, _ in self.column.heads},
        }

    def grow(self, params: Params, key: jax.Array, num_new: int = 1) -> tuple[ProgressiveNet, Params]:
        """Add ``num_new`` column slots: a net of capacity ``K + num_new`` and its parameters.

        Every existing parameter is copied bit for bit (own weights ``[:K]``, lateral slots
        ``[:K, :K-1]``); the new columns and their laterals are drawn from ``key`` like
        :meth:`init`. The shapes change, so the training step compiles once more for the new net;
        activating a slot that already exists (:func:`pnn_jax.train.init_state`) never does.
        """
        if not isinstance(num_new, int) or num_new < 1:
            raise ValueError(f"num_new must be a positive int, got {num_new!r}")
        big = dataclasses.replace(self, max_columns=self.max_columns + num_new)
        fresh = big.init(key)
        old = dict(jax.tree_util.tree_flatten_with_path(params)[0])
        k, s = self.max_columns, self.num_sources

        def merge(path, new):
            if path not in old:  # lateral leaves that a 1-column net does not have
                return new
            prev = jnp.asarray(old[path])
            if "lateral" in jax.tree_util.keystr(path) and new.shape[1:] != prev.shape[1:]:
                return new.at[:k, :s].set(prev)  # [K, K-1, ...] -> [K+n, K+n-1, ...]
            return new.at[:k].set(prev)

        return big, jax.tree_util.tree_map_with_path(merge, fresh)

    def live_mask(self, params: Params) -> Params:
        """Which slices of each leaf are real parameters, as a pytree of bool arrays.

        Own parameters: ``[K]`` all True. Lateral ``U`` (plain) and ``V`` (adapter): ``[K, K-1]``,
        True where source ``j < k``. Adapter ``U`` and ``alpha``: ``[K]``, False for column 0 (it
        has no earlier columns). Masked slices exist only so that all columns share one shape.
        """
        k = np.arange(self.max_columns)
        pairs = k[:, None] > np.arange(self.num_sources)[None, :]

        def leaf_mask(path, _):
            keys = [p.key for p in path if hasattr(p, "key")]
            if "lateral" not in keys:
                return np.ones(self.max_columns, bool)
            name = keys[-1]
            if name == "v" or (name == "u" and self.lateral == "plain"):
                return pairs
            return k > 0  # adapter alpha and u

        return jax.tree_util.tree_map_with_path(leaf_mask, params)

    def param_count(self, num_columns: int | None = None) -> int:
        """Number of real parameters of a net with ``num_columns`` columns (default: capacity).

        Computed from shapes only (no allocation); excludes the masked, unused lateral slices.
        """
        net = self if num_columns is None else dataclasses.replace(self, max_columns=num_columns)
        shapes = jax.eval_shape(net._init, jax.random.key(0))
        masks = net.live_mask(shapes)
        counts = jax.tree.map(lambda s, m: int(m.sum()) * math.prod(s.shape[m.ndim :]), shapes, masks)
        return sum(jax.tree.leaves(counts))

    # ----------------------------------------------------------------------------------------
    # Forward passes
    def _layer(self, layer, kind, p, h, sources, k, relu=True):
        """One layer of column ``k``: ``f(W h + b + lateral)``. ``p`` has no column axis."""
        pre = layer.linear(p["w"], h) + p["b"]
        if kind != "none":
            pre = pre + laterals.apply(kind, layer, p["lateral"], sources, k, self.adapter_v)
        return jax.nn.relu(pre) if relu else pre

    def _stacked_pass(self, params: Params, x: jax.Array, num_columns: int, with_heads: bool, perturb=None):
        """The ``num_columns`` leading columns of ``params`` at once (one vmap per layer).

        ``perturb`` (optional): one array per hidden layer, broadcastable to ``[num_columns, B,
        *shape]``, added to that layer's post-ReLU activations before any column reads them (the
        sensitivity analyses' hook, :mod:`pnn_jax.rl.sensitivity`).
        Returns ``(hidden, heads)``: ``hidden`` is a list ``[num_columns, B, *shape]`` per hidden
        layer; ``heads`` maps name to ``[num_columns, B, size]`` (empty if not ``with_heads``).
        """
        ks = jnp.arange(num_columns)
        layers = self._layers()
        n_hidden = len(self.column.hidden)
        hidden = []
        for i, (_, layer, _, kind) in enumerate(layers[:n_hidden]):
            if i == 0:  # every column reads the same input x
                fn = lambda p, k, layer=layer: self._layer(layer, "none", p, x, None, k)  # noqa: E731
                h_all = jax.vmap(fn)(params["hidden"][0], ks)
            else:
                src = h_all[: self.num_sources]
                fn = lambda p, h, k, layer=layer, kind=kind, src=src: self._layer(  # noqa: E731
                    layer, kind, p, h, src, k
                )
                h_all = jax.vmap(fn)(params["hidden"][i], h_all, ks)
            if perturb is not None:
                h_all = h_all + perturb[i]
            hidden.append(h_all)
        heads = {}
        if with_heads:
            src = h_all[: self.num_sources]
            for name, layer, _, kind in layers[n_hidden:]:
                fn = lambda p, h, k, layer=layer, kind=kind: self._layer(  # noqa: E731
                    layer, kind, p, h, src, k, relu=False
                )
                heads[name] = jax.vmap(fn)(params["heads"][name], h_all, ks)
        return hidden, heads

    def apply_all(self, params: Params, x: jax.Array, perturb=None):
        """Every column on a batch ``x`` ``[B, *input_shape]``.

        ``perturb``: optional additive perturbation of each hidden layer's activations, one array
        per layer broadcastable to ``[K, B, *shape]`` (zeros = the plain forward pass).
        Returns ``(outputs, hidden)``: ``outputs[name]`` is ``[K, B, size]``; ``hidden`` is a list
        with one ``[K, B, *shape]`` array per hidden layer (post-ReLU activations ``h_i^(k)``).
        """
        hidden, heads = self._stacked_pass(params, x, self.max_columns, with_heads=True, perturb=perturb)
        return heads, hidden

    def apply(self, params: Params, x: jax.Array, column, *, return_hidden: bool = False, perturb=None):
        """Column ``column`` (the task id, explicit and traceable) on a batch ``x``.

        Returns ``{head name: [B, size]}``, and, if ``return_hidden``, also the list of every
        hidden activation of every column (``[K, B, *shape]`` per layer) for analysis.
        ``perturb``: see :meth:`apply_all`.
        """
        self.check_column(column)
        heads, hidden = self.apply_all(params, x, perturb)
        out = {name: jnp.take(v, column, axis=0) for name, v in heads.items()}
        return (out, hidden) if return_hidden else out

    def apply_train(self, params: Params, x: jax.Array, column) -> dict[str, jax.Array]:
        """Column ``column`` on ``x`` with gradients for that column's parameters only.

        Columns ``0..K-2`` run forward under ``stop_gradient`` (they are the only possible lateral
        sources); column ``column`` runs once more from a dynamic slice of ``params``, reading the
        frozen activations as its lateral inputs. Equal to :meth:`apply` in value.
        Returns ``{head name: [B, size]}``.
        """
        self.check_column(column)
        s = self.num_sources
        n_hidden = len(self.column.hidden)
        layers = self._layers()
        sources: list[jax.Array | None] = [None] * (n_hidden + 1)
        needs_last = self.head_laterals and self.lateral != "none"
        # Layer i reads h_{i-1} of the sources: layers 0..L-2 feed hidden laterals, layer L-1
        # feeds the heads' laterals.
        n_src_layers = (n_hidden if needs_last else n_hidden - 1) if self.lateral != "none" else 0
        if s > 0 and n_src_layers > 0:
            frozen = jax.tree.map(lambda a: jax.lax.stop_gradient(a[:s]), params["hidden"])
            sub = dataclasses.replace(self.column, hidden=self.column.hidden[:n_src_layers])
            # The same net restricted to the source columns and the layers whose outputs are needed.
            src_net = dataclasses.replace(self, column=sub)
            hidden, _ = src_net._stacked_pass({"hidden": frozen[:n_src_layers]}, x, s, False)
            sources[1 : n_src_layers + 1] = hidden  # sources[i] = h_{i-1} of the source columns
        pk = jax.tree.map(lambda a: jnp.take(a, column, axis=0), params)
        h = x
        for i, (_, layer, _, kind) in enumerate(layers[:n_hidden]):
            h = self._layer(layer, kind, pk["hidden"][i], h, sources[i], column)
        out = {}
        for name, layer, _, kind in layers[n_hidden:]:
            out[name] = self._layer(layer, kind, pk["heads"][name], h, sources[n_hidden], column, relu=False)
        return out

    # ----------------------------------------------------------------------------------------
    # Freezing
    def trainable_mask(self, params: Params, column, scope: str = "column") -> Params:
        """Which slices train: ``[K]`` bool per leaf, True only for ``column``.

        ``scope="column"``: all of that column's parameters (its laterals included);
        ``scope="heads"``: only its output layer(s) (the paper's baseline 2). ``column`` may be
        traced, so changing it does not recompile. Everything else is frozen.
        """
        if scope not in TRAIN_SCOPES:
            raise ValueError(f"scope must be one of {TRAIN_SCOPES}, got {scope!r}")
        self.check_column(column)
        onehot = jnp.arange(self.max_columns) == column

        def leaf(path, _):
            top = path[0].key
            return onehot if (scope == "column" or top == "heads") else jnp.zeros_like(onehot)

        return jax.tree_util.tree_map_with_path(leaf, params)

    def reset_heads(self, params: Params, key: jax.Array, column) -> Params:
        """``params`` with the heads of ``column`` re-drawn from the initialiser (fresh output layer)."""
        self.check_column(column)
        fresh = self.init(key)["heads"]
        heads = jax.tree.map(lambda a, f: a.at[column].set(f[column]), params["heads"], fresh)
        return {**params, "heads": heads}

    def column_checksums(self, params: Params) -> list[str]:
        """SHA-256 of each column's parameters (own and lateral-into-it), one per column."""
        host = jax.tree.map(np.asarray, params)
        return [checksum(jax.tree.map(lambda a, k=k: a[k], host)) for k in range(self.max_columns)]


TRAIN_SCOPES = ("column", "heads")
_jitted_init = jax.jit(ProgressiveNet._init, static_argnums=0)
