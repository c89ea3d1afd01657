/* Resource limits on a real device: a tensor larger than the device's
 * largest allocation is refused with a clear message naming the sizes, and
 * the context keeps working. */
#include <stdio.h>
#include <string.h>

#include "harness.h"

int main(int argc, char **argv)
{
    xdt t;
    int rc = xdt_init(&t, "test_limits", argc, argv);
    if (rc) return rc;
    /* 2^31 x 16 floats = 128 GiB: beyond every device's max allocation */
    int64_t shape[2] = {INT64_C(1) << 31, 16};
    xd_tensor *x = NULL;
    xd_status st = xd_tensor_create(t.ctx, XD_DTYPE_F32, 2, shape, &x);
    const char *msg = xd_context_last_error(t.ctx);
    xdt_check(&t, st == XD_OUT_OF_DEVICE_MEMORY, "huge tensor: status %s", xd_status_name(st));
    xdt_check(&t, x == NULL, "no tensor handle after a failed allocation");
    xdt_check(&t, strstr(msg, "137438953472 bytes") != NULL, "message names the size asked for: %s", msg);
    xdt_check(&t, strstr(msg, t.dev->id) != NULL, "message names the device: %s", msg);
    /* an impossible shape is an argument error, not an allocation attempt */
    int64_t bad[2] = {0, 16};
    st = xd_tensor_create(t.ctx, XD_DTYPE_F32, 2, bad, &x);
    xdt_check(&t, st == XD_INVALID_ARGUMENT, "zero dimension: %s", xd_status_name(st));
    /* the context still works */
    size_t mism = 0;
    xdt_ok(&t, xd_context_probe(t.ctx, &mism), "probe after refused allocations");
    return xdt_finish(&t);
}
