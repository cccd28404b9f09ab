"""The tournament search of one task's path over the shared module bank (docs/papers.md 2.2, 3.1):
generations of ``Tournament.ask``, the contestants' training sessions
(:func:`pnn_jax.train.pathnet.train_contestants`) and ``Tournament.tell``, inside one
``lax.while_loop`` that stops at the fitness threshold or the generation limit."""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp
import optax

from pnn_jax.evolution import SearchState, Tournament
from pnn_jax.nets.pathnet import PathNet
from pnn_jax.train.pathnet import PathNetState, SessionConfig, TaskData, train_contestants


@flax.struct.dataclass
class SearchResult:
    """The outcome of one task's search (one repetition; vmapped: a leading ``[R]`` axis)."""

    path: jax.Array  # int32 [L, N], the winner of the last generation
    fitness: jax.Array  # float32 [], its mean training accuracy
    generations: jax.Array  # int32 [], generations run (the last one included)
    solved: jax.Array  # bool [], fitness reached the threshold
    curve: jax.Array  # float32 [G_max], winner fitness per generation (NaN after the stop)
    mean_curve: jax.Array  # float32 [G_max], mean fitness of the contestants per generation
    diversity: jax.Array  # float32 [G_max], population diversity after each generation (:func:`diversity`)
    reuse: jax.Array  # float32 [G_max], share of the winner's modules that are frozen (reused)
    search: SearchState  # the final population


def make_search(
    net: PathNet,
    tx: optax.GradientTransformation,
    tournament: Tournament,
    session: SessionConfig,
    threshold: float,
    max_generations: int,
):
    """``search(state, key, data) -> (state, SearchResult)``: one task's tournament search, pure.

    Each generation (docs/papers.md 2.2, 3.1): ``tournament.ask`` draws the contestants; each
    tournament draws T minibatches of B (with replacement) shared by its contestants; the
    contestants train by ``session.schedule``; fitness = mean training accuracy over the session;
    stop when the best contestant reaches ``threshold`` or after ``max_generations``; else
    ``tournament.tell`` (winner copied over loser and mutated). A ``lax.while_loop``: under vmap
    (repetitions) finished runs idle until the slowest stops.
    """
    if session.schedule == "isolated" and tournament.num_tournaments != 1:
        raise ValueError('schedule="isolated" needs one tournament per generation (parallel=False)')
    t, k = tournament.num_tournaments, tournament.tournament_size

    def search(state: PathNetState, key, data: TaskData):
        key, k_init = jax.random.split(key)
        carry = _initial_carry(net, state, tournament.init(k_init), key, max_generations)

        def cond(c):
            return ~c["solved"] & (c["gen"] < max_generations)

        def body(c):
            search, index, paths = tournament.ask(c["search"])
            key, k_batch = jax.random.split(c["key"])
            idx, noise_keys = _shared_minibatches(k_batch, session, t, k, data.n_train)
            st, acc = train_contestants(
                net, tx, session, c["state"], paths.reshape(t * k, *paths.shape[2:]), idx, data, noise_keys
            )
            fit = acc.mean(axis=1)  # [t * k]
            best = jnp.argmax(fit)
            search = tournament.tell(search, index, fit.reshape(t, k))
            winner = paths.reshape(t * k, *paths.shape[2:])[best]
            used = net.active_mask(winner)
            reused = (used & st.frozen).sum() / used.sum()
            g = c["gen"]
            return dict(
                state=st,
                search=search,
                key=key,
                gen=c["gen"] + 1,
                solved=fit[best] >= threshold,
                path=winner,
                fitness=fit[best],
                curve=c["curve"].at[g].set(fit[best]),
                mean_curve=c["mean_curve"].at[g].set(fit.mean()),
                diversity=c["diversity"].at[g].set(diversity(net, search.paths)),
                reuse=c["reuse"].at[g].set(reused),
            )

        c = jax.lax.while_loop(cond, body, carry)
        result = SearchResult(
            path=c["path"],
            fitness=c["fitness"],
            generations=c["gen"],
            solved=c["solved"],
            curve=c["curve"],
            mean_curve=c["mean_curve"],
            diversity=c["diversity"],
            reuse=c["reuse"],
            search=c["search"],
        )
        return c["state"], result

    return search


def _initial_carry(net: PathNet, state: PathNetState, search, key, max_generations: int) -> dict:
    """The search loop's carry before generation 0; the curves ``[max_generations]`` are NaN."""
    nan = jnp.full((max_generations,), jnp.nan, jnp.float32)
    return dict(
        state=state,
        search=search,
        key=key,
        gen=jnp.zeros((), jnp.int32),
        solved=jnp.zeros((), bool),
        path=jnp.zeros((net.num_layers, net.max_active), jnp.int32),
        fitness=jnp.asarray(-jnp.inf, jnp.float32),
        curve=nan,
        mean_curve=nan,
        diversity=nan,
        reuse=nan,
    )


def _shared_minibatches(key, session: SessionConfig, t: int, k: int, n_train: int):
    """One generation's minibatch indices ``[t * k, steps, B]`` and noise keys (or None): the ``k``
    contestants of each of the ``t`` tournaments share both."""
    idx = jax.random.randint(key, (t, session.steps, session.batch_size), 0, n_train)
    noise_keys = session.noise_keys(key, (t, session.steps))
    if noise_keys is not None:
        noise_keys = jnp.repeat(noise_keys, k, axis=0)
    return jnp.repeat(idx, k, axis=0), noise_keys


def diversity(net: PathNet, paths: jax.Array) -> jax.Array:
    """Population diversity of ``paths [P, L, N]``: the mean over pairs of members of the number of
    modules used by exactly one of the two (Hamming distance of their ``[L, M]`` active masks)."""
    masks = jax.vmap(net.active_mask)(paths).reshape(paths.shape[0], -1).astype(jnp.float32)  # [P, L*M]
    p = paths.shape[0]
    shared = masks @ masks.T
    sizes = masks.sum(axis=1)
    distance = sizes[:, None] + sizes[None, :] - 2 * shared  # |a xor b|
    return distance.sum() / (p * (p - 1))
