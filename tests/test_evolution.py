"""Tournament search: mutation, selection schemes, parallel tournaments, convergence, no retrace."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pnn_jax.evolution import Tournament
from pnn_jax.jit import counted_jit


def test_mutation_rate_range_and_boundaries():
    t = Tournament(3, 10, 3)
    assert t.gene_prob == pytest.approx(1 / 9)  # 1/(N*L), docs/papers.md 2.2
    path = jnp.full((3, 3), 5)
    many = jax.vmap(t.mutate, in_axes=(0, None))(jax.random.split(jax.random.key(0), 20000), path)
    moved = np.asarray(many != 5)
    assert abs(moved.mean() - (1 / 9) * 4 / 5) < 0.01  # a drawn shift of 0 leaves the gene in place
    assert set(np.unique(np.asarray(many)).tolist()) == {3, 4, 5, 6, 7}
    wrap = Tournament(3, 10, 3, mutation_prob=1.0)
    edge = jax.vmap(wrap.mutate, in_axes=(0, None))(
        jax.random.split(jax.random.key(1), 500), jnp.zeros((3, 3), int)
    )
    assert set(np.unique(np.asarray(edge)).tolist()) == {0, 1, 2, 8, 9}  # modulo M
    clamp = Tournament(3, 10, 3, mutation_prob=1.0, boundary="clamp")
    edge = jax.vmap(clamp.mutate, in_axes=(0, None))(
        jax.random.split(jax.random.key(1), 500), jnp.zeros((3, 3), int)
    )
    assert set(np.unique(np.asarray(edge)).tolist()) == {0, 1, 2}
    never = Tournament(3, 10, 3, mutation_prob=0.0)
    np.testing.assert_array_equal(never.mutate(jax.random.key(2), path), path)


def test_binary_tournament_copies_winner_over_loser():
    t = Tournament(3, 10, 3, population=8, mutation_prob=0.0)
    state = t.init(jax.random.key(0))
    state, index, _ = t.ask(state)
    assert index.shape == (1, 2) and len(set(np.asarray(index[0]).tolist())) == 2
    new = t.tell(state, index, jnp.array([[0.3, 0.9]]))
    winner, loser = int(index[0, 1]), int(index[0, 0])
    np.testing.assert_array_equal(new.paths[loser], state.paths[winner])
    np.testing.assert_array_equal(new.paths[winner], state.paths[winner])
    assert float(new.fitness[winner]) == pytest.approx(0.9) and float(new.fitness[loser]) == -np.inf
    others = [i for i in range(8) if i not in (winner, loser)]
    np.testing.assert_array_equal(np.asarray(new.paths)[others], np.asarray(state.paths)[others])
    assert float(new.best_fitness) == pytest.approx(0.9) and int(new.generation) == 1
    np.testing.assert_array_equal(new.best_path, state.paths[winner])


def test_parallel_tournaments_are_disjoint_and_cover_the_population():
    t = Tournament(3, 10, 3, population=12, tournament_size=3, parallel=True)
    _, index, paths = t.ask(t.init(jax.random.key(0)))
    assert index.shape == (4, 3) and sorted(np.asarray(index).reshape(-1).tolist()) == list(range(12))
    assert paths.shape == (4, 3, 3, 3)


def test_better_half_and_recombination():
    t = Tournament(3, 10, 3, population=4, tournament_size=4, scheme="better_half", mutation_prob=0.0)
    state, index, _ = t.ask(t.init(jax.random.key(0)))
    fit = jnp.array([[0.1, 0.4, 0.3, 0.2]])
    new = t.tell(state, index, fit)
    ranked = np.asarray(index[0])[np.argsort(-np.asarray(fit[0]))]  # best first
    np.testing.assert_array_equal(new.paths[ranked[2]], state.paths[ranked[0]])
    np.testing.assert_array_equal(new.paths[ranked[3]], state.paths[ranked[1]])
    np.testing.assert_array_equal(np.asarray(new.paths)[ranked[:2]], np.asarray(state.paths)[ranked[:2]])
    r = Tournament(3, 10, 3, population=5, tournament_size=5, scheme="recombine", mutation_prob=0.0)
    state, index, _ = r.ask(r.init(jax.random.key(1)))
    fit = jnp.array([[0.5, 0.9, 0.1, 0.8, 0.2]])
    new = r.tell(state, index, fit)
    a, b = (np.asarray(state.paths[int(index[0, i])]) for i in (1, 3))  # the best two
    for i in (0, 2, 4):
        child = np.asarray(new.paths[int(index[0, i])])
        assert all((child[l] == a[l]).all() or (child[l] == b[l]).all() for l in range(3))


@pytest.mark.parametrize(("scheme", "k"), [("replace_losers", 2), ("better_half", 4), ("recombine", 4)])
def test_search_finds_a_target_path_and_traces_once(scheme, k):
    target = jnp.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    t = Tournament(
        3, 10, 3, population=16, tournament_size=k, scheme=scheme, parallel=True, mutation_prob=0.2
    )
    ask, tell = counted_jit(t.ask), counted_jit(t.tell)
    state = t.init(jax.random.key(0))
    for _ in range(300):
        state, index, paths = ask(state)
        state = tell(state, index, (paths == target).mean(axis=(-1, -2)).astype(jnp.float32))
    assert float(state.best_fitness) == 1.0
    np.testing.assert_array_equal(state.best_path, target)
    assert ask.traces == 1 and tell.traces == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scheme": "roulette"}, "scheme must be one of"),
        ({"boundary": "reflect"}, "boundary"),
        ({"population": 1}, "population"),
        ({"tournament_size": 9, "population": 8}, "tournament_size"),
        ({"scheme": "recombine"}, "tournament_size >= 3"),
        ({"mutation_prob": 1.5}, "mutation_prob"),
        ({"max_active": 11}, r"max_active \(N=11\)"),
    ],
)
def test_bad_settings(kwargs, match):
    base = {"num_layers": 3, "num_modules": 10, "max_active": 3}
    with pytest.raises(ValueError, match=match):
        Tournament(**{**base, **kwargs})
