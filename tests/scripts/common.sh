# Shared helpers for the end-to-end script tests (sourced).
# XD_CLI: path to crossdev-compare (set by CTest).
set -uo pipefail
: "${XD_CLI:?XD_CLI must point at crossdev-compare}"
TEST_NAME=${TEST_NAME:-$(basename "$0" .sh)}
PASSED=0
FAILED=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/xd-$TEST_NAME-XXXXXX")
trap 'umount "$WORK/tiny" 2>/dev/null; rm -rf "$WORK"' EXIT

check() { # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); echo "FAIL: $what"; fi
}
# expect_exit CODE DESCRIPTION -- runs the rest, captures output in $OUT
expect_exit() {
  local want=$1 what=$2; shift 2
  OUT=$("$@" 2>&1); local rc=$?
  if [ "$rc" -eq "$want" ]; then PASSED=$((PASSED + 1)); else
    FAILED=$((FAILED + 1)); echo "FAIL: $what: exit $rc, expected $want"; echo "$OUT" | tail -5 | sed 's/^/    /'; fi
}
contains() { grep -qF -- "$2" <<<"$1"; }
not_contains() { ! grep -qF -- "$2" <<<"$1"; }
json_get() { # json_get FILE PYTHON-EXPR-ON-d
  /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"
}
finish() {
  echo "$TEST_NAME: $PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}
# require_framework PYPI-DIR WHAT COMMAND...: a framework the test needs
# (COMMAND succeeds when it is there).  Missing where tools/setup ran (its
# PyPI folders exist) is a FAILURE; only where setup never ran is the test
# skipped (77).
require_framework() {
  local pypi=$1 what=$2; shift 2
  "$@" >/dev/null 2>&1 && return 0
  if [ -f "$pypi/intel-opencl/.requirements" ] || [ -f "$pypi/pocl/.requirements" ]; then
    echo "FAIL: tools/setup ran here ($pypi) but $what is missing: run tools/setup again (it installs it)"
    exit 1
  fi
  echo "SKIP: tools/setup never ran here: no $what"
  exit 77
}
# report_check NAME CHECK-ARGS...: tests/python/check_report.py on
# $WORK/NAME.json (a diff --json report), its lines shown
report_check() {
  local name=$1 out rc; shift
  out=$(/usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/../python/check_report.py" "$WORK/$name.json" "$@" 2>&1)
  rc=$?
  echo "$out" | sed "s/^/  $name: /"
  return $rc
}
