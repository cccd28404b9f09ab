"""Column architectures: the layers one progressive column is made of.

A column is a stack of hidden layers (dense or conv, ReLU) followed by one or more linear heads that
all read the last hidden layer (e.g. ``logits``; in RL ``policy`` and ``value``). Every column of a
progressive net has the same architecture, which is what lets :mod:`pnn_jax.nets.progressive` stack
all columns' parameters on a leading axis ``[K, ...]``.

Layout is NHWC for images. A dense layer that follows a conv layer flattens its input in NHWC order.
Convolutions use VALID padding, as in the papers' Atari network (docs/papers.md section 1.2).

This module only knows the *own* path of a layer, ``W h + b`` (the ``W_i^(k) h_{i-1}^(k)`` term of
Eq. 1); laterals live in :mod:`pnn_jax.nets.laterals`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax import lax

Shape = tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class Dense:
    """Fully connected layer with ``features`` outputs; flattens a spatial input first."""

    features: int

    def out_shape(self, in_shape: Shape) -> Shape:
        return (self.features,)

    def kernel_shape(self, in_shape: Shape) -> Shape:
        """``[in_features, features]`` where ``in_features`` is the flattened input size."""
        return (math.prod(in_shape), self.features)

    def linear(self, kernel: jax.Array, x: jax.Array) -> jax.Array:
        """``x @ kernel`` for ``x`` of shape ``[B, *in_shape]``; returns ``[B, features]``."""
        return x.reshape(x.shape[0], -1) @ kernel


@dataclasses.dataclass(frozen=True)
class Conv:
    """2-D convolution, ``features`` maps, square ``kernel`` and ``stride``, VALID padding, NHWC."""

    features: int
    kernel: int
    stride: int

    def out_shape(self, in_shape: Shape) -> Shape:
        if len(in_shape) != 3:
            raise ValueError(f"Conv layer needs an [H, W, C] input, got shape {in_shape}")
        h, w, _ = in_shape
        oh = (h - self.kernel) // self.stride + 1
        ow = (w - self.kernel) // self.stride + 1
        if oh < 1 or ow < 1:
            raise ValueError(
                f"Conv {self.kernel}x{self.kernel}/{self.stride} does not fit an input of {h}x{w}"
            )
        return (oh, ow, self.features)

    def kernel_shape(self, in_shape: Shape) -> Shape:
        """``[kh, kw, C_in, features]`` (HWIO)."""
        return (self.kernel, self.kernel, in_shape[-1], self.features)

    def linear(self, kernel: jax.Array, x: jax.Array) -> jax.Array:
        """Convolution of ``x`` ``[B, H, W, C]`` with ``kernel`` (HWIO); returns ``[B, H', W', F]``."""
        return lax.conv_general_dilated(
            x,
            kernel,
            window_strides=(self.stride, self.stride),
            padding="VALID",
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        )


Layer = Dense | Conv


def output_shapes(input_shape: Shape, layers: tuple[Layer, ...]) -> tuple[Shape, ...]:
    """Output shape of each of ``layers`` applied in order to ``input_shape`` (no batch axis)."""
    shapes, shape = [], tuple(input_shape)
    for layer in layers:
        if isinstance(layer, Conv) and len(shape) != 3:
            raise ValueError(f"{layer} cannot follow a layer with output shape {shape}")
        shape = layer.out_shape(shape)
        shapes.append(shape)
    return tuple(shapes)


@dataclasses.dataclass(frozen=True)
class ColumnSpec:
    """The architecture of one column.

    Attributes:
      input_shape: shape of one input, without the batch axis (``(64,)`` or ``(84, 84, 4)``).
      hidden: the hidden layers, applied in order, each followed by ReLU.
      heads: ``(name, size)`` pairs; each head is a linear layer on the last hidden layer.
    """

    input_shape: Shape
    hidden: tuple[Layer, ...]
    heads: tuple[tuple[str, int], ...]

    def __post_init__(self):
        if not self.hidden:
            raise ValueError("a column needs at least one hidden layer")
        if not self.heads:
            raise ValueError("a column needs at least one head, e.g. (('logits', 10),)")
        names = [n for n, _ in self.heads]
        if len(set(names)) != len(names):
            raise ValueError(f"head names must be unique, got {names}")
        for name, size in self.heads:
            if size < 1:
                raise ValueError(f"head {name!r} must have at least one output, got {size}")
        for layer in self.hidden:
            if layer.features < 1:
                raise ValueError(f"layer widths must be positive, got {layer}")
        if any(d < 1 for d in self.input_shape):
            raise ValueError(f"input_shape must be positive, got {self.input_shape}")
        self.hidden_shapes()  # raises if a conv does not fit

    def hidden_shapes(self) -> tuple[Shape, ...]:
        """Output shape of every hidden layer (no batch axis)."""
        return output_shapes(self.input_shape, self.hidden)

    def layer_in_shapes(self) -> tuple[Shape, ...]:
        """Input shape of every hidden layer."""
        return (tuple(self.input_shape), *self.hidden_shapes()[:-1])

    @property
    def head_layers(self) -> tuple[tuple[str, Dense], ...]:
        return tuple((name, Dense(size)) for name, size in self.heads)


def mlp_column(
    input_dim: int, widths: Sequence[int], heads: dict[str, int] | Sequence[tuple[str, int]]
) -> ColumnSpec:
    """An MLP column: dense ReLU layers of the given ``widths`` and linear heads."""
    heads = tuple(heads.items()) if isinstance(heads, dict) else tuple(heads)
    return ColumnSpec((int(input_dim),), tuple(Dense(int(w)) for w in widths), heads)


def atari_column(
    num_actions: int,
    *,
    frame_shape: tuple[int, int] = (84, 84),
    frames: int = 4,
    conv3_kernel: int = 3,
    value_head: bool = True,
) -> ColumnSpec:
    """The PNN paper's Atari column (docs/papers.md section 1.2).

    conv 12 maps 8x8/4, conv 12 maps 4x4/2, conv 12 maps 3x3/1 (the paper prints "3x4"; 3x3 is the
    likely reading, ``conv3_kernel`` changes it), fc 256, ReLU everywhere; a ``policy`` head of
    ``num_actions`` logits and, if ``value_head``, a ``value`` head, both on the fc layer. Input:
    ``[B, 84, 84, 4]`` stacked grayscale frames (NHWC).
    """
    heads = (("policy", num_actions), ("value", 1)) if value_head else (("policy", num_actions),)
    return ColumnSpec(
        (*frame_shape, frames),
        (Conv(12, 8, 4), Conv(12, 4, 2), Conv(12, conv3_kernel, 1), Dense(256)),
        heads,
    )


def nature_cnn_column(
    num_actions: int, *, frame_shape: tuple[int, int] = (84, 84), frames: int = 4
) -> ColumnSpec:
    """The Nature DQN network as a column (Mnih et al., 2015): conv 32 8x8/4, conv 64 4x4/2, conv 64
    3x3/1, fc 512, ReLU; ``policy`` and ``value`` heads. Larger than the paper's column
    (``network=nature_cnn`` in the RL experiments)."""
    return ColumnSpec(
        (*frame_shape, frames),
        (Conv(32, 8, 4), Conv(64, 4, 2), Conv(64, 3, 1), Dense(512)),
        (("policy", num_actions), ("value", 1)),
    )


# Standard deviation of a standard normal truncated to [-2, 2] (as in jax's variance_scaling).
_TRUNCATED_STD = 0.87962566103423978

INIT_SCHEMES = ("lecun_normal", "orthogonal", "glorot_uniform")
"""``lecun_normal``: truncated normal, std ``1/sqrt(fan_in)`` (jax's and flax's default; the
project's default). ``orthogonal``: orthogonal kernels scaled by a gain per layer, as public A2C and
PPO initialise the Atari network (OpenAI baselines, CleanRL): sqrt(2) before a ReLU, 0.01 for the
policy head (a near-uniform first policy), 1 for other heads. ``glorot_uniform``: uniform in
``+-sqrt(6 / (fan_in + fan_out))``, Keras's default for ``Dense`` and ``Conv2D`` (the PathNet
thesis's modules, docs/papers.md 3.1). Biases are zero in all three."""


def init_gain(scheme: str, layer: str) -> float:
    """The gain of ``layer`` (``hidden_<i>``, ``adapter`` or a head's name) under ``scheme``; 1
    for ``lecun_normal``, whose std is fixed by the fan-in alone."""
    if scheme != "orthogonal":
        return 1.0
    if layer.startswith("hidden") or layer == "adapter":
        return math.sqrt(2.0)  # ReLU follows: keeps the activations' second moment
    return 0.01 if layer == "policy" else 1.0


def _orthonormal_columns(a: jax.Array, block: int = 32) -> jax.Array:
    """The ``Q`` of ``a = QR`` with ``R``'s diagonal positive, for ``a`` ``[m, n]``, m >= n.

    Block Gram-Schmidt with every projection done twice ("twice is enough": orthogonal to float
    precision, as Householder QR): each block of ``block`` columns is projected off the blocks
    before it with matrix products, then its columns off each other one by one. Not
    ``jnp.linalg.qr``: on CPU that is a LAPACK custom call that waits on XLA's intra-op thread
    pool from inside it, so two QRs of one program running at once on a 2-thread pool deadlock
    (seen in this project's runs and CI with jaxlib 0.10.2: every pool thread parked in
    ``ParallelBatchMap``). This form has no custom call on any backend; it runs once per kernel.
    """
    _, n = a.shape
    b = min(block, n)
    blocks = -(-n // b)
    # Zero columns pad the last block; they come last, so they change no real column, and are
    # normalised to zero and dropped.
    a = jnp.pad(a, ((0, 0), (0, blocks * b - n)))
    dot = functools.partial(jnp.dot, precision=lax.Precision.HIGHEST)

    def normalise(v):
        norm2 = jnp.sum(v * v, axis=0)
        return jnp.where(norm2 > 0, v / jnp.sqrt(jnp.where(norm2 > 0, norm2, 1.0)), 0.0)

    def one_block(k, q):  # q: [m, blocks*b], columns of blocks >= k still zero
        c = lax.dynamic_slice_in_dim(a, k * b, b, axis=1)
        for _ in range(2):
            c = c - dot(q, dot(q.T, c))

        def one_column(j, c):  # columns < j of c are done; later ones zero-masked below
            v = lax.dynamic_index_in_dim(c, j, axis=1, keepdims=True)
            done = c * (jnp.arange(b) < j)
            for _ in range(2):
                v = v - dot(done, dot(done.T, v))
            return lax.dynamic_update_slice_in_dim(c, normalise(v), j, axis=1)

        c = lax.fori_loop(0, b, one_column, c)
        return lax.dynamic_update_slice_in_dim(q, c, k * b, axis=1)

    return lax.fori_loop(0, blocks, one_block, jnp.zeros_like(a))[:, :n]


def _orthogonal(noise: jax.Array, shape: Shape) -> jax.Array:
    """An orthogonal kernel of ``shape`` from ``noise`` (as ``jax.nn.initializers.orthogonal``):
    the ``[fan_in, fan_out]`` matrix has orthonormal columns (or rows, if fan_in < fan_out). The
    noise is truncated normal, so the draw is orthogonal but not exactly Haar distributed."""
    rows, cols = math.prod(shape[:-1]), shape[-1]
    q = _orthonormal_columns(noise.reshape(max(rows, cols), min(rows, cols)))
    if rows < cols:
        q = q.T
    return q.reshape(shape)


class KernelDraws:
    """Hands out kernels (LeCun normal or orthogonal, :data:`INIT_SCHEMES`) from one vector.

    All of an initialisation's randomness comes from ONE ``jax.random`` call: XLA compiles every
    PRNG call separately (about 0.2 s each on a CPU), so drawing each kernel with its own key made
    the init of an Atari net take ~10 s to compile. Usage: run the structure once with
    ``KernelDraws()`` (counting; returns zeros) to learn ``offset`` (the size needed), then again with
    ``KernelDraws(noise, scheme)`` where ``noise`` is :meth:`noise_for` that size and scheme. Draws are
    consumed in call order, so the same structure and noise always give the same parameters.
    """

    def __init__(self, noise: jax.Array | None = None, scheme: str = "lecun_normal"):
        if scheme not in INIT_SCHEMES:
            raise ValueError(f"init scheme must be one of {INIT_SCHEMES}, got {scheme!r}")
        self.noise = noise
        self.scheme = scheme
        self.offset = 0

    def __call__(self, shape: Shape, gain: float = 1.0) -> jax.Array:
        """A kernel of ``shape``; fan-in is the product of all but the last axis. ``gain`` scales
        it (see :func:`init_gain`)."""
        n = math.prod(shape)
        if self.noise is None:
            out = jnp.zeros(shape, jnp.float32)
        elif self.scheme == "orthogonal":
            out = gain * _orthogonal(self.noise[self.offset : self.offset + n], shape)
        elif self.scheme == "glorot_uniform":
            receptive = math.prod(shape[:-2])  # 1 for a dense kernel; kh * kw for a conv (as Keras)
            fan_in, fan_out = receptive * (shape[-2] if len(shape) > 1 else 1), receptive * shape[-1]
            limit = gain * math.sqrt(6.0 / (fan_in + fan_out))
            out = self.noise[self.offset : self.offset + n].reshape(shape) * limit
        else:
            std = gain / math.sqrt(max(1, math.prod(shape[:-1]))) / _TRUNCATED_STD
            out = self.noise[self.offset : self.offset + n].reshape(shape) * std
        self.offset += n
        return out

    @staticmethod
    def noise_for(
        key: jax.Array, size: int, leading: tuple[int, ...] = (), scheme: str = "lecun_normal"
    ) -> jax.Array:
        """``[*leading, size]`` float32 draws for ``scheme``: uniform in [-1, 1] for
        ``glorot_uniform``, else standard normals truncated to [-2, 2]."""
        if scheme == "glorot_uniform":
            return jax.random.uniform(key, (*leading, size), jnp.float32, -1.0, 1.0)
        return jax.random.truncated_normal(key, -2.0, 2.0, (*leading, size), jnp.float32)
