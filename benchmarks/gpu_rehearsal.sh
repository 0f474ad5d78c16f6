#!/usr/bin/env bash
# Rehearses benchmarks/gpu_suite.sh with the GPU machine's Python and package
# versions, on this machine's CPUs, so that the GPU run works the first time.
#
#   bash benchmarks/gpu_rehearsal.sh [LOG_DIR]
#
# 1. Builds a virtual environment from REHEARSAL_PYTHON with what the GPU
#    machine has: torch 2.11.0 and torchvision 0.26.0 (PyPI's Linux builds,
#    which are the machine's CUDA 13.0 builds; here they run on the CPU), numpy
#    2.5.2, a scikit-learn older than skunseen needs and a narwhals older than
#    scikit-learn 1.9 needs, and the rest of what the suite imports (scipy,
#    joblib, threadpoolctl, pandas, matplotlib, tqdm, pillow, pytest and the
#    pytest plugins the machine has, hypothesis, tabulate, packaging); none of
#    skorch, imbalanced-learn or dask.
#    The wheels are downloaded once into REHEARSAL_DIR/wheelhouse; the
#    environment is rebuilt when the versions asked for change.
# 2. Puts the wheels the suite carries into .whl/ (benchmarks/README.md's
#    `pip download` command) unless .whl/ already holds skorch and scikit-learn.
# 3. Runs the suite in smoke mode with that interpreter: its setup installs
#    the carried wheels exactly as it does on the GPU machine.
#
# Environment:
#   REHEARSAL_PYTHON   interpreter to build from (default python3.12; a pyenv
#                      3.12 is found when python3.12 is not on PATH)
#   REHEARSAL_DIR      environment and wheelhouse (default ~/.cache/skunseen-rehearsal;
#                      about 8 GB, most of it torch's CUDA libraries)
#   REHEARSAL_OFFLINE=1  install from the wheelhouse without asking the index
#   TORCH_VERSION TORCHVISION_VERSION NUMPY_VERSION SKLEARN_VERSION NARWHALS_VERSION
#                      the machine's versions (defaults below)
#   SKORCH_WHEEL SKLEARN_WHEEL   versions of the carried wheels (1.4.0, 1.8.0)
#   SKUNSEEN_CIFAR, SKUNSEEN_SUITE_ONLY are passed on to the suite.
# Exit status: the suite's.
set -euo pipefail
cd "$(dirname "$0")/.."

LOGS=${1:-runs/gpu_rehearsal}
DIR=${REHEARSAL_DIR:-$HOME/.cache/skunseen-rehearsal}
TORCH=${TORCH_VERSION:-2.11.0}
TORCHVISION=${TORCHVISION_VERSION:-0.26.0}
NUMPY=${NUMPY_VERSION:-2.5.2}
SKLEARN=${SKLEARN_VERSION:-1.5.2}
NARWHALS=${NARWHALS_VERSION:-1.48.1}
SKORCH_WHEEL=${SKORCH_WHEEL:-1.4.0}
SKLEARN_WHEEL=${SKLEARN_WHEEL:-1.8.0}
# pytest with the plugins the machine has, which load into every pytest run
PACKAGES=("torch==$TORCH" "torchvision==$TORCHVISION" "numpy==$NUMPY" "scikit-learn==$SKLEARN"
          "narwhals==$NARWHALS" scipy joblib threadpoolctl pandas matplotlib tqdm pillow pytest
          pytest-xdist pytest-timeout pytest-mock pytest-cov pytest-benchmark hypothesis tabulate
          packaging)
began=$(date +%s)

# --- the interpreter
PY=${REHEARSAL_PYTHON:-python3.12}
if ! "$PY" -c pass 2> /dev/null && [ -z "${REHEARSAL_PYTHON:-}" ] \
    && command -v pyenv > /dev/null; then
  PY=$(ls -d "$(pyenv root)"/versions/3.12*/bin/python3.12 2> /dev/null | sort -V | tail -n 1)
fi
if [ -z "$PY" ] || ! "$PY" -c pass 2> /dev/null; then
  echo "rehearsal: no interpreter at '${REHEARSAL_PYTHON:-python3.12}'; set REHEARSAL_PYTHON"
  exit 2
fi
version=$("$PY" -c 'import platform; print(platform.python_version())')
echo "=== rehearsal: $PY (Python $version; the GPU machine runs 3.12.3)"
[[ $version == 3.12.* ]] \
  || echo "warning: not a Python 3.12: the carried cp312 wheels will not install"

# --- the environment
VENV=$DIR/venv
STAMP="python $version; ${PACKAGES[*]}"
if [ "$(cat "$VENV/.rehearsal" 2> /dev/null)" != "$STAMP" ]; then
  mkdir -p "$DIR/wheelhouse"
  if [ "${REHEARSAL_OFFLINE:-0}" != 1 ]; then
    echo "=== rehearsal: downloading into $DIR/wheelhouse (once; about 3 GB)"
    "$PY" -m pip download -q --only-binary=:all: -d "$DIR/wheelhouse" "${PACKAGES[@]}"
  fi
  echo "=== rehearsal: building $VENV"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --no-index --find-links "$DIR/wheelhouse" "${PACKAGES[@]}"
  echo "$STAMP" > "$VENV/.rehearsal"
else
  echo "=== rehearsal: reusing $VENV (same versions)"
fi
for absent in skorch imblearn dask distributed; do
  if "$VENV/bin/python" -c "import $absent" 2> /dev/null; then
    echo "rehearsal: $absent is importable in $VENV, unlike on the GPU machine"
    exit 2
  fi
done

# --- the carried wheels, as benchmarks/README.md fetches them
if ! compgen -G ".whl/skorch-*.whl" > /dev/null \
    || ! compgen -G ".whl/scikit_learn-*.whl" > /dev/null; then
  echo "=== rehearsal: fetching the carried wheels into .whl/"
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl "skorch==$SKORCH_WHEEL" "scikit-learn==$SKLEARN_WHEEL"
fi
echo "=== rehearsal: carried: $(cd .whl && ls ./*.whl | sed 's|^\./||' | tr '\n' ' ')"
echo "=== rehearsal: environment ready after $(( $(date +%s) - began )) s"

# --- the suite, with nothing of this machine's Python environment leaking in
rc=0
mkdir -p "$LOGS" && rm -f "$LOGS/suite.log"
env -u PYTHONPATH -u VIRTUAL_ENV PYTHON="$VENV/bin/python" SKUNSEEN_SUITE_SMOKE=1 \
  bash benchmarks/gpu_suite.sh "$LOGS" || rc=$?
echo "=== rehearsal: suite exit $rc; $(( $(date +%s) - began )) s in all; log in $LOGS/suite.log"
exit "$rc"
