#!/usr/bin/env bash
# The one command to run on a GPU machine: CUDA tests, fast-path throughput,
# fold batching (the plain-PyTorch prototype and through the pruner), then the
# CIFAR-10 protocol in the time left.
#
#   bash benchmarks/gpu_suite.sh [LOG_DIR]
#
# LOG_DIR (or SKUNSEEN_SUITE_LOGS; default runs/gpu_suite) receives suite.log
# (everything printed), gpu_protocol.md and gpu_protocol.json. See
# benchmarks/README.md ("GPU suite") for how to bring the archive and wheels.
#
# Environment:
#   SKUNSEEN_CIFAR           CIFAR-10 JPEG archive (default data/cifar10-jpeg.tar.gz)
#   SKUNSEEN_SUITE_SECONDS   wall-clock budget of the whole suite (default 540)
#   SKUNSEEN_SUITE_SMOKE=1   tiny sizes on the CPU: checks this script (the test suite runs it)
#   SKUNSEEN_SUITE_ONLY      comma-separated step names to run, e.g. "protocol" for a rerun
#   PYTHON                   interpreter (default python3)
#
# Every step runs under its own time limit; a failing step is reported and the
# next one still runs; the exit status is non-zero when any step failed.
set -uo pipefail
cd "$(dirname "$0")/.."

LOGS=${1:-${SKUNSEEN_SUITE_LOGS:-runs/gpu_suite}}
mkdir -p "$LOGS"
exec > >(tee -a "$LOGS/suite.log") 2>&1

PY=${PYTHON:-python3}
BUDGET=${SKUNSEEN_SUITE_SECONDS:-540}
SMOKE=${SKUNSEEN_SUITE_SMOKE:-0}
ONLY=${SKUNSEEN_SUITE_ONLY:-}
export SKUNSEEN_CIFAR=${SKUNSEEN_CIFAR:-data/cifar10-jpeg.tar.gz}
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
  timeout --kill-after=20 "$limit" "$@"
  rc=$?
  echo "=== $name: exit $rc after $(( $(date +%s) - began )) s"
  if [ "$rc" -ne 0 ]; then
    FAILED+=("$name (exit $rc$([ "$rc" -eq 124 ] && echo ', timed out'))")
  fi
  return "$rc"
}

# Python packages the machine lacks travel as wheels in .whl/ (benchmarks/README.md).
setup() {
  local site=${TMPDIR:-/tmp}/skunseen-site
  if compgen -G ".whl/*.whl" > /dev/null; then
    local wanted=()
    "$PY" -c "import skorch" 2>/dev/null || wanted+=(.whl/skorch-*.whl)
    "$PY" -c "from sklearn.utils.validation import validate_data" 2>/dev/null \
      || wanted+=(.whl/scikit_learn-*.whl)
    if [ ${#wanted[@]} -gt 0 ]; then
      "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
        --target "$site" "${wanted[@]}" || return 1
      export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
    fi
  fi
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
  command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version \
    --format=csv
  "$PY" - <<'PY'
import sys, sklearn, skorch, torch, torchvision
import skunseen
print(f"python {sys.version.split()[0]}, torch {torch.__version__}, torchvision "
      f"{torchvision.__version__}, skorch {skorch.__version__}, scikit-learn "
      f"{sklearn.__version__}, skunseen {skunseen.__version__}")
print("CUDA:", torch.cuda.get_device_name() if torch.cuda.is_available() else "none")
PY
}

echo "=== setup"
setup || { echo "=== setup: FAILED, nothing else can run"; exit 1; }
[ -f "$SKUNSEEN_CIFAR" ] || echo "warning: no archive at $SKUNSEEN_CIFAR (benchmarks use random images)"

if [ "$SMOKE" = 1 ]; then
  step "cuda tests" 120 "$PY" -m pytest -m cuda -q -rs -p no:cacheprovider \
    -o addopts="--strict-markers" tests/models/test_fastcifar.py
  step "throughput" 120 "$PY" benchmarks/throughput.py --devices cpu,cuda --models cnn \
    --images 64 --epochs 2 --data "$SKUNSEEN_CIFAR"
  step "fold batching prototype" 120 "$PY" benchmarks/fold_batching_prototype.py --smoke \
    --data "$SKUNSEEN_CIFAR"
  step "fold batching" 120 "$PY" benchmarks/fold_batching.py --smoke --rows digits-mlp \
    --data "$SKUNSEEN_CIFAR"
  step "protocol" 240 "$PY" benchmarks/gpu_protocol.py --smoke --data "$SKUNSEEN_CIFAR" \
    --out "$LOGS"
else
  step "cuda tests" 100 "$PY" -m pytest -m cuda -q -rA -p no:cacheprovider \
    -o addopts="--strict-markers" --continue-on-collection-errors tests
  step "throughput" 45 "$PY" benchmarks/throughput.py --devices cuda --quick \
    --data "$SKUNSEEN_CIFAR"
  step "fold batching prototype" 45 "$PY" benchmarks/fold_batching_prototype.py \
    --epochs 2 --rounds 1 --data "$SKUNSEEN_CIFAR"
  step "fold batching" 100 "$PY" benchmarks/fold_batching.py --device cuda --rounds 1 \
    --rows digits-mlp cifar-cnn cifar-fastcifar full-fastcifar --data "$SKUNSEEN_CIFAR"
  remaining=$(left)
  step "protocol" "$(( remaining > 60 ? remaining : 60 ))" "$PY" benchmarks/gpu_protocol.py \
    --data "$SKUNSEEN_CIFAR" --cache-dir .cache --out "$LOGS" \
    --budget-s "$(( remaining > 90 ? remaining - 30 : 60 ))"
fi

echo
echo "=== suite: $(( $(date +%s) - START )) s"
if [ ${#FAILED[@]} -gt 0 ]; then
  printf '=== FAILED: %s\n' "${FAILED[@]}"
  exit 1
fi
echo "=== all steps passed"
