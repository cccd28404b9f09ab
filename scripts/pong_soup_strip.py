"""Write docs/pong_soup.png: one real Pong frame (envpool, 84x84 grayscale) in the eight Pong Soup
variants (docs/papers.md 1.5).

Usage: ``python scripts/pong_soup_strip.py [--steps 60] [--out docs/pong_soup.png]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import envpool
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from pnn_jax.envs import pong_soup


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60, help="no-op steps before the frame is taken")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "pong_soup.png"))
    args = ap.parse_args()
    env = envpool.make("Pong-v5", env_type="gymnasium", num_envs=1, seed=0)
    obs, _ = env.reset()
    for _ in range(args.steps):
        obs, *_ = env.step(np.zeros(1, np.int32))
    frame = obs[0, -1]  # the newest of the 4 stacked frames
    fig, axes = plt.subplots(1, len(pong_soup.VARIANTS), figsize=(2 * len(pong_soup.VARIANTS), 2.3))
    for ax, name in zip(axes, pong_soup.VARIANTS, strict=True):
        ax.imshow(np.asarray(pong_soup.transform(name)(frame)), cmap="gray", vmin=0, vmax=255)
        ax.set_title(name, fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100, bbox_inches="tight")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
