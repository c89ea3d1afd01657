#!/usr/bin/env bash
# The GPU field kit (issue 16) end to end, on PoCL as if it were the GPU.
#   test_field_kit.sh BUILD_DIR
# tools/field-kit builds the kit from BUILD_DIR; it is unpacked from its
# archive into an empty folder and the built folder removed, so nothing can
# point back into the build; then `check --quick` runs with an empty
# environment but for LD_LIBRARY_PATH (the kit only), PATH (a folder of the
# commands of Debian's essential packages, what any Linux base system has,
# and PoCL's linker) and OCL_ICD_VENDORS (a folder holding only PoCL's .icd, the one driver
# allowed from /usr/lib).  Asserted:
# - every stage of the kit's stage table is in SUMMARY.md with PASS, the
#   reports and the details archive exist, and the GPU-vs-reference report
#   says IDENTICAL;
# - every program's libraries resolve inside the kit (ldd) and, at run time
#   (the LD_DEBUG record check makes), crossdev's own came from the kit and
#   everything else from /usr/lib was PoCL's library or its dependencies;
# - discovery: PoCL's library under NVIDIA's file name, in a driver folder
#   no .icd names, is found, registered in check's own vendors folder, and
#   its devices probed;
# - a planted divergence (stage 4 in fast mode) fails stage 4, naming the
#   first step and op;
# - SIGINT and SIGTERM mid-run: exit 130/143, SUMMARY.md with the stages
#   that finished, the interrupted one and the rest NOT RUN, nothing left
#   running;
# - with $OUT set (the device tool's folder): only SUMMARY.md and the
#   details archive land there;
# - bad input to tools/field-kit and check: exit 2 naming it, nothing written.
# SKIP (77) where PoCL is not registered or the Fashion-MNIST files are
# absent (tools/setup installs both).
. "$(dirname "$0")/common.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd -P)
BUILD=${1:?usage: test_field_kit.sh BUILD_DIR}
POCL_ICD=/etc/OpenCL/vendors/pocl.icd
[ -f "$POCL_ICD" ] || { echo "SKIP: PoCL not registered ($POCL_ICD absent)"; exit 77; }
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] ||
  { echo "SKIP: Fashion-MNIST not installed (dataset-fashion-mnist)"; exit 77; }
POCL_LIB=$(head -n 1 "$POCL_ICD")
if [[ $POCL_LIB != /* ]]; then # a file name: where the dynamic loader would find it
  for d in $(/sbin/ldconfig -p | awk '$NF ~ /^\// { sub(/\/[^\/]*$/, "", $NF); print $NF }' | sort -u); do
    [ -e "$d/$POCL_LIB" ] && POCL_LIB=$d/$POCL_LIB && break
  done
fi
POCL_LIB=$(readlink -f "$POCL_LIB")
[ -f "$POCL_LIB" ] || { echo "FAIL: PoCL's library '$(head -n 1 "$POCL_ICD")' not found"; exit 1; }

# ---- build, unpack where nothing points back --------------------------------------------
T0=$(date +%s)
expect_exit 0 "tools/field-kit builds the kit" "$SRC/tools/field-kit" --build "$BUILD" "$WORK/made/kit"
[ "$FAILED" -eq 0 ] || { echo "$OUT" | tail -20; finish; exit 1; }
echo "kit built in $(($(date +%s) - T0)) s; $(tail -n 1 <<<"$OUT")"
SIZE=$(stat -c %s "$WORK/made/kit.tar.gz")
check "the archive is under 60 MiB ($((SIZE / 1048576)) MiB)" test "$SIZE" -lt $((60 * 1048576))
mkdir -p "$WORK/unpacked" "$WORK/tmp" "$WORK/icd" "$WORK/empty-icd"
check "the archive unpacks" tar -xzf "$WORK/made/kit.tar.gz" -C "$WORK/unpacked"
rm -rf "$WORK/made/kit"
KIT=$WORK/unpacked/kit
cp "$POCL_ICD" "$WORK/icd/"
check "the kit has check, its programs, libraries, tests, data and references" \
  test -x "$KIT/check" -a -x "$KIT/bin/crossdev-compare" -a -f "$KIT/lib/libOpenCL.so.1" -a -s "$KIT/tests/manifest.tsv" \
  -a -f "$KIT/data/fashion-mnist-10k/train-images-idx3-ubyte.gz" -a -f "$KIT/reference/reproducible/trace.json"

# every ELF program's dependencies: glibc's, or inside the kit
GLIBC='^(linux-vdso|ld-linux-x86-64|libc|libm|libpthread|libdl|librt|libresolv|libmvec|libutil|libanl)\.so'
outside=$(for f in "$KIT"/bin/* "$KIT"/tests/*; do
  [ -f "$f" ] && [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = 177ELF ] || continue
  env -i LD_LIBRARY_PATH="$KIT/lib:$KIT/lib/gcc" ldd "$f" | awk -v k="$KIT/" -v g="$GLIBC" -v f="${f##*/}" \
    '{ b = $1; sub(/.*\//, "", b) } b !~ g && b != "statically" && ($3 == "not" || index($3, k) != 1) { print f ": " $1 " => " $3 }'
done)
check "ldd: every program's libraries resolve inside the kit${outside:+: $outside}" test -z "$outside"

