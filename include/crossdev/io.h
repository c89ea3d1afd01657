/* crossdev — reading and writing arrays on the host.
 *
 * .npy (numpy's own format) for tensors exchanged with Python, and IDX (the
 * MNIST container) for data sets.  Only the element types the kernels use
 * are supported: little-endian float32 and int32 for .npy, unsigned bytes
 * for IDX.  The parsers take untrusted input: every length is checked
 * before it is used, and a bad file yields XD_FORMAT with a message, never
 * a crash.  Byte order is converted explicitly, so big-endian hosts work.
 *
 * Every function that takes an xd_error fills it on failure (err may be
 * NULL): the status returned and the message "<name>: <reason>". */
#ifndef CROSSDEV_IO_H
#define CROSSDEV_IO_H

#include <stddef.h>
#include <stdint.h>

#include "crossdev/types.h"
#include "crossdev/export.h"
#include "crossdev/error.h"
#include "crossdev/model.h"
#include "crossdev/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XD_NPY_MAX_DIMS 8

typedef struct xd_npy_array {
    xd_dtype dtype; /* XD_DTYPE_F32 or XD_DTYPE_I32 from these readers (types.h) */
    int ndim;
    int64_t shape[XD_NPY_MAX_DIMS];
    size_t count; /* product of shape (1 for ndim 0) */
    void *data;   /* count elements, host byte order, owned; free with xd_npy_free */
} xd_npy_array;

/* Write a little-endian C-order .npy, version 1.0, with the header bytes
 * numpy 1.24 writes: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and a newline to a multiple of 64 bytes.  Writes to
 * "<path>.tmp.<pid>", then fsync and rename to path, so a reader never sees a
 * partial file; on any failure (short write, ENOSPC, close error...) the
 * temporary file is removed and nothing is left at path.
 * XD_INVALID_ARGUMENT for a bad dtype/ndim/shape, XD_IO for the file system. */
XD_API xd_status xd_npy_write(const char *path, xd_dtype dtype, int ndim, const int64_t *shape, const void *data,
                              xd_error *err);

/* Parse an in-memory .npy (versions 1.0, 2.0 and 3.0; descr '<f4' or '<i4';
 * C order; the data exactly count*4 bytes).  name is used in messages.
 * On failure *out is zeroed and XD_FORMAT is returned. */
XD_API xd_status xd_npy_parse(const void *buf, size_t len, const char *name, xd_npy_array *out, xd_error *err);

/* Read a regular file and parse it, as xd_npy_parse with the path as name.
 * XD_IO for open/read errors (with strerror) and for files over 4 GiB. */
XD_API xd_status xd_npy_read(const char *path, xd_npy_array *out, xd_error *err);

/* Frees data and zeroes the struct; NULL-safe. */
XD_API void xd_npy_free(xd_npy_array *a);

#define XD_IDX_MAX_DIMS 4

typedef struct xd_idx_array {
    int ndim;
    uint32_t dims[XD_IDX_MAX_DIMS];
    size_t count;  /* product of dims */
    uint8_t *data; /* owned; free with xd_idx_free */
} xd_idx_array;

/* Parse an in-memory IDX file of unsigned bytes: magic 00 00 08 ndim
 * (ndim 1..4), big-endian uint32 dims, then exactly prod(dims) bytes
 * (at most 2^31).  On failure *out is zeroed and XD_FORMAT is returned. */
XD_API xd_status xd_idx_parse(const void *buf, size_t len, const char *name, xd_idx_array *out, xd_error *err);

/* Read an IDX file, gzip-compressed or plain, decompressing at most 1 GiB.
 * XD_IO for open/read errors, XD_FORMAT for a corrupt gzip stream
 * ("<path>: gzip: <zlib message>") or a malformed IDX body. */
XD_API xd_status xd_idx_read(const char *path, xd_idx_array *out, xd_error *err);

/* Frees data and zeroes the struct; NULL-safe. */
XD_API void xd_idx_free(xd_idx_array *a);

/* ---- models from files ------------------------------------------------------------------
 * A crossdev model file (crossdev.torch.export, docs/models.md: a zip of
 * crossdev-model.json and one .npy per parameter in the module's names),
 * or else what xd_model_spec_load reads (.keras, model.to_json()).
 * weights (may be NULL) gets the file's, in crossdev's layout; refusals are
 * XD_FORMAT naming the file and the entry or field. */
XD_API xd_status xd_model_file_load(const char *path, xd_model_spec *spec, xd_weights *weights, xd_error *err);
/* A crossdev model file in memory (file names it in messages). */
XD_API xd_status xd_crossdev_model_parse(const void *buf, size_t len, const char *file, xd_model_spec *spec,
                                         xd_weights *weights, xd_error *err);

#ifdef __cplusplus
}
#endif
#endif
