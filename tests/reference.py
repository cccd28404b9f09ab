"""Plain NumPy implementation of progressive columns, written straight from the paper's equations.

Eq. 1: h_i^(k) = f(W_i^(k) h_{i-1}^(k) + sum_{j<k} U_i^(k:j) h_{i-1}^(j))
Eq. 2: h_i^(k) = f(W_i^(k) h_{i-1}^(k) + U_i^(k) f(V_i^(k) alpha_i^(k) [h_{i-1}^(1) ... h_{i-1}^(k-1)]))

Loops over columns k, earlier columns j < k, and (for convolutions) output positions. It shares
only the parameter layout with pnn_jax (``params[...]["w"][k]``, ``["lateral"]["u"][k][j]``, ...).
"""

from __future__ import annotations

import numpy as np
from tolerance import forward_bound

from pnn_jax.nets.columns import Conv


def linear(layer, kernel, x):
    """W x for one layer: dense on the flattened input, or a VALID strided convolution."""
    if not isinstance(layer, Conv):
        return x.reshape(x.shape[0], -1).astype(np.float64) @ kernel.astype(np.float64)
    b, h, w, _ = x.shape
    kh, kw, _, f = kernel.shape
    s = layer.stride
    oh, ow = (h - kh) // s + 1, (w - kw) // s + 1
    out = np.zeros((b, oh, ow, f))
    for r in range(oh):
        for c in range(ow):
            patch = x[:, r * s : r * s + kh, c * s : c * s + kw, :].astype(np.float64)
            out[:, r, c, :] = np.tensordot(patch, kernel.astype(np.float64), axes=3)
    return out


def relu(x):
    return np.maximum(x, 0.0)


def lateral(kind, layer, p, k, sources, adapter_v="1x1"):
    """The lateral term of column k from ``sources`` = [h^(0), ..., h^(k-1)] (k >= 1)."""
    if kind == "plain":  # Eq. 1: one U per earlier column
        return sum(linear(layer, p["u"][k][j], sources[j]) for j in range(k))
    # Eq. 2: one adapter on the channel-concatenation of all earlier columns
    if adapter_v == "dense" and not isinstance(layer, Conv):  # V dense on the flattened maps
        sources = [s.reshape(s.shape[0], -1) for s in sources]
    alpha = float(p["alpha"][k])
    cat = np.concatenate([alpha * s.astype(np.float64) for s in sources], axis=-1)
    v = np.concatenate([p["v"][k][j] for j in range(k)], axis=0).astype(np.float64)
    z = relu(cat @ v)  # 1x1 convolution on maps, dense on vectors
    return linear(layer, p["u"][k], z)


def forward(net, params, x):
    """All columns. Returns ``(hidden[k][i], heads[k][name])`` as float64 NumPy arrays."""
    spec = net.column
    params = _to_numpy(params)
    hidden, heads = [], []
    for k in range(net.max_columns):
        h, hs = np.asarray(x, np.float64), []
        for i, layer in enumerate(spec.hidden):
            p = params["hidden"][i]
            pre = linear(layer, p["w"][k], h) + p["b"][k]
            if i > 0 and k > 0 and net.lateral != "none":
                srcs = [hidden[j][i - 1] for j in range(k)]
                pre = pre + lateral(net.lateral, layer, p["lateral"], k, srcs, net.adapter_v)
            h = relu(pre)
            hs.append(h)
        out = {}
        for name, layer in spec.head_layers:
            p = params["heads"][name]
            pre = linear(layer, p["w"][k], h) + p["b"][k]
            if k > 0 and net.head_laterals and net.lateral != "none":
                pre = pre + lateral(net.lateral, layer, p["lateral"], k, [hidden[j][-1] for j in range(k)])
            out[name] = pre
        hidden.append(hs)
        heads.append(out)
    return hidden, heads


def path_terms(net, params) -> int:
    """The float32 roundings along the deepest path of ``net``'s forward pass, summed over its
    layers (:func:`tolerance.forward_bound`): per layer, the terms of one pre-activation's sums --
    ``W h`` and the bias, every earlier column's ``U h`` (or the adapter's ``V`` over all of them,
    its scale, then ``U``) -- plus one rounding per partial sum added."""
    k = net.max_columns

    def fan_in(kernel, lead):  # inputs read per output, for a leaf [*lead column axes, *kernel]
        return int(np.prod(kernel.shape[lead:-1]))

    def layer(p):
        n = 1 + fan_in(p["w"], 1) + k  # W h + b, and the partial sums added
        lat = p.get("lateral") or {}
        if "u" in lat:
            n += k * fan_in(lat["u"], lat["u"].ndim - p["w"].ndim + 1)
        if "v" in lat:
            n += k * fan_in(lat["v"], 2) + 1  # V over the concatenated sources, and alpha
        return n

    params = _to_numpy(params)
    return sum(layer(p) for p in params["hidden"]) + max(layer(p) for p in params["heads"].values())


def error_bounds(net, params, x):
    """``(hidden[k][i], heads[k][name])``: how far a float32 forward pass of ``net`` may be from
    :func:`forward` (:func:`tolerance.forward_bound`)."""
    return forward_bound(lambda p, xs: forward(net, p, xs), _to_numpy(params), x, path_terms(net, params))


def _to_numpy(tree):
    if isinstance(tree, dict):
        return {k: _to_numpy(v) for k, v in tree.items()}
    if isinstance(tree, list | tuple):
        return [_to_numpy(v) for v in tree]
    return np.asarray(tree)
