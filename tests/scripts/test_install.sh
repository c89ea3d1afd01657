#!/usr/bin/env bash
# cmake --install gives a usable package: headers, library, CLI, pkg-config
# file and CMake package config; a consumer builds against each and runs.
# usage: test_install.sh BUILD_DIR
set -uo pipefail
BUILD=$1
PASSED=0; FAILED=0
WORK=$(mktemp -d /tmp/xd-install-XXXXXX); trap 'rm -rf "$WORK"' EXIT
check() { local what=$1; shift; if "$@" >"$WORK/log" 2>&1; then PASSED=$((PASSED+1)); else FAILED=$((FAILED+1)); echo "FAIL: $what"; tail -5 "$WORK/log"; fi; }
check "cmake --install" cmake --install "$BUILD" --prefix "$WORK/p"
for f in bin/crossdev-compare include/crossdev/crossdev.h include/crossdev/version.h lib/pkgconfig/crossdev.pc \
         lib/cmake/crossdev/crossdevConfig.cmake share/crossdev/vendors lib/libcrossdev_trace.a; do
  check "installed $f" test -e "$WORK/p/$f"
done
cat > "$WORK/c.c" <<'C'
#include <crossdev/crossdev.h>
#include <stdio.h>
int main(void) { return xd_version_number() == XD_VERSION_MAJOR * 10000 + XD_VERSION_MINOR * 100 + XD_VERSION_PATCH ? 0 : 1; }
C
check "pkg-config consumer builds" bash -c "gcc '$WORK/c.c' \$(PKG_CONFIG_PATH='$WORK/p/lib/pkgconfig' pkg-config --cflags --libs crossdev) -Wl,-rpath,'$WORK/p/lib' -o '$WORK/c1'"
check "pkg-config consumer runs" "$WORK/c1"
mkdir -p "$WORK/cm"
printf 'cmake_minimum_required(VERSION 3.25)\nproject(c C)\nfind_package(crossdev 0.1 REQUIRED)\nadd_executable(c2 %s)\ntarget_link_libraries(c2 PRIVATE crossdev::crossdev)\n' "$WORK/c.c" > "$WORK/cm/CMakeLists.txt"
check "find_package consumer configures" cmake -S "$WORK/cm" -B "$WORK/cm/b" -DCMAKE_PREFIX_PATH="$WORK/p"
check "find_package consumer builds" cmake --build "$WORK/cm/b"
check "find_package consumer runs" "$WORK/cm/b/c2"
# A diff-only consumer: crossdev_trace (no OpenCL) reads traces; a missing
# one is refused naming the folder.
cat > "$WORK/t.c" <<'C'
#include <crossdev/trace.h>
#include <crossdev/version.h>
#include <string.h>
int main(void)
{
    xd_trace *t = NULL;
    xd_error err;
    xd_status st = xd_trace_open("/nonexistent-trace", &t, &err);
    return xd_version_number() > 0 && st != XD_OK && strstr(err.message, "/nonexistent-trace") ? 0 : 1;
}
C
mkdir -p "$WORK/ct"
printf 'cmake_minimum_required(VERSION 3.25)\nproject(t C)\nfind_package(crossdev 0.1 REQUIRED)\nadd_executable(t %s)\ntarget_link_libraries(t PRIVATE crossdev::crossdev_trace)\n' "$WORK/t.c" > "$WORK/ct/CMakeLists.txt"
check "crossdev_trace consumer configures" cmake -S "$WORK/ct" -B "$WORK/ct/b" -DCMAKE_PREFIX_PATH="$WORK/p"
check "crossdev_trace consumer builds" cmake --build "$WORK/ct/b"
check "crossdev_trace consumer runs" "$WORK/ct/b/t"
check "crossdev_trace consumer needs no OpenCL" bash -c "! ldd '$WORK/ct/b/t' | grep -qi opencl"
check "installed CLI runs" "$WORK/p/bin/crossdev-compare" --version
echo "test_install: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
