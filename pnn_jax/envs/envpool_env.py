"""Batched environments from envpool, stepped inside compiled code (environments stay
inside jit).

``VecEnv.step(handle, actions)`` is a pure-looking function usable inside ``jit``/``lax.scan``:

* ``interface="xla"``: envpool's XLA custom call (``env.xla()``); the whole rollout is one compiled
  program with no host round trip. envpool's XLA bridge runs on CPU and GPU hosts; it does not
  support TPU.
* ``interface="host"``: envpool's numpy interface called through ``jax.experimental.io_callback``
  (ordered), for backends without the XLA bridge (TPU) or for debugging. The same seeds and
  actions give the same trajectories as ``"xla"`` (tested).

**Auto-reset.** envpool resets an episode on the step *after* it ended: that step ignores the
action, returns the first observation of the new episode with reward 0 and ``elapsed_step == 0``.
:class:`EnvOutput` marks such steps ``first=True``; the transition that leads to them is not part
of any episode and must be masked out of learning (``valid = ~first``), and is not counted in
episode lengths (:func:`update_episodes`, tested against a hand-stepped run).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
import warnings
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from pnn_jax import ranges

INTERFACES = ("xla", "host")
VIZDOOM = (
    "Basic-v1",
    "BasicAudio-v1",
    "BasicNotifications-v1",
    "Cig-v1",
    "D1Basic-v1",
    "D2Navigation-v1",
    "D3Battle-v1",
    "D4Battle2-v1",
    "DeadlyCorridor-v1",
    "Deathmatch-v1",
    "DefendTheCenter-v1",
    "DefendTheLine-v1",
    "HealthGathering-v1",
    "HealthGatheringSupreme-v1",
    "MultiDuel-v1",
    "MyWayHome-v1",
    "PredictPosition-v1",
    "RocketBasic-v1",
    "SimplerBasic-v1",
    "TakeCover-v1",
)
"""envpool's ViZDoom scenarios (first-person 3D; Doom engine processes run beside the pool)."""


@dataclasses.dataclass(kw_only=True)
class EnvSettings:
    """Settings of an envpool batch, whatever its environment. The RL experiments' ``env`` config
    section is this class (their tasks name the environments); Atari settings follow the papers
    (docs/papers.md 1.2: 84x84 grayscale, 4 stacked frames, action repeat 4)."""

    num_envs: int = 8
    """Parallel envs (one envpool pool, stepped inside jit; per column trained, or per path)."""
    interface: str = "xla"
    """xla (envpool's XLA step inside jit) or host (numpy interface via a callback; TPU)."""
    img_size: int = 84
    """Atari / ViZDoom frames: img_size x img_size (docs/papers.md 1.2)."""
    stack_num: int = 4
    """Atari / ViZDoom: frames stacked into one observation."""
    frame_skip: int = 4
    """Action repeat."""
    gray_scale: bool = True
    """Atari: grayscale frames."""
    noop_max: int = 30
    """Atari: up to this many no-op actions at the start of an episode."""
    episodic_life: bool = False
    """Atari: a lost life ends the episode for learning (envpool's episodic_life)."""
    repeat_action_probability: float = ranges.field(0.0, low=0, high=1)
    """Atari: sticky actions (0 = off, as in the paper's era)."""
    full_action_space: bool = False
    """Atari: all 18 actions for every game (needed when columns of different games share a head size)."""
    max_episode_steps: int = 0
    """Episode length bound (a truncation); 0 = envpool's default."""

    def for_env(self, env_id: str, seed: int) -> EnvConfig:
        """The :class:`EnvConfig` of ``env_id`` seeded with ``seed``, with these settings."""
        settings = {f.name: getattr(self, f.name) for f in dataclasses.fields(EnvSettings)}
        return EnvConfig(env_id, seed=seed, **settings)


