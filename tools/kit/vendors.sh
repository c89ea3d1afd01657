# shellcheck shell=bash
# OpenCL vendor discovery for the field kit (sourced by stages.sh).
#
# The ICD loader opens only the libraries that .icd files name.  Containers
# often mount a vendor's library (NVIDIA's libnvidia-opencl.so.1 in
# particular) without registering it in /etc/OpenCL/vendors, so the kit
# searches the loader's paths and the known driver locations itself and
# writes a vendors folder of its own: the registered .icd files whose
# library exists, plus one .icd per vendor library found without one.
# Each library appears once (by real path, and one per vendor), or the
# loader would list its devices twice.

# Vendor libraries: vendor, file name.  The kit targets GPUs; the CPU
# runtimes are listed so that a machine that has one unregistered shows it.
XD_VENDOR_LIBS='nvidia libnvidia-opencl.so.1
amd libamdocl64.so
amd-orca libamdocl-orca64.so
intel-gpu libigdrcl.so
mesa-rusticl libRusticlOpenCL.so.1
mesa-clover libMesaOpenCL.so.1
intel-cpu libintelocl.so
pocl libpocl.so.2'

# Folders searched after `ldconfig -p`, in order: XD_KIT_DRIVER_DIRS (yours,
# colon-separated), the caller's LD_LIBRARY_PATH, then where NVIDIA's
# container runtime, Debian/Ubuntu, RHEL, CUDA, ROCm and Intel's
# compute-runtime put them.
driver_dirs() {
  local d list=() IFS=:
  for d in ${XD_KIT_DRIVER_DIRS:-} ${XD_KIT_CALLER_LD_LIBRARY_PATH:-}; do list+=("$d"); done
  unset IFS
  list+=(/usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu
         /usr/lib/x86_64-linux-gnu/nvidia/current /usr/lib64/nvidia /usr/lib64 /usr/lib
         /lib/x86_64-linux-gnu /lib64 /usr/local/lib /usr/local/lib64 /usr/local/cuda/lib64
         /usr/local/cuda/targets/x86_64-linux/lib /opt/rocm/lib /opt/rocm/lib64 /opt/rocm/opencl/lib
         /opt/rocm-*/lib /opt/rocm-*/opencl/lib /opt/amdgpu/lib/x86_64-linux-gnu
         /usr/lib/x86_64-linux-gnu/intel-opencl /usr/lib64/intel-opencl /opt/intel/oneapi/lib
         /usr/lib/wsl/lib)
  for d in "${list[@]}"; do [ -d "$d" ] && printf '%s\n' "$d"; done
  return 0
}

ldconfig_cmd() {
  local c
  for c in "$(command -v ldconfig 2>/dev/null)" /sbin/ldconfig /usr/sbin/ldconfig; do
    [ -n "$c" ] && [ -x "$c" ] && { printf '%s\n' "$c"; return 0; }
  done
  return 1
}

# candidates NAME: every path where a library of that file name exists, in
# search order (the ld.so cache first: that is what the loader uses).
candidates() {
  local name=$1 ldc d
  if ldc=$(ldconfig_cmd); then
    "$ldc" -p 2>/dev/null | awk -v n="$name" '$1 == n && /x86-64/ { print $NF }'
  fi
  while IFS= read -r d; do
    [ -e "$d/$name" ] && printf '%s\n' "$d/$name"
  done < <(driver_dirs)
  return 0
}

find_lib() { # find_lib NAME: the first existing candidate
  local p
  while IFS= read -r p; do
    [ -r "$p" ] && { printf '%s\n' "$p"; return 0; }
  done < <(candidates "$1")
  return 1
}

# discover_vendors OUTDIR TSV: writes OUTDIR/*.icd and one TSV row per
# library considered: how (registered|found), vendor or .icd name, library
# as named, the path used (or -), its real path (or -), a note.
discover_vendors() {
  local out=$1 tsv=$2 reg icd lib path real seen=$'\n' covered=$'\n'
  mkdir -p "$out"
  : >"$tsv"
  reg=$(registered_vendors_dir)
  local icds=()
  if [ -d "$reg" ]; then
    for icd in "$reg"/*.icd; do [ -e "$icd" ] && icds+=("$icd"); done
  elif [ -f "$reg" ]; then
    icds=("$reg")
  fi
  for icd in "${icds[@]}"; do
    lib=$(head -n 1 "$icd" | tr -d '\r')
    if [[ $lib == /* ]]; then path=$lib; [ -r "$path" ] || path=""; else path=$(find_lib "$lib") || path=""; fi
    covered+="${lib##*/}"$'\n'
    if [ -z "$path" ]; then
      printf 'registered\t%s\t%s\t-\t-\tlibrary not found: not used\n' "${icd##*/}" "$lib" >>"$tsv"
      continue
    fi
    real=$(readlink -f "$path")
    if [[ $seen == *$'\n'"$real"$'\n'* ]]; then
      printf 'registered\t%s\t%s\t%s\t%s\tsame library as another .icd: not used twice\n' "${icd##*/}" "$lib" "$path" "$real" >>"$tsv"
      continue
    fi
    seen+="$real"$'\n'
    cp "$icd" "$out/${icd##*/}"
    printf 'registered\t%s\t%s\t%s\t%s\tused\n' "${icd##*/}" "$lib" "$path" "$real" >>"$tsv"
  done
  discover_unregistered "$out" "$tsv" "$seen" "$covered"
}

# The vendor libraries no registered .icd names: the first copy of each
# found on disk gets OUTDIR/VENDOR-found.icd with its absolute path.
discover_unregistered() {
  local out=$1 tsv=$2 seen=$3 covered=$4 vendor name path real
  while read -r vendor name; do
    [[ $covered == *$'\n'"$name"$'\n'* ]] && continue
    while IFS= read -r path; do
      real=$(readlink -f "$path")
      [[ $seen == *$'\n'"$real"$'\n'* ]] && continue 2   # already used under another name
      seen+="$real"$'\n'
      printf '%s\n' "$path" >"$out/$vendor-found.icd"
      printf 'found\t%s\t%s\t%s\t%s\tno .icd registered: %s written\n' "$vendor" "$name" "$path" "$real" \
        "$vendor-found.icd" >>"$tsv"
      continue 2
    done < <(candidates "$name")
  done <<<"$XD_VENDOR_LIBS"
}
