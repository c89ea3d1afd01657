/* Device discovery: every platform and device, with the properties that
 * matter for reproducibility, from one table of queries (clinfo's
 * dinfo_traits).  A query that fails is recorded and the listing goes on. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crossdev/device.h"
#include "core.h"

struct xd_device_list {
    size_t count;
    xd_device_info *items;
};

void xd_slugify(const char *in, char *out, size_t cap)
{
    if (cap == 0) return;
    size_t o = 0;
    int dash = 0;
    for (const char *p = in; *p && o + 1 < cap; ++p) {
        if (strncmp(p, "(R)", 3) == 0 || strncmp(p, "(r)", 3) == 0) {
            p += 2;
            continue;
        }
        if (strncmp(p, "(TM)", 4) == 0 || strncmp(p, "(tm)", 4) == 0) {
            p += 3;
            continue;
        }
        unsigned char c = (unsigned char)*p;
        if (isalnum(c) || c == '.') {
            if (dash && o > 0 && o + 2 < cap) out[o++] = '-';
            dash = 0;
            out[o++] = (char)tolower(c);
        } else {
            dash = 1;
        }
    }
    out[o] = '\0';
}

const char *xd_cap_string(xd_cap c) { return c == XD_CAP_YES ? "yes" : c == XD_CAP_NO ? "no" : "unknown"; }

const char *xd_device_type_string(xd_device_type t)
{
    switch (t) {
    case XD_DEVICE_CPU: return "cpu";
    case XD_DEVICE_GPU: return "gpu";
    case XD_DEVICE_ACCELERATOR: return "accelerator";
    default: return "other";
    }
}

static void note_error(xd_device_info *d, const char *what)
{
    size_t len = strlen(d->query_errors);
    snprintf(d->query_errors + len, sizeof d->query_errors - len, "%s%s", len ? "," : "", what);
}

/* A string property's getter: clGetPlatformInfo or clGetDeviceInfo on obj. */
typedef cl_int (*info_fn)(const void *obj, cl_uint q, size_t size, void *value, size_t *size_ret);
static cl_int platform_info(const void *obj, cl_uint q, size_t size, void *value, size_t *size_ret)
{
    return clGetPlatformInfo((cl_platform_id)(uintptr_t)obj, q, size, value, size_ret);
}
static cl_int device_info(const void *obj, cl_uint q, size_t size, void *value, size_t *size_ret)
{
    return clGetDeviceInfo((cl_device_id)(uintptr_t)obj, q, size, value, size_ret);
}

/* Two-call pattern: size, then data; truncated to the field, never overrun;
 * with trim, surrounding spaces (some drivers pad device names) dropped.  A
 * failed query is recorded in d->query_errors under label. */
static void query_string(info_fn get, const void *obj, cl_uint q, int trim, char *dst, size_t cap, xd_device_info *d,
                         const char *label)
{
    size_t size = 0;
    dst[0] = '\0';
    if (get(obj, q, 0, NULL, &size) != CL_SUCCESS || size == 0) {
        note_error(d, label);
        return;
    }
    char *buf = malloc(size + 1);
    if (!buf || get(obj, q, size, buf, NULL) != CL_SUCCESS) {
        note_error(d, label);
        free(buf);
        return;
    }
    buf[size] = '\0';
    size_t n = strlen(buf);
    while (trim && n > 0 && isspace((unsigned char)buf[n - 1])) buf[--n] = '\0';
    const char *s = buf;
    while (trim && isspace((unsigned char)*s)) ++s;
    snprintf(dst, cap, "%s", s);
    free(buf);
}

static void query_platform_string(cl_platform_id p, cl_platform_info q, char *dst, size_t cap, xd_device_info *d,
                                  const char *label)
{
    query_string(platform_info, (const void *)p, q, 0, dst, cap, d, label);
}

static void query_device_string(cl_device_id dev, cl_device_info q, char *dst, size_t cap, xd_device_info *d,
                                const char *label)
{
    query_string(device_info, (const void *)dev, q, 1, dst, cap, d, label);
}

