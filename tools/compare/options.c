/* The option parsing the subcommands share: strict numbers, lists, and
 * the report options of diff and compare. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "common/common.h"

/* Strict integer: the whole string, in [lo, hi]; the message names the option. */
int parse_i64(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno == ERANGE) {
        fprintf(stderr, "%s: %s: '%s' is not a whole number\n", prog, opt, s);
        return 0;
    }
    if (v < lo || v > hi) {
        fprintf(stderr, "%s: %s: %lld is outside %lld..%lld\n", prog, opt, v, (long long)lo, (long long)hi);
        return 0;
    }
    *out = v;
    return 1;
}

int parse_f64(const char *opt, const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno == ERANGE || !(v > 0) || v > 1e30) {
        fprintf(stderr, "%s: %s: '%s' is not a positive number\n", prog, opt, s);
        return 0;
    }
    *out = v;
    return 1;
}

/* Items are not trimmed: parse_i64 takes the whole item, so "1, 2" is
 * accepted (strtoll skips leading space) and "1 ,2" refused, as ever. */
int parse_step_list(const char *opt, const char *s, int64_t **out, size_t *n)
{
    size_t count = 0;
    char **items = xd_split_commas(s, 0, &count);
    int64_t *v = items ? calloc(count, sizeof *v) : NULL;
    int ok = v != NULL;
    for (size_t k = 0; ok && k < count; ++k) ok = parse_i64(opt, items[k], 0, INT64_C(1) << 40, &v[k]);
    free(items);
    if (!ok || !out) {
        free(v);
        return ok;
    }
    free(*out); /* a repeated option replaces the earlier list */
    *out = v;
    *n = count;
    return 1;
}

/* Option codes: letters, and the model options' 0x100.. (cli.h). */
#define XD_OPTION_CODES 0x200

/* Options that may be given more than once (each adds to a list). */
static int repeatable(int c) { return c == 'I'; }

/* An option given twice: the last counts (so that a script can override
 * its defaults), said on stderr with both values, never silently. */
static void given_twice(int c, const char **seen, const struct option *opts, int index)
{
    if (c < 1 || c >= XD_OPTION_CODES || c == ':' || c == '?' || repeatable(c)) return;
    const char *now = optarg ? optarg : "";
    if (seen[c] && index >= 0)
        fprintf(stderr, "%s: --%s given twice%s%s%s%s%s: the last counts\n", prog, opts[index].name,
                optarg ? " ('" : "", optarg ? seen[c] : "", optarg ? "', then '" : "", optarg ? now : "",
                optarg ? "')" : "");
    seen[c] = now;
}

int parse_options(int argc, char **argv, const struct option *opts, option_fn take, void *user, void (*usage)(void))
{
    int c, ok = 1, index = -1;
    const char *seen[XD_OPTION_CODES] = {0};
    optind = 1;
    opterr = 0;
    while (ok && (index = -1, c = getopt_long(argc, argv, ":", opts, &index)) != -1) {
        if (c == 'h') {
            usage();
            return 0;
        }
        given_twice(c, seen, opts, index);
        ok = take(c, user, argv);
    }
    return ok ? CLI_GO_ON : EXIT_USAGE;
}

/* --ignore GLOB: tensors (fnmatch, e.g. 'conv2d.bias*') shown but never
 * judged; tol.ignore points at the list kept in ro. */
static int add_ignore(report_opts *ro, const char *glob)
{
    if (!glob[0] || ro->tol.nignore == XD_MAX_IGNORE) {
        fprintf(stderr, "%s: --ignore: %s\n", prog, glob[0] ? "at most 16 globs" : "an empty glob");
        return 0;
    }
    ro->ignore[ro->tol.nignore++] = glob;
    ro->tol.ignore = ro->ignore;
    return 1;
}

int report_option(int c, report_opts *ro)
{
    switch (c) {
    case 'T': return parse_f64("--tol-rel", optarg, &ro->tol.rel);
    case 'U': return parse_f64("--tol-loss", optarg, &ro->tol.loss_rel);
    case 'R': return parse_f64("--rounding-rel", optarg, &ro->tol.rounding_rel);
    case 'A': return parse_f64("--amplified-rel", optarg, &ro->tol.amplified_rel);
    case 'I': return add_ignore(ro, optarg);
    case 'J': ro->json = optarg; return 1;
    case 'W': ro->html = optarg; return 1;
    default: return -1;
    }
}
