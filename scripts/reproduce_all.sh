#!/usr/bin/env bash
# Every table `pnn-jax table` builds, with the budget of each preset and the expected time.
#
#   scripts/reproduce_all.sh               list the tables (this text)
#   scripts/reproduce_all.sh --run PRESET  run scripts/reproduce.sh for every table at PRESET
#
# Times on 2 CPU cores are measured on this project's CI-class machine (2 cores, no GPU). GPU
# times are ESTIMATES, not measurements: no GPU was available when these lines were written (the
# device benchmarks in benchmarks/RESULTS.md are where measured GPU figures go).
set -euo pipefail
cd "$(dirname "$0")/.."

list() {
  cat <<'TABLES'
table                          preset  budget                                           2 CPU cores        1 GPU (estimate)
-----------------------------  ------  -----------------------------------------------  -----------------  ----------------
thesis_first_path              quick   64 repetitions, S+S and P+S, MNIST {3,4}->{1,2}   ~1.5 min           < 1 min
                               paper   256 repetitions                                  ~6 min             ~1 min
pathnet_binary_mnist           quick   3 pairs x 8 runs x 3 methods, threshold 0.99     ~2 min             < 1 min
                               paper   3 pairs x 32 runs, threshold 0.998               hours              ~30 min
pathnet_cifar_svhn             quick   needs the CIFAR-10 / SVHN files (not here)       not measured       not measured
                               paper   500 generations per task                         hours              ~1 h
pnn_classic_transfer           quick   2 pairs x 5 methods x 3 seeds, 120k steps/stage  ~3 min             ~1 min
                               paper   8 seeds, 4,000 iterations per stage              ~10 min            ~3 min
pathnet_lunarlander_curriculum quick   2 seeds, 8 paths, 1M steps per sub-task          ~12 min            ~3 min
                               paper   5 seeds, 64 paths, 3M steps per sub-task         hours              ~1 h
pnn_pong_soup                  quick   2 pairs, 200k agent steps/stage (no learning)    ~1 h               ~10 min
                               paper   24 pairs x 5 methods, 4e7 agent steps/stage      weeks              days
pnn_atari                      quick   2 pairs, short stages (no learning)              ~1 h               ~10 min
                               paper   36 pairs, 4e7 agent steps/stage                  not feasible       weeks
pnn_labyrinth_vizdoom          quick   3 pairs, 100k agent steps/stage (no learning)    ~1 h               ~20 min (host env)
                               paper   the Labyrinth budget on ViZDoom scenarios        not feasible       days
pnn_table1                     quick   pnn_pong_soup + pnn_atari + pnn_labyrinth_vizdoom ~3 h              ~40 min
pathnet_atari                  quick   one pair, short (no learning)                    ~30 min            ~5 min
                               paper   64 paths, 10M steps per game, several pairs      not feasible       days
TABLES
}

case "${1:-}" in
  "" | -h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; echo; list ;;
  --run)
    preset=${2:?"--run needs a preset: smoke | quick | paper"}
    for t in thesis_first_path pathnet_binary_mnist pnn_classic_transfer pathnet_lunarlander_curriculum \
             pnn_table1 pathnet_atari pathnet_cifar_svhn; do
      scripts/reproduce.sh "$t" "$preset"
    done ;;
  *) echo "error: unknown argument '$1'; use --run <preset> or no argument" >&2; exit 2 ;;
esac
