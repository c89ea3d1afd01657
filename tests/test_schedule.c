/* The snapshot schedule (host/train/schedule.c), a pure function of the
 * run's length and options, without a device: the default schedule for a
 * few lengths, --snapshot-at lists (with out-of-range steps refused),
 * --snapshot-every merged in, and every result sorted and unique with 0
 * and the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "train/run.h"

#define NO_LIST ((const int64_t *)NULL)

/* Formats v[0..n) as "0 1 2" for messages. */
static const char *show(const int64_t *v, size_t n)
{
    static char buf[1024];
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && len < sizeof buf - 24; ++i)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%lld", i ? " " : "", (long long)v[i]);
    return buf;
}

/* The schedule of (total, at, every) is exactly want[0..nwant). */
static void expect(xdt *t, const char *what, int64_t total, const int64_t *at, size_t n_at, int64_t every,
                   const int64_t *want, size_t nwant)
{
    int64_t *s = NULL;
    size_t n = 0;
    xd_error err = {0};
    xd_status st = xd_snapshot_schedule(total, at, n_at, every, &s, &n, &err);
    int same = st == XD_OK && n == nwant && memcmp(s, want, n * sizeof *s) == 0;
    xdt_check(t, same, "%s (%lld steps): got %s [%s]", what, (long long)total, xd_status_name(st), s ? show(s, n) : "");
    if (!same) printf("  wanted [%s]\n", show(want, nwant));
    free(s);
}

/* An --snapshot-at list with a step outside 0..total is refused, naming it. */
static void expect_refused(xdt *t, int64_t total, const int64_t *at, size_t n_at, const char *msg)
{
    static int64_t untouched;
    int64_t *s = &untouched;
    size_t n = 99;
    xd_error err = {0};
    xd_status st = xd_snapshot_schedule(total, at, n_at, 0, &s, &n, &err);
    xdt_check(t, st == XD_INVALID_ARGUMENT && s == NULL && n == 0 && strstr(err.message, msg) != NULL,
              "--snapshot-at [%s] of %lld steps: %s, \"%s\" (wanted \"%s\")", show(at, n_at), (long long)total,
              xd_status_name(st), err.message, msg);
}

/* Sorted, unique, inside 0..total, with 0 and total; the default part
 * (xd_default_snapshots) and every multiple of `every` present. */
static void expect_well_formed(xdt *t, int64_t total, int64_t every)
{
    int64_t *s = NULL, def[256];
    size_t n = 0, ndef = xd_default_snapshots(total, def, 256);
    xd_status st = xd_snapshot_schedule(total, NO_LIST, 0, every, &s, &n, NULL);
    int ok = st == XD_OK && n >= 2 && s[0] == 0 && s[n - 1] == total;
    for (size_t i = 1; ok && i < n; ++i) ok = s[i - 1] < s[i];
    size_t j = 0, found = 0;
    for (size_t i = 0; ok && i < ndef; ++i) { /* both sorted: one pass */
        while (j < n && s[j] < def[i]) ++j;
        found += j < n && s[j] == def[i];
    }
    ok = ok && ndef <= 256 && found == ndef;
    for (int64_t k = every; ok && every > 0 && k <= total; k += every) {
        int in = 0;
        for (size_t i = 0; i < n; ++i) in |= s[i] == k;
        ok = in;
    }
    xdt_check(t, ok, "%lld steps, every %lld: not sorted/unique/complete: [%s]", (long long)total, (long long)every,
              s ? show(s, n) : "");
    free(s);
}

