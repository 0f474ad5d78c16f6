#!/usr/bin/env bash
# The one command to run on a GPU machine: CUDA tests, fast-path throughput,
# fold batching (the plain-PyTorch prototype and through the pruner), then the
# CIFAR-10 protocol in the time left.
#
#   bash benchmarks/gpu_suite.sh [LOG_DIR]
#
# LOG_DIR (or SKUNSEEN_SUITE_LOGS; default runs/gpu_suite) receives suite.log
# (everything printed) and each step's table as it goes: throughput.md,
# fold_batching_prototype.md, fold_batching.md, gpu_protocol.md and
# gpu_protocol.json. See benchmarks/README.md ("GPU suite") for the wheels to
# bring and the time plan.
#
# Environment:
#   SKUNSEEN_CIFAR           CIFAR-10 JPEG archive (default data/cifar10-jpeg.tar.gz)
#   SKUNSEEN_SUITE_SECONDS   wall-clock budget of the whole suite (default 540; smoke 180)
#   SKUNSEEN_SUITE_SMOKE=1   tiny sizes on the CPU: checks this script (the test suite runs it)
#   SKUNSEEN_SUITE_ONLY      comma-separated step names to run, e.g. "protocol" for a rerun
#   SKUNSEEN_SUITE_WHEELS    folder of carried wheels (default .whl)
#   PYTHON                   interpreter (default python3)
#
# Setup checks every import the steps need before any step runs, installing
# from the carried wheels only what the interpreter lacks; when that fails
# nothing runs (exit 1). Every step then runs under its own time limit and is
# given a budget a little below it, which the benchmark scripts count all
# their work against; each writes its table so far after every measurement,
# so a step stopped at its limit keeps what it measured. A failing step is
# reported and the next one still runs; the exit status is non-zero when any
# step failed.
set -uo pipefail
cd "$(dirname "$0")/.."

LOGS=${1:-${SKUNSEEN_SUITE_LOGS:-runs/gpu_suite}}
mkdir -p "$LOGS"
LOGS=$(cd "$LOGS" && pwd)
exec > >(tee -a "$LOGS/suite.log") 2>&1

PY=${PYTHON:-python3}
SMOKE=${SKUNSEEN_SUITE_SMOKE:-0}
BUDGET=${SKUNSEEN_SUITE_SECONDS:-$([ "$SMOKE" = 1 ] && echo 180 || echo 540)}
ONLY=${SKUNSEEN_SUITE_ONLY:-}
WHEELS=${SKUNSEEN_SUITE_WHEELS:-.whl}
# absolute: the tests (tests/helpers.py) and every step read it
export SKUNSEEN_CIFAR=$(realpath -m "${SKUNSEEN_CIFAR:-data/cifar10-jpeg.tar.gz}")
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
START=$(date +%s)
FAILED=()

left() { echo $(( BUDGET - ($(date +%s) - START) )); }

step() {  # step NAME LIMIT_S COMMAND...
  local name=$1 limit=$2 began rc
  shift 2
  if [ -n "$ONLY" ] && [[ ",$ONLY," != *",$name,"* ]]; then
    echo "=== $name: not run (SKUNSEEN_SUITE_ONLY=$ONLY)"
    return 0
  fi
  began=$(date +%s)
  echo
  echo "=== $name: start (limit ${limit} s, $(left) s of the suite left)"
  timeout --kill-after=10 "$limit" "$@"
  rc=$?
  echo "=== $name: exit $rc after $(( $(date +%s) - began )) s"
  if [ "$rc" -ne 0 ]; then
    FAILED+=("$name (exit $rc$([ "$rc" -eq 124 ] && echo ', timed out'))")
  fi
  return "$rc"
}

# Python packages the machine lacks travel as wheels in $WHEELS (benchmarks/README.md).
setup() {
  local site=${TMPDIR:-/tmp}/skunseen-site-$$
  rm -rf "$site"
  timeout 60 "$PY" benchmarks/gpu_setup.py install --wheels "$WHEELS" --target "$site" \
    || return 1
  [ -d "$site" ] && export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
  command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version \
    --format=csv
  timeout 90 "$PY" benchmarks/gpu_setup.py check --target "$site"
}

began=$(date +%s)
echo "=== setup"
if ! setup; then
  echo "=== setup: FAILED after $(( $(date +%s) - began )) s, nothing else can run"
  exit 1
