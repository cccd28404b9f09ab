"""How far one optimiser step moves each parameter of a column learning Pong, for RMSProp's eps.

Collects the A2C gradients of ``--updates`` iterations (16 envs x 5 steps, the loss a mean over the
batch, as ``pnn_jax.rl.losses.a2c_loss``) from the paper's Atari column at its initial
parameters, then prints per parameter leaf the RMS gradient and the RMS of RMSProp's step in units
of the learning rate, ``g / sqrt(nu + eps)`` with ``nu`` the mean squared gradient (the
optimiser's steady state), for each ``--eps``. The diagnosis of issue 13 (docs/rl_learner.md):
with A3C's eps 0.1 under the root the steps were 1/40 of those with eps 1e-5.

    .venv/bin/python scripts/rl_step_sizes.py [--updates 300] [--sum] [--init orthogonal]

``--sum``: gradients of the loss summed over the batch (A3C's per-worker sum) instead of the mean.
``--init``: the column's kernels (``model.init``). The last column is PyTorch's form of RMSProp,
``g / (sqrt(nu) + eps)`` with ``--eps-outside`` (``optim.eps_in_sqrt=false``).
"""

from __future__ import annotations

import argparse

import jax
import numpy as np
import optax

from pnn_jax.envs.envpool_env import EnvConfig, VecEnv
from pnn_jax.nets.columns import atari_column
from pnn_jax.nets.progressive import ProgressiveNet
from pnn_jax.rl.actor_critic import ACConfig, Policy, build_iteration, column_policy, start
from pnn_jax.train.progressive import init_state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--eps", type=float, nargs="+", default=[0.1, 1e-5])
    parser.add_argument("--eps-outside", type=float, default=1e-5)
    parser.add_argument("--sum", action="store_true")
    parser.add_argument("--init", default="lecun_normal", choices=["lecun_normal", "orthogonal"])
    args = parser.parse_args()

    cfg = ACConfig()
    env = VecEnv(EnvConfig("Pong-v5", num_envs=16, seed=0))
    net = ProgressiveNet(atari_column(env.num_actions), 1, init_scheme=args.init)
    state = init_state(net, net.init(jax.random.key(0)), optax.sgd(0.0), 0)
    column = column_policy(net, optax.sgd(0.0))
    # the "update" hands the gradient back in place of the parameters; the state never changes
    capture = Policy(column.act, column.train, column.params, lambda st, grads: st.replace(params=grads))
    iteration = jax.jit(build_iteration(capture, env.step, cfg))
    actor = start(env, jax.random.key(1))
    grads = []
    for _ in range(args.updates):
        g, actor, _ = iteration(state, actor)
        grads.append(jax.device_get(g.params))
    scale = 16 * cfg.t_max if args.sum else 1
    named = jax.tree_util.tree_flatten_with_path(grads[0])[0]
    leaves = [np.stack(x) * scale for x in zip(*[jax.tree.leaves(g) for g in grads], strict=True)]
    print(
        f"{'parameters':32s} {'RMS gradient':>13s}"
        + "".join(f" {'step/lr, eps ' + f'{e:g}':>18s}" for e in args.eps)
        + f" {'eps ' + f'{args.eps_outside:g}' + ' outside':>18s}"
    )
    ratios = []
    for (path, _), g in zip(named, leaves, strict=True):
        name = jax.tree_util.keystr(path)
        if "lateral" in name:
            continue
        nu = (g**2).mean(0)
        steps = [float(np.sqrt(((g / np.sqrt(nu + e)) ** 2).mean())) for e in args.eps]
        ratios.append(steps[-1] / steps[0])
        steps.append(float(np.sqrt(((g / (np.sqrt(nu) + args.eps_outside)) ** 2).mean())))
        print(f"{name:32s} {np.sqrt((g**2).mean()):13.2e}" + "".join(f" {s:18.2e}" for s in steps))
    print(f"median step ratio, eps {args.eps[-1]:g} over eps {args.eps[0]:g}: {np.median(ratios):.0f}x")


if __name__ == "__main__":
    main()
