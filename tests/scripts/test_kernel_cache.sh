#!/usr/bin/env bash
# The kernel-binary cache (host/core/program_cache.c, docs/drivers.md), on
# PoCL pthread and on Intel's CPU runtime where present, in a fresh cache
# folder ($XD_KERNEL_CACHE), with XD_KERNEL_CACHE_LOG=1's stderr lines as
# the evidence of what the cache did:
#   - a first run compiles and stores entries, a second loads every one and
#     gives a trace (with --hash-ops) IDENTICAL to the first's;
#   - the self-test still runs on the loaded program (XD_PROFILE=1 counts
#     its probe kernels);
#   - an entry with a byte flipped in the middle, and one cut short, are
#     refused, recompiled and rewritten, the run IDENTICAL;
#   - without XD_KERNEL_CACHE_LOG a cached run prints nothing of the cache;
#   - PoCL keeps its own cache, and crossdev's passes it by (nothing
#     stored) unless XD_KERNEL_CACHE_ALL=1, which the rest of its runs set;
#   - on PoCL pthread also: another POCL_* (or OCLGRIND_*) variable is another key; the
#     default folder ($HOME/.cache/crossdev/...)
#     when XD_KERNEL_CACHE is unset; the cache off (XD_KERNEL_CACHE=off) writes
#     nothing and trains IDENTICAL; a cache folder that cannot be made (its
#     parent is a file) still runs, IDENTICAL; a folder others may write to
#     is not used.  (On Intel's runtime the first
#     run is the compile from source that "off" would be.)
# No such device: SKIP (77).
. "$(dirname "$0")/common.sh"
PY=/usr/bin/python3
ids=$("$XD_CLI" list --ids 2>/dev/null)
DEVS=$(grep -m1 '^pocl/pthread' <<<"$ids"; grep -m1 '^intel-opencl/' <<<"$ids")
[ -n "$DEVS" ] || { echo "SKIP: neither PoCL pthread nor Intel's CPU runtime is here"; exit 77; }

