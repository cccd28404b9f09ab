"""Tournament search over PathNet paths: an ask/tell strategy with a pytree state (docs/papers.md 2.2, 3).

:class:`Tournament` holds static settings only; :class:`SearchState` (paths ``[P, L, N]``,
fitness ``[P]``, the best path so far, counters, PRNG key) is a pytree, and ``init``, ``ask`` and
``tell`` are pure and jittable: a new genotype is data, never a recompile.

One generation: ``ask`` picks the contestants, the caller trains their paths and measures fitness
(mean training accuracy over the session), ``tell`` applies selection:

* ``scheme="replace_losers"``: every contestant but the best becomes a mutated copy of the best.
  With ``tournament_size=2`` this is the papers' binary tournament (winner copied over loser).
* ``scheme="better_half"``: contestants ranked by fitness; the i-th of the worse half becomes a
  mutated copy of the i-th of the better half (the thesis's "better half replaces worse half").
* ``scheme="recombine"``: every contestant but the best two becomes a mutated child of the best two
  (uniform crossover, layer by layer) (the thesis's "recombination of the best two").

``parallel=False``: one tournament per generation (the papers' serial schedule).
``parallel=True``: ``P // k`` disjoint tournaments per generation at once (for accelerators).

Mutation (docs/papers.md 2.2): each gene independently, with probability ``1/(N*L)`` by default, moves by
a random integer in ``[-2, 2]``; ``boundary="wrap"`` takes it modulo M (the papers),
``"clamp"`` keeps it in ``[0, M-1]`` (the first author's MNIST code). Fitness of a new copy is
unknown (``-inf``) until it is trained.

Path sizes (docs/papers.md 3.1). A row of N genes lists 1..N distinct modules (a repeat counts once,
:class:`pnn_jax.nets.pathnet.PathNet`). ``initial_paths="full"`` draws every gene uniformly (so most
rows hold N distinct modules); ``"uniform_1_to_n"`` draws each row's size uniformly in 1..N and that
many distinct modules, as the thesis's code. ``refill=True`` mutates a row's distinct genes only,
collapses the duplicates a mutation creates and refills the row from its old genes (in their
order) so it keeps its size, as the thesis's code; ``refill=False`` mutates all N slots and lets
sizes drift.
"""

from __future__ import annotations

import dataclasses

import flax.struct
import jax
import jax.numpy as jnp

from pnn_jax import ranges
from pnn_jax.nets.pathnet import PathNet

SCHEMES = ("replace_losers", "better_half", "recombine")
BOUNDARIES = ("wrap", "clamp")
INITIAL_PATHS = ("full", "uniform_1_to_n")


@flax.struct.dataclass
class SearchState:
    paths: jax.Array  # int32 [P, L, N]
    fitness: jax.Array  # float32 [P], -inf where unknown
    best_path: jax.Array  # int32 [L, N], best contestant seen
    best_fitness: jax.Array  # float32 []
    generation: jax.Array  # int32 []
    key: jax.Array


@dataclasses.dataclass(kw_only=True)
class TournamentSettings:
    """The search's settings, without the net's shape. The supervised PathNet experiments' ``search``
    config section builds on it, so its keys are these fields (:func:`tournament` makes the
    :class:`Tournament`)."""

    population: int = 64
    """P, paths in the population (docs/papers.md 2.2, 3.1)."""
    tournament_size: int = 2
    """k contestants per tournament (2 = the papers' binary tournament)."""
    scheme: str = "replace_losers"
    """replace_losers (winner over every other contestant), better_half or recombine."""
    parallel: bool = False
    """False: one tournament per generation (the papers); True: P // k tournaments at once."""
    mutation_prob: float | None = ranges.field(None, low=0, high=1, none="1/(N*L)")
    """Per-gene mutation probability; null = 1/(N*L) (docs/papers.md 2.2)."""
    mutation_range: int = 2
    """Genes move by randint[-r, r]."""
    boundary: str = "wrap"
    """wrap (modulo M, the papers) or clamp (the first author's MNIST code)."""
    initial_paths: str = "full"
    """full (every gene uniform: mostly N distinct modules per layer) or uniform_1_to_n (each
    layer's size uniform in 1..N, then that many distinct modules: the thesis's code)."""
    refill: bool = False
    """Mutate a layer's distinct genes only and refill collapsed duplicates from the old genes, so
    sizes are kept (the thesis's code); false: all N slots mutate and sizes drift."""


