/* Building a program: from the kernel-binary cache when it holds a valid
 * entry, else from source (and then the binary is stored for next time).
 *
 * A compiler such as Intel's CPU runtime takes seconds for crossdev's
 * program, in every process; some drivers keep their own cache (PoCL's
 * kcache, NVIDIA's ComputeCache: the models here), that one does not.
 * The cache only saves the compile: a binary is loaded with
 * clCreateProgramWithBinary and built with the same options, and the
 * reproducible-mode self-test (probe.c) runs on what was loaded, every
 * time, as on a fresh compile.
 *
 * - Which drivers: all but PoCL, which keeps its own (kc_driver_caches).
 * - Where: $XD_KERNEL_CACHE ("off" or "0": no cache), else
 *   $XDG_CACHE_HOME/crossdev/kernels, else $HOME/.cache/crossdev/kernels;
 *   missing folders are made 0700, and a folder that is another user's, or
 *   that others may write to, is not used (its entries are code).
 * - Key: XXH3-128 over the entry format's version, the platform's and the
 *   device's names, vendors and versions, the driver version, the ISA the
 *   device compiles for (isa.c), every POCL_*, CL_CONFIG_*, OCLGRIND_* and
 *   AMD_OCL_* variable of the environment (sorted: they change what the
 *   drivers compile for), the whole source text and the options.  Each
 *   field is hashed with its length, so no two field lists hash the same
 *   bytes.  Only crossdev's own programs (every header inlined: the text is
 *   the whole program) are cached; a user's (xd_program_create) may
 *   #include files the key cannot see.
 * - Entry "<key>.xdbin": the header of host/common/kcache_entry.c (which
 *   also reads it, fuzzed), then the binary; written to a
 *   temporary file beside it and renamed (parallel processes may write
 *   one key: the last rename wins, both files whole).
 * - A missing, short, corrupt or mismatching entry, a binary the driver
 *   refuses, a folder that cannot be made or written: the program is
 *   compiled from source as without a cache, never an error, and nothing
 *   is printed unless XD_KERNEL_CACHE_LOG=1 asks for one stderr line per
 *   build: loaded, missed, refused (and why), stored, not stored (and
 *   why), not used (a folder others may write to), passed by (PoCL). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "core.h"

extern char **environ;

/* An entry: the header of host/common/kcache_entry.c, then the binary. */
typedef struct kc_key {
    unsigned char bytes[16];
    char hex[33];
} kc_key;

static int kc_log_on(void)
{
    const char *v = getenv("XD_KERNEL_CACHE_LOG");
    return v && strcmp(v, "1") == 0;
}

/* One line on stderr when XD_KERNEL_CACHE_LOG=1 (developers and tests). */
static void kc_log(const xd_context *ctx, const char *what, const kc_key *key, const char *detail)
{
    if (!kc_log_on()) return;
    fprintf(stderr, "crossdev kernel cache: %s %s on %s%s%s\n", what, key ? key->hex : "-", ctx->device.id,
            detail && *detail ? ": " : "", detail ? detail : "");
}

/* The folder, or 0 when the cache is off or no folder can be named. */
static int kc_dir(char *out, size_t cap)
{
    const char *v = getenv("XD_KERNEL_CACHE");
    if (v && *v) {
        if (strcmp(v, "off") == 0 || strcmp(v, "0") == 0) return 0;
        return xd_path(out, cap, NULL, "%s", v) == XD_OK;
    }
    v = getenv("XDG_CACHE_HOME");
    if (v && v[0] == '/') return xd_path(out, cap, NULL, "%s/crossdev/kernels", v) == XD_OK;
    v = getenv("HOME");
    if (v && *v) return xd_path(out, cap, NULL, "%s/.cache/crossdev/kernels", v) == XD_OK;
    return 0;
}

static void hash_field(XXH3_state_t *s, const void *p, size_t n)
{
    unsigned char len[8];
    xd_put_le(len, (uint64_t)n, 8);
    XXH3_128bits_update(s, len, sizeof len);
    XXH3_128bits_update(s, p, n);
}

static void hash_str(XXH3_state_t *s, const char *str) { hash_field(s, str, strlen(str)); }

static int env_cmp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* The prefixes of the variables drivers read when they compile: PoCL's,
 * Intel's CPU runtime's, Oclgrind's (OCLGRIND_BUILD_OPTIONS) and AMD's
 * (AMD_OCL_BUILD_OPTIONS[_APPEND]). */
static int env_counts(const char *e)
{
    static const char *const prefixes[] = {"POCL_", "CL_CONFIG_", "OCLGRIND_", "AMD_OCL_"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; ++i)
        if (strncmp(e, prefixes[i], strlen(prefixes[i])) == 0) return 1;
    return 0;
}

