/* Writing the trace document (format version 1, docs/trace-format.md);
 * host/io/trace_read.c reads it. */
#include <stdlib.h>
#include <string.h>

#include "io/io.h"

xd_status xd_json_write_file(json_t *root, const char *path, xd_error *err)
{
    char *text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    if (!text) return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "%s: cannot serialise JSON (out of memory)", path);
    const void *parts[2] = {text, "\n"};
    const size_t sizes[2] = {strlen(text), 1};
    xd_status st = xd_write_file_atomic(path, parts, sizes, 2, err);
    free(text);
    return st;
}
