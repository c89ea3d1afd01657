/* Tests for the .npy reader/writer (host/io/npy.c).  Standalone: prints
 * "FAIL: ..." per failed check and exits non-zero if any failed. */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "crossdev/io.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static xdt T = {.name = "test_npy"}; /* no device: the harness's counters and report */

static void check(int ok, const char *what) { xdt_check(&T, ok, "%s", what); }

/* Files numpy 1.24.2 wrote with np.save(), as hex (verified by hand with
 * python3 -c "import numpy, io; ..."):
 *   np.arange(6, dtype='<f4').reshape(2, 3)  -> 152 bytes
 *   np.array(-7, dtype='<i4')                -> 132 bytes
 *   np.lib.format.write_array(f, np.arange(3, dtype='<i4'), version=(2, 0)) */
static const char NUMPY_F32_2x3[] = "934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f"
                                    "6f72646572273a2046616c73652c20277368617065273a2028322c2033292c207d202020"
                                    "202020202020202020202020202020202020202020202020202020202020202020202020"
                                    "202020202020202020202020202020202020200a000000000000803f0000004000004040"
                                    "000080400000a040";
static const char NUMPY_I32_SCALAR[] = "934e554d5059010076007b276465736372273a20273c6934272c2027666f727472616e5f"
                                       "6f72646572273a2046616c73652c20277368617065273a2028292c207d20202020202020"
                                       "202020202020202020202020202020202020202020202020202020202020202020202020"
                                       "202020202020202020202020202020202020200af9ffffff";
static const char NUMPY_V2_I32_3[] = "934e554d50590200740000007b276465736372273a20273c6934272c2027666f72747261"
                                     "6e5f6f72646572273a2046616c73652c20277368617065273a2028332c292c207d202020"
                                     "202020202020202020202020202020202020202020202020202020202020202020202020"
                                     "202020202020202020202020202020202020200a000000000100000002000000";

static size_t unhex(const char *hex, unsigned char *out, size_t cap)
{
    size_t n = 0;
    for (; hex[0] && hex[1] && n < cap; hex += 2) {
        unsigned v;
        sscanf(hex, "%2x", &v);
        out[n++] = (unsigned char)v;
    }
    return n;
}

/* Builds a version-1.0 .npy in buf from a dict text and `nbytes` data bytes
 * (value i & 0xff at position i); returns its length. */
static size_t make_npy(unsigned char *buf, size_t cap, const char *dict, size_t nbytes)
{
    size_t hlen = strlen(dict) + 1;
    static const unsigned char magic[8] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0}; /* binary, no NUL */
    memcpy(buf, magic, sizeof magic);
    buf[8] = (unsigned char)(hlen & 0xff);
    buf[9] = (unsigned char)(hlen >> 8);
    memcpy(buf + 10, dict, hlen - 1);
    buf[10 + hlen - 1] = '\n';
    size_t n = 10 + hlen;
    for (size_t i = 0; i < nbytes && n < cap; i++) buf[n++] = (unsigned char)i;
    return n;
}

static char dir[64];
static xd_error errobj;

static void path_in_dir(char *out, size_t cap, const char *file) { snprintf(out, cap, "%s/%s", dir, file); }

static int file_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

static void round_trip(xd_dtype dtype, int ndim, const int64_t *shape, const char *label)
{
    char what[1024], path[128];
    size_t count = 1;
    for (int i = 0; i < ndim; i++) count *= (size_t)shape[i];
    /* Values with all four bytes distinct and negatives, so a byte-order or
     * sign slip shows up. */
    float *f = malloc((count ? count : 1) * sizeof *f);
    int32_t *s = malloc((count ? count : 1) * sizeof *s);
    for (size_t i = 0; i < count; i++) {
        f[i] = (float)i * 0.37f - 3.25e5f;
        s[i] = (int32_t)(i * 2654435761u % 2000000000u) - 1000000000;
    }
    const void *src = dtype == XD_DTYPE_F32 ? (const void *)f : (const void *)s;
    path_in_dir(path, sizeof path, "rt.npy");

    xd_status st = xd_npy_write(path, dtype, ndim, shape, src, &errobj);
    snprintf(what, sizeof what, "round trip %s: write (%s)", label, errobj.message);
    check(st == XD_OK, what);

    xd_npy_array a;
    st = xd_npy_read(path, &a, &errobj);
    snprintf(what, sizeof what, "round trip %s: read (%s)", label, errobj.message);
    check(st == XD_OK, what);
    int same = st == XD_OK && a.dtype == dtype && a.ndim == ndim && a.count == count && a.data != NULL &&
               memcmp(a.data, src, count * 4) == 0;
    for (int i = 0; same && i < ndim; i++) same = a.shape[i] == shape[i];
    snprintf(what, sizeof what, "round trip %s: contents", label);
    check(same, what);
    xd_npy_free(&a);
    check(a.data == NULL && a.count == 0, "xd_npy_free zeroes the struct");
    unlink(path);
    free(f);
    free(s);
}