/* Numeric properties: (query, byte size, destination offset, label). */
typedef enum { NUM_U32, NUM_U64, NUM_SIZE } num_kind;
static const struct {
    cl_device_info query;
    num_kind kind;
    size_t offset;
    const char *label;
} k_numeric[] = {
    {CL_DEVICE_MAX_COMPUTE_UNITS, NUM_U32, offsetof(xd_device_info, compute_units), "compute_units"},
    {CL_DEVICE_MAX_WORK_GROUP_SIZE, NUM_SIZE, offsetof(xd_device_info, max_work_group_size), "max_work_group_size"},
    {CL_DEVICE_LOCAL_MEM_SIZE, NUM_U64, offsetof(xd_device_info, local_mem_size), "local_mem_size"},
    {CL_DEVICE_GLOBAL_MEM_SIZE, NUM_U64, offsetof(xd_device_info, global_mem_size), "global_mem_size"},
    {CL_DEVICE_MAX_MEM_ALLOC_SIZE, NUM_U64, offsetof(xd_device_info, max_mem_alloc_size), "max_mem_alloc_size"},
};

static void query_numbers(cl_device_id dev, xd_device_info *d)
{
    for (size_t i = 0; i < sizeof k_numeric / sizeof k_numeric[0]; ++i) {
        char *dst = (char *)d + k_numeric[i].offset;
        cl_int rc;
        if (k_numeric[i].kind == NUM_U32) {
            cl_uint v = 0;
            rc = clGetDeviceInfo(dev, k_numeric[i].query, sizeof v, &v, NULL);
            uint32_t u = v;
            memcpy(dst, &u, sizeof u);
        } else if (k_numeric[i].kind == NUM_U64) {
            cl_ulong v = 0;
            rc = clGetDeviceInfo(dev, k_numeric[i].query, sizeof v, &v, NULL);
            uint64_t u = v;
            memcpy(dst, &u, sizeof u);
        } else {
            size_t v = 0;
            rc = clGetDeviceInfo(dev, k_numeric[i].query, sizeof v, &v, NULL);
            uint64_t u = v;
            memcpy(dst, &u, sizeof u);
        }
        if (rc != CL_SUCCESS) note_error(d, k_numeric[i].label);
    }
}

static void query_fp(cl_device_id dev, xd_device_info *d)
{
    cl_device_fp_config fp = 0;
    if (clGetDeviceInfo(dev, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL) != CL_SUCCESS) {
        note_error(d, "single_fp_config");
        d->fp32_denorm = d->fp32_fma = d->fp32_round_to_nearest = d->fp32_inf_nan = d->fp32_correctly_rounded_div_sqrt =
            XD_CAP_UNKNOWN;
    } else {
        d->fp32_denorm = (fp & CL_FP_DENORM) ? XD_CAP_YES : XD_CAP_NO;
        d->fp32_fma = (fp & CL_FP_FMA) ? XD_CAP_YES : XD_CAP_NO;
        d->fp32_round_to_nearest = (fp & CL_FP_ROUND_TO_NEAREST) ? XD_CAP_YES : XD_CAP_NO;
        d->fp32_inf_nan = (fp & CL_FP_INF_NAN) ? XD_CAP_YES : XD_CAP_NO;
        d->fp32_correctly_rounded_div_sqrt = (fp & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) ? XD_CAP_YES : XD_CAP_NO;
    }
    /* fp64: CL_DEVICE_DOUBLE_FP_CONFIG is non-zero exactly when it is supported
     * (core in 1.2 for devices that have it); the extension string confirms. */
    cl_device_fp_config dfp = 0;
    char ext[4096];
    query_device_string(dev, CL_DEVICE_EXTENSIONS, ext, sizeof ext, d, "extensions");
    if (clGetDeviceInfo(dev, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof dfp, &dfp, NULL) == CL_SUCCESS)
        d->fp64 = (dfp != 0 || strstr(ext, "cl_khr_fp64")) ? XD_CAP_YES : XD_CAP_NO;
    else d->fp64 = strstr(ext, "cl_khr_fp64") ? XD_CAP_YES : XD_CAP_NO;
}

