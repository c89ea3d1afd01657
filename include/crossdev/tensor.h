/* crossdev — tensors: device buffers with a dtype and a shape, on a context. */
#ifndef CROSSDEV_TENSOR_H
#define CROSSDEV_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "crossdev/context.h"
#include "crossdev/types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XD_MAX_DIMS 8
typedef struct xd_tensor xd_tensor;
XD_API xd_status xd_tensor_create(xd_context *ctx, xd_dtype dtype, int ndim, const int64_t *shape, xd_tensor **out);
XD_API void xd_tensor_destroy(xd_tensor *t);
/* Another shape over the same memory (a reshape: same dtype and count, no
 * copy), e.g. a Flatten's [N, C*H*W] over [N, C, H, W].  Destroy it like
 * any tensor, before or after t. */
XD_API xd_status xd_tensor_view(const xd_tensor *t, int ndim, const int64_t *shape, xd_tensor **out);
XD_API int xd_tensor_ndim(const xd_tensor *t);
XD_API const int64_t *xd_tensor_shape(const xd_tensor *t);
XD_API size_t xd_tensor_count(const xd_tensor *t);
XD_API xd_dtype xd_tensor_dtype(const xd_tensor *t);
/* Blocking copies; bytes must equal count * 4. */
XD_API xd_status xd_tensor_write(xd_tensor *t, const void *host, size_t bytes);
XD_API xd_status xd_tensor_read(const xd_tensor *t, void *host, size_t bytes);
XD_API xd_status xd_tensor_copy(xd_tensor *dst, const xd_tensor *src);
XD_API xd_status xd_tensor_fill_zero(xd_tensor *t);
/* The cl_mem, for interoperation (owned by the tensor). */
XD_API void *xd_tensor_cl_mem(xd_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
