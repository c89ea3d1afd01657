/* For the fuzz targets that write archives themselves (libzip), to reach
 * behind the entries' CRCs: the bytes of an archive written to an
 * in-memory source. */
#ifndef XD_FUZZ_ZIP_BYTES_H
#define XD_FUZZ_ZIP_BYTES_H

#include <stdlib.h>
#include <zip.h>

/* The archive's bytes (malloc'd) from an in-memory source libzip wrote. */
static unsigned char *source_bytes(zip_source_t *src, size_t *len)
{
    zip_stat_t st;
    unsigned char *buf = NULL;
    if (zip_source_stat(src, &st) == 0 && (st.valid & ZIP_STAT_SIZE) && zip_source_open(src) == 0) {
        buf = malloc(st.size + 1);
        if (buf && zip_source_read(src, buf, st.size) != (zip_int64_t)st.size) {
            free(buf);
            buf = NULL;
        }
        zip_source_close(src);
        *len = (size_t)st.size;
    }
    return buf;
}

/* An empty archive written to memory; *src is its source, for archive_bytes. */
static zip_t *archive_new(zip_source_t **src)
{
    zip_error_t ze;
    zip_error_init(&ze);
    *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    zip_t *z = *src ? zip_open_from_source(*src, ZIP_TRUNCATE, &ze) : NULL;
    if (*src) zip_source_keep(*src);
    zip_error_fini(&ze);
    return z;
}

/* Closes z (NULL: nothing) and gives the archive's bytes (malloc'd, or NULL);
 * frees src. */
static unsigned char *archive_bytes(zip_t *z, zip_source_t *src, size_t *len)
{
    unsigned char *out = NULL;
    if (z && zip_close(z) == 0) out = source_bytes(src, len);
    else if (z) zip_discard(z);
    zip_source_free(src);
    return out;
}

#endif
