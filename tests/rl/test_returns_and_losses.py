"""Returns, GAE and the A2C / PPO losses against straightforward NumPy loops."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

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


def test_n_step_returns(variant):
    r, d, _, boot = episode_data()
    got = variant(lambda r, d, b: rl.n_step_returns(r, rl.discounts_from(d, 0.99), b))(r, d, boot)
    np.testing.assert_allclose(got, numpy_returns(r, d, boot, 0.99), rtol=1e-5, atol=1e-6)
    # by hand, one env, no episode end: r0 + g r1 + g^2 V
    got = rl.n_step_returns(jnp.array([[1.0], [2.0]]), jnp.full((2, 1), 0.5), jnp.array([4.0]))
    np.testing.assert_allclose(got[:, 0], [1 + 0.5 * 2 + 0.25 * 4, 2 + 0.5 * 4])


@pytest.mark.parametrize("lam", [0.0, 0.95, 1.0])
def test_gae(lam, variant):
    r, d, v, boot = episode_data(1)
    got = variant(lambda *a: rl.gae(a[0], rl.discounts_from(a[1], 0.99), a[2], a[3], lam))(r, d, v, boot)
    np.testing.assert_allclose(got, numpy_gae(r, d, v, boot, 0.99, lam), rtol=1e-5, atol=1e-5)
    if lam == 1.0:  # GAE(1) + V = the n-step return
        np.testing.assert_allclose(got + v, numpy_returns(r, d, boot, 0.99), rtol=1e-5, atol=1e-5)


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
    assert float(loss) == pytest.approx(want, rel=1e-5)
    assert float(m["entropy"]) == pytest.approx(ent, rel=1e-5)
    # the advantage is a constant for the policy term: d loss / d logits has no value term
    g = jax.grad(lambda lg: rl.a2c_loss(lg, values, actions, returns, entropy_cost=0.0)[0])(logits)
    p = np.exp(logp)
    onehot = np.eye(4)[actions]
    np.testing.assert_allclose(g, -(onehot - p) * adv[..., None] / adv.size, rtol=1e-4, atol=1e-7)


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
    assert float(loss) == pytest.approx(-surr.mean() + 0.5 * 0.5 * 1.0, rel=1e-5)
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
    assert float(m["value_loss"]) == pytest.approx(0.5 * (4 + 1) / 2)


def test_mask_drops_entries_from_every_term():
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(6, 3)).astype(np.float32)
    values = rng.normal(size=6).astype(np.float32)
    actions = rng.integers(0, 3, 6)
    returns = rng.normal(size=6).astype(np.float32)
    mask = np.array([1, 1, 0, 1, 0, 1], bool)
    full, _ = rl.a2c_loss(logits[mask], values[mask], actions[mask], returns[mask])
    masked, _ = rl.a2c_loss(logits, values, actions, returns, mask=mask)
    assert float(masked) == pytest.approx(float(full), rel=1e-6)
    lp = rl.log_prob(logits, actions) - 0.1
    adv = rng.normal(size=6).astype(np.float32)
    full, _ = rl.ppo_loss(logits[mask], values[mask], actions[mask], lp[mask], adv[mask], returns[mask])
    masked, _ = rl.ppo_loss(logits, values, actions, lp, adv, returns, mask=mask)
    assert float(masked) == pytest.approx(float(full), rel=1e-6)


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
    np.testing.assert_allclose(got[:, 0], want, rtol=1e-6)
    if lam == 1.0:  # GAE(1) + V = the bootstrapped n-step return
        np.testing.assert_allclose(got + v, rl.n_step_returns(r, d, boot, truncated=trunc, values=v))
    # treated as terminal: delta_1 = 2 - 20 = -18
    got = rl.gae(r, rl.discounts_from(trunc, 0.5), v, boot, lam)
    np.testing.assert_allclose(
        got[:, 0], [1 + 0.5 * lam * -18, -18.0, -10 + 0.5 * lam * -11, -11.0], rtol=1e-6
    )
