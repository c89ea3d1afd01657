/* What every stage of the library shares: formatting, the error object,
 * files (host/common/fs.c) and hashes.  No OpenCL and no JSON here: the
 * fuzz targets and a diff-only user link common + io alone.  Internal,
 * never installed. */
#ifndef XD_HOST_COMMON_H
#define XD_HOST_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "crossdev/error.h"
#include "crossdev/status.h"

#if defined(__GNUC__)
#define XD_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define XD_PRINTF(a, b)
#endif

/* snprintf into an optional buffer (NULL or cap 0: nothing). */
void xd_format(char *buf, size_t cap, const char *fmt, ...) XD_PRINTF(3, 4);
char *xd_strdup(const char *s);
/* v in the fewest significant digits that read back as the same double
 * (as_float 0: 0.001, not 0.0010000000000000000208) or, as_float 1, as the
 * same float32 ((float)0.05 as 0.05, not 0.05000000074505806). */
void xd_format_shortest(double v, int as_float, char *out, size_t cap);

/* Fills err (when not NULL) and returns st, so a failure is one statement:
 * `return xd_error_set(err, XD_IO, 0, "%s: cannot read: %s", path, ...)`. */
xd_status xd_error_set(xd_error *err, xd_status st, int cl_code, const char *fmt, ...) XD_PRINTF(4, 5);
xd_status xd_error_vset(xd_error *err, xd_status st, int cl_code, const char *fmt, va_list ap);
/* Prefixes err's message with "PREFIX: " (e.g. the step being run). */
void xd_error_prefix(xd_error *err, const char *fmt, ...) XD_PRINTF(2, 3);
/* The message alone, "FILE: ..." for xd_error_file; the status is set when
 * the public function returns through xd_error_return. */
void xd_error_msg(xd_error *err, const char *fmt, ...) XD_PRINTF(2, 3);
void xd_error_file(xd_error *err, const char *file, const char *fmt, ...) XD_PRINTF(3, 4);
/* Records st as err's status and returns it; XD_OK clears the message.  A
 * public function that takes an xd_error returns through this, so the
 * error always says what the function returned. */
xd_status xd_error_return(xd_error *err, xd_status st);

/* The arguments of a parser of a buffer (xd_npy_parse, xd_idx_parse):
 * *name defaults to "(buffer)"; a NULL output, or a NULL buffer with a
 * length, is XD_INVALID_ARGUMENT naming fn; the output (out_size bytes) is
 * zeroed. */
xd_status xd_check_parse_args(const char *fn, const void *buf, size_t len, const char **name, void *out,
                              size_t out_size, xd_error *err);

/* ---- files (host/common/fs.c) --------------------------------------------------
 * Paths are built with xd_path, which refuses to truncate. */
#define XD_PATH_MAX 4096
/* out = a "/" b ["/" c]: XD_INVALID_ARGUMENT naming the path when it would
 * not fit in cap (never a silently shortened path). */
xd_status xd_path(char *out, size_t cap, xd_error *err, const char *fmt, ...) XD_PRINTF(4, 5);
/* The whole file, NUL-terminated (len without the NUL); XD_IO naming it. */
xd_status xd_read_file(const char *path, char **data, size_t *len, xd_error *err);
/* Writes the parts, one after another, to path atomically: a temporary
 * file beside it, fsync, rename over path, then the directory synced.
 * Nothing is left half-written on failure. */
xd_status xd_write_file_atomic(const char *path, const void *const *parts, const size_t *sizes, size_t nparts,
                               xd_error *err);
/* Writes the parts to path in place, without a sync: for a file inside a
 * staging folder that is published whole (xd_sync_fs, then
 * xd_rename_noreplace), so no reader ever sees it half-written.  XD_IO
 * naming path; a partial file is left for the folder's removal. */
xd_status xd_write_file_staged(const char *path, const void *const *parts, const size_t *sizes, size_t nparts,
                               xd_error *err);
/* Everything written to the file system holding path made durable
 * (syncfs): one call before a staging folder is published.  XD_IO naming
 * path when the system reports a write-back error. */
xd_status xd_sync_fs(const char *path, xd_error *err);
/* A file the user named (a report): "-" is standard output; an existing
 * target that is not a regular file (a FIFO, a character device such as
 * /dev/stdout, or a symlink to one) is written through, never renamed
 * over; a symlink to a regular file stays a symlink (its target is
 * replaced atomically); anything else goes through xd_write_file_atomic. */
xd_status xd_write_file_user(const char *path, const void *const *parts, const size_t *sizes, size_t nparts,
                             xd_error *err);
/* mkdir that fails when path exists (XD_EXISTS) or cannot be made (XD_IO). */
xd_status xd_mkdir_new(const char *path, xd_error *err);
/* Renames a finished folder to its final name, never replacing anything
 * that appeared there meanwhile (XD_EXISTS). */
xd_status xd_rename_noreplace(const char *from, const char *to, xd_error *err);
/* fsync of the directory holding path (best effort). */
void xd_sync_parent_dir(const char *path);
/* rm -rf of a folder crossdev made (regular files and folders only). */
void xd_remove_tree(const char *path);
int xd_path_exists(const char *path);

/* ---- lists (host/common/split.c) ------------------------------------------------ */
/* s cut at every comma into a NULL-terminated array of items, empty items
 * kept ("a,,b" is "a", "", "b"; "" is one empty item) so that the caller can
 * refuse them; trim removes the white space around each item.  One block:
 * free() it.  NULL when out of memory. */
char **xd_split_commas(const char *s, int trim, size_t *count);

/* ---- hashes (host/common/hash.c) ------------------------------------------------ */
uint64_t xd_hash_bytes(const void *p, size_t n); /* XXH3-64 */
void xd_hash_hex(uint64_t h, char out[24]);      /* "xxh3:0123456789abcdef" */
/* XXH3-64 of several buffers as if they were one (a checksum over arrays,
 * what an op wrote, a batch): reset, update with each, digest.  create
 * returns NULL when out of memory. */
typedef struct xd_hasher xd_hasher;
xd_hasher *xd_hasher_create(void);
void xd_hasher_reset(xd_hasher *h);
void xd_hasher_update(xd_hasher *h, const void *p, size_t n);
uint64_t xd_hasher_digest(const xd_hasher *h);
void xd_hasher_destroy(xd_hasher *h);

/* ---- the kernel cache's entry format (host/common/kcache_entry.c) ---------------- */
#define XD_KCACHE_HEADER 48u
#define XD_KCACHE_VERSION 1u                         /* in every entry, and in every key */
void xd_put_le(unsigned char *p, uint64_t v, int n); /* v's low n bytes, little-endian */
/* The header of an entry holding `size` bytes of binary under `key`. */
void xd_kcache_entry_header(unsigned char head[XD_KCACHE_HEADER], const unsigned char key[16], const void *bin,
                            size_t size);
/* NULL when data[0, len) is a valid entry for key (*bin points into data,
 * *size its bytes), else why it is not. */
const char *xd_kcache_entry_parse(const unsigned char *data, size_t len, const unsigned char key[16],
                                  const unsigned char **bin, size_t *size);

#endif
