/* Tests for the IDX reader (host/io/idx.c).  Standalone: prints "FAIL: ..." per
 * failed check and exits non-zero if any failed. */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "crossdev/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static xdt T = {.name = "test_idx"}; /* no device: the harness's counters and report */
static char dir[64];
static xd_error errobj;

static void check(int ok, const char *what) { xdt_check(&T, ok, "%s", what); }

/* Builds an IDX of unsigned bytes with the given dims; the body is
 * `body` bytes of a pseudo-random pattern (so that gzip output is not
 * trivially small).  Returns the length. */
static size_t make_idx(unsigned char *buf, int ndim, const uint32_t *dims, size_t body)
{
    buf[0] = 0;
    buf[1] = 0;
    buf[2] = 0x08;
    buf[3] = (unsigned char)ndim;
    for (int i = 0; i < ndim; i++) {
        unsigned char *p = buf + 4 + 4 * i;
        p[0] = (unsigned char)(dims[i] >> 24);
        p[1] = (unsigned char)(dims[i] >> 16);
        p[2] = (unsigned char)(dims[i] >> 8);
        p[3] = (unsigned char)dims[i];
    }
    size_t n = 4 + 4 * (size_t)ndim;
    uint32_t x = 12345;
    for (size_t i = 0; i < body; i++) {
        x = x * 1103515245u + 12345u;
        buf[n++] = (unsigned char)(x >> 16);
    }
    return n;
}

static void write_file(const char *path, const unsigned char *buf, size_t n, int gz)
{
    if (gz) {
        gzFile g = gzopen(path, "wb");
        if (!g || gzwrite(g, buf, (unsigned)n) != (int)n || gzclose(g) != Z_OK) check(0, "writing a gzip test file");
    } else {
        FILE *fp = fopen(path, "wb");
        if (!fp || fwrite(buf, 1, n, fp) != n || fclose(fp) != 0) check(0, "writing a test file");
    }
}

static void expect_reject(const unsigned char *buf, size_t len, const char *needle, const char *label)
{
    char what[1024];
    xd_idx_array a;
    xd_error_clear(&errobj);
    xd_status st = xd_idx_parse(buf, len, "t.idx", &a, &errobj);
    snprintf(what, sizeof what, "reject %s: got %s \"%s\", want XD_FORMAT with \"t.idx: ...%s\"", label,
             xd_status_name(st), errobj.message, needle);
    check(st == XD_FORMAT && strncmp(errobj.message, "t.idx: ", 7) == 0 && strstr(errobj.message, needle) &&
              a.data == NULL && a.count == 0 && a.ndim == 0,
          what);
    xd_idx_free(&a);
}

static void test_valid(void)
{
    static unsigned char buf[4096];
    const uint32_t d3[3] = {2, 3, 4}, d1[1] = {10};
    struct {
        int ndim;
        const uint32_t *dims;
        size_t count;
        const char *label;
    } cases[2] = {{3, d3, 24, "3-dim"}, {1, d1, 10, "1-dim"}};

    for (int c = 0; c < 2; c++) {
        size_t n = make_idx(buf, cases[c].ndim, cases[c].dims, cases[c].count);
        size_t hdr = 4 + 4 * (size_t)cases[c].ndim;
        char what[1024], path[128];
        xd_idx_array a;

        xd_status st = xd_idx_parse(buf, n, "t.idx", &a, &errobj);
        int ok = st == XD_OK && a.ndim == cases[c].ndim && a.count == cases[c].count &&
                 memcmp(a.data, buf + hdr, a.count) == 0;
        for (int i = 0; ok && i < a.ndim; i++) ok = a.dims[i] == cases[c].dims[i];
        snprintf(what, sizeof what, "parse %s (%s)", cases[c].label, errobj.message);
        check(ok, what);
        xd_idx_free(&a);
        check(a.data == NULL && a.count == 0, "xd_idx_free zeroes the struct");

        for (int gz = 0; gz < 2; gz++) {
            snprintf(path, sizeof path, "%s/valid%d%s", dir, c, gz ? ".gz" : "");
            write_file(path, buf, n, gz);
            st = xd_idx_read(path, &a, &errobj);
            ok = st == XD_OK && a.ndim == cases[c].ndim && a.count == cases[c].count &&
                 memcmp(a.data, buf + hdr, a.count) == 0 && a.dims[0] == cases[c].dims[0];
            snprintf(what, sizeof what, "read %s %s file (%s)", cases[c].label, gz ? "gzip" : "plain", errobj.message);
            check(ok, what);
            xd_idx_free(&a);
            unlink(path);
        }
    }

    /* Zero elements is a valid (empty) data set. */
    const uint32_t dz[2] = {0, 28};
    size_t n = make_idx(buf, 2, dz, 0);
    xd_idx_array a;
    check(xd_idx_parse(buf, n, "t.idx", &a, NULL) == XD_OK && a.count == 0 && a.data != NULL, "empty IDX accepted");
    xd_idx_free(&a);
}