static void describe(cl_platform_id p, cl_device_id dev, unsigned pi, unsigned di, xd_device_info *d)
{
    memset(d, 0, sizeof *d);
    d->platform_index = pi;
    d->device_index = di;
    d->platform_handle = (void *)p;
    d->device_handle = (void *)dev;
    query_platform_string(p, CL_PLATFORM_NAME, d->platform_name, sizeof d->platform_name, d, "platform_name");
    query_platform_string(p, CL_PLATFORM_VENDOR, d->platform_vendor, sizeof d->platform_vendor, d, "platform_vendor");
    query_platform_string(p, CL_PLATFORM_VERSION, d->platform_version, sizeof d->platform_version, d,
                          "platform_version");
    query_device_string(dev, CL_DEVICE_NAME, d->name, sizeof d->name, d, "name");
    query_device_string(dev, CL_DEVICE_VENDOR, d->vendor, sizeof d->vendor, d, "vendor");
    query_device_string(dev, CL_DRIVER_VERSION, d->driver_version, sizeof d->driver_version, d, "driver_version");
    query_device_string(dev, CL_DEVICE_VERSION, d->device_version, sizeof d->device_version, d, "device_version");
    query_device_string(dev, CL_DEVICE_OPENCL_C_VERSION, d->opencl_c_version, sizeof d->opencl_c_version, d,
                        "opencl_c_version");
    cl_device_type t = 0;
    if (clGetDeviceInfo(dev, CL_DEVICE_TYPE, sizeof t, &t, NULL) != CL_SUCCESS) note_error(d, "type");
    d->type = (t & CL_DEVICE_TYPE_GPU)           ? XD_DEVICE_GPU
              : (t & CL_DEVICE_TYPE_CPU)         ? XD_DEVICE_CPU
              : (t & CL_DEVICE_TYPE_ACCELERATOR) ? XD_DEVICE_ACCELERATOR
                                                 : XD_DEVICE_OTHER;
    query_numbers(dev, d);
    query_fp(dev, d);

    /* Stable id: platform slug (well-known platforms shortened) / device slug. */
    char ps[XD_INFO_LEN], ds[XD_INFO_LEN];
    if (strstr(d->platform_name, "Portable Computing Language")) snprintf(ps, sizeof ps, "pocl");
    else if (strstr(d->platform_name, "NVIDIA")) snprintf(ps, sizeof ps, "nvidia-cuda");
    else xd_slugify(d->platform_name[0] ? d->platform_name : "platform", ps, sizeof ps);
    xd_slugify(d->name[0] ? d->name : "device", ds, sizeof ds);
    /* A driver chosen by version (crossdev-compare drivers): the process
     * loads it alone, and its devices say which version they are. */
    const char *pkg = getenv("XD_DRIVER_PACKAGE"), *ver = pkg ? strstr(pkg, "==") : NULL;
    if (ver) snprintf(d->driver_package, sizeof d->driver_package, "%s", pkg);
    snprintf(d->id, sizeof d->id, "%s/%s%s%s", ps, ds, ver ? "@" : "", ver ? ver + 2 : "");
}

static xd_status list_create(xd_device_list **out, xd_error *err)
{
    cl_platform_id *plats = NULL;
    if (!out) return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "xd_device_list_create: NULL output");
    *out = NULL;
    xd_device_list *list = calloc(1, sizeof *list);
    if (!list) goto fail;
    cl_uint np = 0;
    cl_int rc = clGetPlatformIDs(0, NULL, &np);
    if (rc == CL_PLATFORM_NOT_FOUND_KHR || (rc == CL_SUCCESS && np == 0)) {
        *out = list; /* no OpenCL at all: zero devices, not an error */
        return XD_OK;
    }
    if (rc != CL_SUCCESS) {
        xd_error_set(err, XD_OPENCL, rc, "clGetPlatformIDs failed: %s (%d)", xd_cl_error_name(rc), rc);
        free(list);
        return XD_OPENCL;
    }
    plats = calloc(np, sizeof *plats);
    if (!plats || clGetPlatformIDs(np, plats, NULL) != CL_SUCCESS) goto fail;
    for (cl_uint pi = 0; pi < np; ++pi) {
        cl_uint nd = 0;
        rc = clGetDeviceIDs(plats[pi], CL_DEVICE_TYPE_ALL, 0, NULL, &nd);
        if (rc == CL_DEVICE_NOT_FOUND || nd == 0) continue; /* a platform with no device */
        if (rc != CL_SUCCESS) continue;
        cl_device_id *devs = calloc(nd, sizeof *devs);
        if (!devs) goto fail;
        if (clGetDeviceIDs(plats[pi], CL_DEVICE_TYPE_ALL, nd, devs, NULL) != CL_SUCCESS) {
            free(devs);
            continue;
        }
        xd_device_info *grown = realloc(list->items, (list->count + nd) * sizeof *grown);
        if (!grown) {
            free(devs);
            goto fail;
        }
        list->items = grown;
        for (cl_uint di = 0; di < nd; ++di) describe(plats[pi], devs[di], pi, di, &list->items[list->count++]);
        free(devs);
    }
    free(plats);
    *out = list;
    return XD_OK;
