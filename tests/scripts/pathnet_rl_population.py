"""A short PathNet population training for the multi-process test (tests/rl/test_pathnet_ac.py).

Joins the run described by JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES / JAX_PROCESS_ID (a single
process when unset), trains two tasks and prints one JSON line: this process's checksum of the
shared parameters, its paths and the number of devices in the population mesh.
"""

import json

from pnn_jax import distributed

distributed.initialize()

import jax  # noqa: E402
import numpy as np  # noqa: E402

from pnn_jax import freezing  # noqa: E402
from pnn_jax.envs.envpool_env import EnvConfig  # noqa: E402
from pnn_jax.nets.pathnet import mlp_pathnet  # noqa: E402
from pnn_jax.rl.actor_critic import ACConfig  # noqa: E402
from pnn_jax.rl.pathnet_ac import EvolutionConfig, PathNetAC  # noqa: E402
from pnn_jax.train import population as pop  # noqa: E402
from pnn_jax.train.optim import make_optimizer  # noqa: E402

net = mlp_pathnet(4, num_layers=2, num_modules=6, max_active=2, units=16, num_heads=2, head_size=3)
trainer = PathNetAC(
    net,
    make_optimizer("adam", 0.003),
    ACConfig(algorithm="a2c", clip_rewards=False, t_max=8),
    EvolutionConfig(population=4, evolve_every=3),
)
envs = trainer.make_envs(EnvConfig("CartPole-v1", seed=0, num_envs=4))
state, initial = trainer.init(jax.random.key(0))
actor = trainer.start(envs, jax.random.key(1))
loop = trainer.make_loop(envs, 7)
state, actor, _ = loop(state, actor)
state = trainer.next_task(state, jax.random.key(2), initial, lock=True)
state, actor, _ = loop(state, actor)
shared = pop.to_host(state.shared)
print(
    json.dumps(
        {
            "process": jax.process_index(),
            "devices": int(trainer.mesh.devices.size),
            "checksum": freezing.checksum(shared.params),
            "w": np.asarray(shared.params["modules"][0]["w"]).ravel().tolist(),
            "paths": pop.to_host(state.members.paths).tolist(),
        }
    )
)
