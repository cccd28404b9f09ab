#!/usr/bin/env bash
# Every table `pnn-jax table` builds, with the budget of each preset and the expected time.
#
#   scripts/reproduce_all.sh               list the tables (this text)
#   scripts/reproduce_all.sh --run PRESET  run scripts/reproduce.sh for every table at PRESET
#
# Times marked (e) are estimates; the others were measured on this project's 2-core machine. No GPU
# was available when these lines were written, so every GPU time is an estimate (measured GPU
# figures go to benchmarks/RESULTS.md).
set -euo pipefail
cd "$(dirname "$0")/.."

list() {
  cat <<'TABLES'
table                          preset  budget                                            2 CPU cores      1 GPU
-----------------------------  ------  ------------------------------------------------  ---------------  ------------
thesis_first_path              quick   24 repetitions, S+S and P+S, MNIST {3,4}->{1,2}   1.1 min          ~1 min (e)
                               paper   256 repetitions                                   ~12 min (e)      ~2 min (e)
thesis_selection_pressure      quick   tournament sizes and schemes over the curriculum  ~1-2 min         ~1 min (e)
pathnet_binary_mnist           quick   3 pairs x 8 runs x 3 methods, threshold 0.99      1.3 min          ~1 min (e)
                               paper   3 pairs x 32 runs, threshold 0.998                hours (e)        ~30 min (e)
pathnet_cifar_svhn             quick   needs the CIFAR-10 / SVHN files (not here)        not measured     not measured
                               paper   500 generations per task                          hours (e)        ~1 h (e)
pnn_digits                     quick   5 methods, 1,500 steps per column, digits 0-4->5-9 ~20 s            ~20 s (e)
pnn_classic_transfer           quick   2 pairs x 5 methods x 3 seeds, 120k steps/stage   3.9 min          ~2 min (e)
                               paper   8 seeds, 4,000 iterations per stage               ~25 min (e)      ~5 min (e)
pathnet_lunarlander_curriculum quick   2 seeds, 8 paths x 8 envs, 1M steps per sub-task  12.4 min         ~3 min (e)
                               paper   5 seeds, 64 paths, 3M steps per sub-task          days (e)         hours (e)
pnn_pong_soup                  quick   2 pairs, 80k agent steps/stage (no learning)      ~35 min          ~5 min (e)
                               cpu     Pong -> H-flip, prog/b1/b3; 3M source, 1M target  ~2 h (e)         ~15 min (e)
                               paper   24 pairs x 5 methods, 4e7 agent steps/stage       not feasible     weeks (e)
pnn_atari                      quick   2 pairs, 80k agent steps/stage (no learning)      ~35 min          ~5 min (e)
                               paper   36 pairs, 4e7 agent steps/stage                   not feasible     weeks (e)
pnn_labyrinth_vizdoom          quick   3 pairs, 80k agent steps/stage (no learning)      ~1 h             ~30 min (e, host env)
                               paper   the Labyrinth budget on ViZDoom scenarios         not feasible     days (e)
pnn_table1                     quick   pnn_pong_soup + pnn_atari + pnn_labyrinth_vizdoom  ~2 h             ~40 min (e)
rl_learning_curves             pong    one column on Pong, 5M agent steps (learner check) 1-2 h            ~10 min (e)
pathnet_atari                  quick   one pair, 8 paths x 4 envs, 200k steps per game   ~30 min          ~5 min (e)
                               paper   64 paths, 10M steps per game, several pairs       not feasible     days (e)

(e) = estimate, not measured. 2-CPU times without (e) were measured on this project's 2-core
machine (the quick runs behind docs/results.md, and the presets' documented runs).
TABLES
}

case "${1:-}" in
  "" | -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; echo; list ;;
  --run)
    preset=${2:?"--run needs a preset: smoke | quick | paper"}
    for t in thesis_first_path thesis_selection_pressure pathnet_binary_mnist pnn_classic_transfer \
             pathnet_lunarlander_curriculum pnn_table1 pathnet_atari pathnet_cifar_svhn; do
      scripts/reproduce.sh "$t" "$preset"
    done ;;
  *) echo "error: unknown argument '$1'; use --run <preset> or no argument" >&2; exit 2 ;;
esac
