#!/usr/bin/env bash
# Reproduce one paper table: run the sweep the table needs at a preset, then build the table.
#
#   scripts/reproduce.sh <table> [preset] [key=value ...]
#
#   <table>   a `pnn-jax table` name (scripts/reproduce_all.sh lists them with budgets and times)
#   preset    smoke | quick | paper (default quick); pong for rl_learning_curves; cpu for
#             pnn_pong_soup (one pair on 2 CPU cores, about 2 h)
#   key=value overrides for every run, e.g. seeds=5. A value with commas (seed=0,1,2 or
#             optim.lr=1e-3,5e-4,1e-4) makes a Hydra sweep, one job per combination.
#
# Environment: TOPK=3 aggregates with the PNN paper's top-k-of-jobs protocol (pair it with a sweep
# over hyperparameters, e.g. `optim.lr=1e-3,5e-4,1e-4 rl.entropy_cost=1e-2,1e-3,1e-4`);
# OUT=<dir> (default runs/reproduce/<preset>/<date_time>; a table pools every run below it);
# README=docs/results.md (or README.md for rl_learning_curves) also fills the table's block there.
# Installs the .venv first (as `make` does).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $# -lt 1 || "$1" == "-h" || "$1" == "--help" ]]; then
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  exit 0
fi
table=$1; shift
preset=quick
if [[ $# -gt 0 && "$1" != *=* ]]; then preset=$1; shift; fi
case "$preset" in smoke|quick|paper|pong|cpu) ;; *) echo "error: preset must be smoke, quick, paper, pong or cpu, got '$preset'" >&2; exit 2;; esac

case "$table" in
  pnn_table1) experiments=(pnn_pong_soup pnn_atari pnn_labyrinth_vizdoom) ;;
  rl_learning_curves) experiments=(pnn_pong_soup) ;;   # with preset pong: the learner check
  *)  # every experiment has a table of its own name
    if [[ -f "experiments/$table/config.yaml" ]]; then experiments=("$table"); else
      echo "error: unknown table '$table'; scripts/reproduce_all.sh lists the tables" >&2; exit 2
    fi ;;
esac

make --no-print-directory venv >/dev/null
pnn=.venv/bin/pnn-jax
out=${OUT:-runs/reproduce/$preset/$(date +%Y-%m-%d_%H-%M-%S)}   # fresh: a table pools every run below it
sweep=()
for a in "$@"; do [[ "$a" == *,* ]] && sweep=(-m); done
dirs=()
for e in "${experiments[@]}"; do
  echo "== $e ($preset) -> $out/$e"
  $pnn run "${sweep[@]}" experiment="$e" preset="$preset" out_dir="$out" quiet=true "$@"
  dirs+=("$out/$e")
done
args=(--out "$out/tables/$table")
[[ -n "${TOPK:-}" ]] && args+=(--top-k "$TOPK")
[[ -n "${README:-}" ]] && args+=(--readme "$README")
$pnn table "$table" "${dirs[@]}" "${args[@]}"
