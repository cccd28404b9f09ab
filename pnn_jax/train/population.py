"""The population axis across devices (DESIGN.md: the population axis is the unit of parallelism).

A population function is already vmapped over a leading axis ``[P, ...]`` (repetitions, seeds,
paths, hyperparameter values). :func:`shard_population` runs it with that axis split across the
local devices with ``jax.shard_map``: each device runs ``P / D`` members, nothing is communicated
(members are independent), and the results come back as one ``[P, ...]`` array.

A population that does not divide the device count is an error by default, or is padded
(``pad=True``) by repeating the last member; padded results are dropped before returning.

Shared parameters summed across devices (the PathNet module bank trained by all paths) are issue
6's next step; here every member owns its parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh
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
