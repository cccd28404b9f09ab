#!/usr/bin/env bash
# The GPU check (docs/gpu.md): everything this project wants measured on an NVIDIA GPU, in one run
# whose outputs land in one folder that can be copied back.
#
#   scripts/gpu_check.sh [--dry-run] [--out DIR] [--python PY] [--wheelhouse DIR] [--pong-seconds N]
#
# Steps (each timed; its output in DIR/<step>.log; a failed step is reported and the others still run):
#   1 install  a fresh venv with the [cuda] extra (--wheelhouse DIR: offline, from wheels in DIR;
#              --python PY: use an environment that already has CUDA jax and skip the install)
#   2 device   nvidia-smi (device, driver), jax's backend and devices; stops unless jax sees a GPU
#   3 tests    the GPU-relevant tests: every RL experiment's smoke preset, the population device
#              tests, the column-population and freezing tests
#   4 bench    every benchmark (benchmarks/run_all.py); results into DIR/bench/
#   5 ppo      the PPO reference (Nature CNN) at 8 and at 64 envs
#   6 pong     a Pong PPO run of --pong-seconds seconds of training with its learning curve
#   7 report   DIR/summary.md: device, driver, jax, commit, step times, figures; appended to
#              benchmarks/RESULTS.md, and the figures' records to benchmarks/results.jsonl
#
# --dry-run: the same steps at tiny sizes on any machine (CPU): no install (the current .venv),
# no GPU required, the tests collected in full and the freezing tests run, the benchmarks with
# --quick, PPO at 2 and 4 envs, a 15-second Pong run; the report stays in DIR (the repository's
# results files are not touched). tests/test_benchmarks.py runs it (a slow test).
set -uo pipefail
cd "$(dirname "$0")/.."

DRY=0
DIR=""
PY=""
WHEELS=""
PONG_SECONDS=150
usage="usage: scripts/gpu_check.sh [--dry-run] [--out DIR] [--python PY] [--wheelhouse DIR] [--pong-seconds N]"
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --out) DIR="${2:?--out needs a folder}"; shift ;;
    --python) PY="${2:?--python needs an interpreter}"; shift ;;
    --wheelhouse) WHEELS="${2:?--wheelhouse needs a folder}"; shift ;;
    --pong-seconds) PONG_SECONDS="${2:?--pong-seconds needs a number}"; shift ;;
    -h|--help) echo "$usage"; exit 0 ;;
    *) echo "error: unknown argument '$1'; $usage" >&2; exit 2 ;;
  esac
  shift
done
case "$PONG_SECONDS" in ''|*[!0-9]*) echo "error: --pong-seconds must be a whole number of seconds, got '$PONG_SECONDS'" >&2; exit 2 ;; esac

COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && COMMIT="$COMMIT+dirty"
DIR=${DIR:-runs/gpu_check/$(date +%Y-%m-%d_%H-%M-%S)_$COMMIT}
mkdir -p "$DIR/bench"
DIR=$(cd "$DIR" && pwd)
if [ "$DRY" = 1 ]; then
  RESULTS_MD="$DIR/RESULTS.md"; RESULTS_JSONL="$DIR/results.jsonl"
  QUICK="--quick"; REF_ENVS="2 4"; REF_ITERS=1; PONG_SECONDS=15
else
  RESULTS_MD="$PWD/benchmarks/RESULTS.md"; RESULTS_JSONL="$PWD/benchmarks/results.jsonl"
  QUICK=""; REF_ENVS="8 64"; REF_ITERS=10
fi
export PNN_BENCH_RESULTS="$DIR/bench"
STEPS=()
FAILED=0

step() {  # step NAME COMMAND...: run, time and log one step
  local name=$1; shift
  local t0=$SECONDS
  echo "== $name" | tee -a "$DIR/gpu_check.log"
  if "$@" >"$DIR/$name.log" 2>&1; then
    STEPS+=("| $name | ok | $((SECONDS - t0)) |")
  else
    STEPS+=("| $name | FAILED (see $name.log) | $((SECONDS - t0)) |")
    FAILED=1
    tail -20 "$DIR/$name.log" | tee -a "$DIR/gpu_check.log"
  fi
}

install() {
  if [ -n "$PY" ]; then
    echo "using $PY (no install)"
  elif [ "$DRY" = 1 ]; then
    make venv && PY=.venv/bin/python
    echo "dry run: the [cuda] install is skipped; using .venv"
  else
    local venv=${TMPDIR:-/tmp}/pnn_jax_gpu_venv
    rm -rf "$venv" && python3 -m venv "$venv" || return 1
    local pip_args=(-c scripts/constraints.txt)
    [ -n "$WHEELS" ] && pip_args+=(--no-index --find-links "$WHEELS")
    "$venv/bin/python" -m pip install --quiet "${pip_args[@]}" -e '.[dev,cuda]' || return 1
    PY="$venv/bin/python"
  fi
}