static void test_rejections(void)
{
    static unsigned char buf[256];
    const uint32_t d2[2] = {3, 4};
    size_t n = make_idx(buf, 2, d2, 12);

    buf[1] = 1;
    expect_reject(buf, n, "bad magic", "wrong magic");
    buf[1] = 0;
    buf[2] = 0x0D;
    expect_reject(buf, n, "0x0d", "type code 0x0D (float)");
    buf[2] = 0x08;
    buf[3] = 0;
    expect_reject(buf, n, "dimensions 0", "ndim 0");
    buf[3] = 5;
    expect_reject(buf, n, "dimensions 5", "ndim 5");
    buf[3] = 2;
    expect_reject(buf, 3, "truncated header", "3-byte file");
    expect_reject(buf, 9, "truncated header", "header cut inside the dims");
    expect_reject(buf, n - 1, "truncated: expected 12 bytes of data, found 11", "truncated body");
    buf[n] = 0;
    expect_reject(buf, n + 1, "expected 12 bytes of data, found 13", "trailing byte");

    const uint32_t big[3] = {65536, 65536, 2};
    n = make_idx(buf, 3, big, 0);
    expect_reject(buf, n, "dimension overflow", "65536 x 65536 x 2");
    const uint32_t huge[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
    n = make_idx(buf, 4, huge, 0);
    expect_reject(buf, n, "dimension overflow", "4 x 0xffffffff");
    const uint32_t over[2] = {65536, 32769}; /* 2^31 + 65536 */
    n = make_idx(buf, 2, over, 0);
    expect_reject(buf, n, "dimension overflow", "just over 2^31 elements");
    const uint32_t limit[2] = {65536, 32768}; /* exactly 2^31: allowed, so "truncated" */
    n = make_idx(buf, 2, limit, 0);
    expect_reject(buf, n, "truncated", "exactly 2^31 elements without data");

    xd_idx_array a;
    check(xd_idx_parse(buf, 2, "t", &a, NULL) == XD_FORMAT, "reject with err == NULL");
    check(xd_idx_parse(NULL, 2, "t", &a, NULL) == XD_INVALID_ARGUMENT, "NULL buffer is an invalid argument");
    xd_idx_free(NULL);
    check(1, "xd_idx_free(NULL)");
}

/* Reads a whole file into a new buffer. */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    unsigned char *buf = malloc(1 << 20);
    if (buf) *len = fread(buf, 1, 1 << 20, fp);
    fclose(fp);
    return buf;
}

static void test_gzip_errors(void)
{
    static unsigned char buf[100000];
    const uint32_t d1[1] = {sizeof buf - 8};
    size_t n = make_idx(buf, 1, d1, sizeof buf - 8);
    char path[128], what[1024], prefix[200];
    snprintf(path, sizeof path, "%s/bad.gz", dir);
    snprintf(prefix, sizeof prefix, "%s: gzip: ", path);

    /* Corruption in the middle of the deflate stream. */
    write_file(path, buf, n, 1);
    size_t len = 0;
    unsigned char *gz = slurp(path, &len);
    if (!gz || len < 100) {
        check(0, "reading back the gzip test file");
        free(gz);
        return;
    }
    for (size_t i = len / 2; i < len / 2 + 8; i++) gz[i] ^= 0x55;
    write_file(path, gz, len, 0);
    xd_idx_array a;
    xd_status st = xd_idx_read(path, &a, &errobj);
    snprintf(what, sizeof what, "corrupted gzip: got %s \"%s\"", xd_status_name(st), errobj.message);
    check(st == XD_FORMAT && strncmp(errobj.message, prefix, strlen(prefix)) == 0 && a.data == NULL, what);

    /* A gzip stream cut short. */
    write_file(path, gz, len / 2, 0);
    st = xd_idx_read(path, &a, &errobj);
    snprintf(what, sizeof what, "truncated gzip: got %s \"%s\"", xd_status_name(st), errobj.message);
    check(st == XD_FORMAT && strncmp(errobj.message, prefix, strlen(prefix)) == 0 && a.data == NULL, what);
    free(gz);
    unlink(path);

    /* A plain file with a bad body is reported as a format error too. */
    snprintf(path, sizeof path, "%s/short.idx", dir);
    write_file(path, buf, n - 1, 0);
    st = xd_idx_read(path, &a, &errobj);
    check(st == XD_FORMAT && strstr(errobj.message, "truncated"), "truncated plain file");
    unlink(path);

    snprintf(path, sizeof path, "%s/absent.gz", dir);
    st = xd_idx_read(path, &a, &errobj);
    snprintf(what, sizeof what, "missing file: got %s \"%s\"", xd_status_name(st), errobj.message);
    check(st == XD_IO && strstr(errobj.message, "No such file or directory"), what);
    st = xd_idx_read(dir, &a, &errobj);
    snprintf(what, sizeof what, "directory: got %s \"%s\"", xd_status_name(st), errobj.message);
    check(st == XD_IO, what);
}

static void test_fashion_mnist(void)
{
    const char *path = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
    if (access(path, R_OK) != 0) {
        printf("SKIP: %s not present\n", path);
        return;
    }
    xd_idx_array a;
    xd_status st = xd_idx_read(path, &a, &errobj);
    char what[1024];
    snprintf(what, sizeof what, "read fashion-mnist t10k labels (%s)", errobj.message);
    check(st == XD_OK, what);
    int ok = st == XD_OK && a.ndim == 1 && a.dims[0] == 10000 && a.count == 10000;
    for (size_t i = 0; ok && i < a.count; i++) ok = a.data[i] < 10;
    check(ok, "fashion-mnist t10k labels: 10000 items, all < 10");
    xd_idx_free(&a);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/xd_test_idx.XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_valid();
    test_rejections();
    test_gzip_errors();
    test_fashion_mnist();
    if (rmdir(dir) != 0) check(0, "temporary directory left clean");
    return xdt_finish(&T);
}