/* Parses buf expecting XD_FORMAT with `needle` in the message, and a zeroed
 * output. */
static void expect_reject(const void *buf, size_t len, const char *needle, const char *label)
{
    char what[1024];
    xd_npy_array a;
    xd_error_clear(&errobj);
    xd_status st = xd_npy_parse(buf, len, "t.npy", &a, &errobj);
    snprintf(what, sizeof what, "reject %s: got %s \"%s\", want XD_FORMAT with \"t.npy: ...%s\"", label,
             xd_status_name(st), errobj.message, needle);
    check(st == XD_FORMAT && strncmp(errobj.message, "t.npy: ", 7) == 0 && strstr(errobj.message, needle) &&
              a.data == NULL && a.count == 0 && a.ndim == 0,
          what);
    xd_npy_free(&a);
}

static void expect_reject_dict(const char *dict, size_t nbytes, const char *needle, const char *label)
{
    unsigned char buf[4096];
    size_t n = make_npy(buf, sizeof buf, dict, nbytes);
    expect_reject(buf, n, needle, label);
}

static void test_round_trips(void)
{
    static const int64_t s0[1] = {0}, s1[1] = {0}, s7[1] = {7}, s234[3] = {2, 3, 4};
    round_trip(XD_DTYPE_F32, 0, s0, "f32 ()");
    round_trip(XD_DTYPE_I32, 0, s0, "i32 ()");
    round_trip(XD_DTYPE_F32, 1, s1, "f32 (0,)");
    round_trip(XD_DTYPE_I32, 1, s1, "i32 (0,)");
    round_trip(XD_DTYPE_F32, 1, s7, "f32 (7,)");
    round_trip(XD_DTYPE_I32, 1, s7, "i32 (7,)");
    round_trip(XD_DTYPE_F32, 3, s234, "f32 (2, 3, 4)");
    round_trip(XD_DTYPE_I32, 3, s234, "i32 (2, 3, 4)");
    /* Big enough to need several write chunks. */
    static const int64_t big[2] = {300, 1001};
    round_trip(XD_DTYPE_F32, 2, big, "f32 (300, 1001)");
}

/* Reads a whole small file; returns its length or 0. */
static size_t slurp(const char *path, unsigned char *buf, size_t cap)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    size_t n = fread(buf, 1, cap, fp);
    fclose(fp);
    return n;
}

static void test_numpy_bytes(void)
{
    unsigned char want[256], got[512];
    char path[128];
    path_in_dir(path, sizeof path, "np.npy");

    /* Our writer produces numpy's bytes exactly. */
    size_t wn = unhex(NUMPY_F32_2x3, want, sizeof want);
    const float f[6] = {0, 1, 2, 3, 4, 5};
    const int64_t shape[2] = {2, 3};
    check(xd_npy_write(path, XD_DTYPE_F32, 2, shape, f, &errobj) == XD_OK, "write f32 (2, 3)");
    size_t gn = slurp(path, got, sizeof got);
    check(wn == 152 && gn == wn && memcmp(got, want, wn) == 0, "f32 (2, 3) file is byte-identical to numpy 1.24's");
    unlink(path);

    wn = unhex(NUMPY_I32_SCALAR, want, sizeof want);
    const int32_t v = -7;
    check(xd_npy_write(path, XD_DTYPE_I32, 0, NULL, &v, &errobj) == XD_OK, "write i32 ()");
    gn = slurp(path, got, sizeof got);
    check(wn == 132 && gn == wn && memcmp(got, want, wn) == 0, "i32 () file is byte-identical to numpy 1.24's");
    unlink(path);

    /* And reads numpy's files, including format 2.0 (4-byte header length). */
    xd_npy_array a;
    wn = unhex(NUMPY_V2_I32_3, want, sizeof want);
    xd_status st = xd_npy_parse(want, wn, "v2.npy", &a, &errobj);
    check(st == XD_OK && a.dtype == XD_DTYPE_I32 && a.ndim == 1 && a.shape[0] == 3 && a.count == 3 &&
              ((int32_t *)a.data)[2] == 2,
          "parse numpy format 2.0 file");
    xd_npy_free(&a);
    want[6] = 3; /* 3.0 has the same layout (UTF-8 header) */
    st = xd_npy_parse(want, wn, "v3.npy", &a, &errobj);
    check(st == XD_OK && a.count == 3, "parse format 3.0 file");
    xd_npy_free(&a);
}

