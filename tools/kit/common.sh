# shellcheck shell=bash
# Helpers shared by the field kit's `check` (the driver) and libexec/stages.sh
# (each stage runs in a process of its own).  Sourced by bash; sets nothing
# on its own but functions and the stage table.
#
# Variables the driver exports to every stage:
#   KIT   the kit's root (read-only is fine)
#   R     the results folder (SUMMARY.md, the reports, details.tar.gz)
#   D     the details folder (logs, traces, state), $R/details unless R is $OUT
#   XD_KIT_QUICK 0|1, XD_KIT_DEVICE (selector or empty), XD_KIT_STEPS,
#   XD_KIT_PLANT 0|1, XD_KIT_CALLER_LD_LIBRARY_PATH (the caller's, kept
#   after the kit's own folders so a driver still finds its siblings)

# The stages, in order: number, name, budget in seconds (full, --quick), title.
# One table: the driver, the summary and the docs' stage list all read it.
XD_KIT_STAGES='1 env 20 30 environment, OpenCL vendors and libraries
2 probe 45 60 devices, capabilities and the reproducible-mode probe
3 tests 180 150 device tests (the ctest label)
4 train 60 60 reproducible training vs the PoCL reference
5 fast 45 60 fast mode vs reproducible on the same device
6 bench 110 120 benchmark (tools/bench) and per-kernel profile
7 summary 10 10 summary and reports'

stage_field() { # stage_field NAME COLUMN(1-based, 5 = the title to the end)
  awk -v n="$1" -v c="$2" '$2 == n { if (c < 5) print $c; else { $1 = $2 = $3 = $4 = ""; sub(/^ +/, ""); print } }' \
    <<<"$XD_KIT_STAGES"
}
stage_names() { awk '{ print $2 }' <<<"$XD_KIT_STAGES"; }

now() { date +%s; }
manifest() { sed -n "s/^$1=//p" "$KIT/MANIFEST.txt"; } # manifest KEY: the kit's record (tools/field-kit)
older() { [ "$1" != "$2" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1)" = "$1" ]; } # older A B: A < B
glibc_version() { getconf GNU_LIBC_VERSION 2>/dev/null | awk '{ print $2 }'; }

# State shared between stages: one small file per key under $D/state.
state_set() { printf '%s\n' "$2" >"$D/state/$1.tmp" && mv -f "$D/state/$1.tmp" "$D/state/$1"; }
state_get() { [ -f "$D/state/$1" ] && cat "$D/state/$1"; }

# A stage's outcome: $D/stages/NAME.status (PASS, FAIL, SKIP, TIMEOUT,
# INTERRUPTED, NOT RUN, RUNNING), NAME.brief (one line for the table) and
# NAME.md (its section of SUMMARY.md, appended to as the stage goes).
stage_set() { # stage_set NAME STATUS BRIEF
  printf '%s\n' "$2" >"$D/stages/$1.status"
  printf '%s\n' "$3" >"$D/stages/$1.brief"
}

# The environment every crossdev process of the kit runs in: the kit's own
# libraries first (the GCC runtime only where the machine's is not newer:
# a vendor driver may need the newer one), then the caller's
# LD_LIBRARY_PATH, then the folders the vendor libraries were found in
# (their own dependencies sit beside them); the kit's vendors folder.
kit_env() {
  local p="$KIT/lib"
  [ "$(state_get gcc-runtime)" = system ] || p+=":$KIT/lib/gcc"
  [ -n "${XD_KIT_CALLER_LD_LIBRARY_PATH:-}" ] && p+=":$XD_KIT_CALLER_LD_LIBRARY_PATH"
  local extra
  extra=$(state_get vendor-lib-dirs) && [ -n "$extra" ] && p+=":$extra"
  export LD_LIBRARY_PATH=$p
  if [ -d "$D/vendors" ]; then
    export OCL_ICD_VENDORS="$D/vendors"
  else
    OCL_ICD_VENDORS=$(registered_vendors_dir)
    export OCL_ICD_VENDORS
  fi
}

# Where the machine registers its OpenCL drivers: the caller's
# OCL_ICD_VENDORS (a folder or one .icd file), else /etc/OpenCL/vendors.
registered_vendors_dir() {
  if [ -n "${XD_KIT_CALLER_OCL_ICD_VENDORS:-}" ]; then
    printf '%s\n' "$XD_KIT_CALLER_OCL_ICD_VENDORS"
  else
    printf '%s\n' /etc/OpenCL/vendors
  fi
}

# run_logged SECONDS LOG CMD...: CMD under its own timeout, stdout and stderr
# to LOG; returns CMD's status (124 when the timeout struck).  Run as a job
# (stages.sh has job control on: the job gets a process group of its own
# and SIGINT is not ignored in it) and waited for, so that a TERM to the
# stage ends the whole job at once (on_stage_signal) instead of waiting
# for it.
run_logged() {
  local t=$1 log=$2
  shift 2
  timeout -k 5 "$t" "$@" >"$log" 2>&1 &
  XD_JOB=$!
  wait "$XD_JOB"
  local rc=$?
  XD_JOB=""
  return $rc
}
on_stage_signal() {
  [ -n "${XD_JOB:-}" ] && kill -TERM -- "-$XD_JOB" 2>/dev/null
  exit 143
}

# Seconds left to this stage (the driver passes its deadline), at least 1.
stage_left() {
  local left=$((XD_KIT_STAGE_DEADLINE - $(now)))
  ((left > 1)) || left=1
  printf '%s\n' "$left"
}
