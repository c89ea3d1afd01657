/* crossdev — the error object (SQLite's errcode/errmsg, for functions that
 * have no handle).
 *
 * How every library function says why it failed: it returns an xd_status
 * and leaves the detail in one of two places, chosen by what it works on.
 *
 * - A function on a context, or on a tensor or program of one (the ops,
 *   tensor transfers, probes, program builds: the calls of the training
 *   loop), leaves it in the context: xd_context_last_error() and
 *   xd_context_last_cl_error() (crossdev/context.h), as sqlite3_errmsg(db).
 * - Every other function takes an `xd_error *err` last (NULL: not wanted)
 *   and fills it: the status it returns, the raw OpenCL code where an
 *   OpenCL call failed, and a message naming the file, field, option or
 *   device.
 * - A function that has both (xd_train_run) moves the context's detail
 *   into its xd_error with xd_error_from_context (crossdev/context.h),
 *   which copies the message and the OpenCL code exactly.
 *
 * Two cases return the status alone: a function on a context given a NULL
 * context or tensor (or xd_context_create without the memory for one),
 * where there is nowhere to put a message, and the name parsers
 * xd_mode_parse and xd_optimizer_kind_parse, whose one failure is a name
 * outside their list (XD_INVALID_ARGUMENT: the caller holds the name and
 * says which option it came from). */
#ifndef CROSSDEV_ERROR_H
#define CROSSDEV_ERROR_H

#include "crossdev/export.h"
#include "crossdev/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XD_ERROR_MESSAGE_LEN 4096

typedef struct xd_error {
    xd_status status;                   /* XD_OK until something fails */
    int cl_code;                        /* raw cl_int of a failed OpenCL call, 0 when none */
    char message[XD_ERROR_MESSAGE_LEN]; /* "" when none; a longer message ends in "..." */
} xd_error;

/* Resets err to XD_OK with no message (err may be NULL). */
XD_API void xd_error_clear(xd_error *err);
/* The message, "" for NULL or no error. */
XD_API const char *xd_error_message(const xd_error *err);

#ifdef __cplusplus
}
#endif
#endif
