"""Returns, GAE and the A2C / PPO losses against straightforward NumPy loops."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerance import assert_within, gamma

from pnn_jax import rl


def episode_data(seed=0, t=7, b=3):
    rng = np.random.default_rng(seed)
    rewards = rng.normal(size=(t, b)).astype(np.float32)
    dones = rng.random((t, b)) < 0.25
    values = rng.normal(size=(t, b)).astype(np.float32)
    bootstrap = rng.normal(size=b).astype(np.float32)
    return rewards, dones, values, bootstrap


def numpy_returns(rewards, dones, bootstrap, gamma):
    out = np.zeros_like(rewards)
    nxt = bootstrap.copy()
    for t in reversed(range(len(rewards))):
        nxt = rewards[t] + gamma * (1 - dones[t]) * nxt
        out[t] = nxt
    return out


def numpy_gae(rewards, dones, values, bootstrap, gamma, lam):
    t_max, _ = rewards.shape
    adv = np.zeros_like(rewards)
    last = np.zeros_like(bootstrap)
    for t in reversed(range(t_max)):
        v_next = bootstrap if t == t_max - 1 else values[t + 1]
        nonterminal = 1.0 - dones[t]
        delta = rewards[t] + gamma * nonterminal * v_next - values[t]
        last = delta + gamma * lam * nonterminal * last
        adv[t] = last
    return adv


def recursion_bound(t, ops, *magnitudes):
    """Float32 bound of a backward recursion over ``t`` steps of ``ops`` roundings each, whose
    terms are at most ``sum(magnitudes)`` (each a max |.|) per step, discount <= 1: the errors of
    all steps add, ``gamma(t * ops) * t * sum(magnitudes)`` (:mod:`tolerance`)."""
    return gamma(t * ops) * t * sum(float(np.abs(m).max()) for m in magnitudes)


def test_n_step_returns(variant):
    r, d, _, boot = episode_data()
    got = variant(lambda r, d, b: rl.n_step_returns(r, rl.discounts_from(d, 0.99), b))(r, d, boot)
    # G_t = r_t + g G_{t+1}: a product and a sum per step (and the discount's product)
    assert_within(got, numpy_returns(r, d, boot, 0.99), recursion_bound(len(r), 3, r, boot), "returns")
    # by hand, one env, no episode end: r0 + g r1 + g^2 V
    got = rl.n_step_returns(jnp.array([[1.0], [2.0]]), jnp.full((2, 1), 0.5), jnp.array([4.0]))
    np.testing.assert_allclose(got[:, 0], [1 + 0.5 * 2 + 0.25 * 4, 2 + 0.5 * 4])


@pytest.mark.parametrize("lam", [0.0, 0.95, 1.0])
def test_gae(lam, variant):
    r, d, v, boot = episode_data(1)
    got = variant(lambda *a: rl.gae(a[0], rl.discounts_from(a[1], 0.99), a[2], a[3], lam))(r, d, v, boot)
    # delta_t = r_t + g V_{t+1} - V_t, A_t = delta_t + g lam A_{t+1}: six roundings a step
    tol = recursion_bound(len(r), 6, r, v, v, boot)
    assert_within(got, numpy_gae(r, d, v, boot, 0.99, lam), tol, "gae")
    if lam == 1.0:  # GAE(1) + V = the n-step return (one more rounding: the sum)
        assert_within(
            got + v, numpy_returns(r, d, boot, 0.99), tol + gamma(1) * (np.abs(got) + np.abs(v)), "A + V"
        )


def numpy_log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def test_a2c_loss_and_its_gradients():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(5, 3, 4)).astype(np.float32)
    values = rng.normal(size=(5, 3)).astype(np.float32)
    actions = rng.integers(0, 4, (5, 3))
    returns = rng.normal(size=(5, 3)).astype(np.float32)
    loss, m = rl.a2c_loss(logits, values, actions, returns, value_cost=0.5, entropy_cost=0.01)
    logp = numpy_log_softmax(logits)
    lp_a = np.take_along_axis(logp, actions[..., None], -1)[..., 0]
    adv = returns - values
    ent = -(np.exp(logp) * logp).sum(-1).mean()
    want = -(lp_a * adv).mean() + 0.5 * 0.5 * (adv**2).mean() - 0.01 * ent
    # log-softmax over 4 (a max, 4 exps, a sum, a log; XLA's exp and log within a few ulps:
    # 4 roundings each), the three terms, means over 15: within gamma(40) of their magnitudes
    mag = np.abs(lp_a * adv).mean() + 0.25 * (adv**2).mean() + 0.01 * abs(ent)
    assert_within(float(loss), want, gamma(40) * mag, "a2c loss")
    assert_within(float(m["entropy"]), ent, gamma(40) * np.abs(np.exp(logp) * logp).sum(-1).mean(), "entropy")
    # the advantage is a constant for the policy term: d loss / d logits has no value term
    g = jax.grad(lambda lg: rl.a2c_loss(lg, values, actions, returns, entropy_cost=0.0)[0])(logits)
    p = np.exp(logp)
    onehot = np.eye(4)[actions]
    # the softmax (as above) times the advantage over 15: within gamma(40) of its magnitude
    assert_within(
        g,
        -(onehot - p) * adv[..., None] / adv.size,
        gamma(40) * (1 + p) * np.abs(adv[..., None]) / adv.size,
        "grad",
    )


def test_ppo_loss_clips_the_ratio():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(6, 4)).astype(np.float32)
    actions = rng.integers(0, 4, 6)
    new_lp = np.take_along_axis(numpy_log_softmax(logits), actions[:, None], -1)[:, 0]
    old_lp = new_lp - np.array([0.5, -0.5, 0.05, -0.05, 0.3, -0.3], np.float32)  # ratios e^{...}
    adv = np.array([1.0, 1.0, -1.0, 2.0, -1.0, -2.0], np.float32)
    values = np.zeros(6, np.float32)
    returns = np.ones(6, np.float32)
    loss, m = rl.ppo_loss(logits, values, actions, old_lp, adv, returns, clip=0.2, entropy_cost=0.0)
    ratio = np.exp(new_lp - old_lp)
    surr = np.minimum(ratio * adv, np.clip(ratio, 0.8, 1.2) * adv)
    # log-softmax, an exp for the ratio, the clipped min, a mean over 6: gamma(40) of magnitudes
    assert_within(float(loss), -surr.mean() + 0.25, gamma(40) * (np.abs(surr).mean() + 0.25), "ppo loss")
    assert float(m["clip_fraction"]) == pytest.approx(np.mean(np.abs(ratio - 1) > 0.2))
    # a clipped sample whose min is the clipped term has no policy gradient
    g = np.asarray(
        jax.grad(lambda lg: rl.ppo_loss(lg, values, actions, old_lp, adv, returns, entropy_cost=0.0)[0])(
            logits
        )
    )
    assert np.allclose(g[0], 0) and not np.allclose(g[2], 0)  # ratio e^0.5 with A > 0 is clipped


def test_ppo_value_clipping():
    values = jnp.array([2.0, 0.0])
    old = jnp.array([0.0, 0.0])
    returns = jnp.array([0.0, 1.0])
    logits = jnp.zeros((2, 2))
    actions = jnp.zeros(2, jnp.int32)
    zero = jnp.zeros(2)
    lp = rl.log_prob(logits, actions)
    _, m = rl.ppo_loss(logits, values, actions, lp, zero, returns, old_values=old, value_clip=0.5)
    # sample 0: max((0-2)^2, (0-0.5)^2) = 4; sample 1: max(1, 1) = 1
    assert float(m["value_loss"]) == 0.5 * (4 + 1) / 2  # small integers and halves: exact in float32


def test_mask_drops_entries_from_every_term():
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(6, 3)).astype(np.float32)
    values = rng.normal(size=6).astype(np.float32)
    actions = rng.integers(0, 3, 6)
    returns = rng.normal(size=6).astype(np.float32)
    mask = np.array([1, 1, 0, 1, 0, 1], bool)
    full, _ = rl.a2c_loss(logits[mask], values[mask], actions[mask], returns[mask])
    masked, _ = rl.a2c_loss(logits, values, actions, returns, mask=mask)
    # the same terms, the masked mean summing 6 with zeros against 4: two runs, gamma(40) each
    assert float(masked) == pytest.approx(float(full), rel=2 * gamma(40))
    lp = rl.log_prob(logits, actions) - 0.1
    adv = rng.normal(size=6).astype(np.float32)
    full, _ = rl.ppo_loss(logits[mask], values[mask], actions[mask], lp[mask], adv[mask], returns[mask])
    masked, _ = rl.ppo_loss(logits, values, actions, lp, adv, returns, mask=mask)
    assert float(masked) == pytest.approx(float(full), rel=2 * gamma(40))  # as above


def test_truncated_episodes_bootstrap_from_the_state_at_the_cut(variant):
    """One env, gamma 0.5, T = 4: the episode is cut by a time limit after step 1 (step 2 is the
    auto-reset step), rewards 1, 2, 0, 4; values V_t = 10, 20, 30, 40; bootstrap V_4 = 50."""
    r = jnp.array([[1.0], [2.0], [0.0], [4.0]])
    v = jnp.array([[10.0], [20.0], [30.0], [40.0]])
    boot = jnp.array([50.0])
    term = jnp.zeros((4, 1), bool)
    trunc = jnp.array([[False], [True], [False], [False]])
    g = 0.5
    # bootstrap: R_3 = 4 + .5*50 = 29; R_2 = 0 + .5*29 = 14.5; R_1 = 2 + .5*V_2 = 17 (cut: not R_2);
    # R_0 = 1 + .5*17 = 9.5
    got = variant(lambda r, d, b, t, v: rl.n_step_returns(r, d, b, truncated=t, values=v))(
        r, rl.discounts_from(term, g), boot, trunc, v
    )
    np.testing.assert_allclose(got[:, 0], [9.5, 17.0, 14.5, 29.0])
    # terminal: R_1 = 2 (the cut ends the return)
    got = rl.n_step_returns(r, rl.discounts_from(term | trunc, g), boot)
    np.testing.assert_allclose(got[:, 0], [2.0, 2.0, 14.5, 29.0])
    # a true termination is never bootstrapped, truncated flag or not
    got = rl.n_step_returns(r, rl.discounts_from(trunc, g), boot, truncated=trunc & ~trunc, values=v)
    np.testing.assert_allclose(got[:, 0], [2.0, 2.0, 14.5, 29.0])
    with pytest.raises(ValueError, match="values"):
        rl.n_step_returns(r, rl.discounts_from(term, g), boot, truncated=trunc)


@pytest.mark.parametrize("lam", [0.0, 0.5, 1.0])
def test_gae_bootstraps_truncated_episodes(lam, variant):
    """The same case as above: delta_1 = 2 + .5*V_2 - V_1 = -3 and A_1 = delta_1 (cut);
    delta_0 = 1 + .5*20 - 10 = 1, A_0 = 1 + .5*lam*(-3); delta_3 = 4 + 25 - 40 = -11;
    delta_2 = 0 + 20 - 30 = -10, A_2 = -10 + .5*lam*(-11)."""
    r = jnp.array([[1.0], [2.0], [0.0], [4.0]])
    v = jnp.array([[10.0], [20.0], [30.0], [40.0]])
    boot = jnp.array([50.0])
    trunc = jnp.array([[False], [True], [False], [False]])
    d = rl.discounts_from(jnp.zeros((4, 1), bool), 0.5)
    got = variant(lambda r, d, v, b, t: rl.gae(r, d, v, b, lam, truncated=t))(r, d, v, boot, trunc)
    want = [1 + 0.5 * lam * -3, -3.0, -10 + 0.5 * lam * -11, -11.0]
    np.testing.assert_allclose(got[:, 0], want, rtol=gamma(4 * 6))  # 4 steps of 6 roundings
    if lam == 1.0:  # GAE(1) + V = the bootstrapped n-step return
        np.testing.assert_allclose(got + v, rl.n_step_returns(r, d, boot, truncated=trunc, values=v))
    # treated as terminal: delta_1 = 2 - 20 = -18
    got = rl.gae(r, rl.discounts_from(trunc, 0.5), v, boot, lam)
    np.testing.assert_allclose(
        got[:, 0], [1 + 0.5 * lam * -18, -18.0, -10 + 0.5 * lam * -11, -11.0], rtol=gamma(4 * 6)
    )
