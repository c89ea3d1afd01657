#!/usr/bin/env bash
# crossdev's Python package without a framework (tools/python/crossdev):
#  - its parts (tests/python/test_package.py): the JSON text against
#    libjansson itself, .npy headers against numpy.save, both XXH3 backends,
#    the snapshot schedule step by step, publication that never replaces,
#    an exception that publishes nothing;
#  - TraceWriter byte for byte against the C writer: the tensors of a trace
#    crossdev made with a snapshot at every step, written again with the
#    metadata and schedule of crossdev's traces of the same run (every step;
#    the default schedule planned ahead and step by step; the libxxhash
#    backend): every file identical (tests/python/check_trace_writer.py);
#  - `pip install ./tools/python` in a fresh virtual environment, and
#    importing crossdev.trace imports neither torch nor keras.
# Needs /usr/bin/python3 with numpy (tools/setup installs it) and a PoCL
# device to make the C traces (SKIP, 77, without one).
# usage: test_python_trace.sh
. "$(dirname "$0")/common.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
export PYTHONPATH=$ROOT/tools/python PYTHONDONTWRITEBYTECODE=1
DEV=pocl/pthread
"$XD_CLI" list --ids 2>/dev/null | grep -q "$DEV" || { echo "SKIP: no $DEV device to make the C traces"; exit 77; }

OUT=$("$PY" "$ROOT/tests/python/test_package.py" 2>&1); rc=$?
echo "$OUT" | tail -1
check "the package's parts (test_package.py)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || echo "$OUT" | tail -20

# the same run three times: every step snapshotted, and the default schedule
expect_exit 0 "crossdev run, every step snapshotted" "$XD_CLI" run --device $DEV --steps 12 --snapshot-every 1 \
  --hash-ops --eval-every 5 --eval-limit 200 --quiet --out "$WORK/every"
expect_exit 0 "crossdev run, the default schedule" "$XD_CLI" run --device $DEV --steps 12 --hash-ops --eval-every 5 \
  --eval-limit 200 --quiet --out "$WORK/default"
CHECK=("$PY" "$ROOT/tests/python/check_trace_writer.py" "$WORK/every")
OUT=$("${CHECK[@]}" "$WORK/every" "$WORK/w-every" 2>&1); rc=$?
echo "$OUT" | tail -1
check "TraceWriter = the C writer, every step snapshotted" test "$rc" -eq 0
OUT=$("${CHECK[@]}" "$WORK/default" "$WORK/w-default" 2>&1); rc=$?
echo "$OUT" | tail -1
check "TraceWriter = the C writer, the default schedule planned ahead" test "$rc" -eq 0
OUT=$("${CHECK[@]}" "$WORK/default" "$WORK/w-online" --online 2>&1); rc=$?
echo "$OUT" | tail -1
check "TraceWriter = the C writer, the schedule decided step by step" test "$rc" -eq 0
OUT=$(CROSSDEV_HASH_BACKEND=libxxhash "${CHECK[@]}" "$WORK/default" "$WORK/w-ctypes" 2>&1); rc=$?
check "TraceWriter = the C writer, hashes from libxxhash through ctypes" test "$rc" -eq 0
expect_exit 0 "diff reads the Python writer's trace" "$XD_CLI" diff "$WORK/default" "$WORK/w-default"
check "... IDENTICAL" contains "$OUT" "IDENTICAL"

# installable; no framework imported by the framework-free modules
cp -r "$ROOT/tools/python" "$WORK/src"
"$PY" -m venv --system-site-packages "$WORK/venv" >/dev/null 2>&1
OUT=$(cd "$WORK" && "$WORK/venv/bin/pip" install -q --no-build-isolation --no-deps --disable-pip-version-check \
  "$WORK/src" 2>&1); rc=$?
check "pip install ./tools/python" test "$rc" -eq 0
[ "$rc" -eq 0 ] || echo "$OUT" | tail -5
OUT=$(cd "$WORK" && env -u PYTHONPATH "$WORK/venv/bin/python" -c "
import sys, crossdev, crossdev.trace, crossdev.data, crossdev.layout, crossdev.philox, crossdev.replay
print(crossdev.__file__, sorted(m for m in ('torch', 'keras') if m in sys.modules))" 2>&1)
check "the installed package imports (from site-packages)" contains "$OUT" "$WORK/venv/lib"
check "... and imports neither torch nor keras" contains "$OUT" "[]"
check "crossdev-replay --help" bash -c "'$WORK/venv/bin/crossdev-replay' --help | grep -q -- --framework"
finish
