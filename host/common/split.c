/* Comma-separated lists, cut one way for every caller (device selectors,
 * compare --modes, run --snapshot-at): at every comma, so an empty item
 * ("a,,b", ",") reaches the caller, which names it in its own words. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static char *trim_space(char *s)
{
    while (isspace((unsigned char)*s)) ++s;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

char **xd_split_commas(const char *s, int trim, size_t *count)
{
    size_t n = 1, len = strlen(s);
    for (const char *p = s; *p; ++p) n += *p == ',';
    /* One block, so the caller frees once: n + 1 pointers, then the copy of s they point into. */
    char **items = malloc((n + 1) * sizeof *items + len + 1);
    if (!items) return NULL;
    char *copy = (char *)(items + n + 1);
    memcpy(copy, s, len + 1);
    size_t k = 0;
    for (char *tok = copy, *next; tok; tok = next) {
        next = strchr(tok, ',');
        if (next) *next++ = '\0';
        items[k++] = trim ? trim_space(tok) : tok;
    }
    items[k] = NULL;
    if (count) *count = k;
    return items;
}
