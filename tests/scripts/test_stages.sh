#!/usr/bin/env bash
# The stage order as a build fact (host/README.md): tools/check-stages on
# this tree and this build (graph, includes, calls between the object files)
# must pass; then, on copies of host/, include/ and the two graph files,
# each planted fault must be found, named by its file: an umbrella include
# inside host/, an include up the stages, the kernels' header outside math
# and ops, an OpenCL header in a device-free stage, a public header that
# includes a later stage's, a public header without a stage, the README's
# table and host/CMakeLists.txt drawing different graphs, a device-free
# stage using core; and, on two small object files, a call up the stages
# and two files calling each other.
# usage: test_stages.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
SRC=$1 BUILD=$2
CHECK="$SRC/tools/check-stages"
PASSED=0 FAILED=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/xd-test_stages-XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# expect RC DESCRIPTION TEXT -- COMMAND...: exit status RC and TEXT in the output
expect() {
  local want=$1 what=$2 text=$3; shift 4
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" -eq "$want" ] && grep -qF -- "$text" <<<"$out"; then PASSED=$((PASSED + 1)); else
    FAILED=$((FAILED + 1)); echo "FAIL: $what: exit $rc (expected $want), wanted '$text' in:"
    sed 's/^/    /' <<<"$out" | tail -8
  fi
}

expect 0 "this tree and build" "graph, includes and calls in order" -- "$CHECK" --objects "$BUILD"

# A fresh copy of what check-stages reads, then one fault planted in it.
fresh() {
  rm -rf "$WORK/t"
  mkdir -p "$WORK/t"
  cp -r "$SRC/host" "$SRC/include" "$WORK/t/"
}
plant() { # plant FILE LINE: LINE added after the file's first #include
  sed -i "0,/^#include/s||$2\n&|" "$WORK/t/$1"
}
fresh
expect 0 "the clean copy" "graph, includes in order" -- "$CHECK" --root "$WORK/t"
# FILE|LINE PLANTED|WHAT THE CHECK MUST SAY (after "FILE:N: LINE: ")
while IFS='|' read -r file line text; do
  fresh; plant "$file" "$line"
  expect 1 "$line in $file" "$line: $text" -- "$CHECK" --root "$WORK/t"
  expect 1 "$line in $file, named" "$file:" -- "$CHECK" --root "$WORK/t"
done <<'CASES'
host/io/npy.c|#include "crossdev/crossdev.h"|the umbrella header is for users
host/compare/svg.c|#include "core/core.h"|compare may not use core
host/io/idx.c|#include "crossdev/tensor.h"|io may not use core
host/train/train.c|#include "xd_math.h"|the kernels' header is for math and ops alone
host/spec/zip.c|#include <CL/cl.h>|OpenCL is not a library of spec
host/core/tensor.c|#include <clblast_c.h>|clblast is not a library of core
include/crossdev/trace.h|#include "crossdev/train.h"|io may not use train
CASES
fresh; printf '#include "crossdev/status.h"\n' >"$WORK/t/include/crossdev/extra.h"
expect 1 "a public header without a stage" "include/crossdev/extra.h: a public header without a stage" -- \
  "$CHECK" --root "$WORK/t"
fresh; sed -i 's/| common, spec, jansson, zlib |$/| common, spec, jansson, zlib, xxhash |/' "$WORK/t/host/README.md"
expect 1 "README and CMake apart" "stage io may use common, spec, jansson, zlib, xxhash in the table" -- \
  "$CHECK" --root "$WORK/t"
fresh; sed -i 's/^set(XD_USES_compare io)$/set(XD_USES_compare io core)/' "$WORK/t/host/CMakeLists.txt"
expect 1 "a device-free stage using core" "device-free stage compare uses core" -- "$CHECK" --root "$WORK/t"
fresh; sed -i 's/^set(XD_USES_spec common /set(XD_USES_spec common io /' "$WORK/t/host/CMakeLists.txt"
expect 1 "a stage using a later one" "stage spec uses io, which is not before it" -- "$CHECK" --root "$WORK/t"

# Calls, on object files made here: two core files calling each other, and
# a compare file calling into core.
fresh
objs="$WORK/b/host/CMakeFiles"
mkdir -p "$objs/xd_core.dir/core" "$objs/xd_compare.dir/compare"
printf 'int b(void);\nint a(void) { return b(); }\n' >"$WORK/a.c"
printf 'int a(void);\nint b(void) { return a() + 1; }\n' >"$WORK/b.c"
printf 'int a(void);\nint c(void) { return a(); }\n' >"$WORK/c.c"
cc -c "$WORK/a.c" -o "$objs/xd_core.dir/core/a.c.o" && cc -c "$WORK/b.c" -o "$objs/xd_core.dir/core/b.c.o" &&
  cc -c "$WORK/c.c" -o "$objs/xd_compare.dir/compare/c.c.o"
# their sources in the tree (an object whose source is gone is a stale one, not checked)
cp "$WORK/a.c" "$WORK/b.c" "$WORK/t/host/core/" && cp "$WORK/c.c" "$WORK/t/host/compare/"
expect 1 "a call cycle" "files call each other in a cycle: core/a -> core/b" -- \
  "$CHECK" --root "$WORK/t" --objects "$WORK/b"
expect 1 "a call up the stages" "host/compare/c.c: calls host/core/a.c: compare may not use core" -- \
  "$CHECK" --root "$WORK/t" --objects "$WORK/b"

echo "test_stages: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
