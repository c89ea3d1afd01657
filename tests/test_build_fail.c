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