device() {
  if [ "$DRY" = 1 ]; then
    echo "GPU: none needed (dry run)"
  else
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || return 1
  fi
  "$PY" -c 'import jax; print("jax", jax.__version__, "backend", jax.default_backend(), jax.devices())' || return 1
  [ "$DRY" = 1 ] || "$PY" -c 'import jax, sys; sys.exit(jax.default_backend() != "gpu")'
}

tests() {
  local rl
  rl=$("$PY" -c 'from pnn_jax import experiments as e
print(" or ".join(n for n in e.names() if type(e.get(n).protocol).__module__.split(".")[2] in ("rl_transfer", "pathnet_rl")))') || return 1
  local smoke=(tests/experiments/test_experiments.py -k "test_smoke_run_through_the_runner and ($rl)")
  local others=(tests/rl/test_population_devices.py tests/rl/test_column_population.py tests/test_freezing.py)
  if [ "$DRY" = 1 ]; then  # collect everything, run the freezing tests
    "$PY" -m pytest -q -m "" -p no:cacheprovider --collect-only "${smoke[@]}" | tail -1 || return 1
    "$PY" -m pytest -q -m "" -p no:cacheprovider --collect-only "${others[@]}" | tail -1 || return 1
    "$PY" -m pytest -q -p no:cacheprovider tests/test_freezing.py
  else
    "$PY" -m pytest -q -m "" -p no:cacheprovider "${smoke[@]}" || return 1
    "$PY" -m pytest -q -m "" -p no:cacheprovider "${others[@]}"
  fi
}

ppo() {
  for envs in $REF_ENVS; do
    "$PY" benchmarks/bench_rl.py --reference nature_cnn --reference-envs "$envs" \
      --reference-iterations "$REF_ITERS" | tail -1 | tee "$DIR/ppo_reference_$envs.json" || return 1
  done
}

report() {
  local device="none, CPU only (dry run)" jaxv
  [ "$DRY" = 1 ] || device=$(head -1 "$DIR/device.log")  # nvidia-smi: name, driver, memory
  jaxv=$(grep -m1 "^jax " "$DIR/device.log")
  {
    echo
    echo "## gpu_check ($(date +%Y-%m-%d), commit $COMMIT)$([ "$DRY" = 1 ] && echo ', dry run: tiny sizes, CPU')"
    echo
    echo "GPU (name, driver, memory): ${device:-unknown}. ${jaxv:-jax unknown}. Host: $(nproc) cores."
    echo
    echo "| step | status | seconds |"
    echo "|---|---|---|"
    printf '%s\n' "${STEPS[@]}"
    echo
    for f in "$DIR"/ppo_reference_*.json; do
      [ -f "$f" ] && echo "- PPO reference, Nature CNN, $(basename "$f" .json | sed 's/ppo_reference_//') envs: $(cat "$f")"
    done
    [ -f "$DIR/pong/summary.json" ] && echo "- Pong PPO: $(tr -d '\n ' <"$DIR/pong/summary.json") (curve: pong/curve.png)"
    [ -f "$DIR/bench/RESULTS.md" ] && echo "- benchmark tables: bench/RESULTS.md (below when this is not a dry run)"
  } >"$DIR/summary.md"
  cat "$DIR/summary.md" >>"$RESULTS_MD"
  [ "$DRY" = 1 ] || { [ -f "$DIR/bench/RESULTS.md" ] && tail -n +4 "$DIR/bench/RESULTS.md" >>"$RESULTS_MD"; }
  [ -f "$DIR/bench/results.jsonl" ] && cat "$DIR/bench/results.jsonl" >>"$RESULTS_JSONL"
  [ "$DRY" = 1 ] || "$PY" benchmarks/readme.py --write >/dev/null
  cat "$DIR/summary.md"
}

step install install  # sets PY (the function runs in this shell)
if [ -z "$PY" ]; then
  echo "error: the install failed (install.log)" | tee -a "$DIR/gpu_check.log" >&2
  exit 1
fi
step device device
if [ "$DRY" = 0 ] && ! "$PY" -c 'import jax, sys; sys.exit(jax.default_backend() != "gpu")' 2>/dev/null; then
  echo "error: jax sees no GPU (device.log); the check needs one (or --dry-run)" | tee -a "$DIR/gpu_check.log" >&2
  exit 1
fi
step tests tests
step bench "$PY" benchmarks/run_all.py $QUICK
step ppo ppo
step pong "$PY" scripts/pong_ppo.py --seconds "$PONG_SECONDS" --out "$DIR/pong" $QUICK
report
echo "outputs: $DIR"
exit $FAILED
