/* The tunables table: work-group size and register-blocking factors per
 * device and the instruction set it compiles for (isa.c), falling back
 * device -> vendor -> default (CLBlast's Database::GetDefines).  Every entry only moves outputs between
 * work-items; no summation order depends on it (docs/reproducibility.md),
 * which the cross-device bitwise tests check. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

typedef struct row {
    const char *match;  /* substring of the device id; "" = vendor/default row */
    const char *vendor; /* substring of the vendor name; NULL = any */
    int max_llvm;       /* > 0: only when the platform names LLVM <= this major version */
    xd_isa isa;         /* XD_ISA_UNKNOWN = any; else only a device compiling for it (isa.c) */
    xd_params p;
} row;

/* PoCL: vector lanes (vw 16) because PoCL does not vectorise kernels with
 * inner loops itself; clblast 0 because on PoCL the vector kernels beat
 * CLBlast's SGEMM at every shape crossdev-bench measures (seed-cnn's GEMMs
 * 2-6x, 1024^3 2.3x), so fast mode uses them, built with contraction;
 * dense_ob/dense_nb 16 (sweep with XD_PARAMS: 1.5-2x over 4 at seed-cnn's
 * shapes, the whole 10-output layer from one load of each input).
 * PoCL on LLVM 14 or older (PyPI's pocl-binary-distribution 3.0-rc2): vw 8.
 * Its LLVM 14 backend aborts ("Do not know how to scalarize this operator's
 * operand!") or crashes compiling 16-lane kernels for a CPU it knows
 * without AVX-512 (Zen 4 as znver3), after minutes (docs/drivers.md).
 * Intel's CPU runtime: the PoCL row's blocking, measured 5-7x the default
 * row's training speed there (crossdev-bench); clblast 0: CLBlast's SGEMM
 * is 10-40x slower than the vector kernels on it.
 * GPU vendor rows: one output per lane (vw 1), 128-wide work-groups,
 * CLBlast in fast mode, and dense forward from local-memory tiles
 * (dense_tiled: the vector-lane kernel's loads are 1 KiB apart across
 * neighbouring work-items, uncoalesced).  Not yet measured on a GPU.
 * AVX2 rows (PoCL and Intel compiling for an AVX2 CPU, on one or forced
 * on an AVX-512 machine: docs/performance.md "Tunables per instruction
 * set"): the AVX-512 rows' values but three.  Swept under PoCL forced to haswell,
 * 8 lanes (with every blocking tried, spills removed) ran 0.64-0.89x of
 * 16 lanes as two ymm halves on seed-cnn and mnist-convnet; other
 * blockings at 16 lanes were within the noise.  Intel's runtime forced
 * to core-avx2: 8 lanes 0.66-0.90x of 16 (5 rounds).  Channel-lane
 * convs in passes of fewer accumulators (4 vectors, 8 ymm, no spill) ran
 * resnet's 1.4-1.7x slower: a pass repeats every tap's mask and loads for
 * a quarter of the fmas.  The AVX2 rows take conv_cl_tb 2 and conv_cl1_tb
 * 3: at 9, the backward-weights kernels' 9-18 vectors of 16 lanes are
 * 18-36 ymm registers and spill;
 * build/resnet-ops --device basic under haswell, every backward weights
 * of a resnet step 13.5 -> 10.9 CPU ms at 3 for both (conv2d_7 3.5 ->
 * 2.0); then apart, 4 alternations: the two-vector kernel's layers at 2
 * against 3, conv2d_3 1.26 -> 0.93 ms, conv2d_4 2.23 -> 1.72, conv2d_6
 * and conv2d_7 +5-8 %; the one-vector kernel's (conv2d_1) at 3: 1.60 ms,
 * at 2 2.50, at 4 1.81.  AVX-512 stays at 9 (3 measured slower there).
 * conv_tb, the per-sample kernel's (seed-cnn's single-channel conv),
 * stays 9: 3 there ran seed-cnn 3-15 % slower.  conv_rows: every row
 * stores by rows (7) but the AVX2 rows, 5: there the two-vector lane
 * kernels' scatters beat their row stores (conv2d_4, 6, 7 forward and
 * backward data 4-9 %, the stride-2 conv2d_8 backward data 0.49 -> 0.36
 * ms without the pairs kernel); the one-vector kernels' row stores and
 * dy's blocks stay (6 alternations, every conv op of a step 28.2 -> 27.6
 * CPU ms; on AVX-512 5 measured 18.0 -> 19.4, so 7 stays there).
 * Intel's runtime forced to core-avx2 takes the same three (every conv op
 * of a step 37.0 -> 30.9 CPU ms in 3 alternations, 30.2 -> 29.5 in
 * another 3; its AVX2 row had the AVX-512 row's values).
 * PoCL's conv_ob 8 measured the same speed as 4 (crossdev-bench, PoCL
 * pthread); it is kept different from the default on purpose: Oclgrind runs
 * the default row, so the cross-device bitwise tests compare two different
 * tunings and would fail if a tunable ever changed a summation order. */