# PATH: the commands of Debian's essential packages, plus awk (priority
# required: in every base image)
mkdir -p "$WORK/minbin"
while read -r f; do ln -sf "$f" "$WORK/minbin/${f##*/}"; done < <(
  dpkg-query -W -f='${Package} ${Essential}\n' | awk '$2 == "yes" { print $1 }' | xargs dpkg-query -L 2>/dev/null |
    grep -E '^(/usr)?/s?bin/[^/]+$' | while read -r f; do [ -x "$f" ] && [ ! -d "$f" ] && echo "$f"; done)
ln -sf "$(readlink -f "$(command -v awk)")" "$WORK/minbin/awk"
# and the one program the CPU driver runs: PoCL links each kernel it
# compiles with `ld` from PATH (docs/drivers.md)
ln -sf "$(command -v ld)" "$WORK/minbin/ld"
check "the minimal PATH lacks python3, cmake and clinfo" test ! -e "$WORK/minbin/python3" -a ! -e "$WORK/minbin/cmake" \
  -a ! -e "$WORK/minbin/clinfo"
bare() { # bare VENDORS-DIR CMD...: the kit's environment and nothing else (interrupted() spells it out)
  local icd=$1
  shift
  env -i HOME="$HOME" PATH="$WORK/minbin" LD_LIBRARY_PATH="$KIT/lib" OCL_ICD_VENDORS="$icd" TMPDIR="$WORK/tmp" "$@"
}
row() { grep -E "^\| $1 \|" "$2/SUMMARY.md"; } # row N RESULTS: the summary's table row of stage N
export -f row
STAGES=$(. "$KIT/libexec/common.sh" && stage_names)
NSTAGES=$(grep -c . <<<"$STAGES")
check "the kit's stage table lists 7 stages (got $NSTAGES)" test "$NSTAGES" -eq 7

# ---- check --quick, as on a GPU machine ---------------------------------------------
T0=$(date +%s)
expect_exit 0 "check --quick passes" bare "$WORK/icd" "$KIT/check" --quick --device pthread --out "$WORK/r"
echo "check --quick took $(($(date +%s) - T0)) s"
[ -f "$WORK/r/SUMMARY.md" ] && sed -n '/^| #/,/^$/p' "$WORK/r/SUMMARY.md"
check "SUMMARY.md written" test -s "$WORK/r/SUMMARY.md"
n=0
while read -r name; do
  n=$((n + 1))
  check "summary: stage $n ($name) listed with PASS" bash -c 'grep -qE "^\| $1 \| .* \| \*\*PASS\*\* \|" "$2"' _ "$n" "$WORK/r/SUMMARY.md"
done <<<"$STAGES"
for f in report-reproducible.json report-reproducible.html report-fast.json report-fast.html details.tar.gz; do
  check "results: $f" test -s "$WORK/r/$f"
done
check "report-reproducible.json: the device's trace IDENTICAL to PoCL's reference" \
  test "$(json_get "$WORK/r/report-reproducible.json" "d['pairs'][0]['verdict']")" = IDENTICAL
check "report-fast.json: reproducible vs fast compared" \
  test "$(json_get "$WORK/r/report-fast.json" "d['pairs'][0]['other']['device'] != '' and len(d['pairs'])")" = 1
