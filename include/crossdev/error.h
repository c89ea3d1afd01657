/* crossdev — the error object (SQLite's errcode/errmsg, for functions that
 * have no handle).
 *
 * Functions without a context take an `xd_error *err` (NULL: not wanted)
 * and fill it when they fail: the status they return, the raw OpenCL code
 * where an OpenCL call failed, and a message naming the file, field,
 * option or device.  Functions on a context keep their detail in the
 * context (xd_context_last_error); xd_error_from_context copies it across. */
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