/* Every row names every tunable (a field left out would be 0), one column
 * each. */
/* clang-format off */
static const row k_table[] = {
    {.match = "pocl/", .max_llvm = 14,
     .p = {.conv_ob = 8, .conv_tb = 9, .conv_cl_tb = 9, .conv_cl1_tb = 9, .conv_rows = 7, .dense_ob = 16, .dense_nb = 16, .vw = 8,  .local_size = 64,
           .clblast = XD_CLBLAST_NEVER,   .dense_tiled = 0, .source = "pocl (LLVM <= 14)"}},
    {.match = "pocl/", .isa = XD_ISA_AVX2,
     .p = {.conv_ob = 8, .conv_tb = 9, .conv_cl_tb = 2, .conv_cl1_tb = 3, .conv_rows = 5, .dense_ob = 16, .dense_nb = 16, .vw = 16, .local_size = 64,
           .clblast = XD_CLBLAST_NEVER,   .dense_tiled = 0, .source = "pocl avx2"}},
    {.match = "pocl/",
     .p = {.conv_ob = 8, .conv_tb = 9, .conv_cl_tb = 9, .conv_cl1_tb = 9, .conv_rows = 7, .dense_ob = 16, .dense_nb = 16, .vw = 16, .local_size = 64,
           .clblast = XD_CLBLAST_NEVER,   .dense_tiled = 0, .source = "pocl"}},
    {.match = "intel-opencl/", .isa = XD_ISA_AVX2,
     .p = {.conv_ob = 8, .conv_tb = 9, .conv_cl_tb = 2, .conv_cl1_tb = 3, .conv_rows = 5, .dense_ob = 16, .dense_nb = 16, .vw = 16, .local_size = 64,
           .clblast = XD_CLBLAST_NEVER,   .dense_tiled = 0, .source = "intel-opencl cpu avx2"}},
    {.match = "intel-opencl/",
     .p = {.conv_ob = 8, .conv_tb = 9, .conv_cl_tb = 9, .conv_cl1_tb = 9, .conv_rows = 7, .dense_ob = 16, .dense_nb = 16, .vw = 16, .local_size = 64,
           .clblast = XD_CLBLAST_NEVER,   .dense_tiled = 0, .source = "intel-opencl cpu"}},
    {.match = "", .vendor = "NVIDIA",
     .p = {.conv_ob = 4, .conv_tb = 4, .conv_cl_tb = 4, .conv_cl1_tb = 4, .conv_rows = 7, .dense_ob = 4,  .dense_nb = 4,  .vw = 1,  .local_size = 128,
           .clblast = XD_CLBLAST_BY_SIZE, .dense_tiled = 1, .source = "vendor NVIDIA"}},
    {.match = "", .vendor = "Advanced Micro Devices",
     .p = {.conv_ob = 4, .conv_tb = 4, .conv_cl_tb = 4, .conv_cl1_tb = 4, .conv_rows = 7, .dense_ob = 4,  .dense_nb = 4,  .vw = 1,  .local_size = 128,
           .clblast = XD_CLBLAST_BY_SIZE, .dense_tiled = 1, .source = "vendor AMD"}},
};
/* clang-format on */

/* The default row: every tunable's default from XD_TUNABLES. */
static const xd_params k_default = {
#define XD_TUNABLE_DEFAULT_(name, define, dflt, lo, hi, pow2, what) .name = (dflt),
    XD_TUNABLES(XD_TUNABLE_DEFAULT_)
#undef XD_TUNABLE_DEFAULT_
        .source = "default",
};

/* The LLVM major version a platform names ("... LLVM 15.0.6 ..."), 0 if none. */
static int platform_llvm_major(const xd_device_info *d)
{
    const char *p = strstr(d->platform_version, "LLVM ");
    return p ? atoi(p + 5) : 0;
}

xd_params xd_params_for(const xd_device_info *d, xd_isa isa)
{
    for (size_t i = 0; i < sizeof k_table / sizeof k_table[0]; ++i) {
        const row *r = &k_table[i];
        if (r->match[0] && !strstr(d->id, r->match)) continue;
        if (r->isa != XD_ISA_UNKNOWN && r->isa != isa) continue;
        if (!r->match[0] && r->vendor && !strstr(d->vendor, r->vendor) && !strstr(d->platform_vendor, r->vendor))
            continue;
        if (r->max_llvm > 0) {
            int llvm = platform_llvm_major(d);
            if (llvm == 0 || llvm > r->max_llvm) continue;
        }
        return r->p;
    }
    return k_default;
}