static void test_lenient_headers(void)
{
    unsigned char buf[512];
    xd_npy_array a;
    /* Other key order, double quotes, no trailing comma, odd whitespace. */
    size_t n = make_npy(buf, sizeof buf, " {\"shape\" :( 2 ,3 ) ,\t'fortran_order':False,'descr':\"<i4\"}  ", 24);
    xd_status st = xd_npy_parse(buf, n, "t.npy", &a, &errobj);
    check(st == XD_OK && a.ndim == 2 && a.shape[0] == 2 && a.shape[1] == 3 && a.count == 6 && a.dtype == XD_DTYPE_I32 &&
              ((int32_t *)a.data)[1] == 0x07060504,
          "lenient header accepted, little-endian data decoded");
    xd_npy_free(&a);
    n = make_npy(buf, sizeof buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 0, 5), }", 0);
    st = xd_npy_parse(buf, n, "t.npy", &a, &errobj);
    check(st == XD_OK && a.count == 0 && a.data != NULL, "zero-size array accepted");
    xd_npy_free(&a);
}

static void test_rejections(void)
{
    unsigned char buf[512];
    size_t n = make_npy(buf, sizeof buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8);
    buf[5] = 'Z';
    expect_reject(buf, n, "bad magic", "wrong magic");
    expect_reject(buf, 0, "bad magic", "empty buffer");
    expect_reject("\x93NUMPY\x01", 7, "truncated", "truncated preamble");
    expect_reject("\x93NUMPY\x01\x00\x10", 9, "truncated", "truncated header length");

    n = make_npy(buf, sizeof buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8);
    buf[6] = 9;
    expect_reject(buf, n, "unsupported npy version 9.0", "version 9.0");
    buf[6] = 1;
    buf[7] = 1;
    expect_reject(buf, n, "unsupported npy version 1.1", "version 1.1");
    buf[7] = 0;
    buf[8] = 0xff;
    buf[9] = 0xff;
    expect_reject(buf, n, "header length 65535", "header length 0xFFFF beyond buffer");
    /* Version 2.0 with a 4 GiB header length. */
    memcpy(buf, "\x93NUMPY\x02\x00\xff\xff\xff\xff", 12);
    expect_reject(buf, 12, "absurd", "header length 0xFFFFFFFF");

    expect_reject_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16, "'<f8'", "descr <f8");
    expect_reject_dict("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8, "'>f4'", "descr >f4");
    expect_reject_dict("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8, "descr",
                       "structured descr");
    expect_reject_dict("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24, "Fortran order not supported",
                       "fortran_order True");
    expect_reject_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20,
                       "truncated: expected 24 bytes of data, found 20", "truncated data");
    expect_reject_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 28,
                       "expected 24 bytes of data, found 28", "trailing data");
    expect_reject_dict("{'descr': '<f4', 'fortran_order': False, }", 4, "missing key 'shape'", "missing key");
    expect_reject_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1, }", 4, "unexpected key 'x'",
                       "extra key");
    expect_reject_dict("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", 4, "duplicate key",
                       "duplicate key");
    expect_reject_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }", 0, "negative dimension",
                       "negative dim");
    expect_reject_dict("{'descr': '<f4', 'fortran_order': False, "
                       "'shape': (4294967296, 4294967296, 16), }",
                       0, "overflow", "huge dims overflow");
    expect_reject_dict("{'descr': '<f4', 'fortran_order': False, "
                       "'shape': (99999999999999999999,), }",
                       0, "too large", "dim beyond int64");
    expect_reject_dict("{'descr': '<f4', 'fortran_order': False, "
                       "'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }",
                       4, "too many dimensions", "9 dims");
    expect_reject_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (5), }", 20, "not a tuple",
                       "(5) is not a tuple");
    expect_reject_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2,,), }", 8, "shape", "(2,,)");
    expect_reject_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", 8, "header", "unterminated dict");
    expect_reject_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x", 8, "after the dict",
                       "junk after dict");
    expect_reject_dict("{'descr': '<f4, 'fortran_order': False, 'shape': (2,)}", 8, "dtype", "unbalanced quote");

    /* No message buffer, or a tiny one: still rejected, still terminated. */
    xd_npy_array a;
    check(xd_npy_parse("junk", 4, "t", &a, NULL) == XD_FORMAT, "reject with err == NULL");
    /* A message longer than the error object holds is cut, and says so. */
    char longname[XD_ERROR_MESSAGE_LEN + 64];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    xd_error e;
    size_t len = 0;
    check(xd_npy_parse("junk", 4, longname, &a, &e) == XD_FORMAT && e.status == XD_FORMAT &&
              (len = strlen(e.message)) == XD_ERROR_MESSAGE_LEN - 1 && strcmp(e.message + len - 3, "...") == 0,
          "a message too long for the error object ends in \"...\"");
    check(xd_npy_parse(NULL, 4, "t", &a, NULL) == XD_INVALID_ARGUMENT, "NULL buffer is an invalid argument");
}