@dataclasses.dataclass
class Tournament(TournamentSettings):
    """Static settings of the search over paths of a net of ``num_layers`` x ``num_modules``
    modules, ``max_active`` per layer: ``Tournament(L, M, N, population=..., ...)``."""

    num_layers: int
    num_modules: int
    max_active: int

    def __post_init__(self):
        if self.scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, got {self.scheme!r}")
        if self.initial_paths not in INITIAL_PATHS:
            raise ValueError(f"initial_paths must be one of {INITIAL_PATHS}, got {self.initial_paths!r}")
        if self.boundary not in BOUNDARIES:
            raise ValueError(f"boundary must be one of {BOUNDARIES}, got {self.boundary!r}")
        if self.population < 2:
            raise ValueError(f"population must be at least 2, got {self.population}")
        if not 2 <= self.tournament_size <= self.population:
            raise ValueError(
                f"tournament_size must be in 2..population ({self.population}), got {self.tournament_size}"
            )
        if self.scheme == "recombine" and self.tournament_size < 3:
            raise ValueError("scheme='recombine' needs tournament_size >= 3 (two parents and a child)")
        ranges.check(self)
        if self.max_active > self.num_modules:
            raise ValueError(
                f"max_active (N={self.max_active}) must be at most num_modules (M={self.num_modules})"
            )

    @property
    def gene_prob(self) -> float:
        return (
            self.mutation_prob
            if self.mutation_prob is not None
            else 1.0 / (self.max_active * self.num_layers)
        )

    @property
    def num_tournaments(self) -> int:
        return self.population // self.tournament_size if self.parallel else 1

    def init(self, key: jax.Array) -> SearchState:
        """A random population ``[P, L, N]`` drawn by ``initial_paths`` (:func:`random_paths`)."""
        key, k = jax.random.split(key)
        paths = random_paths(
            k, (self.population,), self.num_layers, self.num_modules, self.max_active, self.initial_paths
        )
        return SearchState(
            paths=paths,
            fitness=jnp.full((self.population,), -jnp.inf, jnp.float32),
            best_path=paths[0],
            best_fitness=jnp.asarray(-jnp.inf, jnp.float32),
            generation=jnp.zeros((), jnp.int32),
            key=key,
        )

    def ask(self, state: SearchState) -> tuple[SearchState, jax.Array, jax.Array]:
        """Contestants of this generation: ``(state, index [T, k], paths [T, k, L, N])``.

        Contestants are distinct members; parallel tournaments are disjoint.
        """
        key, k = jax.random.split(state.key)
        order = jax.random.permutation(k, self.population)
        index = order[: self.num_tournaments * self.tournament_size].reshape(
            self.num_tournaments, self.tournament_size
        )
        return state.replace(key=key), index, state.paths[index]

    def mutate(self, key: jax.Array, path: jax.Array) -> jax.Array:
        """Each gene of ``path`` ``[L, N]`` moves by randint[-r, r] with probability ``gene_prob``
        (its distinct genes only, sizes kept, with ``refill``)."""
        mutate = refill_mutate_path if self.refill else mutate_path
        return mutate(key, path, self.num_modules, self.gene_prob, self.mutation_range, self.boundary)

    def _children(self, key, paths, fitness):
        """New paths for one tournament's contestants ``[k, L, N]`` given their ``fitness [k]``."""
        k = self.tournament_size
        rank = jnp.argsort(-fitness)  # best first
        ranked = paths[rank]
        keys = jax.random.split(key, 2 * k)
        if self.scheme == "replace_losers":
            parents = jnp.broadcast_to(ranked[0], ranked.shape)
        elif self.scheme == "better_half":
            half = k // 2
            # rank i of the worse half copies rank i of the better half; a middle one (odd k) stays.
            src = jnp.arange(k)
            src = jnp.where(src >= k - half, src - (k - half), src)
            parents = ranked[src]
        else:  # recombine: children of the best two, row by row
            take_first = jax.random.bernoulli(keys[-1], 0.5, (k, self.num_layers, 1))
            parents = jnp.where(take_first, ranked[0][None], ranked[1][None])
        mutated = jax.vmap(self.mutate)(keys[:k], parents)
        keep = {"replace_losers": 1, "better_half": k - k // 2, "recombine": 2}[self.scheme]
        new_ranked = jnp.where((jnp.arange(k) < keep)[:, None, None], ranked, mutated)
        new_fitness = jnp.where(jnp.arange(k) < keep, fitness[rank], -jnp.inf)
        return rank, new_ranked, new_fitness

    def tell(self, state: SearchState, index: jax.Array, fitness: jax.Array) -> SearchState:
        """Apply selection to the contestants ``index [T, k]`` with their ``fitness [T, k]``."""
        key, k = jax.random.split(state.key)
        keys = jax.random.split(k, index.shape[0])
        rank, new_paths, new_fit = jax.vmap(self._children)(keys, state.paths[index], fitness)
        slots = jnp.take_along_axis(index, rank, axis=1)  # population slot of each ranked contestant
        paths = state.paths.at[slots.reshape(-1)].set(new_paths.reshape(-1, *new_paths.shape[2:]))
        pop_fitness = state.fitness.at[slots.reshape(-1)].set(new_fit.reshape(-1))
        flat_best = jnp.argmax(fitness.reshape(-1))
        gen_best = fitness.reshape(-1)[flat_best]
        gen_best_path = state.paths[index.reshape(-1)[flat_best]]
        better = gen_best > state.best_fitness
        return state.replace(
            paths=paths,
            fitness=pop_fitness,
            best_path=jnp.where(better, gen_best_path, state.best_path),
            best_fitness=jnp.where(better, gen_best, state.best_fitness),
            generation=state.generation + 1,
            key=key,
        )


def tournament(
    num_layers: int, num_modules: int, max_active: int, settings: TournamentSettings
) -> Tournament:
    """The :class:`Tournament` of ``settings`` (any subclass, e.g. a config section) over an
    ``L x M`` bank with ``N`` active modules per layer."""
    fields = {f.name: getattr(settings, f.name) for f in dataclasses.fields(TournamentSettings)}
    return Tournament(num_layers=num_layers, num_modules=num_modules, max_active=max_active, **fields)


def mutate_path(
    key: jax.Array,
    path: jax.Array,
    num_modules: int,
    prob: float,
    mutation_range: int = 2,
    boundary: str = "wrap",
) -> jax.Array:
    """Each gene of ``path`` ``[L, N]`` independently, with probability ``prob``, moves by a random
    integer in ``[-mutation_range, mutation_range]``; wrapped modulo M or clamped (docs/papers.md 2.2)."""
    k_which, k_shift = jax.random.split(key)
    which = jax.random.bernoulli(k_which, prob, path.shape)
    shift = jax.random.randint(k_shift, path.shape, -mutation_range, mutation_range + 1)
    moved = path + jnp.where(which, shift, 0)
    if boundary == "wrap":
        return jnp.mod(moved, num_modules)
    return jnp.clip(moved, 0, num_modules - 1)


def random_paths(
    key: jax.Array, leading: tuple[int, ...], num_layers: int, num_modules: int, max_active: int, mode: str
) -> jax.Array:
    """Paths ``[*leading, L, N]``: ``mode="full"``: every gene uniform in ``0..M-1``;
    ``"uniform_1_to_n"``: each row's size s uniform in ``1..N``, then s distinct modules uniformly
    (without replacement), listed first and the first one repeated in the remaining slots."""
    shape = (*leading, num_layers, max_active)
    if mode == "full":
        return jax.random.randint(key, shape, 0, num_modules, jnp.int32)
    if mode != "uniform_1_to_n":
        raise ValueError(f"initial paths must be one of {INITIAL_PATHS}, got {mode!r}")
    k_size, k_pick = jax.random.split(key)
    rows = (*leading, num_layers)
    size = jax.random.randint(k_size, (*rows, 1), 1, max_active + 1)
    # s distinct modules: the first N of a random permutation (argsort of uniform keys)
    distinct = jnp.argsort(jax.random.uniform(k_pick, (*rows, num_modules)), axis=-1)[..., :max_active]
    slot = jnp.arange(max_active)
    return jnp.where(slot < size, distinct, distinct[..., :1]).astype(jnp.int32)


def _compact(values: jax.Array, keep: jax.Array) -> jax.Array:
    """``values [K]`` with the entries where ``keep`` moved to the front, in order (stable)."""
    return values[jnp.argsort(~keep, stable=True)]


def refill_mutate_path(
    key: jax.Array,
    path: jax.Array,
    num_modules: int,
    prob: float,
    mutation_range: int = 2,
    boundary: str = "wrap",
) -> jax.Array:
    """The thesis's mutation (docs/papers.md 3.1), row by row of ``path`` ``[L, N]``: the row's s
    distinct genes each move with probability ``prob`` (as :func:`mutate_path`); duplicates the
    moves create collapse, and the row is refilled with its old genes (in their order) that are
    not in it, back to s distinct modules. Listed first, the first one repeated after them."""
    n = path.shape[-1]
    slot = jnp.arange(n)

    def row(key, genes):
        first = PathNet.first_occurrence(genes) > 0  # [N]
        size = first.sum()
        old = _compact(genes, first)  # the s distinct genes first
        moved = mutate_path(key, old, num_modules, prob, mutation_range, boundary)
        kept = (PathNet.first_occurrence(moved) > 0) & (slot < size)
        present = jnp.any((moved[None, :] == old[:, None]) & kept[None, :], axis=1)  # [N]
        refill = (slot < size) & ~present
        merged = _compact(jnp.concatenate([moved, old]), jnp.concatenate([kept, refill]))[:n]
        return jnp.where(slot < size, merged, merged[0])

    return jax.vmap(row)(jax.random.split(key, path.shape[0]), path)


def compare_and_copy(
    key: jax.Array,
    paths: jax.Array,
    fitness: jax.Array,
    compare: int,
    mutate,
) -> tuple[jax.Array, jax.Array]:
    """PathNet's parallel RL evolution (docs/papers.md 2.2), all workers at once.

    Worker ``i`` (paths ``[P, L, N]``, fitness ``[P]``, ``-inf`` = not evaluated) draws ``compare``
    (B) other workers uniformly (with replacement, never itself); if the best of them has a higher
    fitness, ``i`` takes a mutated copy of its genotype (``mutate(key, path [L, N])``), else keeps
    its own. Every worker compares against the population before this step (synchronous).
    Returns ``(paths [P, L, N], copied [P] bool)``.
    """
    size = paths.shape[0]
    if size < 2:  # a single path has nobody to compare with
        return paths, jnp.zeros((size,), bool)
    k_pick, k_mut = jax.random.split(key)
    # an offset in 1..P-1 from i never lands on i itself
    offset = jax.random.randint(k_pick, (size, compare), 1, size)
    others = (jnp.arange(size)[:, None] + offset) % size  # [P, B]
    best = jnp.take_along_axis(others, jnp.argmax(fitness[others], axis=1)[:, None], axis=1)[:, 0]
    copied = fitness[best] > fitness
    children = jax.vmap(mutate)(jax.random.split(k_mut, size), paths[best])
    return jnp.where(copied[:, None, None], children, paths), copied