fi
echo "=== setup: done after $(( $(date +%s) - began )) s"
[ -f "$SKUNSEEN_CIFAR" ] || echo "warning: no archive at $SKUNSEEN_CIFAR (benchmarks use random images)"

# The same test command in both modes: collecting every test module is itself a check.
PYTEST=("$PY" -m pytest -m cuda tests -v -rs --durations=0 -p no:cacheprovider
        -o addopts="--strict-markers" --continue-on-collection-errors)
DATA=(--data "$SKUNSEEN_CIFAR")
# The GPU run's arguments (step limits: 45, 75 and 100 s; budgets 10-15 s below).
THROUGHPUT=(--devices cuda --quick "${DATA[@]}" --budget-s 35 --out "$LOGS/throughput.md")
PROTOTYPE=(--epochs 2 --rounds 1 "${DATA[@]}" --budget-s 60
           --out "$LOGS/fold_batching_prototype.md")
FOLD_BATCHING=(--device cuda --rounds 1 --rows digits-mlp cifar-cnn cifar-fastcifar
               full-fastcifar "${DATA[@]}" --budget-s 85 --out "$LOGS/fold_batching.md")
PROTOCOL=("${DATA[@]}" --cache-dir .cache --out "$LOGS")

if [ "$SMOKE" = 1 ]; then
  # The GPU run's arguments must parse: a typo would show only there.
  step "arguments" 60 "$PY" - throughput.py "${THROUGHPUT[@]}" -- \
    fold_batching_prototype.py "${PROTOTYPE[@]}" -- fold_batching.py "${FOLD_BATCHING[@]}" \
    -- gpu_protocol.py "${PROTOCOL[@]}" --budget-s 100 <<'PY'
import importlib.util, sys
sys.path.insert(0, "benchmarks")
calls, argv = [], []
for arg in sys.argv[1:] + ["--"]:
    if arg == "--":
        calls.append(argv)
        argv = []
    else:
        argv.append(arg)
for script, *args in calls:
    spec = importlib.util.spec_from_file_location(script[:-3], f"benchmarks/{script}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.parse_args(args)
    print(f"{script}: the GPU run's arguments parse")
PY
  # Limits far above the expected seconds (about 10-25 each on 2 idle CPUs):
  # they catch a hang, not a slow machine.
  step "cuda tests" 150 "${PYTEST[@]}"
  step "throughput" 90 "$PY" benchmarks/throughput.py --devices cpu,cuda --models cnn \
    --images 64 --epochs 2 "${DATA[@]}" --budget-s 75 --out "$LOGS/throughput.md"
  step "fold batching prototype" 90 "$PY" benchmarks/fold_batching_prototype.py --smoke \
    "${DATA[@]}" --budget-s 75 --out "$LOGS/fold_batching_prototype.md"
  step "fold batching" 90 "$PY" benchmarks/fold_batching.py --smoke --rows digits-mlp \
    "${DATA[@]}" --budget-s 75 --out "$LOGS/fold_batching.md"
  step "protocol" 150 "$PY" benchmarks/gpu_protocol.py --smoke "${DATA[@]}" --out "$LOGS" \
    --budget-s 130
else
  step "cuda tests" 100 "${PYTEST[@]}"
  step "throughput" 45 "$PY" benchmarks/throughput.py "${THROUGHPUT[@]}"
  step "fold batching prototype" 75 "$PY" benchmarks/fold_batching_prototype.py "${PROTOTYPE[@]}"
  step "fold batching" 100 "$PY" benchmarks/fold_batching.py "${FOLD_BATCHING[@]}"
  # The rest of the suite's budget, less the kill grace and the closing lines;
  # the protocol stops 20 s before its limit (and at once if one training cannot fit).
  limit=$(( $(left) - 15 ))
  limit=$(( limit > 30 ? limit : 30 ))
  step "protocol" "$limit" "$PY" benchmarks/gpu_protocol.py "${PROTOCOL[@]}" \
    --budget-s "$(( limit - 20 ))"
fi

echo
echo "=== suite: $(( $(date +%s) - START )) s"
if [ ${#FAILED[@]} -gt 0 ]; then
  printf '=== FAILED: %s\n' "${FAILED[@]}"
  exit 1
fi
echo "=== all steps passed"