@dataclasses.dataclass
class EnvConfig(EnvSettings):
    """One batch of ``num_envs`` copies of ``env_id``, seeded with ``seed``:
    ``EnvConfig("Pong-v5", seed=0, num_envs=16)``."""

    env_id: str = "CartPole-v1"
    seed: int = 0

    @property
    def is_atari(self) -> bool:
        return self.env_id.endswith("-v5")

    @property
    def is_vizdoom(self) -> bool:
        return self.env_id in VIZDOOM

    def envpool_kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"num_envs": self.num_envs, "seed": self.seed}
        if self.is_atari:
            kw.update(
                img_height=self.img_size,
                img_width=self.img_size,
                stack_num=self.stack_num,
                frame_skip=self.frame_skip,
                gray_scale=self.gray_scale,
                noop_max=self.noop_max,
                episodic_life=self.episodic_life,
                repeat_action_probability=self.repeat_action_probability,
                full_action_space=self.full_action_space,
                reward_clip=False,  # raw rewards out; the learner clips (reported returns stay raw)
            )
        if self.is_vizdoom:  # first-person frames, the same preprocessing as Atari; one discrete action
            kw.update(
                img_height=self.img_size,
                img_width=self.img_size,
                stack_num=self.stack_num,
                frame_skip=self.frame_skip,
                episodic_life=self.episodic_life,
                use_combined_action=True,
            )
        if self.max_episode_steps:
            kw["max_episode_steps"] = self.max_episode_steps
        return kw


def check_env_config(cfg: EnvConfig) -> None:
    """Raise ``ValueError`` (one line) for an unknown env id or bad settings, before compiling."""
    import envpool  # heavy (its C++ runtime): loaded when an env is made  # noqa: PLC0415

    known = envpool.list_all_envs()
    if cfg.env_id not in known:
        near = [e for e in known if e.lower().startswith(cfg.env_id.split("-")[0].lower()[:4])][:6]
        hint = f"; did you mean {', '.join(near)}?" if near else "; envpool.list_all_envs() lists them"
        raise ValueError(f"unknown env id {cfg.env_id!r}{hint}")
    if cfg.interface not in INTERFACES:
        raise ValueError(f"interface must be one of {INTERFACES}, got {cfg.interface!r}")
    if cfg.num_envs < 1:
        raise ValueError(f"num_envs must be at least 1, got {cfg.num_envs}")
    if cfg.is_vizdoom and cfg.interface == "xla":
        raise ValueError(
            f"{cfg.env_id}: envpool's ViZDoom XLA step takes float64 actions, which jax without x64 "
            "cannot pass; use env.interface=host"
        )


@flax.struct.dataclass
class EnvOutput:
    """One step of every env, ``[B, ...]``."""

    obs: jax.Array
    reward: jax.Array  # float32, raw (unclipped)
    terminated: jax.Array  # bool: the episode ended in a terminal state
    truncated: jax.Array  # bool: the episode was cut (time limit)
    first: jax.Array  # bool: an auto-reset step (obs starts a new episode; the action was ignored)

    @property
    def done(self) -> jax.Array:
        return self.terminated | self.truncated


def env_shapes(cfg: EnvConfig) -> tuple[tuple[int, ...], int]:
    """``(observation shape, number of actions)`` of ``cfg``'s envs from envpool's spec, without
    making a pool (no env threads, no ViZDoom processes)."""
    import envpool  # heavy (its C++ runtime): loaded when an env is made  # noqa: PLC0415

    spec = envpool.make_spec(cfg.env_id, **cfg.envpool_kwargs())
    return tuple(spec.observation_space.shape), int(spec.action_space.n)


_DOOM_DIRECTORY: list[str] = []


def doom_directory() -> str:
    """The working directory of this process's Doom processes: a temporary folder made once per
    process (``pnn_jax_vizdoom_*`` in the system's temporary directory), not the user's directory.

    The Doom processes write ``_vizdoom.ini`` and ``_vizdoom/`` into the working directory they
    inherit when a pool starts them, and write the ini again when they exit, after Python has
    gone; so the folder is left for the system to clean (a few KB). ``_vizdoom/`` is made first:
    each process makes it when it finds none and aborts (the pool then segfaults) if another made
    it in between ("Failed to create ./_vizdoom/ directory: File exists")."""
    if not _DOOM_DIRECTORY:
        folder = tempfile.mkdtemp(prefix="pnn_jax_vizdoom_")
        os.makedirs(os.path.join(folder, "_vizdoom"))
        _DOOM_DIRECTORY.append(folder)
    return _DOOM_DIRECTORY[0]


