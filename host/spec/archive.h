/* Zip archives of named entries (host/spec/zip.c, libzip), internal: what
 * a .keras model (spec/keras.c) and an .npz data set (io/npz.c) are.  The
 * archive is untrusted, so its directory is checked when it is opened,
 * before anything is allocated for an entry: names (no "..", no absolute or
 * Windows paths, no duplicates, which readers resolve differently), methods
 * (stored or deflate, no encryption) and sizes (no deflated entry expanding
 * more than 100 times beyond 64 MiB, as Keras checks; each reader gives a
 * limit per entry).  Refusals are XD_FORMAT with "FILE: ..." messages. */
#ifndef XD_HOST_SPEC_ARCHIVE_H
#define XD_HOST_SPEC_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

typedef struct xd_zip xd_zip;

/* An archive in memory (buf stays the caller's and must outlive it), or a
 * file read as it is needed; file names it in messages.  "FILE: not a
 * readable zip archive: ..." when it is none (a truncated file included),
 * or a refusal of its directory. */
xd_status xd_zip_open(const void *buf, size_t len, const char *file, xd_zip **out, xd_error *err);
xd_status xd_zip_open_file(const char *path, xd_zip **out, xd_error *err);
void xd_zip_close(xd_zip *z);

/* Whether the archive holds an entry of that name. */
int xd_zip_has(const xd_zip *z, const char *name);
/* The entries' names, ", " between them, for messages (cut with "..."
 * when they do not fit in cap). */
void xd_zip_names(const xd_zip *z, char *buf, size_t cap);
/* Entry name whole (*data NUL-terminated, *len without the NUL; free()
 * it): exactly its declared size, at most max bytes, its CRC checked.
 * what names it in messages ("FILE: WHAT is larger than ...", "cannot be
 * read"); absent: "FILE: no NAME". */
xd_status xd_zip_read(xd_zip *z, const char *name, const char *what, uint64_t max, unsigned char **data, size_t *len,
                      xd_error *err);

#endif
