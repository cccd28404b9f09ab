"""Error bounds of float32 arithmetic, from which the suite's numerical tolerances are set.

A tolerance that comes from what one CPU printed fails on another: XLA:CPU compiles other kernels
for AVX-512 than for AVX2 (other summation orders, other FMA use), and float32 round-off moves
with them. The bounds here hold for every order and every fused multiply-add:

- ``U``, the unit round-off of float32 (round to nearest): ``fl(a op b) = (a op b)(1 + d)``,
  ``|d| <= U`` (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., Sec. 2.2).
- ``gamma(n) = n U / (1 - n U)``: a sum of ``n`` terms, or a dot product of length ``n - 1`` plus a
  bias, computed in any order, is off by at most ``gamma(n) * sum |terms|`` (Higham Eq. 3.5 and
  Sec. 3.1; pairwise, blocked and vectorised sums have smaller constants, never larger).
- a composition of such steps (a network's layers, a recursion over time) adds the constants
  along the way, to first order: ``gamma(n1) + gamma(n2) <= gamma(n1 + n2)`` (Higham Lemma 3.3),
  each step's error carried forward by the magnitudes of what follows (:func:`forward_bound`).

Results compared with a NumPy reference in float64 use these bounds elementwise (the reference's
own error is some 2^29 times smaller). Two runs of one compiled program on one machine are
compared bit for bit instead (frozen columns, resume, traces), since exactness is the claim.
Host-side float64 arithmetic (``pytest.approx``'s default, a relative 1e-6) is not XLA's and is
the same on every x86-64 CPU; a float32 result compared with ``approx`` is noted where it appears.
"""

from __future__ import annotations

import jax
import numpy as np

EPS = float(np.finfo(np.float32).eps)  # 2^-23: the spacing of float32 numbers at 1
U = EPS / 2  # unit round-off


def gamma(n: int) -> float:
    """Higham's ``gamma_n``: the relative error bound of ``n`` float32 roundings in a row."""
    if n * U >= 1:
        raise ValueError(f"gamma({n}) is unbounded in float32")
    return n * U / (1 - n * U)


def assert_within(actual, desired, bound, err_msg: str = "") -> None:
    """``|actual - desired| <= bound`` elementwise (``bound`` an array or a scalar); the message
    names the worst element and how much of its bound it used."""
    actual, desired = np.asarray(actual, np.float64), np.asarray(desired, np.float64)
    bound = np.broadcast_to(np.asarray(bound, np.float64), desired.shape)
    assert actual.shape == desired.shape, (actual.shape, desired.shape, err_msg)
    err = np.abs(actual - desired)
    bad = ~(err <= bound)  # NaN fails
    if bad.any():
        i = np.unravel_index(np.argmax(np.where(bad, err / np.maximum(bound, 1e-300), 0)), err.shape)
        raise AssertionError(
            f"{err_msg}: {int(bad.sum())} of {err.size} elements off by more than their bound; worst at "
            f"{tuple(int(j) for j in i)}: {actual[i]!r} vs {desired[i]!r}, "
            f"error {err[i]:.3g} > bound {bound[i]:.3g}"
        )


def magnitudes(tree):
    """``|leaf|`` of every array leaf of a tree of parameters, in float64."""
    return jax.tree.map(lambda a: np.abs(np.asarray(a, np.float64)), tree)


def forward_bound(forward, params, x, terms: int):
    """The float32 forward error bound of a ReLU network: ``gamma(terms) * forward(|params|, |x|)``.

    Each layer computes ``f(sum of products + bias)``; in float32 that is the exact result for
    weights each perturbed by at most ``gamma(n_l) |w|`` (``n_l`` the terms of the layer's sums).
    ReLU and max are 1-Lipschitz and the network is linear between them, so the perturbations of
    all layers reach an output through at most the same network run on magnitudes -- ``|W|``,
    ``|b|``, ``|x|``, where ReLU is the identity -- to first order ``sum_l gamma(n_l) <=
    gamma(terms)`` times it. ``forward`` is the NumPy reference (same structure as ``params``);
    ``terms`` the sum over the deepest path of each layer's terms (``reference.path_terms``).
    Returns what ``forward`` returns, as bounds.
    """
    g = gamma(terms)
    bounds = forward(magnitudes(params), np.abs(np.asarray(x, np.float64)))
    return jax.tree.map(lambda m: g * np.asarray(m, np.float64), bounds)


def run_rtol(steps: int, terms: int) -> float:
    """Relative tolerance between two float32 runs of ``steps`` updates (or a recursion of that
    length) that agree in exact arithmetic but sum in other orders (two XLA programs, jit and op
    by op, ``vmap`` and a loop): each step's result is within ``gamma(terms)`` of exact in each run
    (``terms`` its longest sum: a forward pass, its gradient and the update), and the differences
    are carried forward to first order by the step map, near the identity at the small learning
    rates of these tests, so they add up: ``2 * steps * gamma(terms)`` (two runs)."""
    return 2 * steps * gamma(terms)


def magnitude_bound(fn, params, *args, terms: int, runs: int = 2):
    """The bound between ``runs`` float32 programs of one ReLU network computation ``fn(params,
    *args)`` (vmapped against looped, scanned against dispatched): each is within ``gamma(terms)``
    of exact times the computation on magnitudes (:func:`forward_bound`'s argument; for a
    gradient, ``fn`` the gradient of the loss written on magnitudes), and ``fn`` itself evaluated
    on ``|params|``, ``|args|`` -- the network's own code, in float32, where ReLU is the identity --
    is within another ``gamma(terms)`` of its exact value. Returns ``fn``'s tree, as bounds."""
    mags = jax.tree.map(jax.numpy.abs, (params, args))
    out = fn(mags[0], *mags[1])
    g = runs * gamma(terms) * (1 + gamma(terms))
    return jax.tree.map(lambda m: g * np.abs(np.asarray(m, np.float64)), out)


def assert_same_training(actual, desired, steps: int, terms: int, err_msg: str = "") -> None:
    """Two float32 runs of one training (``steps`` updates whose longest sum has ``terms`` terms)
    in two programs agree within :func:`run_rtol` of each leaf, relative to each element and to
    the leaf's largest one (an element that happens to be near zero moves by round-off of its
    neighbours' size).

    Adam and RMSprop divide by a running gradient scale, so an update is scale-invariant: the
    relative error of a gradient entry passes into its update at most doubled (once through the
    first moment, once through the square root of the second), and the bound holds as for SGD for
    gradient entries that are not themselves within round-off of zero. (One that is -- an entry
    whose exact value is 0 -- could move by up to the learning rate either way; the tests' nets
    and data have none, and a run that had one would fail here and say which element.) The same
    condition keeps sampled actions equal: a logit difference of round-off size flips a sample
    only within round-off of a tie."""
    tol = run_rtol(steps, terms)
    for a, d in zip(jax.tree.leaves(actual), jax.tree.leaves(desired), strict=True):
        d64 = np.asarray(d, np.float64)
        assert_within(a, d64, tol * (np.abs(d64) + np.abs(d64).max()), err_msg)