class VecEnv:
    """``num_envs`` envpool environments. ``reset()`` (host) returns ``(handle, EnvOutput)``;
    ``step(handle, actions)`` works inside ``jit``."""

    def __init__(self, cfg: EnvConfig):
        import envpool  # heavy (its C++ runtime): loaded when an env is made  # noqa: PLC0415

        check_env_config(cfg)
        self.cfg = cfg
        where = contextlib.chdir(doom_directory()) if cfg.is_vizdoom else contextlib.nullcontext()
        with where, warnings.catch_warnings():  # gymnasium: float64 Box bounds become float32
            warnings.filterwarnings("ignore", message=".*precision lowered by casting to float32")
            self._env = envpool.make(cfg.env_id, env_type="gymnasium", **cfg.envpool_kwargs())
        self.obs_shape = tuple(self._env.observation_space.shape)
        self.obs_dtype = np.dtype(self._env.observation_space.dtype)
        self.num_actions = int(self._env.action_space.n)
        if cfg.interface == "xla":
            self._handle, _, _, self._xla_step = self._env.xla()

    def reset(self) -> tuple[jax.Array, EnvOutput]:
        """Reset every env (host side): ``(handle, first EnvOutput)``.

        JAX dispatches compiled calls asynchronously, so a rollout or evaluation that steps this
        pool may still be running when Python gets here; resetting the pool under it overflows
        envpool's state buffer (an abort). So the reset first waits for every computation whose
        outputs are still alive (cheap: a reset happens once per stage or evaluation).
        """
        jax.block_until_ready(jax.live_arrays())
        jax.effects_barrier()  # host-interface steps are ordered io_callbacks
        obs, _ = self._env.reset()
        b = self.cfg.num_envs
        out = EnvOutput(
            obs=jnp.asarray(obs),
            reward=jnp.zeros(b, jnp.float32),
            terminated=jnp.zeros(b, bool),
            truncated=jnp.zeros(b, bool),
            first=jnp.ones(b, bool),
        )
        handle = self._handle if self.cfg.interface == "xla" else jnp.zeros((), jnp.int32)
        return handle, out

    def step(self, handle, actions: jax.Array) -> tuple[jax.Array, EnvOutput]:
        if self.cfg.interface == "xla":
            handle, (obs, reward, terminated, truncated, info) = self._xla_step(handle, actions)
            return handle, self._output(obs, reward, terminated, truncated, info["elapsed_step"])
        shapes = (
            jax.ShapeDtypeStruct((self.cfg.num_envs, *self.obs_shape), self.obs_dtype),
            jax.ShapeDtypeStruct((self.cfg.num_envs,), np.float32),
            jax.ShapeDtypeStruct((self.cfg.num_envs,), np.bool_),
            jax.ShapeDtypeStruct((self.cfg.num_envs,), np.bool_),
            jax.ShapeDtypeStruct((self.cfg.num_envs,), np.int32),
        )
        obs, reward, terminated, truncated, elapsed = jax.experimental.io_callback(
            self._host_step, shapes, actions, ordered=True
        )
        return handle, self._output(obs, reward, terminated, truncated, elapsed)

    def _host_step(self, actions):
        obs, reward, terminated, truncated, info = self._env.step(np.asarray(actions))
        return (
            np.asarray(obs, self.obs_dtype),
            np.asarray(reward, np.float32),
            np.asarray(terminated, np.bool_),
            np.asarray(truncated, np.bool_),
            np.asarray(info["elapsed_step"], np.int32),
        )

    @staticmethod
    def _output(obs, reward, terminated, truncated, elapsed) -> EnvOutput:
        return EnvOutput(
            obs=obs,
            reward=reward.astype(jnp.float32),
            terminated=terminated.astype(bool),
            truncated=truncated.astype(bool),
            first=elapsed == 0,
        )


# ------------------------------------------------------------------------------------------------
# Episode accounting


@flax.struct.dataclass
class Episodes:
    """Running episode statistics per env ``[B]``: raw return and length of the current episode."""

    ret: jax.Array
    length: jax.Array

    @classmethod
    def zeros(cls, num_envs: int) -> Episodes:
        return cls(jnp.zeros(num_envs, jnp.float32), jnp.zeros(num_envs, jnp.int32))


def update_episodes(ep: Episodes, out: EnvOutput) -> tuple[Episodes, dict[str, jax.Array]]:
    """Account one step: returns the new running stats and, per env, the finished episode's raw
    return and length where one ended at this step (``finished [B]`` bool, else NaN / 0), with
    whether it was a truncation. Auto-reset steps (``first``) count towards nothing."""
    step = ~out.first
    ret = ep.ret + jnp.where(step, out.reward, 0.0)
    length = ep.length + step.astype(jnp.int32)
    finished = out.done
    info = {
        "finished": finished,
        "episode_return": jnp.where(finished, ret, jnp.nan),
        "episode_length": jnp.where(finished, length, 0),
        "truncated": finished & out.truncated & ~out.terminated,
    }
    return Episodes(jnp.where(finished, 0.0, ret), jnp.where(finished, 0, length)), info
