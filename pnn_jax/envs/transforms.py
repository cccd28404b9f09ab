"""Observation transforms by name: the Pong Soup variants for Atari frames (:mod:`pong_soup`) and
simple transforms of vector observations for CPU-scale transfer tasks (CartPole, LunarLander).

Vector transforms (``[B, D]`` float): ``identity``; ``negate`` (-x); ``reverse`` (features in
reverse order); ``mirror`` (both: -x reversed); ``scale`` (2x). Each makes a new task whose
optimal policy is a different function of the observation, while useful features (e.g. a pole's
angle and angular velocity) stay linearly recoverable: the setting progressive nets are built for.
"""

from __future__ import annotations

from collections.abc import Callable

import jax

from pnn_jax.envs import pong_soup

VECTOR = {
    "identity": lambda o: o,
    "negate": lambda o: -o,
    "reverse": lambda o: o[..., ::-1],
    "mirror": lambda o: -o[..., ::-1],
    "scale": lambda o: 2.0 * o,
}


def names(atari: bool) -> tuple[str, ...]:
    return pong_soup.VARIANTS if atari else tuple(VECTOR)


def observation_transform(name: str, atari: bool, seed: int = 0) -> Callable[[jax.Array], jax.Array]:
    """The transform ``name`` for Atari frames (``atari=True``) or vector observations."""
    if name not in names(atari):
        kind = "Atari (Pong Soup)" if atari else "vector-observation"
        raise ValueError(f"unknown {kind} transform {name!r}; choose one of {', '.join(names(atari))}")
    if atari:
        return pong_soup.transform(name, seed=seed)
    return VECTOR[name]
