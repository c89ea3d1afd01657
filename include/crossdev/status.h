/* crossdev — status codes.
 *
 * One X-macro list (name, message) yields the enum, xd_status_name() and
 * xd_status_string(), so the three can never drift apart (libuv's
 * UV_ERRNO_MAP).  The raw OpenCL error code of a failing call is kept beside
 * the status in the handle's last-error message. */
#ifndef CROSSDEV_STATUS_H
#define CROSSDEV_STATUS_H

#include "crossdev/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XD_STATUS_MAP(X)                                               \
    X(OK, "success")                                                   \
    X(INVALID_ARGUMENT, "invalid argument")                            \
    X(SHAPE_MISMATCH, "tensor shapes do not agree")                    \
    X(OUT_OF_HOST_MEMORY, "out of host memory")                        \
    X(OUT_OF_DEVICE_MEMORY, "out of device memory")                    \
    X(NO_DEVICE, "no matching OpenCL device")                          \
    X(OPENCL, "OpenCL call failed")                                    \
    X(BUILD_FAILED, "OpenCL program build failed")                     \
    X(UNSUPPORTED, "device cannot meet the requested guarantee")       \
    X(IO, "input/output error")                                        \
    X(FORMAT, "malformed file")                                        \
    X(MISMATCH, "traces are not comparable")                           \
    X(NOT_FINITE, "non-finite value in training")                      \
    X(INTERRUPTED, "interrupted")                                      \
    X(SELF_TEST_FAILED, "device failed the reproducibility self-test") \
    X(EXISTS, "already exists")

typedef enum xd_status {
#define XD_STATUS_ENUM_(name, msg) XD_##name,
    XD_STATUS_MAP(XD_STATUS_ENUM_)
#undef XD_STATUS_ENUM_
        XD_STATUS_COUNT_
} xd_status;

/* "XD_OK", "XD_BUILD_FAILED", ...; "XD_UNKNOWN_STATUS" for values off the list. */
XD_API const char *xd_status_name(xd_status s);
/* A short human message ("OpenCL program build failed"). */
XD_API const char *xd_status_string(xd_status s);

#ifdef __cplusplus
}
#endif
#endif