fail:
    xd_error_msg(err, "out of host memory while listing devices");
    free(plats);
    xd_device_list_destroy(list);
    return XD_OUT_OF_HOST_MEMORY;
}

xd_status xd_device_list_from_infos(const xd_device_info *infos, size_t n, xd_device_list **out, xd_error *err)
{
    if (!out || (n && !infos))
        return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "xd_device_list_from_infos: NULL %s",
                            out ? "infos with a count" : "output");
    xd_device_list *list = calloc(1, sizeof *list);
    if (list && n) {
        list->items = malloc(n * sizeof *list->items);
        if (list->items) memcpy(list->items, infos, n * sizeof *infos);
    }
    if (!list || (n && !list->items)) {
        xd_device_list_destroy(list);
        return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "out of host memory (a list of %zu devices)", n);
    }
    list->count = n;
    *out = list;
    return xd_error_return(err, XD_OK);
}

void xd_device_list_destroy(xd_device_list *list)
{
    if (!list) return;
    free(list->items);
    free(list);
}

size_t xd_device_list_count(const xd_device_list *list) { return list ? list->count : 0; }

const xd_device_info *xd_device_list_get(const xd_device_list *list, size_t i)
{
    return (list && i < list->count) ? &list->items[i] : NULL;
}

static int contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; ++hay) {
        size_t k = 0;
        while (k < n && hay[k] && tolower((unsigned char)hay[k]) == tolower((unsigned char)needle[k])) ++k;
        if (k == n) return 1;
    }
    return n == 0;
}

static void list_ids(const xd_device_list *list, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    if (list->count == 0) snprintf(buf, cap, "(none: no OpenCL device found)");
    for (size_t i = 0; i < list->count && len < cap; ++i) {
        int w = snprintf(buf + len, cap - len, "%s%u:%u %s", i ? ", " : "", list->items[i].platform_index,
                         list->items[i].device_index, list->items[i].id);
        if (w < 0) break;
        len += (size_t)w;
    }
}

/* Parses "P:D" strictly: digits, one colon, digits. */
static int parse_index_pair(const char *s, unsigned *p, unsigned *d)
{
    const char *colon = strchr(s, ':');
    if (!colon || colon == s || !colon[1]) return 0;
    for (const char *c = s; c < colon; ++c)
        if (!isdigit((unsigned char)*c)) return 0;
    for (const char *c = colon + 1; *c; ++c)
        if (!isdigit((unsigned char)*c)) return 0;
    if (colon - s > 6 || strlen(colon + 1) > 6) return 0;
    *p = (unsigned)strtoul(s, NULL, 10);
    *d = (unsigned)strtoul(colon + 1, NULL, 10);
    return 1;
}

/* A simulator (Oclgrind) reports itself as a GPU: the type selector `gpu`
 * means real hardware, so that `--device gpu` on a GPU machine where
 * tools/setup also installed Oclgrind names one device.  Oclgrind stays
 * selectable by its id. */
static int is_simulator(const xd_device_info *d) { return contains_nocase(d->platform_name, "oclgrind"); }

/* A device type word ("gpu", "cpu", "accelerator"), or -1. */
static int type_word(const char *tok)
{
    static const struct {
        const char *word;
        xd_device_type type;
    } WORDS[] = {{"gpu", XD_DEVICE_GPU}, {"cpu", XD_DEVICE_CPU}, {"accelerator", XD_DEVICE_ACCELERATOR}};
    for (size_t i = 0; i < sizeof WORDS / sizeof *WORDS; ++i)
        if (strcasecmp(tok, WORDS[i].word) == 0) return (int)WORDS[i].type;
    return -1;
}

