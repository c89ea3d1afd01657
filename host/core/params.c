/* The tunables table: work-group size and register-blocking factors per
 * device, falling back device -> vendor -> default (CLBlast's
 * Database::GetDefines).  Every entry only moves outputs between
 * work-items; no summation order depends on it (docs/reproducibility.md),
 * which the cross-device bitwise tests check. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

typedef struct row {
    const char *match;   /* substring of the device id; "" = vendor/default row */
    const char *vendor;  /* substring of the vendor name; NULL = any */
    int max_llvm;        /* > 0: only when the platform names LLVM <= this major version */
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
 * PoCL's conv_ob 8 measured the same speed as 4 (crossdev-bench, PoCL
 * pthread); it is kept different from the default on purpose: Oclgrind runs
 * the default row, so the cross-device bitwise tests compare two different
 * tunings and would fail if a tunable ever changed a summation order. */
static const row k_table[] = {
    {"pocl/", NULL, 14, {64, 8, 16, 16, 8, 9, 0, 0, "pocl (LLVM <= 14)"}},
    {"pocl/", NULL, 0, {64, 8, 16, 16, 16, 9, 0, 0, "pocl"}},
    {"intel-opencl/", NULL, 0, {64, 8, 16, 16, 16, 9, 0, 0, "intel-opencl cpu"}},
    {"", "NVIDIA", 0, {128, 4, 4, 4, 1, 4, 1, 1, "vendor NVIDIA"}},
    {"", "Advanced Micro Devices", 0, {128, 4, 4, 4, 1, 4, 1, 1, "vendor AMD"}},
    {"", NULL, 0, {64, 4, 4, 4, 1, 4, 1, 0, "default"}},
};

/* The LLVM major version a platform names ("... LLVM 15.0.6 ..."), 0 if none. */
static int platform_llvm_major(const xd_device_info *d)
{
    const char *p = strstr(d->platform_version, "LLVM ");
    return p ? atoi(p + 5) : 0;
}

xd_params xd_params_for(const xd_device_info *d)
{
    for (size_t i = 0; i < sizeof k_table / sizeof k_table[0]; ++i) {
        const row *r = &k_table[i];
        if (r->match[0] && !strstr(d->id, r->match)) continue;
        if (!r->match[0] && r->vendor && !strstr(d->vendor, r->vendor) && !strstr(d->platform_vendor, r->vendor))
            continue;
        if (r->max_llvm > 0) {
            int llvm = platform_llvm_major(d);
            if (llvm == 0 || llvm > r->max_llvm) continue;
        }
        return r->p;
    }
    return k_table[sizeof k_table / sizeof k_table[0] - 1].p;
}

/* XD_PARAMS="vw=8,dense_ob=10": override table entries, for tuning runs
 * (crossdev-bench) and for tests that prove a tunable changes no bits.  The
 * options passed to the compiler, and so every trace, show the values used. */
xd_status xd_params_override(xd_params *p, const char *spec, char *msg, size_t cap)
{
    static const struct {
        const char *key;
        size_t off;
        unsigned lo, hi;
        int pow2;          /* the value must also be a power of two */
        const char *range; /* for the message */
    } keys[] = {
        {"local_size", offsetof(xd_params, local_size), 1, 1024, 0, "an integer in 1..1024"},
        {"conv_ob", offsetof(xd_params, conv_ob), 1, 64, 0, "an integer in 1..64"},
        {"conv_tb", offsetof(xd_params, conv_tb), 1, 64, 0, "an integer in 1..64"},
        {"dense_ob", offsetof(xd_params, dense_ob), 1, 64, 0, "an integer in 1..64"},
        {"dense_nb", offsetof(xd_params, dense_nb), 1, 64, 0, "an integer in 1..64"},
        {"vw", offsetof(xd_params, vw), 1, 16, 1, "1, 2, 4, 8 or 16"},
        {"clblast", offsetof(xd_params, clblast), 0, 1, 0, "0 or 1"},
        {"dense_tiled", offsetof(xd_params, dense_tiled), 0, 1, 0, "0 or 1"},
    };
    const size_t nkeys = sizeof keys / sizeof keys[0];
    const char *s = spec;
    while (s && *s) {
        const char *eq = strchr(s, '=');
        const char *end = strchr(s, ',');
        if (!end) end = s + strlen(s);
        size_t klen = eq && eq < end ? (size_t)(eq - s) : 0;
        size_t k = 0;
        for (; k < nkeys; ++k)
            if (klen && strlen(keys[k].key) == klen && strncmp(keys[k].key, s, klen) == 0) break;
        if (k == nkeys) {
            char names[256] = "";
            for (size_t i = 0; i < nkeys; ++i) {
                size_t n = strlen(names);
                snprintf(names + n, sizeof names - n, "%s%s", i ? ", " : "", keys[i].key);
            }
            xd_format(msg, cap, "XD_PARAMS: '%.*s' is not KEY=VALUE with KEY one of %s", (int)(end - s), s, names);
            return XD_INVALID_ARGUMENT;
        }
        char *num_end = NULL;
        unsigned long v = strtoul(eq + 1, &num_end, 10);
        if (num_end == eq + 1 || num_end != end || v < keys[k].lo || v > keys[k].hi ||
            (keys[k].pow2 && (v & (v - 1)) != 0)) {
            xd_format(msg, cap, "XD_PARAMS: %s must be %s, got '%.*s'", keys[k].key, keys[k].range,
                      (int)(end - eq - 1), eq + 1);
            return XD_INVALID_ARGUMENT;
        }
        *(unsigned *)(void *)((char *)p + keys[k].off) = (unsigned)v;
        s = *end ? end + 1 : end;
    }
    if (spec && *spec) p->source = "XD_PARAMS";
    return XD_OK;
}
