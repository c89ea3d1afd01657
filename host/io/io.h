/* The io stage's internals (no OpenCL): the trace document's JSON writer
 * and helpers for messages.  Never installed. */
#ifndef XD_HOST_IO_H
#define XD_HOST_IO_H

#include <jansson.h>

#include "common/common.h"
#include "crossdev/io.h"

/* "float32 [10, 21632]": what an .npy holds, for messages. */
void xd_npy_describe(const xd_npy_array *a, char *buf, size_t cap);
/* Writes a JSON document atomically (xd_write_file_atomic), as trace.json
 * and report.json are written: indented, keys in insertion order, reals
 * with 17 significant digits, a final newline. */
xd_status xd_json_write_file(json_t *root, const char *path, xd_error *err);

#endif
