/* The tunables row follows the instruction set the device compiles for
 * (host/core/isa.c, host/core/params.c), on fake device descriptions: PoCL
 * forced to haswell on an AVX-512 host (16 native lanes, an AVX2 target),
 * PyPI's PoCL naming Zen 4 as znver3, Intel's runtime with and without
 * CL_CONFIG_CPU_TARGET_ARCH, and CPUs known only by their native float
 * width.  Needs no OpenCL device. */
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "harness.h"

static xd_device_info fake(const char *id, const char *device_version, const char *platform_version)
{
    xd_device_info d;
    memset(&d, 0, sizeof d);
    d.type = XD_DEVICE_CPU;
    snprintf(d.id, sizeof d.id, "%s", id);
    snprintf(d.device_version, sizeof d.device_version, "%s", device_version);
    snprintf(d.platform_version, sizeof d.platform_version, "%s", platform_version);
    return d;
}

static const char k_pocl15[] = "OpenCL 3.0 PoCL 3.1+debian  Linux, None+Asserts, RELOC, SPIR, LLVM 15.0.6, SLEEF";
static const char k_pocl14[] = "OpenCL 3.0 PoCL 3.0-rc2  Linux, Release, RELOC, LLVM 14.0.6, SLEEF, DISTRO";

static const struct {
    const char *id, *device_version, *platform_version;
    const char *intel_arch; /* CL_CONFIG_CPU_TARGET_ARCH */
    const char *row;        /* the tunables row it gets */
    unsigned width;         /* CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT */
    xd_isa isa;
} k_cases[] = {
    {"pocl/pthread-skylake-avx512-amd-epyc", "OpenCL 3.0 PoCL HSTR: pthread-x86_64-pc-linux-gnu-skylake-avx512",
     k_pocl15, NULL, "pocl", 16, XD_ISA_AVX512},
    {"pocl/pthread-haswell-amd-epyc", "OpenCL 3.0 PoCL HSTR: pthread-x86_64-pc-linux-gnu-haswell", k_pocl15, NULL,
     "pocl avx2", 16, XD_ISA_AVX2},
    {"pocl/basic-znver3-amd-epyc", "OpenCL 3.0 PoCL HSTR: basic-x86_64-pc-linux-gnu-znver3", k_pocl15, NULL,
     "pocl avx2", 8, XD_ISA_AVX2},
    {"pocl/pthread-amd-epyc", "OpenCL 3.0 PoCL HSTR: pthread-x86_64-unknown-linux-gnu-znver3", k_pocl14, NULL,
     "pocl (LLVM <= 14)", 16, XD_ISA_AVX2},
    {"pocl/pthread-sandybridge-x", "OpenCL 3.0 PoCL HSTR: pthread-x86_64-pc-linux-gnu-sandybridge", k_pocl15, NULL,
     "pocl", 16, XD_ISA_OTHER},
    {"pocl/pthread-newcpu-x", "OpenCL 3.0 PoCL HSTR: pthread-x86_64-pc-linux-gnu-newcpu", k_pocl15, NULL, "pocl avx2",
     8, XD_ISA_AVX2},
    {"intel-opencl/amd-epyc", "OpenCL 3.1 (Build 0)", "OpenCL 3.0 LINUX", NULL, "intel-opencl cpu", 16, XD_ISA_AVX512},
    {"intel-opencl/amd-epyc", "OpenCL 3.1 (Build 0)", "OpenCL 3.0 LINUX", "auto", "intel-opencl cpu", 16,
     XD_ISA_AVX512},
    {"intel-opencl/amd-epyc", "OpenCL 3.1 (Build 0)", "OpenCL 3.0 LINUX", "core-avx2", "intel-opencl cpu avx2", 16,
     XD_ISA_AVX2},
    {"intel-opencl/intel-xeon", "OpenCL 3.1 (Build 0)", "OpenCL 3.0 LINUX", NULL, "intel-opencl cpu avx2", 8,
     XD_ISA_AVX2},
};

int main(void)
{
    xdt t = {.name = "test_params"};
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; ++i) {
        xd_device_info d = fake(k_cases[i].id, k_cases[i].device_version, k_cases[i].platform_version);
        xd_isa isa = xd_isa_from(&d, k_cases[i].width, k_cases[i].intel_arch);
        xdt_check(&t, isa == k_cases[i].isa, "%s (width %u, target arch %s): ISA %s, expected %s", k_cases[i].id,
                  k_cases[i].width, k_cases[i].intel_arch ? k_cases[i].intel_arch : "unset", xd_isa_name(isa),
                  xd_isa_name(k_cases[i].isa));
        /* PoCL on LLVM 14 keeps its 8 lanes whatever the ISA (it cannot
         * compile 16 for a CPU without AVX-512). */
        xd_params p = xd_params_for(&d, isa);
        xdt_check(&t, strcmp(p.source, k_cases[i].row) == 0, "%s: ISA %s, row '%s', expected '%s'", k_cases[i].id,
                  xd_isa_name(isa), p.source, k_cases[i].row);
        /* The same device compiling for AVX-512 never gets an AVX2 row. */
        xd_params wide = xd_params_for(&d, XD_ISA_AVX512);
        xdt_check(&t, !strstr(wide.source, "avx2"), "%s as AVX-512: row '%s'", k_cases[i].id, wide.source);
    }
    /* A GPU is never an x86 ISA, whatever its width says. */
    xd_device_info gpu = fake("nvidia-cuda/nvidia-h100", "OpenCL 3.0 CUDA", "OpenCL 3.0 CUDA 12.4");
    gpu.type = XD_DEVICE_GPU;
    snprintf(gpu.vendor, sizeof gpu.vendor, "NVIDIA Corporation");
    xd_isa gi = xd_isa_from(&gpu, 16, NULL);
    xdt_check(&t, gi == XD_ISA_UNKNOWN, "a GPU: ISA %s, expected unknown", xd_isa_name(gi));
    xdt_check(&t, strcmp(xd_params_for(&gpu, gi).source, "vendor NVIDIA") == 0, "a GPU keeps its vendor row, got '%s'",
              xd_params_for(&gpu, gi).source);
    return xdt_finish(&t);
}
