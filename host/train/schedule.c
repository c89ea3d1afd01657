/* The snapshot schedule: pure functions of the run's length and options
 * (docs/trace-format.md), tested without a device. */
#include <stdlib.h>

#include "train/run.h"

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Sorts v[0..n) and drops repeats; returns the new count. */
static size_t sort_unique(int64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_i64);
    size_t u = 0;
    for (size_t i = 0; i < n; ++i)
        if (u == 0 || v[i] != v[u - 1]) v[u++] = v[i];
    return u;
}

size_t xd_default_snapshots(int64_t steps, int64_t *out, size_t cap)
{
    static const int64_t early[] = {0, 1, 2, 3, 5, 10, 20, 50, 100, 101};
    size_t n = 0;
    for (size_t i = 0; i < sizeof early / sizeof early[0]; ++i)
        if (early[i] <= steps) {
            if (n < cap) out[n] = early[i];
            ++n;
        }
    for (int64_t k = 500; k < steps; k += 500) {
        if (n < cap) out[n] = k;
        ++n;
        if (k + 1 <= steps) {
            if (n < cap) out[n] = k + 1;
            ++n;
        }
    }
    if (n < cap) out[n] = steps;
    ++n;
    return (out && n <= cap) ? sort_unique(out, n) : n; /* out NULL: only the count is asked for */
}

xd_status xd_snapshot_schedule(int64_t total, const int64_t *at, size_t n_at, int64_t every, int64_t **out, size_t *n,
                               xd_error *err)
{
    *out = NULL;
    *n = 0;
    size_t cap = (at ? n_at : xd_default_snapshots(total, NULL, 0)) + 2 + (every > 0 ? (size_t)(total / every) : 0);
    int64_t *s = malloc(cap * sizeof *s);
    if (!s) return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "out of host memory (snapshot schedule)");
    size_t k = 0;
    if (at) {
        for (size_t i = 0; i < n_at; ++i) {
            if (at[i] < 0 || at[i] > total) {
                free(s);
                return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "--snapshot-at: step %lld is outside 0..%lld",
                                    (long long)at[i], (long long)total);
            }
            s[k++] = at[i];
        }
        s[k++] = 0;
    } else {
        k = xd_default_snapshots(total, s, cap);
    }
    if (every > 0)
        for (int64_t step = every; step <= total; step += every) s[k++] = step;
    s[k++] = total;
    *n = sort_unique(s, k);
    *out = s;
    return XD_OK;
}
