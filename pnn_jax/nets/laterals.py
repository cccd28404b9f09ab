"""Lateral connections from earlier columns into column k (PNN, Rusu et al. 2016, docs/papers.md 1.1).

Two kinds, both written for ONE target column ``k`` and ALL source columns at once, so that a
single ``jax.vmap`` over ``k`` computes the laterals of every column in one batched operation:

* ``plain`` (Eq. 1): ``sum_{j<k} U_i^(k:j) h_{i-1}^(j)``. ``U^(k:j)`` has the shape of the layer's
  own kernel ``W`` (a dense matrix, or a conv with W's kernel and stride). The sum over ``j`` is one
  linear map of the channel-concatenated sources with the concatenated, masked kernels.
* ``adapter`` (Eq. 2): ``U_i^(k) relu(V_i^(k) (alpha_i^(k) h_{i-1}^(<k)))`` with one adapter per
  (layer, column) acting on the concatenation of all earlier columns. ``alpha`` is a learned scalar
  (initialised from the paper's grid {1, 0.1, 0.01}). ``V`` is a 1x1 convolution when the source is a
  conv feature map and a dense projection when it is a vector; in both cases it acts on the channel
  axis. ``U`` has the receiving layer's form: a conv with W's kernel and stride for conv layers
  (docs/papers.md 1.1 [?]), dense on the flattened projection for fc layers and heads.
  Where an fc layer reads conv maps (the Atari column's fc layer), "V is dense for fc layers" has a
  second reading: V dense over the *flattened* maps. ``adapter_v="dense"`` selects it;
  the default ``"1x1"`` keeps V a 1x1 convolution there, which keeps the adapter's parameters on the
  order of one column (the paper's stated aim) instead of ``(k-1) * n_{i-1}^2`` with n_{i-1} = 588.

Sources are stacked ``H: [S, B, *src_shape]`` with ``S = K_max - 1`` slots (the last column is
never a source). Source ``j`` feeds target ``k`` iff ``j < k``; the mask multiplies the *parameters*
(never the activations), so masked entries receive exactly zero gradient and cost no extra memory.
Laterals carry no bias: the layer's bias belongs to its own ``W`` term.

Parameter layouts (per layer; leading axes are [target column k, source column j]):

* plain:   ``{"u": [K, S, *W.shape]}``
* adapter: ``{"alpha": [K], "v": [K, S, C_src, A], "u": [K, *U.shape]}`` where ``A`` is the
  adapter width and ``U.shape`` is W's shape for an input of ``A`` channels.
"""

from __future__ import annotations

import math
from typing import Literal

import jax
import jax.numpy as jnp

from pnn_jax.nets.columns import Dense, KernelDraws, Layer, Shape

LateralKind = Literal["plain", "adapter", "none"]
LATERAL_KINDS = ("plain", "adapter", "none")

# Adapter width (docs/papers.md 1.1 [?]): the paper's stated shape of V projects to n_{i-1} (the source
# width, "in"); its text says n_i (the receiving layer's width, "out"). Default: "in".
AdapterWidth = Literal["in", "out"] | int
ADAPTER_V = ("1x1", "dense")


def adapter_source_shape(src_shape: Shape, layer: Layer, adapter_v: str = "1x1") -> Shape:
    """The source shape V sees: flattened for ``adapter_v="dense"`` when an fc layer reads maps."""
    if adapter_v not in ADAPTER_V:
        raise ValueError(f"adapter_v must be one of {ADAPTER_V}, got {adapter_v!r}")
    if adapter_v == "dense" and isinstance(layer, Dense) and len(src_shape) > 1:
        return (math.prod(src_shape),)
    return tuple(src_shape)


def adapter_width(width: AdapterWidth, src_shape: Shape, layer: Layer) -> int:
    """Number of channels ``A`` the adapter's ``V`` projects to."""
    if width == "in":
        return src_shape[-1]
    if width == "out":
        return layer.features
    if isinstance(width, int) and not isinstance(width, bool) and width > 0:
        return width
    raise ValueError(f"adapter_width must be 'in', 'out' or a positive int, got {width!r}")


def source_mask(num_sources: int, k: jax.Array) -> jax.Array:
    """``[S]`` float mask, 1 where source column ``j < k`` (laterals only flow from older columns)."""
    return (jnp.arange(num_sources) < k).astype(jnp.float32)


def _concat_sources(h: jax.Array) -> jax.Array:
    """``[S, B, ..., C] -> [B, ..., S*C]``: sources side by side on the channel axis."""
    s = h.shape[0]
    h = jnp.moveaxis(h, 0, -2)  # [B, ..., S, C]
    return h.reshape(*h.shape[:-2], s * h.shape[-1])