index_of() { # the "P:D" index of an exact device id
  "$XD_CLI" list --json | $PY -c "import json,sys; print([d['index'] for d in json.load(sys.stdin)['devices'] if d['id']==sys.argv[1]][0])" "$1"
}
# run NAME CACHE [ENV...]: a trace $W/NAME with XD_KERNEL_CACHE=CACHE; its
# stderr in $W/NAME.err
run() {
  local name=$1 cache=$2; shift 2
  env XD_KERNEL_CACHE="$cache" XD_KERNEL_CACHE_LOG=1 "${ALL[@]}" "$@" "$XD_CLI" run "${RUN[@]}" --out "$W/$name" \
    >"$W/$name.out" 2>"$W/$name.err"
}
identical() { # identical A B: diff's verdict on the pair is IDENTICAL
  "$XD_CLI" diff --json "$W/$1-$2.json" "$W/$1" "$W/$2" >/dev/null 2>&1 &&
    test "$(json_get "$W/$1-$2.json" "[p['verdict'] for p in d['pairs']]")" = "['IDENTICAL']"
}
count() { grep -c "^crossdev kernel cache: $1 " "$W/$2.err"; }
entries() { find "$1" -name '*.xdbin' | wc -l; }
# flip FILE: one byte in the middle inverted; cut FILE: its second half gone
flip() { $PY -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=0xff; open(p,'wb').write(b)" "$1"; }
cut() { $PY -c "import sys,os; p=sys.argv[1]; os.truncate(p, os.path.getsize(p)//2)" "$1"; }

# PoCL's own cache where it is now, for the runs given another HOME (a cold
# PoCL compiles for half a minute)
POCL_HOME=(POCL_CACHE_DIR="${POCL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pocl/kcache}")

for DEV in $DEVS; do
  W=$WORK/${DEV%%/*}
  mkdir -p "$W"
  C=$W/cache
  RUN=(--device "$(index_of "$DEV")" --synthetic --batch 8 --steps 3 --eval-limit 32 --quiet --hash-ops)
  echo "device: $DEV"
  ALL=()
  if [[ $DEV == pocl/* ]]; then
    # PoCL keeps its own cache: crossdev's passes it by, unless told
    check "$DEV: run without XD_KERNEL_CACHE_ALL" run bypassed "$W/bypassed-cache"
    check "$DEV: crossdev's cache passes PoCL by and stores nothing" \
      test "$(grep -c "passed by" "$W/bypassed.err")" -ge 1 -a ! -e "$W/bypassed-cache"
    ALL=(XD_KERNEL_CACHE_ALL=1)
  fi
  check "$DEV: first run" run cold "$C"
  n=$(entries "$C")
  check "$DEV: the first run stores an entry per build ($n)" test "$n" -ge 1 -a "$(count stored cold)" -eq "$n"
  check "$DEV: the cache folder is private (0700)" test "$(stat -c %a "$C")" = 700
  check "$DEV: second run" run warm "$C" XD_PROFILE=1
  check "$DEV: the second run loads every entry and compiles none" \
    test "$(count loaded warm)" -eq "$n" -a "$(count missed warm)" -eq 0 -a "$(count stored warm)" -eq 0
  check "$DEV: the self-test runs on the loaded program" grep -q '^ *probe_math  *[1-9]' "$W/warm.err"
  check "$DEV: cached run IDENTICAL to the compiled one" identical cold warm

  E=$(find "$C" -name '*.xdbin' | sort | head -1)
  before=$(md5sum <"$E")
  flip "$E"
  check "$DEV: run on a flipped entry" run flipped "$C"
  check "$DEV: the flipped entry is refused (checksum) and rewritten" \
    test "$(grep -c "refused.*checksum" "$W/flipped.err")" -eq 1 -a "$(count stored flipped)" -eq 1
  check "$DEV: the rewritten entry is whole again" test "$(md5sum <"$E")" = "$before"
  check "$DEV: flipped-entry run IDENTICAL" identical cold flipped
  cut "$E"
  check "$DEV: run on a truncated entry" run truncated "$C"
  check "$DEV: the truncated entry is refused and rewritten" \
    test "$(grep -c "refused.*size" "$W/truncated.err")" -eq 1 -a "$(count stored truncated)" -eq 1
  check "$DEV: truncated-entry run IDENTICAL" identical cold truncated
  check "$DEV: quiet run" env XD_KERNEL_CACHE="$C" "${ALL[@]}" "$XD_CLI" run "${RUN[@]}" --out "$W/quiet" >"$W/quiet.out" 2>&1
  check "$DEV: without XD_KERNEL_CACHE_LOG the cache prints nothing" not_contains "$(cat "$W/quiet.out")" "kernel cache"

  [[ $DEV == pocl/* ]] || continue
  # a POCL_* (or CL_CONFIG_*) variable is part of the key: another entry
  check "$DEV: run with another POCL_ variable" run envvar "$C" POCL_DEBUG=0
  check "$DEV: another POCL_ variable misses and stores a new entry" \
    test "$(count missed envvar)" -eq "$n" -a "$(entries "$C")" -eq $((2 * n))
  # so is Oclgrind's (OCLGRIND_BUILD_OPTIONS adds build options), whatever the device
  check "$DEV: run with an OCLGRIND_ variable" run oclvar "$C" OCLGRIND_BUILD_OPTIONS=
  check "$DEV: an OCLGRIND_ variable misses and stores a new entry" \
    test "$(count missed oclvar)" -eq "$n" -a "$(entries "$C")" -eq $((3 * n))
  # the default folder: $XDG_CACHE_HOME/crossdev/kernels, else $HOME/.cache/...
  check "$DEV: run with the default folder" env -u XD_KERNEL_CACHE XD_KERNEL_CACHE_LOG=1 "${ALL[@]}" HOME="$W/home" \
    XDG_CACHE_HOME= "${POCL_HOME[@]}" "$XD_CLI" run "${RUN[@]}" --out "$W/default" >"$W/default.out" 2>&1
  check "$DEV: without XD_KERNEL_CACHE the entries go to \$HOME/.cache/crossdev/kernels" \
    test "$(entries "$W/home/.cache/crossdev/kernels")" -eq "$n"
  check "$DEV: run with the cache off" run off off HOME="$W/home-off" XDG_CACHE_HOME="$W/xdg-off" "${POCL_HOME[@]}"
  check "$DEV: off says nothing and writes nothing" \
    test ! -s "$W/off.err" -a ! -e "$W/home-off" -a ! -e "$W/xdg-off"
  check "$DEV: cache-off run IDENTICAL" identical cold off
  : >"$W/a-file"
  check "$DEV: run with a cache folder that cannot be made" run unwritable "$W/a-file/kernels"
  check "$DEV: that run says why it stored nothing" grep -q "not stored (cannot make the folder)" "$W/unwritable.err"
  check "$DEV: unwritable-cache run IDENTICAL" identical cold unwritable
  mkdir -p "$W/shared-cache" && cp "$C"/*.xdbin "$W/shared-cache/" && chmod 777 "$W/shared-cache"
  check "$DEV: run with a cache folder others may write to" run shared "$W/shared-cache"
  check "$DEV: that folder is not used (its entries are code)" \
    test "$(grep -c "not used" "$W/shared.err")" -eq "$n" -a "$(count loaded shared)" -eq 0
  check "$DEV: shared-folder run IDENTICAL" identical cold shared
done
finish