/* Every such "NAME=value", sorted, then their count. */
static int hash_env(XXH3_state_t *s)
{
    size_t n = 0;
    for (char **e = environ; e && *e; ++e) n += (size_t)env_counts(*e);
    const char **vars = malloc((n ? n : 1) * sizeof *vars);
    if (!vars) return 0;
    size_t k = 0;
    for (char **e = environ; e && *e && k < n; ++e)
        if (env_counts(*e)) vars[k++] = *e;
    qsort(vars, k, sizeof *vars, env_cmp);
    for (size_t i = 0; i < k; ++i) hash_str(s, vars[i]);
    unsigned char count[8];
    xd_put_le(count, (uint64_t)k, 8);
    XXH3_128bits_update(s, count, sizeof count);
    free(vars);
    return 1;
}

static int kc_make_key(const xd_context *ctx, const char *source, const char *options, kc_key *key)
{
    XXH3_state_t *s = XXH3_createState();
    if (!s) return 0;
    XXH3_128bits_reset(s);
    const xd_device_info *d = &ctx->device;
    char version[32];
    snprintf(version, sizeof version, "crossdev kernel cache %u", XD_KCACHE_VERSION);
    const char *fields[] = {
        version,   d->platform_name,  d->platform_vendor, d->platform_version,           d->name,
        d->vendor, d->device_version, d->driver_version,  xd_isa_name(xd_device_isa(d)),
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; ++i) hash_str(s, fields[i]);
    int ok = hash_env(s);
    hash_str(s, source);
    hash_str(s, options ? options : "");
    XXH128_hash_t h = XXH3_128bits_digest(s);
    XXH3_freeState(s);
    xd_put_le(key->bytes, h.high64, 8);
    xd_put_le(key->bytes + 8, h.low64, 8);
    for (int i = 0; i < 16; ++i) snprintf(key->hex + 2 * i, 3, "%02x", key->bytes[i]);
    return ok;
}

/* The program from a binary, built with options; NULL (and why) if the
 * driver refuses it or it holds no kernels. */
static cl_program kc_program_from(xd_context *ctx, const unsigned char *bin, size_t size, const char *options,
                                  const char **why)
{
    cl_device_id dev = (cl_device_id)ctx->device.device_handle;
    cl_int rc, binrc = CL_SUCCESS;
    cl_program prog = clCreateProgramWithBinary(ctx->cl_ctx, 1, &dev, &size, &bin, &binrc, &rc);
    if (rc != CL_SUCCESS || binrc != CL_SUCCESS) {
        *why = "the driver refuses the binary (clCreateProgramWithBinary)";
        if (rc == CL_SUCCESS) clReleaseProgram(prog);
        return NULL;
    }
    size_t kernels = 0;
    if (clBuildProgram(prog, 1, &dev, options, NULL, NULL) != CL_SUCCESS) {
        *why = "the driver refuses the binary (clBuildProgram)";
    } else if (clGetProgramInfo(prog, CL_PROGRAM_NUM_KERNELS, sizeof kernels, &kernels, NULL) != CL_SUCCESS ||
               kernels == 0) {
        *why = "the program built from the binary has no kernels";
    } else {
        return prog;
    }
    clReleaseProgram(prog);
    return NULL;
}

/* The cached program for key, or NULL (and why) when there is none to use. */
static cl_program kc_load(xd_context *ctx, const char *path, const kc_key *key, const char *options, const char **why)
{
    char *data = NULL;
    size_t len = 0;
    if (xd_read_file(path, &data, &len, NULL) != XD_OK) {
        *why = NULL; /* no entry: a plain miss */
        return NULL;
    }
    const unsigned char *bin = NULL;
    size_t size = 0;
    cl_program prog = NULL;
    *why = xd_kcache_entry_parse((const unsigned char *)data, len, key->bytes, &bin, &size);
    if (!*why) prog = kc_program_from(ctx, bin, size, options, why);
    free(data);
    return prog;
}

/* mkdir -p with mode 0700 for the folders it makes; 1 when dir exists. */
static int kc_make_dir(const char *dir)
{
    char p[XD_PATH_MAX];
    if (xd_path(p, sizeof p, NULL, "%s", dir) != XD_OK) return 0;
    for (char *s = p + 1; *s; ++s) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) return 0;
        *s = '/';
    }
    if (mkdir(p, 0700) != 0 && errno != EEXIST) return 0;
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* 1 for a driver that keeps its own cache, which crossdev's passes by unless
 * XD_KERNEL_CACHE_ALL=1: PoCL (~/.cache/pocl/kcache).  Asked for its
 * binary, PoCL compiles every kernel ahead (a first run on a cold PoCL cache
 * took 13 s instead of 4), and from its own cache it is as fast as from a
 * binary. */
static int kc_driver_caches(const xd_context *ctx)
{
    const char *all = getenv("XD_KERNEL_CACHE_ALL");
    if (all && strcmp(all, "1") == 0) return 0;
    return strncmp(ctx->device.id, "pocl/", 5) == 0;
}

/* 1 when the folder is the user's alone: owned by them, writable by no one
 * else (an entry is code the driver runs: another user must not plant one);
 * -1 when it cannot be found (the store will try to make it); 0 otherwise. */