static void test_write_failures(void)
{
    char path[128], tmp[160], what[1024];
    const float f[4] = {1, 2, 3, 4};
    const int64_t shape[1] = {4};

    path_in_dir(path, sizeof path, "no/such/dir/x.npy");
    xd_error_clear(&errobj);
    xd_status st = xd_npy_write(path, XD_DTYPE_F32, 1, shape, f, &errobj);
    snprintf(what, sizeof what, "write into a missing directory: got %s \"%s\"", xd_status_name(st), errobj.message);
    check(st == XD_IO && strncmp(errobj.message, path, strlen(path)) == 0 &&
              strstr(errobj.message, "No such file or directory"),
          what);
    check(!file_exists(path), "missing directory: nothing at path");

    const int64_t bad[1] = {-1};
    check(xd_npy_write(path, XD_DTYPE_F32, 1, bad, f, NULL) == XD_INVALID_ARGUMENT, "negative dim rejected by writer");
    check(xd_npy_write(path, XD_DTYPE_F32, 9, shape, f, NULL) == XD_INVALID_ARGUMENT, "ndim 9 rejected by writer");
    check(xd_npy_write(path, (xd_dtype)7, 1, shape, f, NULL) == XD_INVALID_ARGUMENT, "bad dtype rejected by writer");

    /* A short write (as on a full disk): cap the file size so write() fails
     * with EFBIG part-way through, and check that neither the file nor its
     * temporary is left behind. */
    path_in_dir(path, sizeof path, "big.npy");
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    size_t count = 100000;
    float *data = calloc(count, sizeof *data);
    const int64_t bigshape[1] = {(int64_t)count};
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 50000;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &lim) == 0) {
        st = xd_npy_write(path, XD_DTYPE_F32, 1, bigshape, data, &errobj);
        setrlimit(RLIMIT_FSIZE, &old);
        snprintf(what, sizeof what, "short write: got %s \"%s\"", xd_status_name(st), errobj.message);
        check(st == XD_IO && strstr(errobj.message, "write failed"), what);
        check(!file_exists(path), "short write: nothing at path");
        check(!file_exists(tmp), "short write: temporary removed");
    } else {
        printf("SKIP: short write (setrlimit failed)\n");
    }
    signal(SIGXFSZ, prev);
    free(data);

    /* Overwriting replaces the old file whole. */
    check(xd_npy_write(path, XD_DTYPE_F32, 1, shape, f, NULL) == XD_OK, "write old");
    const int32_t s[2] = {5, 6};
    const int64_t shape2[1] = {2};
    check(xd_npy_write(path, XD_DTYPE_I32, 1, shape2, s, NULL) == XD_OK, "overwrite");
    xd_npy_array a;
    st = xd_npy_read(path, &a, NULL);
    check(st == XD_OK && a.dtype == XD_DTYPE_I32 && a.count == 2 && ((int32_t *)a.data)[1] == 6 && !file_exists(tmp),
          "overwrite replaced the file, no temporary left");
    xd_npy_free(&a);
    unlink(path);
}

static void test_read_errors(void)
{
    char path[128], what[1024];
    xd_npy_array a;
    path_in_dir(path, sizeof path, "absent.npy");
    xd_status st = xd_npy_read(path, &a, &errobj);
    snprintf(what, sizeof what, "read missing file: got %s \"%s\"", xd_status_name(st), errobj.message);
    check(st == XD_IO && strstr(errobj.message, "No such file or directory") && a.data == NULL, what);
    st = xd_npy_read(dir, &a, &errobj);
    check(st == XD_IO && strstr(errobj.message, "not a regular file"), "read a directory");

    /* A malformed file is XD_FORMAT with the path in the message. */
    path_in_dir(path, sizeof path, "bad.npy");
    FILE *fp = fopen(path, "wb");
    fputs("not numpy", fp);
    fclose(fp);
    st = xd_npy_read(path, &a, &errobj);
    check(st == XD_FORMAT && strncmp(errobj.message, path, strlen(path)) == 0, "read malformed file");
    unlink(path);
    xd_npy_free(NULL);
    check(1, "xd_npy_free(NULL)");
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/xd_test_npy.XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trips();
    test_numpy_bytes();
    test_lenient_headers();
    test_rejections();
    test_write_failures();
    test_read_errors();
    if (rmdir(dir) != 0) check(0, "temporary directory left clean");
    return xdt_finish(&T);
}
