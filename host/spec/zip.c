/* Zip archives of named entries (spec/archive.h), read with libzip: a
 * .keras model (Keras writes its entries stored, not compressed) and an
 * .npz data set (np.savez stores, np.savez_compressed deflates).  The
 * directory is checked when the archive is opened; entries are read whole,
 * one at a time, when asked for. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "spec/archive.h"

#define ZIP_MAX_ENTRIES 1024
#define ZIP_BOMB_FLOOR (UINT64_C(64) << 20)
#define ZIP_MAX_EXPANSION 100

struct xd_zip {
    zip_t *z;
    zip_int64_t n;
    char *file;
};

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

/* Every entry's name, method and size. */
static xd_status check_entries(zip_t *z, const char *file, zip_int64_t *count, xd_error *err)
{
    zip_int64_t n = zip_get_num_entries(z, 0);
    if (n < 0 || n > ZIP_MAX_ENTRIES)
        return xd_error_set(err, XD_FORMAT, 0, "%s: %lld entries (at most %d)", file, (long long)n, ZIP_MAX_ENTRIES);
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
    }
    *count = n;
    return XD_OK;
}

/* The archive of src (consumed), its directory checked. */
static xd_status open_source(zip_source_t *src, zip_error_t *ze, const char *file, xd_zip **out, xd_error *err)
{
    *out = NULL;
    zip_t *z = src ? zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, ze) : NULL;
    if (!z) {
        int code = zip_error_code_zip(ze); /* the file, not its content */
        xd_status st =
            code == ZIP_ER_OPEN || code == ZIP_ER_READ || code == ZIP_ER_NOENT
                ? xd_error_set(err, XD_IO, 0, "%s: cannot read: %s", file, zip_error_strerror(ze))
                : xd_error_set(err, XD_FORMAT, 0, "%s: not a readable zip archive: %s", file, zip_error_strerror(ze));
        zip_source_free(src);
        return st;
    }
    xd_zip *a = calloc(1, sizeof *a);
    xd_status st = a && (a->file = xd_strdup(file)) ? XD_OK : XD_OUT_OF_HOST_MEMORY;
    if (st != XD_OK) xd_error_set(err, st, 0, "%s: out of host memory", file);
    if (st == XD_OK) st = check_entries(z, file, &a->n, err);
    if (st != XD_OK) {
        zip_discard(z);
        if (a) free(a->file);
        free(a);
        return st;
    }
    a->z = z;
    *out = a;
    return XD_OK;
}

xd_status xd_zip_open(const void *buf, size_t len, const char *file, xd_zip **out, xd_error *err)
{
    zip_error_t ze;
    zip_error_init(&ze);
    xd_status st = open_source(zip_source_buffer_create(buf, len, 0, &ze), &ze, file, out, err);
    zip_error_fini(&ze);
    return st;
}

xd_status xd_zip_open_file(const char *path, xd_zip **out, xd_error *err)
{
    zip_error_t ze;
    zip_error_init(&ze);
    xd_status st = open_source(zip_source_file_create(path, 0, -1, &ze), &ze, path, out, err);
    zip_error_fini(&ze);
    return st;
}

void xd_zip_close(xd_zip *z)
{
    if (!z) return;
    zip_discard(z->z);
    free(z->file);
    free(z);
}

static zip_int64_t find(const xd_zip *z, const char *name)
{
    for (zip_int64_t i = 0; i < z->n; i++)
        if (strcmp(name, zip_get_name(z->z, (zip_uint64_t)i, ZIP_FL_ENC_RAW)) == 0) return i;
    return -1;
}

int xd_zip_has(const xd_zip *z, const char *name) { return find(z, name) >= 0; }

void xd_zip_names(const xd_zip *z, char *buf, size_t cap)
{
    size_t n = 0;
    if (cap) buf[0] = '\0';
    for (zip_int64_t i = 0; i < z->n && n < cap; i++) {
        const char *name = zip_get_name(z->z, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
        size_t want = strlen(name) + (i ? 2 : 0);
        if (n + want + 4 >= cap) { /* room for "..." and the NUL */
            snprintf(buf + n, cap - n, "%s...", i ? ", " : "");
            return;
        }
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", name);
    }
    for (char *p = buf; n && *p; ++p) /* raw names: nothing a terminal would act on */
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) *p = '?';
}

xd_status xd_zip_read(xd_zip *z, const char *name, const char *what, uint64_t max, unsigned char **out, size_t *len,
                      xd_error *err)
{
    zip_stat_t s;
    *out = NULL;
    *len = 0;
    zip_int64_t i = find(z, name);
    if (i < 0) return xd_error_set(err, XD_FORMAT, 0, "%s: no %s", z->file, name);
    if (zip_stat_index(z->z, (zip_uint64_t)i, 0, &s) != 0 || s.size > max)
        return xd_error_set(err, XD_FORMAT, 0, "%s: %s is larger than %llu bytes", z->file, what,
                            (unsigned long long)max);
    unsigned char *buf = malloc((size_t)s.size + 1);
    if (!buf) return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "%s: out of host memory reading %s", z->file, what);
    zip_file_t *f = zip_fopen_index(z->z, (zip_uint64_t)i, 0);
    zip_int64_t got = 0, r = 0;
    while (f && (uint64_t)got <= s.size && (r = zip_fread(f, buf + got, s.size + 1 - (uint64_t)got)) > 0) got += r;
    xd_status st = XD_OK;
    if (!f || r < 0 || (uint64_t)got != s.size)
        st = xd_error_set(err, XD_FORMAT, 0, "%s: %s cannot be read: %s", z->file, what,
                          f && r < 0 ? zip_file_strerror(f)
                          : f        ? "wrong size"
                                     : zip_strerror(z->z));
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