def _concat_kernels(u: jax.Array, layer: Layer, src_shape: Shape) -> jax.Array:
    """Per-source kernels ``[S, *W.shape]`` -> one kernel for the concatenated sources."""
    s = u.shape[0]
    if isinstance(layer, Dense):
        if len(src_shape) > 1:
            # Flattened NHWC input of the concatenated sources is [..., S, C] per position.
            u = u.reshape(s, *src_shape, layer.features)  # [S, H, W, C, F]
            u = jnp.moveaxis(u, 0, -3)  # [H, W, S, C, F]
            return u.reshape(-1, layer.features)
        return u.reshape(-1, layer.features)  # [S*C, F]
    u = jnp.moveaxis(u, 0, 2)  # [kh, kw, S, C, F]
    return u.reshape(u.shape[0], u.shape[1], s * u.shape[3], u.shape[4])


def init(
    draw: KernelDraws,
    kind: LateralKind,
    layer: Layer,
    src_shape: Shape,
    num_sources: int,
    *,
    width: AdapterWidth = "in",
    alpha_init: float = 1.0,
    adapter_v: str = "1x1",
    gain: float = 1.0,
    adapter_gain: float = 1.0,
) -> dict[str, jax.Array]:
    """Lateral parameters of ONE target column into ``layer`` from ``num_sources`` source slots.

    Kernels come from ``draw`` (:class:`pnn_jax.nets.columns.KernelDraws`); ``gain`` scales ``U``
    (as the layer's own kernel), ``adapter_gain`` the adapter's ``V`` (a ReLU follows it).
    """
    if kind == "none" or num_sources == 0:
        return {}
    if kind == "plain":  # one U per source column, each with its own fan-in
        return {"u": jnp.stack([draw(layer.kernel_shape(src_shape), gain) for _ in range(num_sources)])}
    if kind == "adapter":
        src_shape = adapter_source_shape(src_shape, layer, adapter_v)
        a = adapter_width(width, src_shape, layer)
        v = jnp.stack([draw((src_shape[-1], a), adapter_gain) for _ in range(num_sources)])
        u = draw(layer.kernel_shape((*src_shape[:-1], a)), gain)
        return {"alpha": jnp.asarray(alpha_init, jnp.float32), "v": v, "u": u}
    raise ValueError(f"unknown lateral kind {kind!r}; choose one of {LATERAL_KINDS}")


def apply(
    kind: LateralKind,
    layer: Layer,
    params: dict[str, jax.Array],
    sources: jax.Array,
    k: jax.Array,
    adapter_v: str = "1x1",
) -> jax.Array | float:
    """Lateral input of target column ``k`` to ``layer`` (pre-activation, added to ``W h + b``).

    Args:
      kind: ``"plain"`` (Eq. 1), ``"adapter"`` (Eq. 2) or ``"none"``.
      layer: the receiving layer (its ``linear`` map is reused for ``U``).
      params: this column's lateral parameters (see module docstring), no column axis.
      sources: ``[S, B, *src_shape]`` activations ``h_{i-1}^(j)`` of the source columns.
      k: the target column (int, may be traced).
      adapter_v: ``"1x1"`` or ``"dense"``: how V reads conv maps that feed an fc layer.
    Returns:
      ``[B, *out_shape]``, or ``0.0`` when there are no laterals.
    """
    if kind == "none" or not params:
        return 0.0
    s = sources.shape[0]
    src_shape = sources.shape[2:]
    mask = source_mask(s, k)
    if kind == "plain":
        u = params["u"] * mask.reshape(s, *([1] * (params["u"].ndim - 1)))
        return layer.linear(_concat_kernels(u, layer, src_shape), _concat_sources(sources))
    if kind == "adapter":
        shape = adapter_source_shape(src_shape, layer, adapter_v)
        sources = sources.reshape(*sources.shape[:2], *shape)
        v = params["v"] * mask[:, None, None]  # [S, C, A], rows of later columns zeroed
        # V acts on the channel axis of the concatenated sources: a 1x1 conv for feature maps,
        # a dense projection for vectors. alpha scales the input (linear, so after V is the same).
        z = params["alpha"] * jnp.einsum("sb...c,sca->b...a", sources, v)
        return layer.linear(params["u"], jax.nn.relu(z))
    raise ValueError(f"unknown lateral kind {kind!r}; choose one of {LATERAL_KINDS}")
