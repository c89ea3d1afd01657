/* crossdev — context: device + queue + the program built for a mode. */
#ifndef CROSSDEV_CONTEXT_H
#define CROSSDEV_CONTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "crossdev/device.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum xd_mode { XD_MODE_REPRODUCIBLE = 0, XD_MODE_FAST = 1 } xd_mode;
XD_API const char *xd_mode_string(xd_mode m); /* "reproducible" / "fast" */
XD_API xd_status xd_mode_parse(const char *s, xd_mode *out);

typedef struct xd_context xd_context;

/* Creates an OpenCL context and in-order profiling queue on the device and
 * builds every crossdev kernel for the mode.  *out is set whenever memory
 * allows, also on failure, so that xd_context_last_error() can say why (a
 * missing capability in reproducible mode, the whole build log after a
 * failed build); the caller destroys it in every case. */
XD_API xd_status xd_context_create(const xd_device_info *device, xd_mode mode, xd_context **out);
XD_API void xd_context_destroy(xd_context *ctx);

XD_API const char *xd_context_last_error(const xd_context *ctx); /* "" when none */
XD_API int xd_context_last_cl_error(const xd_context *ctx);      /* raw cl_int, 0 when none */
/* The context's last error moved into err (include/crossdev/error.h): status
 * st, the raw OpenCL code and the message exactly as xd_context_last_error
 * holds them (a message longer than err's buffer ends in "...").  Returns st,
 * so that a function taking an xd_error can say `return
 * xd_error_from_context(err, st, ctx);` after a call on the context failed.
 * err NULL: nothing; ctx NULL: st with no message and no OpenCL code. */
XD_API xd_status xd_error_from_context(xd_error *err, xd_status st, const xd_context *ctx);
XD_API const xd_device_info *xd_context_device(const xd_context *ctx);
XD_API xd_mode xd_context_mode(const xd_context *ctx);
XD_API const char *xd_context_build_options(const xd_context *ctx);
/* What the context guarantees, e.g. "bitwise (div/sqrt: correctly rounded builtins)". */
XD_API const char *xd_context_guarantee(const xd_context *ctx);
XD_API xd_status xd_context_finish(xd_context *ctx);
XD_API uint64_t xd_context_device_bytes_peak(const xd_context *ctx);

/* Reproducible-mode requirements for a device, without creating a context:
 * XD_OK, or XD_UNSUPPORTED with the missing capability in err. */
XD_API xd_status xd_device_check_reproducible(const xd_device_info *device, xd_error *err);

/* Self-test (host/core/probe.c): runs the reproducible math and the loop shapes
 * of the contract's reductions (sums, fma chains, vector lanes, a*b + c with
 * contraction off) at several work-group sizes on fixed inputs, and compares
 * every result bitwise with the host build.  XD_OK when all agree, else
 * XD_SELF_TEST_FAILED with what the device does in xd_context_last_error();
 * *mismatches (optional) gets the count.  xd_context_create runs it in
 * reproducible mode and refuses a device that fails. */
XD_API xd_status xd_context_probe(xd_context *ctx, size_t *mismatches);

/* The same self-test on a separate build of crossdev's kernels with the
 * context's options plus extra_options: shows what the probe catches
 * (tests plant a reordering kernel with -DXD_PROBE_PLANT_REASSOC, or drop
 * the loop pragmas with -DXD_UNORDERED_LOOPS; -cl-fast-relaxed-math). */
XD_API xd_status xd_context_probe_options(xd_context *ctx, const char *extra_options, size_t *mismatches);

/* Builds arbitrary OpenCL C with the context's mode options (used to test
 * build-failure handling, and by users adding kernels).  On failure the
 * build log is in xd_context_last_error(). */
typedef struct xd_program xd_program;
XD_API xd_status xd_program_create(xd_context *ctx, const char *source, const char *extra_options, xd_program **out);
XD_API void xd_program_destroy(xd_program *prog);

#ifdef __cplusplus
}
#endif
#endif
