/* Program sources and user programs.
 *
 * The kernels in cl/ sources are embedded at build time (cmake/embed_cl.cmake,
 * with xd_math.h inlined), so an installed library needs no source path.
 * During development XD_KERNEL_DIR may point at cl/ to load them from disk
 * instead; a missing file is then an error, never an empty program. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

/* Appends src to *dst, replacing the line '#include "xd_math.h"' by header. */
static int append_inlined(char **dst, size_t *len, const char *src, size_t srclen, const char *header)
{
    static const char inc[] = "#include \"xd_math.h\"";
    const char *hit = strstr(src, inc);
    size_t hl = header ? strlen(header) : 0;
    size_t need = *len + srclen + hl + 2;
    char *g = realloc(*dst, need);
    if (!g) return 0;
    *dst = g;
    if (hit && header) {
        size_t pre = (size_t)(hit - src);
        memcpy(*dst + *len, src, pre);
        memcpy(*dst + *len + pre, header, hl);
        size_t post = srclen - pre - (sizeof inc - 1);
        memcpy(*dst + *len + pre + hl, hit + sizeof inc - 1, post);
        *len += pre + hl + post;
    } else {
        memcpy(*dst + *len, src, srclen);
        *len += srclen;
    }
    (*dst)[(*len)++] = '\n';
    (*dst)[*len] = '\0';
    return 1;
}

xd_status xd_program_source(xd_context *ctx, char **out)
{
    *out = NULL;
    const char *dir = getenv("XD_KERNEL_DIR");
    char *text = NULL;
    size_t len = 0;
    if (!dir || !*dir) {
        for (size_t i = 0; i < xd_embedded_source_count; ++i) {
            if (!append_inlined(&text, &len, (const char *)xd_embedded_sources[i].data, xd_embedded_sources[i].size,
                                NULL))
                goto oom;
        }
        *out = text;
        return XD_OK;
    }
    char path[4096];
    size_t hlen = 0;
    snprintf(path, sizeof path, "%s/xd_math.h", dir);
    char *header = NULL;
    if (xd_read_file(path, &header, &hlen, NULL) != XD_OK) header = NULL;
    if (!header) {
        free(text);
        return xd_fail(ctx, XD_IO, 0, "XD_KERNEL_DIR: cannot read %s", path);
    }
    for (size_t i = 0; i < xd_embedded_source_count; ++i) {
        size_t n = 0;
        snprintf(path, sizeof path, "%s/%s", dir, xd_embedded_sources[i].name);
        char *src = NULL;
        if (xd_read_file(path, &src, &n, NULL) != XD_OK) src = NULL;
        if (!src) {
            free(header);
            free(text);
            return xd_fail(ctx, XD_IO, 0, "XD_KERNEL_DIR: cannot read %s", path);
        }
        int ok = append_inlined(&text, &len, src, n, header);
        free(src);
        if (!ok) {
            free(header);
            goto oom;
        }
    }
    free(header);
    *out = text;
    return XD_OK;
oom:
    free(text);
    return xd_fail(ctx, XD_OUT_OF_HOST_MEMORY, 0, "out of host memory assembling kernel sources");
}

static xd_status program_create(xd_context *ctx, const char *source, const char *extra_options, int cached,
                                xd_program **out)
{
    if (!ctx || !source || !out) return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "xd_program_create: NULL argument");
    *out = NULL;
    char options[1024];
    snprintf(options, sizeof options, "%s%s%s", ctx->options, extra_options ? " " : "",
             extra_options ? extra_options : "");
    cl_program prog = NULL;
    xd_status st = xd_program_build(ctx, source, options, cached, &prog);
    if (st != XD_OK) return st;
    xd_program *p = calloc(1, sizeof *p);
    if (!p) {
        clReleaseProgram(prog);
        return xd_fail(ctx, XD_OUT_OF_HOST_MEMORY, 0, "out of host memory");
    }
    p->ctx = ctx;
    p->program = prog;
    *out = p;
    return XD_OK;
}

xd_status xd_program_create(xd_context *ctx, const char *source, const char *extra_options, xd_program **out)
{
    return program_create(ctx, source, extra_options, 0, out);
}

xd_status xd_program_create_own(xd_context *ctx, const char *source, const char *extra_options, xd_program **out)
{
    return program_create(ctx, source, extra_options, 1, out);
}

void xd_program_destroy(xd_program *prog)
{
    if (!prog) return;
    clReleaseProgram(prog->program);
    free(prog);
}