/* vendor:NAME: a case-insensitive substring of the device's vendor, its
 * platform's vendor or name ("amd" also finds "Advanced Micro Devices"). */
static int vendor_matches(const xd_device_info *d, const char *name)
{
    if (contains_nocase(d->vendor, name) || contains_nocase(d->platform_vendor, name) ||
        contains_nocase(d->platform_name, name))
        return 1;
    return strcasecmp(name, "amd") == 0 && (contains_nocase(d->vendor, "advanced micro devices") ||
                                            contains_nocase(d->platform_vendor, "advanced micro devices"));
}

/* 1 when one selector item names device i: a type word, vendor:NAME or a
 * substring of the id ('all' and P:D are handled by the caller). */
static int item_names(const xd_device_info *d, const char *tok)
{
    int type = type_word(tok);
    if (type >= 0) return d->type == (xd_device_type)type && !is_simulator(d);
    if (strncasecmp(tok, "vendor:", 7) == 0) return tok[7] && vendor_matches(d, tok + 7);
    return contains_nocase(d->id, tok);
}

/* Marks the devices one selector item names: 'all', P:D, a type (gpu, cpu,
 * accelerator), vendor:NAME or a substring of the id; XD_NO_DEVICE when it
 * names none. */
static xd_status select_item(const xd_device_list *list, const char *tok, unsigned char *picked, xd_error *err)
{
    int matched = 0;
    unsigned p, d;
    if (strcmp(tok, "all") == 0) {
        for (size_t i = 0; i < list->count; ++i) picked[i] = 1;
        matched = list->count > 0;
    } else if (strchr(tok, ':') && !strchr(tok, '/') && isdigit((unsigned char)tok[0])) {
        if (!parse_index_pair(tok, &p, &d)) {
            xd_error_msg(err, "malformed device selector '%s': expected P:D (two indices)", tok);
            return XD_INVALID_ARGUMENT;
        }
        for (size_t i = 0; i < list->count; ++i)
            if (list->items[i].platform_index == p && list->items[i].device_index == d) picked[i] = 1, matched = 1;
    } else {
        for (size_t i = 0; i < list->count; ++i)
            if (item_names(&list->items[i], tok)) picked[i] = 1, matched = 1;
    }
    if (!matched) {
        char ids[2048];
        list_ids(list, ids, sizeof ids);
        xd_error_msg(err, "device selector '%s' matches no device; devices: %s", tok, ids);
        return XD_NO_DEVICE;
    }
    return XD_OK;
}

static xd_status device_select(const xd_device_list *list, const char *selector, size_t *indices, size_t *count,
                               xd_error *err)
{
    if (!list || !selector || !count || (!indices && list->count))
        return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "xd_device_select: a NULL list, selector, count or indices");
    *count = 0;
    size_t nitems = 0;
    char **items = xd_split_commas(selector, 1, &nitems);
    unsigned char *picked = items ? calloc(list->count ? list->count : 1, 1) : NULL;
    if (!picked) {
        free(items);
        return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "out of host memory (device selector '%s')", selector);
    }
    xd_status st = XD_OK;
    for (size_t k = 0; st == XD_OK && k < nitems; ++k) {
        if (*items[k]) {
            st = select_item(list, items[k], picked, err);
        } else {
            xd_error_msg(err, "malformed device selector '%s': empty item", selector);
            st = XD_INVALID_ARGUMENT;
        }
    }
    if (st == XD_OK)
        for (size_t i = 0; i < list->count; ++i)
            if (picked[i]) indices[(*count)++] = i;
    free(picked);
    free(items);
    return st;
}

xd_status xd_device_list_create(xd_device_list **out, xd_error *err)
{
    return xd_error_return(err, list_create(out, err));
}

xd_status xd_device_select(const xd_device_list *list, const char *selector, size_t *indices, size_t *count,
                           xd_error *err)
{
    return xd_error_return(err, device_select(list, selector, indices, count, err));
}
