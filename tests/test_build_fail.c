/* A kernel that fails to compile gives XD_BUILD_FAILED and its whole build
 * log through the API; the process and the context go on working. */
#include <stdio.h>
#include <string.h>

#include "harness.h"

int main(int argc, char **argv)
{
    xdt t;
    int rc = xdt_init(&t, "test_build_fail", argc, argv);
    if (rc) return rc;
    xd_program *p = NULL;
    const char *bad = "__kernel void broken(__global float *x) { x[0] = undeclared_identifier_xyz; }\n";
    xd_status st = xd_program_create(t.ctx, bad, NULL, &p);
    xdt_check(&t, st == XD_BUILD_FAILED, "broken source: status %s", xd_status_name(st));
    xdt_check(&t, p == NULL, "no program handle after a failed build");
    const char *msg = xd_context_last_error(t.ctx);
    xdt_check(&t, strstr(msg, "undeclared_identifier_xyz") != NULL, "build log names the error: %s", msg);
    xdt_check(&t, xd_context_last_cl_error(t.ctx) != 0, "raw cl_int kept");

    /* xd_error_from_context moves all of it into an xd_error: the status
     * given, the raw cl_int, the log (cut with "..." past the buffer). */
    xd_error e;
    xd_error_clear(&e);
    xdt_check(&t, xd_error_from_context(&e, st, t.ctx) == st && e.status == st, "status carried: %s",
              xd_status_name(e.status));
    xdt_check(&t, e.cl_code == xd_context_last_cl_error(t.ctx) && e.cl_code != 0, "cl_int carried: %d", e.cl_code);
    const size_t len = strlen(msg), keep = sizeof e.message - 4;
    xdt_check(&t,
              len < sizeof e.message ? strcmp(e.message, msg) == 0
                                     : strncmp(e.message, msg, keep) == 0 && strcmp(e.message + keep, "...") == 0,
              "message carried (%zu bytes of log): %.200s", len, e.message);
    xdt_check(&t, xd_error_from_context(NULL, st, t.ctx) == st, "NULL err: the status back");
    xdt_check(&t, xd_error_from_context(&e, XD_OPENCL, NULL) == XD_OPENCL && !e.message[0] && e.cl_code == 0,
              "NULL context: no message, no cl_int");

    /* The context still works: a good program builds, the library's kernels run. */
    const char *good = "__kernel void fine(__global float *x) { x[get_global_id(0)] *= 2.0f; }\n";
    st = xd_program_create(t.ctx, good, "-DUNUSED=1", &p);
    xdt_check(&t, st == XD_OK && p, "good source builds after a failure: %s", xd_context_last_error(t.ctx));
    xd_program_destroy(p);
    xd_program_destroy(NULL);
    size_t mism = 0;
    xdt_ok(&t, xd_context_probe(t.ctx, &mism), "probe after a failed build");

    /* Bad options are a build failure too, not a crash. */
    st = xd_program_create(t.ctx, good, "-cl-no-such-option", &p);
    xdt_check(&t, st != XD_OK, "unknown build option refused (%s)", xd_status_name(st));
    xd_program_destroy(p);
    return xdt_finish(&t);
}
