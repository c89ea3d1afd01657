/* The tunables table: work-group size and register-blocking factors per
 * device, falling back device -> vendor -> default (CLBlast's
 * Database::GetDefines).  Every entry only moves outputs between
 * work-items; no summation order depends on it (docs/reproducibility.md),
 * which the cross-device bitwise tests check. */
#include <string.h>

#include "internal.h"

typedef struct row {
    const char *match;   /* substring of the device id; "" = vendor/default row */
    const char *vendor;  /* substring of the vendor name; NULL = any */
    xd_params p;
} row;

/* PoCL's conv_ob 8 measured the same speed as 4 (crossdev-bench, PoCL
 * pthread); it is kept different from the default on purpose: Oclgrind runs
 * the default row, so the cross-device bitwise tests compare two different
 * tunings and would fail if a tunable ever changed a summation order. */
static const row k_table[] = {
    {"pocl/", NULL, {64, 8, 4, 4, 16, 9, "pocl"}},
    {"", "NVIDIA", {128, 4, 4, 4, 1, 4, "vendor NVIDIA"}},
    {"", "Advanced Micro Devices", {128, 4, 4, 4, 1, 4, "vendor AMD"}},
    {"", NULL, {64, 4, 4, 4, 1, 4, "default"}},
};

xd_params xd_params_for(const xd_device_info *d)
{
    for (size_t i = 0; i < sizeof k_table / sizeof k_table[0]; ++i) {
        const row *r = &k_table[i];
        if (r->match[0] && !strstr(d->id, r->match)) continue;
        if (!r->match[0] && r->vendor && !strstr(d->vendor, r->vendor) && !strstr(d->platform_vendor, r->vendor))
            continue;
        return r->p;
    }
    return k_table[sizeof k_table / sizeof k_table[0] - 1].p;
}