/* One XD_PARAMS key per tunable, from XD_TUNABLES. */
typedef struct tunable_key {
    const char *key;
    size_t off;
    unsigned lo, hi;
    int pow2; /* the value must also be a power of two */
} tunable_key;
static const tunable_key k_keys[] = {
#define XD_TUNABLE_KEY_(name, define, dflt, lo, hi, pow2, what) {#name, offsetof(xd_params, name), (lo), (hi), (pow2)},
    XD_TUNABLES(XD_TUNABLE_KEY_)
#undef XD_TUNABLE_KEY_
};
enum { NKEYS = sizeof k_keys / sizeof k_keys[0] };

/* What a key accepts, in words: "1, 2, 4, 8 or 16", "0 or 1", "an integer in 1..64". */
static void describe_range(const tunable_key *k, char *out, size_t cap)
{
    if (k->lo == 0 && k->hi == 1) {
        snprintf(out, cap, "0 or 1");
    } else if (k->pow2) {
        size_t n = 0;
        for (unsigned v = k->lo; v <= k->hi && n < cap; v *= 2)
            n += (size_t)snprintf(out + n, cap - n, "%s%u", v == k->lo ? "" : v * 2 > k->hi ? " or " : ", ", v);
    } else {
        snprintf(out, cap, "an integer in %u..%u", k->lo, k->hi);
    }
}

static int value_ok(const tunable_key *k, unsigned long v)
{
    return v >= k->lo && v <= k->hi && (!k->pow2 || (v & (v - 1)) == 0);
}

/* The key named by s[0..len), or NULL. */
static const tunable_key *find_key(const char *s, size_t len)
{
    for (size_t k = 0; k < NKEYS; ++k)
        if (len && strlen(k_keys[k].key) == len && strncmp(k_keys[k].key, s, len) == 0) return &k_keys[k];
    return NULL;
}

/* XD_PARAMS="vw=8,dense_ob=10": override table entries, for tuning runs
 * (crossdev-bench) and for tests that prove a tunable changes no bits.  The
 * options passed to the compiler, and so every trace, show the values used. */
xd_status xd_params_override(xd_params *p, const char *spec, xd_error *err)
{
    const char *s = spec;
    while (s && *s) {
        const char *eq = strchr(s, '=');
        const char *end = strchr(s, ',');
        if (!end) end = s + strlen(s);
        const tunable_key *k = eq && eq < end ? find_key(s, (size_t)(eq - s)) : NULL;
        if (!k || !eq) {
            char names[256] = "";
            for (size_t i = 0; i < NKEYS; ++i) {
                size_t n = strlen(names);
                snprintf(names + n, sizeof names - n, "%s%s", i ? ", " : "", k_keys[i].key);
            }
            return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "XD_PARAMS: '%.*s' is not KEY=VALUE with KEY one of %s",
                                (int)(end - s), s, names);
        }
        char *num_end = NULL;
        unsigned long v = strtoul(eq + 1, &num_end, 10);
        if (num_end == eq + 1 || num_end != end || !value_ok(k, v)) {
            char range[64];
            describe_range(k, range, sizeof range);
            return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "XD_PARAMS: %s must be %s, got '%.*s'", k->key, range,
                                (int)(end - eq - 1), eq + 1);
        }
        *(unsigned *)(void *)((char *)p + k->off) = (unsigned)v;
        s = *end ? end + 1 : end;
    }
    if (spec && *spec) p->source = "XD_PARAMS";
    return XD_OK;
}

/* A table row that left a field out (0) where 0 is not allowed is a bug
 * that every device test then reports. */
static xd_status check_row(const xd_params *p, xd_error *err)
{
    for (size_t i = 0; i < NKEYS; ++i) {
        const unsigned v = *(const unsigned *)(const void *)((const char *)p + k_keys[i].off);
        if (!value_ok(&k_keys[i], v))
            return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "tunables table row '%s': %s is %u (host/core/params.c)",
                                p->source, k_keys[i].key, v);
    }
    return XD_OK;
}

xd_status xd_params_from_env(xd_params *p, xd_mode mode, xd_error *err)
{
    xd_status st = check_row(p, err);
    if (st == XD_OK) st = xd_params_override(p, getenv("XD_PARAMS"), err);
    const char *gemm = getenv("XD_FAST_GEMM");
    if (st != XD_OK || mode != XD_MODE_FAST || !gemm) return st;
    if (strcmp(gemm, "always") == 0) p->clblast = XD_CLBLAST_ALWAYS;
    else if (strcmp(gemm, "never") == 0) p->clblast = XD_CLBLAST_NEVER;
    return XD_OK;
}

void xd_params_defines(const xd_params *p, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
#define XD_TUNABLE_DEFINE_(name, define, dflt, lo, hi, pow2, what) \
    if (n < cap) n += (size_t)snprintf(buf + n, cap - n, " -D" #define "=%u", p->name);
    XD_TUNABLES(XD_TUNABLE_DEFINE_)
#undef XD_TUNABLE_DEFINE_
}
