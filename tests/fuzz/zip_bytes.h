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

#endif
