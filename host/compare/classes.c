/* Classes of bitwise-equal runs: many runs of one setting (devices,
 * drivers, driver versions) fall into a few groups that agree bit for bit;
 * the report shows the groups and where each two part, not N pairs. */
#include <stdlib.h>
#include <string.h>

#include "crossdev/report.h"
#include "common/common.h"
#include "compare/pair.h"

/* 1 when a and b hold the same losses (bit for bit) and the same hashes of
 * the same tensors, initial state included, over their common steps. */
static int bitwise_equal(const xd_trace *a, const xd_trace *b)
{
    if (a->ntensors != b->ntensors) return 0;
    for (size_t i = 0; i < a->ntensors; ++i)
        if (strcmp(a->tensor_names[i], b->tensor_names[i]) != 0 || a->init_hashes[i] != b->init_hashes[i]) return 0;
    const int64_t steps = a->steps < b->steps ? a->steps : b->steps;
    return memcmp(a->loss, b->loss, (size_t)steps * sizeof *a->loss) == 0 &&
           memcmp(a->hashes, b->hashes, (size_t)steps * a->ntensors * sizeof *a->hashes) == 0;
}

/* Reference of a mode: its successful run with the most steps (the first
 * in run order among equals), so slow devices that ran fewer steps never
 * shorten the other comparisons.  NULL: no run of the mode succeeded. */
const xd_run_record *xd_report_mode_reference(const xd_report *r, const char *mode)
{
    const xd_run_record *ref = NULL;
    for (size_t i = 0; i < r->nruns; ++i) {
        const xd_run_record *run = &r->runs[i];
        if (strcmp(run->mode, mode) == 0 && !run->failed && (!ref || run->trace->steps > ref->trace->steps)) ref = run;
    }
    return ref;
}

/* Run i into the first class of its mode whose first member it equals,
 * else into a new class. */
static xd_status place_run(xd_report *r, size_t i, const char *mode, size_t first_class)
{
    const xd_trace *t = r->runs[i].trace;
    size_t c = first_class;
    while (c < r->nclasses && !bitwise_equal(r->runs[r->classes[c].members[0]].trace, t)) ++c;
    xd_run_class *k = &r->classes[c];
    if (c == r->nclasses) {
        ++r->nclasses;
        snprintf(k->label, sizeof k->label, "%c%zu", mode[0] == 'r' ? 'R' : 'F', c - first_class + 1);
        snprintf(k->mode, sizeof k->mode, "%s", mode);
        k->members = calloc(r->nruns, sizeof *k->members);
        if (!k->members) return XD_OUT_OF_HOST_MEMORY;
    }
    k->members[k->nmembers++] = i;
    return XD_OK;
}

static xd_status classes_of_mode(xd_report *r, const char *mode)
{
    const xd_run_record *reference = xd_report_mode_reference(r, mode);
    if (!reference) return XD_OK;
    const size_t ref = (size_t)(reference - r->runs), first = r->nclasses;
    xd_status st = place_run(r, ref, mode, first);
    for (size_t i = 0; i < r->nruns && st == XD_OK; ++i)
        if (i != ref && strcmp(r->runs[i].mode, mode) == 0 && !r->runs[i].failed) st = place_run(r, i, mode, first);
    return st;
}

/* The report's pair of traces a and b, or NULL. */
static const xd_pair *existing_pair(const xd_report *r, const xd_trace *a, const xd_trace *b)
{
    for (size_t i = 0; i < r->npairs; ++i)
        if (r->pairs[i].ref == a && r->pairs[i].other == b) return &r->pairs[i];
    return NULL;
}

/* Every two classes of one mode compared through their first members: the
 * report's pair where it compared them already (the reference's class
 * against another), else compared here. */
static xd_status class_pairs(xd_report *r, xd_error *err)
{
    size_t n = 0;
    for (size_t a = 0; a < r->nclasses; ++a)
        for (size_t b = a + 1; b < r->nclasses; ++b) n += strcmp(r->classes[a].mode, r->classes[b].mode) == 0;
    /* every class has a first member: place_run makes none empty */
    r->class_pairs = calloc(n + 1, sizeof *r->class_pairs);
    if (!r->class_pairs) return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "out of host memory");
    for (size_t a = 0; a < r->nclasses; ++a)
        for (size_t b = a + 1; b < r->nclasses; ++b) {
            if (strcmp(r->classes[a].mode, r->classes[b].mode) != 0 || !r->classes[a].nmembers ||
                !r->classes[b].nmembers)
                continue;
            xd_class_pair *cp = &r->class_pairs[r->nclass_pairs++];
            cp->a = a;
            cp->b = b;
            const xd_trace *ta = r->runs[r->classes[a].members[0]].trace, *tb = r->runs[r->classes[b].members[0]].trace;
            if ((cp->pair = existing_pair(r, ta, tb)) != NULL) continue;
            cp->pair = &cp->own;
            xd_error e;
            xd_status st = xd_compare_pair(ta, tb, &r->tol, &cp->own, &e);
            if (st != XD_OK && st != XD_MISMATCH)
                return xd_error_set(err, st, 0, "comparing classes %s and %s: %s", r->classes[a].label,
                                    r->classes[b].label, e.message);
        }
    return XD_OK;
}

xd_status xd_report_classes(xd_report *r, xd_error *err)
{
    xd_report_classes_free(r);
    r->classes = calloc(r->nruns + 1, sizeof *r->classes);
    if (!r->classes) return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "out of host memory");
    xd_status st = classes_of_mode(r, "reproducible");
    if (st == XD_OK) st = classes_of_mode(r, "fast");
    if (st != XD_OK) return xd_error_set(err, st, 0, "out of host memory");
    return class_pairs(r, err);
}

void xd_report_classes_free(xd_report *r)
{
    for (size_t i = 0; i < r->nclass_pairs; ++i) xd_pair_free(&r->class_pairs[i].own);
    free(r->class_pairs);
    r->class_pairs = NULL;
    r->nclass_pairs = 0;
    for (size_t i = 0; i < r->nclasses; ++i) free(r->classes[i].members);
    free(r->classes);
    r->classes = NULL;
    r->nclasses = 0;
}

size_t xd_report_mode_runs(const xd_report *r, const char *mode)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nclasses; ++i)
        if (strcmp(r->classes[i].mode, mode) == 0) n += r->classes[i].nmembers;
    return n;
}
