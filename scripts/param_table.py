"""Print the parameter-count table of progressive Atari nets (README, "Parameter counts").

Counts real parameters only (the masked, unused lateral slots of the stacked layout are excluded),
from shapes, without allocating. Usage: ``python scripts/param_table.py [--actions 18] [--max-k 6]``.
"""

from __future__ import annotations

import argparse

from pnn_jax.nets.columns import atari_column
from pnn_jax.nets.progressive import ProgressiveNet


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--actions", type=int, default=18)
    ap.add_argument("--max-k", type=int, default=6)
    args = ap.parse_args()
    spec = atari_column(args.actions)
    one = ProgressiveNet(spec, 1).param_count()
    print(
        "| K | independent columns | plain laterals (Eq. 1) | adapters (Eq. 2, default) "
        "| adapters, no head laterals | adapters, `adapter_v=dense` |"
    )
    print("|---|---|---|---|---|---|")
    for k in range(1, args.max_k + 1):
        plain = ProgressiveNet(spec, k, lateral="plain").param_count()
        adapter = ProgressiveNet(spec, k, lateral="adapter").param_count()
        no_heads = ProgressiveNet(spec, k, lateral="adapter", head_laterals=False).param_count()
        dense = ProgressiveNet(spec, k, lateral="adapter", adapter_v="dense").param_count()
        print(f"| {k} | {k * one:,} | {plain:,} | {adapter:,} | {no_heads:,} | {dense:,} |")


if __name__ == "__main__":
    main()
