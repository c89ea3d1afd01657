/* The vector instruction set a CPU device compiles kernels for, which the
 * tunables table (params.c) chooses rows by: the same CPU runtime on an
 * AVX2-only CPU wants other vector widths and blockings than on an AVX-512
 * one (docs/performance.md, "Tunables per instruction set").
 *
 * - PoCL names the LLVM CPU it compiles for in its device version
 *   ("... HSTR: pthread-x86_64-pc-linux-gnu-haswell").  Its native vector
 *   widths come from the host's CPU features, not from that target: with
 *   POCL_KERNELLIB_NAME=avx2 (a "distro" build such as Debian's) or
 *   POCL_LLVM_CPU_NAME=haswell (other builds) it emits AVX2 code on an
 *   AVX-512 machine and still reports 16 float lanes, so the target CPU
 *   decides where it is known.
 * - Intel's CPU runtime reads CL_CONFIG_CPU_TARGET_ARCH (its cl.cfg or the
 *   environment) and reports the host's widths whatever it is set to, so
 *   that variable decides where set.
 * - Otherwise the native float vector width: 16 lanes AVX-512, 8 AVX2. */
#include <stdlib.h>
#include <string.h>

#include "core.h"

/* LLVM's (and Intel's CL_CONFIG_CPU_TARGET_ARCH's) x86 CPU names, by the
 * widest vector ISA their code uses. */
/* clang-format off */
static const char *const k_avx512_cpus[] = {
    "skylake-avx512", "skx", "cascadelake", "cooperlake", "cannonlake", "icelake-client", "icelake-server",
    "rocketlake", "tigerlake", "sapphirerapids", "emeraldrapids", "graniterapids", "graniterapids-d",
    "diamondrapids", "knl", "knm", "znver4", "znver5", "x86-64-v4",
};
static const char *const k_avx2_cpus[] = {
    "haswell", "broadwell", "skylake", "alderlake", "raptorlake", "meteorlake", "arrowlake", "arrowlake-s",
    "lunarlake", "pantherlake", "gracemont", "sierraforest", "grandridge", "clearwaterforest", "znver1", "znver2",
    "znver3", "bdver4", "x86-64-v3", "core-avx2",
};
/* Older: AVX, SSE (the tunables' rows for any ISA). */
static const char *const k_older_cpus[] = {
    "sandybridge", "ivybridge", "corei7-avx", "core-avx-i", "corei7", "nehalem", "westmere", "bdver1", "bdver2",
    "bdver3", "btver2", "penryn", "core2", "athlon64", "x86-64", "x86-64-v2", "generic",
};
/* clang-format on */

static int listed(const char *cpu, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        if (strcmp(cpu, names[i]) == 0) return 1;
    return 0;
}

#define LISTED_(cpu, names) listed((cpu), (names), sizeof(names) / sizeof(names)[0])

/* XD_ISA_UNKNOWN for a CPU name in none of the lists. */
static xd_isa isa_of_cpu(const char *cpu)
{
    if (!cpu || !cpu[0]) return XD_ISA_UNKNOWN;
    if (LISTED_(cpu, k_avx512_cpus)) return XD_ISA_AVX512;
    if (LISTED_(cpu, k_avx2_cpus)) return XD_ISA_AVX2;
    if (LISTED_(cpu, k_older_cpus)) return XD_ISA_OTHER;
    return XD_ISA_UNKNOWN;
}

/* PoCL's target CPU: what follows the target triple ("-gnu-") in its device
 * version's HSTR, copied to out ("" if there is none). */
static void pocl_target_cpu(const char *device_version, char *out, size_t cap)
{
    out[0] = '\0';
    const char *h = device_version ? strstr(device_version, "HSTR: ") : NULL;
    const char *t = h ? strstr(h, "-gnu-") : NULL;
    if (!t) return;
    t += 5;
    size_t n = strcspn(t, " ");
    if (n >= cap) return;
    memcpy(out, t, n);
    out[n] = '\0';
}

xd_isa xd_isa_from(const xd_device_info *d, unsigned native_float_width, const char *intel_target_arch)
{
    xd_isa isa = XD_ISA_UNKNOWN;
    if (strncmp(d->id, "pocl/", 5) == 0) {
        char cpu[64];
        pocl_target_cpu(d->device_version, cpu, sizeof cpu);
        isa = isa_of_cpu(cpu);
    } else if (strncmp(d->id, "intel-opencl/", 13) == 0 && intel_target_arch &&
               strcmp(intel_target_arch, "auto") != 0) {
        isa = isa_of_cpu(intel_target_arch);
    }
    if (isa != XD_ISA_UNKNOWN || d->type != XD_DEVICE_CPU) return isa;
    return native_float_width >= 16 ? XD_ISA_AVX512 : native_float_width == 8 ? XD_ISA_AVX2 : XD_ISA_UNKNOWN;
}

xd_isa xd_device_isa(const xd_device_info *d)
{
    cl_uint w = 0;
    cl_device_id dev = (cl_device_id)d->device_handle;
    if (!dev || clGetDeviceInfo(dev, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT, sizeof w, &w, NULL) != CL_SUCCESS) w = 0;
    return xd_isa_from(d, (unsigned)w, getenv("CL_CONFIG_CPU_TARGET_ARCH"));
}

const char *xd_isa_name(xd_isa isa)
{
    return isa == XD_ISA_AVX512 ? "avx512" : isa == XD_ISA_AVX2 ? "avx2" : isa == XD_ISA_OTHER ? "other" : "unknown";
}
