/* The .keras archive: a zip (Keras writes its entries stored, not
 * compressed) holding metadata.json, config.json and model.weights.h5, and
 * assets/ for layers that have them.  Read from memory with libzip; the
 * archive is untrusted, so its directory is checked before anything is
 * allocated for an entry: names (no "..", no absolute or Windows paths, no
 * duplicates, which readers resolve differently), methods (stored or
 * deflate, no encryption) and sizes (a limit per entry, and no deflated
 * entry expanding more than 100 times beyond 64 MiB, as Keras checks). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "spec/keras.h"

#define ZIP_MAX_ENTRIES 1024
#define ZIP_BOMB_FLOOR (UINT64_C(64) << 20)
#define ZIP_MAX_EXPANSION 100

void xd_keras_archive_free(xd_keras_archive *a)
{
    if (!a) return;
    free(a->config);
    free(a->weights);
    memset(a, 0, sizeof *a);
}

static int bad_name(const char *name)
{
    if (name[0] == '/' || strchr(name, '\\') || (name[0] && name[1] == ':')) return 1;
    for (const char *p = name; *p;) { /* each component */
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') return 1;
        p += n + (e != NULL);
    }
    return 0;
}

/* Every entry's name, method and size; the indices of the two we read. */
static xd_status check_entries(zip_t *z, const char *file, zip_int64_t *cfg, zip_int64_t *h5, xd_error *err)
{
    zip_int64_t n = zip_get_num_entries(z, 0);
    if (n < 0 || n > ZIP_MAX_ENTRIES)
        return xd_error_set(err, XD_FORMAT, 0, "%s: %lld entries (at most %d)", file, (long long)n, ZIP_MAX_ENTRIES);
    *cfg = *h5 = -1;
    for (zip_int64_t i = 0; i < n; i++) {
        zip_stat_t s;
        const char *name = zip_get_name(z, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
        if (!name || zip_stat_index(z, (zip_uint64_t)i, ZIP_FL_ENC_RAW, &s) != 0 ||
            (s.valid & (ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE)) != (ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE))
            return xd_error_set(err, XD_FORMAT, 0, "%s: entry %lld cannot be read: %s", file, (long long)i,
                                zip_strerror(z));
        if (bad_name(name)) return xd_error_set(err, XD_FORMAT, 0, "%s: entry '%.200s' has an unsafe path", file, name);
        for (zip_int64_t j = 0; j < i; j++)
            if (strcmp(name, zip_get_name(z, (zip_uint64_t)j, ZIP_FL_ENC_RAW)) == 0)
                return xd_error_set(err, XD_FORMAT, 0, "%s: entry '%.200s' appears twice", file, name);
        if (((s.valid & ZIP_STAT_ENCRYPTION_METHOD) && s.encryption_method != ZIP_EM_NONE) ||
            ((s.valid & ZIP_STAT_COMP_METHOD) && s.comp_method != ZIP_CM_STORE && s.comp_method != ZIP_CM_DEFLATE))
            return xd_error_set(err, XD_FORMAT, 0,
                                "%s: entry '%.200s' is encrypted or compressed in a way other "
                                "than deflate",
                                file, name);
        if (s.size > ZIP_BOMB_FLOOR && s.size / ZIP_MAX_EXPANSION > s.comp_size)
            return xd_error_set(err, XD_FORMAT, 0, "%s: entry '%.200s' declares %llu bytes from %llu (a zip bomb?)",
                                file, name, (unsigned long long)s.size, (unsigned long long)s.comp_size);
        if (strcmp(name, "config.json") == 0) *cfg = i;
        if (strcmp(name, "model.weights.h5") == 0) *h5 = i;
    }
    return XD_OK;
}

/* Entry i whole, at most max bytes: exactly its declared size, its CRC
 * checked by libzip at the end. */
static xd_status read_entry(zip_t *z, zip_int64_t i, const char *file, const char *name, uint64_t max,
                            unsigned char **out, size_t *len, xd_error *err)
{
    zip_stat_t s;
    *out = NULL;
    if (zip_stat_index(z, (zip_uint64_t)i, 0, &s) != 0 || s.size > max)
        return xd_error_set(err, XD_FORMAT, 0, "%s: %s is larger than %llu bytes", file, name, (unsigned long long)max);
    unsigned char *buf = malloc((size_t)s.size + 1);
    if (!buf) return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "%s: out of host memory reading %s", file, name);
    zip_file_t *f = zip_fopen_index(z, (zip_uint64_t)i, 0);
    zip_int64_t got = 0, r = 0;
    while (f && (uint64_t)got <= s.size && (r = zip_fread(f, buf + got, s.size + 1 - (uint64_t)got)) > 0) got += r;
    xd_status st = XD_OK;
    if (!f || r < 0 || (uint64_t)got != s.size)
        st = xd_error_set(err, XD_FORMAT, 0, "%s: %s cannot be read: %s", file, name,
                          f && r < 0 ? zip_file_strerror(f)
                          : f        ? "wrong size"
                                     : zip_strerror(z));
    if (f) zip_fclose(f);
    if (st != XD_OK) {
        free(buf);
        return st;
    }
    buf[s.size] = 0;
    *out = buf;
    *len = (size_t)s.size;
    return XD_OK;
}

static xd_status read_archive(zip_t *z, const char *file, xd_keras_archive *out, xd_error *err)
{
    zip_int64_t cfg = -1, h5 = -1;
    XD_TRY(check_entries(z, file, &cfg, &h5, err));
    if (cfg < 0) return xd_error_set(err, XD_FORMAT, 0, "%s: no config.json (not a Keras 3 .keras archive)", file);
    if (h5 < 0)
        return xd_error_set(err, XD_FORMAT, 0, "%s: no model.weights.h5 (only Keras's h5 weights are supported)", file);
    XD_TRY(read_entry(z, cfg, file, "config.json", XD_KERAS_MAX_CONFIG, (unsigned char **)&out->config,
                      &out->config_len, err));
    return read_entry(z, h5, file, "model.weights.h5", XD_KERAS_MAX_WEIGHTS, &out->weights, &out->weights_len, err);
}

xd_status xd_keras_zip_read(const void *buf, size_t len, const char *file, xd_keras_archive *out, xd_error *err)
{
    memset(out, 0, sizeof *out);
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(buf, len, 0, &ze);
    zip_t *z = src ? zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze) : NULL;
    if (!z) {
        xd_status st =
            xd_error_set(err, XD_FORMAT, 0, "%s: not a readable zip archive: %s", file, zip_error_strerror(&ze));
        zip_source_free(src);
        zip_error_fini(&ze);
        return st;
    }
    zip_error_fini(&ze);
    xd_status st = read_archive(z, file, out, err);
    zip_discard(z);
    if (st != XD_OK) xd_keras_archive_free(out);
    return st;
}
