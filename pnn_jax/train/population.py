"""The population axis across devices (the population axis is the unit of parallelism).

A population function is already vmapped over a leading axis ``[P, ...]`` (repetitions, seeds,
paths, hyperparameter values). :func:`shard_population` runs it with that axis split across the
local devices with ``jax.shard_map``: each device runs ``P / D`` members, nothing is communicated
(members are independent), and the results come back as one ``[P, ...]`` array.

A population that does not divide the device count is an error by default, or is padded
(``pad=True``) by repeating the last member; padded results are dropped before returning.

Members that train **shared parameters** (the PathNet module bank trained by every path) run
under the same mesh with :func:`sum_over_devices` (a ``psum`` of their gradients) inside the
mapped function, and read the whole population with :func:`gather_members` (fitness for the
search); :mod:`pnn_jax.rl.pathnet_ac` is built that way. :func:`global_mesh`,
:func:`put_members` and :func:`put_replicated` make the same code run across hosts after
:func:`pnn_jax.distributed.initialize`: each process passes its own members.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

AXIS = "pop"


def population_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh named ``"pop"`` over ``devices`` (default: all local devices)."""
    devices = list(devices if devices is not None else jax.local_devices())
    return Mesh(np.asarray(devices), (AXIS,))


def shard_population(
    fn: Callable,
    population_args: Sequence[bool],
    *,
    mesh: Mesh | None = None,
    pad: bool = False,
) -> Callable:
    """``fn(*args)`` with its population axis split over ``mesh``'s devices.

    ``population_args[i]`` says whether argument ``i`` carries the leading ``[P, ...]`` axis (else
    it is replicated, e.g. shared data). Every output carries the population axis.
    """
    mesh = mesh or population_mesh()
    devices = mesh.devices.size
    in_specs = tuple(P(AXIS) if is_pop else P() for is_pop in population_args)
    sharded = jax.jit(jax.shard_map(fn, mesh=mesh, in_specs=in_specs, out_specs=P(AXIS), check_vma=False))

    def call(*args):
        sizes = {
            jax.tree.leaves(a)[0].shape[0] for a, is_pop in zip(args, population_args, strict=True) if is_pop
        }
        if len(sizes) != 1:
            raise ValueError(f"population arguments disagree on the population size: {sorted(sizes)}")
        (size,) = sizes
        extra = (-size) % devices
        if extra and not pad:
            raise ValueError(
                f"a population of {size} does not divide over {devices} devices: use a multiple of "
                f"{devices}, or pad=True to repeat the last member (its results are dropped)"
            )
        if extra:
            args = tuple(
                jax.tree.map(lambda a: jnp.concatenate([a, jnp.repeat(a[-1:], extra, axis=0)]), a)
                if is_pop
                else a
                for a, is_pop in zip(args, population_args, strict=True)
            )
        out = sharded(*args)
        return jax.tree.map(lambda a: a[:size], out) if extra else out

    return call


# ------------------------------------------------------------------------------------------------
# Inside a mapped function: collectives over the population axis (``axis_name=None``: one device,
# no mesh; the same code runs unmapped).


def sum_over_devices(tree, axis_name: str | None = AXIS):
    """Sum every leaf over the devices of the population axis (gradients of shared parameters)."""
    return tree if axis_name is None else jax.lax.psum(tree, axis_name)


def mean_over_devices(tree, axis_name: str | None = AXIS):
    return tree if axis_name is None else jax.lax.pmean(tree, axis_name)


def gather_members(tree, axis_name: str | None = AXIS):
    """This device's members ``[P / D, ...]`` -> the whole population ``[P, ...]`` on every device."""
    if axis_name is None:
        return tree
    return jax.tree.map(lambda a: jax.lax.all_gather(a, axis_name, tiled=True), tree)


def local_members(tree, local: int, axis_name: str | None = AXIS):
    """The whole population ``[P, ...]`` -> this device's ``local`` members (inverse of gather)."""
    if axis_name is None:
        return tree
    start = jax.lax.axis_index(axis_name) * local
    return jax.tree.map(lambda a: jax.lax.dynamic_slice_in_dim(a, start, local, axis=0), tree)


# ------------------------------------------------------------------------------------------------
# Across hosts


def global_mesh() -> Mesh:
    """A 1-D ``"pop"`` mesh over every device of every process, each process's devices together
    (after ``jax.distributed.initialize``; one process: the local devices)."""
    devices = sorted(jax.devices(), key=lambda d: (d.process_index, d.id))
    return Mesh(np.asarray(devices), (AXIS,))


def local_device_offset(mesh: Mesh) -> int:
    """Position in ``mesh`` of this process's first device (its members start at ``offset * P/D``)."""
    flat = list(mesh.devices.flat)
    mine = [i for i, d in enumerate(flat) if d.process_index == jax.process_index()]
    if mine != list(range(mine[0], mine[0] + len(mine))):
        raise ValueError(
            "this process's devices must be contiguous in the population mesh (use global_mesh())"
        )
    return mine[0]


def local_device_count(mesh: Mesh) -> int:
    """How many of ``mesh``'s devices belong to this process."""
    return sum(d.process_index == jax.process_index() for d in mesh.devices.flat)


def local_slice(mesh: Mesh, per_device: int) -> slice:
    """The members this process holds, ``per_device`` per device: a slice of the population axis
    (one process: all of it). Its devices must be contiguous (:func:`local_device_offset`)."""
    first = local_device_offset(mesh) * per_device
    return slice(first, first + per_device * local_device_count(mesh))


def put_members(tree, mesh: Mesh):
    """Global arrays split over ``mesh`` along the leading axis, from this process's slice
    (``[P_local, ...]``; one process: the whole population)."""
    return jax.tree.map(lambda a: _put(a, NamedSharding(mesh, P(AXIS))), tree)


def put_replicated(tree, mesh: Mesh):
    """Global arrays replicated over ``mesh``; every process must pass the same values."""
    return jax.tree.map(lambda a: _put(a, NamedSharding(mesh, P())), tree)


def _put(a, sharding):
    if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):  # typed PRNG keys travel as their data
        impl = jax.random.key_impl(a)
        data = jax.make_array_from_process_local_data(sharding, np.asarray(jax.random.key_data(a)))
        return jax.random.wrap_key_data(data, impl=impl)
    return jax.make_array_from_process_local_data(sharding, np.asarray(a))


def to_host(tree):
    """This process's copy of replicated outputs, or its members of split ones, as numpy."""

    def one(a):
        if isinstance(a, jax.Array) and jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
            a = jax.random.key_data(a)
        if not isinstance(a, jax.Array) or a.is_fully_addressable:
            return np.asarray(a)
        shards = sorted(a.addressable_shards, key=lambda s: (s.index[0].start or 0) if s.index else 0)
        if a.sharding.is_fully_replicated:
            return np.asarray(shards[0].data)
        return np.concatenate([np.asarray(s.data) for s in shards])

    return jax.tree.map(one, tree)