static int kc_dir_private(const char *dir)
{
    struct stat sb;
    if (stat(dir, &sb) != 0) return -1; /* missing, or cannot be reached: made (or not) when storing */
    return S_ISDIR(sb.st_mode) && sb.st_uid == geteuid() && (sb.st_mode & 022) == 0;
}

/* The built program's binary, malloc-ed, or NULL when the driver has none. */
static unsigned char *kc_binary_of(cl_program prog, size_t *size)
{
    *size = 0;
    size_t n = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof n, &n, NULL) != CL_SUCCESS || n == 0) return NULL;
    unsigned char *bin = malloc(n);
    if (!bin) return NULL;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) != CL_SUCCESS) {
        free(bin);
        return NULL;
    }
    *size = n;
    return bin;
}

/* Stores the built program's binary under key; failures are only logged. */
static void kc_store(xd_context *ctx, const char *dir, const char *path, const kc_key *key, cl_program prog)
{
    size_t size = 0;
    unsigned char *bin = kc_binary_of(prog, &size);
    if (!bin) {
        kc_log(ctx, "not stored (the driver gives no binary)", key, NULL);
        return;
    }
    unsigned char head[XD_KCACHE_HEADER];
    xd_kcache_entry_header(head, key->bytes, bin, size);
    const void *parts[2] = {head, bin};
    const size_t sizes[2] = {sizeof head, size};
    xd_error err = {0};
    if (!kc_make_dir(dir) || kc_dir_private(dir) != 1) kc_log(ctx, "not stored (cannot make the folder)", key, dir);
    else if (xd_write_file_atomic(path, parts, sizes, 2, &err) != XD_OK) kc_log(ctx, "not stored", key, err.message);
    else kc_log(ctx, "stored", key, path);
    free(bin);
}

/* clBuildProgram for the context's device; on failure the whole build log
 * goes into the context's last error (XD_BUILD_FAILED). */
static xd_status xd_build(xd_context *ctx, cl_program prog, const char *options)
{
    cl_device_id dev = (cl_device_id)ctx->device.device_handle;
    cl_int rc = clBuildProgram(prog, 1, &dev, options, NULL, NULL);
    if (rc == CL_SUCCESS) return XD_OK;
    size_t size = 0;
    char *log = NULL;
    if (clGetProgramBuildInfo(prog, dev, CL_PROGRAM_BUILD_LOG, 0, NULL, &size) == CL_SUCCESS && size) {
        log = calloc(size + 1, 1);
        if (log && clGetProgramBuildInfo(prog, dev, CL_PROGRAM_BUILD_LOG, size, log, NULL) != CL_SUCCESS) log[0] = '\0';
    }
    xd_status st =
        xd_fail(ctx, XD_BUILD_FAILED, rc, "clBuildProgram failed on %s: %s (%d), options \"%s\"; build log:\n%s",
                ctx->device.id, xd_cl_error_name(rc), (int)rc, options, log ? log : "(no log)");
    free(log);
    return st;
}

static xd_status build_from_source(xd_context *ctx, const char *source, const char *options, cl_program *out)
{
    cl_int rc;
    cl_program prog = clCreateProgramWithSource(ctx->cl_ctx, 1, &source, NULL, &rc);
    if (rc != CL_SUCCESS) return xd_fail_cl(ctx, rc, "clCreateProgramWithSource");
    xd_status st = xd_build(ctx, prog, options);
    if (st != XD_OK) {
        clReleaseProgram(prog);
        return st;
    }
    *out = prog;
    return XD_OK;
}

xd_status xd_program_build(xd_context *ctx, const char *source, const char *options, int cached, cl_program *out)
{
    *out = NULL;
    char dir[XD_PATH_MAX], path[XD_PATH_MAX];
    kc_key key;
    if (!cached || !kc_dir(dir, sizeof dir) || !kc_make_key(ctx, source, options, &key) ||
        xd_path(path, sizeof path, NULL, "%s/%s.xdbin", dir, key.hex) != XD_OK)
        return build_from_source(ctx, source, options, out);
    if (kc_driver_caches(ctx)) {
        kc_log(ctx, "passed by (PoCL keeps its own cache; XD_KERNEL_CACHE_ALL=1 uses it there too)", &key, NULL);
        return build_from_source(ctx, source, options, out);
    }
    int private_dir = kc_dir_private(dir);
    if (private_dir == 0) {
        kc_log(ctx, "not used (the folder is another user's, or others may write to it)", &key, dir);
        return build_from_source(ctx, source, options, out);
    }
    const char *why = NULL;
    cl_program prog = private_dir > 0 ? kc_load(ctx, path, &key, options, &why) : NULL;
    if (prog) {
        kc_log(ctx, "loaded", &key, path);
        *out = prog;
        return XD_OK;
    }
    kc_log(ctx, why ? "refused" : "missed", &key, why);
    xd_status st = build_from_source(ctx, source, options, out);
    if (st == XD_OK) kc_store(ctx, dir, path, &key, *out);
    return st;
}