LIBS=$WORK/r/details/env/libraries.tsv
check "LD_DEBUG record of crossdev-compare's libraries" test -s "$LIBS"
own_bad=$(awk -F'\t' '$1 == "crossdev" && $2 != "kit" && $2 != "glibc"' "$LIBS")
check "crossdev's own libraries all came from the kit${own_bad:+: $own_bad}" test -z "$own_bad"
for l in libOpenCL.so.1 libclblast.so.1 libjansson.so.4; do
  check "$l loaded from the kit" awk -F'\t' -v p="$KIT/lib/$l" '$1 == "crossdev" && $2 == "kit" && $3 == p { f = 1 } END { exit !f }' "$LIBS"
done
# PoCL's library, its device drivers and their ldd closure: the only libraries allowed from /usr/lib
allowed=$({ echo "$POCL_LIB"; ls "$(dirname "$POCL_LIB")"/pocl/*.so; ldd "$POCL_LIB" "$(dirname "$POCL_LIB")"/pocl/*.so |
           awk '$2 == "=>" && $3 ~ /^\// { print $3 }'; } | xargs -r readlink -f | sort -u)
drv_bad=$(awk -F'\t' '$2 == "system" { print $3 }' "$LIBS" | xargs -r readlink -f | sort -u | comm -23 - <(echo "$allowed"))
check "from /usr/lib only PoCL and its dependencies were loaded${drv_bad:+: $drv_bad}" test -z "$drv_bad"
check "... and PoCL itself was among them" bash -c 'awk -F"\t" "{ print \$3 }" "$1" | xargs readlink -f | grep -qxF "$2"' _ "$LIBS" "$POCL_LIB"

# ---- discovery: a driver no .icd names, under NVIDIA's file name ------------------------
# PoCL finds its device drivers and headers relative to its own path: the
# fake driver tree keeps that layout (LIBDIR/pocl, LIBDIR/../../share/pocl).
mkdir -p "$WORK/drv/usr/lib" "$WORK/drv/share"
ln -s "$POCL_LIB" "$WORK/drv/usr/lib/libnvidia-opencl.so.1"
ln -s "$(dirname "$POCL_LIB")/pocl" "$WORK/drv/usr/lib/pocl"
ln -s "$(readlink -f "$(dirname "$POCL_LIB")/../../share/pocl")" "$WORK/drv/share/pocl"
expect_exit 0 "check finds an unregistered driver" bare "$WORK/empty-icd" env XD_KIT_DRIVER_DIRS="$WORK/drv/usr/lib" \
  "$KIT/check" --quick --stages env,probe --device pthread --out "$WORK/d"
check "discovery: nvidia-found.icd names the library found" \
  grep -qxF "$WORK/drv/usr/lib/libnvidia-opencl.so.1" "$WORK/d/details/vendors/nvidia-found.icd"
check "discovery: the summary says it was found without an .icd" \
  bash -c 'grep -F "libnvidia-opencl.so.1" "$1" | grep -qF "no .icd registered"' _ "$WORK/d/SUMMARY.md"
check "discovery: its devices probed (stage 2 PASS)" bash -c 'row 2 "$1" | grep -qF "**PASS**"' _ "$WORK/d"
check "discovery: stages 3-6 not selected" bash -c '[ "$(grep -cE "^\| [3-6] \|.*NOT RUN.*not selected" "$1/SUMMARY.md")" = 4 ]' _ "$WORK/d"

# ---- $OUT (the device tool's results folder): a few files, the details archived ------------
mkdir -p "$WORK/o"
expect_exit 0 "check with OUT set" bare "$WORK/icd" env OUT="$WORK/o" "$KIT/check" --quick --stages env
check "OUT: SUMMARY.md and details.tar.gz only, no details folder ($(ls "$WORK/o" | paste -sd ' '))" \
  test "$(ls "$WORK/o" | paste -sd ' ')" = "SUMMARY.md details.tar.gz"
check "OUT: the archive holds stage 1's record" bash -c 'tar -tzf "$1" | grep -qx "./env/libraries.tsv"' _ "$WORK/o/details.tar.gz"

# ---- a planted divergence fails stage 4 ---------------------------------------------------
# (stage 4 alone: it chooses the device itself when stage 2 did not run)
expect_exit 1 "check --plant-divergence fails" bare "$WORK/icd" "$KIT/check" --quick --stages train \
  --plant-divergence --device pthread --out "$WORK/p"
check "planted: stage 4 FAIL naming the first step and op" \
  bash -c 'row 4 "$1" | grep -F "**FAIL**" | grep -qE "first divergence: step [0-9]+, [^,]+, first op: [a-z0-9_.]+"' _ "$WORK/p"

# ---- interrupted: the summary of what finished -------------------------------------------
interrupted() { # interrupted SIG STATUS
  local r=$WORK/i-$1 pid rc i
  # a job started by a script has SIGINT ignored, which bash cannot trap:
  # env --default-signal gives check the disposition a terminal's Ctrl-C meets
  env -i HOME="$HOME" PATH="$WORK/minbin" LD_LIBRARY_PATH="$KIT/lib" OCL_ICD_VENDORS="$WORK/icd" TMPDIR="$WORK/tmp" \
    env --default-signal=INT "$KIT/check" --quick --device pthread --out "$r" >"$WORK/i-$1.log" 2>&1 &
  pid=$!
  for ((i = 0; i < 600; i++)); do row 3 "$r" 2>/dev/null | grep -qF RUNNING && break; sleep 0.1; done
  sleep 2
  kill -"$1" "$pid"
  wait "$pid"
  rc=$?
  check "SIG$1: exit $2 (got $rc)" test "$rc" -eq "$2"
  check "SIG$1: SUMMARY.md says interrupted" grep -qF "interrupted by SIG$1" "$r/SUMMARY.md"
  check "SIG$1: stages 1-2 PASS, 3 INTERRUPTED, 4-6 NOT RUN, 7 PASS" bash -c '
    for n in 1 2 7; do row $n "$1" | grep -qF "**PASS**" || exit 1; done
    row 3 "$1" | grep -qF "**INTERRUPTED**" || exit 1
    for n in 4 5 6; do row $n "$1" | grep -qF "**NOT RUN**" || exit 1; done' _ "$r"
  sleep 1
  check "SIG$1: nothing of the kit left running" bash -c '! ps -eo args | grep -F "$1/" | grep -v grep | grep -q .' _ "$KIT"
}
if env --default-signal=INT true 2>/dev/null; then
  interrupted INT 130
else
  echo "SKIP (check only): env --default-signal unsupported (coreutils < 9); the SIGINT case not run"
fi
interrupted TERM 143

# ---- bad input --------------------------------------------------------------------------
mkdir -p "$WORK/exists"
# (a relative OUT_DIR is the caller's, not the source tree's)
expect_exit 2 "tools/field-kit into an existing folder" bash -c 'cd "$1" && "$2/tools/field-kit" --build "$3" exists' \
  _ "$WORK" "$SRC" "$BUILD"
check "... named, relative to the caller's folder" contains "$OUT" "$WORK/exists already exists"
expect_exit 2 "tools/field-kit --frob" "$SRC/tools/field-kit" --frob "$WORK/k2"
check "... named, nothing written" bash -c 'grep -qF -- "--frob" <<<"$1" && ! ls -d "$2"* 2>/dev/null | grep -q .' _ "$OUT" "$WORK/k2"
expect_exit 2 "check --steps beyond the reference" bare "$WORK/icd" "$KIT/check" --steps 100000 --out "$WORK/b1"
check "... named, nothing written" bash -c 'grep -qF -- "--steps" <<<"$1" && [ ! -e "$2" ]' _ "$OUT" "$WORK/b1"
expect_exit 2 "check --stages with an unknown stage" bare "$WORK/icd" "$KIT/check" --stages env,gpu --out "$WORK/b2"
check "... named" contains "$OUT" "unknown stage 'gpu'"
mkdir -p "$WORK/b3" && touch "$WORK/b3/keep"
expect_exit 2 "check into a non-empty results folder" bare "$WORK/icd" "$KIT/check" --out "$WORK/b3"
check "... named, left as it was" bash -c 'grep -qF "$2" <<<"$1" && [ "$(ls -A "$2")" = keep ]' _ "$OUT" "$WORK/b3"
finish
