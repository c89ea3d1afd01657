#!/usr/bin/env bash
# Real Keras loads crossdev's exported weights: test_keras --export writes
# .weights.h5 files with xd_weights_save_h5 (and the same weights as .npy),
# then tools/keras/check-export.py loads each into its model with
# model.load_weights and compares every weight with numpy, bit for bit.
# Keras comes from tools/setup (build/pypi/keras).  Where setup ran (its
# other PyPI folders are there) a missing Keras is a FAILURE; only where
# setup never ran is the test skipped (77).
# usage: test_keras_export.sh TEST_KERAS FIXTURES-DIR PYPI-DIR
set -uo pipefail
TEST_KERAS=$1 FIXTURES=$2 PYPI=$3
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=$PYPI/keras/bin/python
if [ ! -x "$PY" ]; then
  if [ -f "$PYPI/intel-opencl/.requirements" ] || [ -f "$PYPI/pocl/.requirements" ]; then
    echo "FAIL: tools/setup ran here ($PYPI) but $PY is missing: run tools/setup again (it installs Keras)"
    exit 1
  fi
  echo "SKIP: tools/setup never ran here: no Keras under $PYPI"
  exit 77
fi
WORK=$(mktemp -d /tmp/xd-keras-export-XXXXXX); trap 'rm -rf "$WORK"' EXIT
"$TEST_KERAS" "$FIXTURES" --export "$WORK" || { echo "FAIL: test_keras --export"; exit 1; }
"$PY" "$ROOT/tools/keras/check-export.py" "$FIXTURES" "$WORK" all-layers variants residual 2>&1 | grep -v "UserWarning\|warnings.warn"
rc=${PIPESTATUS[0]}
[ "$rc" -eq 0 ] && echo "test_keras_export: passed" || echo "test_keras_export: FAILED"
exit "$rc"