static void default_schedules(xdt *t)
{
    expect(t, "default", 1, NO_LIST, 0, 0, (const int64_t[]){0, 1}, 2);
    expect(t, "default", 3, NO_LIST, 0, 0, (const int64_t[]){0, 1, 2, 3}, 4);
    expect(t, "default", 7, NO_LIST, 0, 0, (const int64_t[]){0, 1, 2, 3, 5, 7}, 6);
    expect(t, "default", 100, NO_LIST, 0, 0, (const int64_t[]){0, 1, 2, 3, 5, 10, 20, 50, 100}, 9);
    expect(t, "default", 120, NO_LIST, 0, 0, (const int64_t[]){0, 1, 2, 3, 5, 10, 20, 50, 100, 101, 120}, 11);
    expect(t, "default", 501, NO_LIST, 0, 0, (const int64_t[]){0, 1, 2, 3, 5, 10, 20, 50, 100, 101, 500, 501}, 12);
    expect(t, "default", 1000, NO_LIST, 0, 0, (const int64_t[]){0, 1, 2, 3, 5, 10, 20, 50, 100, 101, 500, 501, 1000},
           13);
    expect(t, "default, one epoch", 1875, NO_LIST, 0, 0,
           (const int64_t[]){0, 1, 2, 3, 5, 10, 20, 50, 100, 101, 500, 501, 1000, 1001, 1500, 1501, 1875}, 17);
    /* the public function agrees, and says how many entries it needs */
    int64_t v[32];
    size_t n = xd_default_snapshots(120, v, 32);
    xdt_check(t, n == 11 && v[9] == 101 && v[10] == 120, "xd_default_snapshots(120): %zu entries [%s]", n,
              show(v, n < 32 ? n : 32));
    xdt_check(t, xd_default_snapshots(120, NULL, 0) >= 11, "xd_default_snapshots without room: a count of at least 11");
}

static void explicit_lists(xdt *t)
{
    expect(t, "--snapshot-at 17,3,9", 40, (const int64_t[]){17, 3, 9}, 3, 0, (const int64_t[]){0, 3, 9, 17, 40}, 5);
    expect(t, "--snapshot-at 5,5,0,40", 40, (const int64_t[]){5, 5, 0, 40}, 4, 0, (const int64_t[]){0, 5, 40}, 3);
    expect(t, "--snapshot-at (empty)", 40, (const int64_t[]){1}, 0, 0, (const int64_t[]){0, 40}, 2);
    expect(t, "--snapshot-at 2 replaces the default", 120, (const int64_t[]){2}, 1, 0, (const int64_t[]){0, 2, 120}, 3);
    expect_refused(t, 10, (const int64_t[]){3, 11}, 2, "--snapshot-at: step 11 is outside 0..10");
    expect_refused(t, 10, (const int64_t[]){-1}, 1, "--snapshot-at: step -1 is outside 0..10");
    expect_refused(t, 1, (const int64_t[]){0, 1, 2}, 3, "--snapshot-at: step 2 is outside 0..1");
}

static void every_k(xdt *t)
{
    expect(t, "--snapshot-every 7", 20, NO_LIST, 0, 7, (const int64_t[]){0, 1, 2, 3, 5, 7, 10, 14, 20}, 9);
    expect(t, "--snapshot-every 5 --snapshot-at 4", 12, (const int64_t[]){4}, 1, 5, (const int64_t[]){0, 4, 5, 10, 12},
           5);
    expect(t, "--snapshot-every 4 --snapshot-at 8,4", 12, (const int64_t[]){8, 4}, 2, 4, (const int64_t[]){0, 4, 8, 12},
           4);
    expect(t, "--snapshot-every beyond the end", 5, NO_LIST, 0, 7, (const int64_t[]){0, 1, 2, 3, 5}, 5);
    expect(t, "--snapshot-every 1", 4, NO_LIST, 0, 1, (const int64_t[]){0, 1, 2, 3, 4}, 5);
    static const int64_t totals[] = {1, 2, 9, 50, 99, 101, 499, 500, 502, 1875, 3750, 10007};
    static const int64_t everies[] = {0, 1, 3, 7, 50, 500, 501};
    for (size_t i = 0; i < sizeof totals / sizeof totals[0]; ++i)
        for (size_t j = 0; j < sizeof everies / sizeof everies[0]; ++j) expect_well_formed(t, totals[i], everies[j]);
}

int main(void)
{
    xdt t = {.name = "test_schedule"};
    default_schedules(&t);
    explicit_lists(&t);
    every_k(&t);
    return xdt_finish(&t);
}
