/* crossdev — device discovery and selection.
 *
 * Every platform and device the ICD loader knows, with a stable id
 * "platform-slug/device-slug" built from names only, so that a trace from
 * another machine names the same device the same way. */
#ifndef CROSSDEV_DEVICE_H
#define CROSSDEV_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "crossdev/export.h"
#include "crossdev/error.h"
#include "crossdev/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XD_INFO_LEN 160

typedef enum xd_device_type { XD_DEVICE_OTHER, XD_DEVICE_CPU, XD_DEVICE_GPU, XD_DEVICE_ACCELERATOR } xd_device_type;

/* Tri-state for capabilities: a query that failed is reported, not guessed. */
typedef enum xd_cap { XD_CAP_NO = 0, XD_CAP_YES = 1, XD_CAP_UNKNOWN = -1 } xd_cap;

typedef struct xd_device_info {
    char id[2 * XD_INFO_LEN]; /* "pocl/pthread-skylake-avx512-..." */
    unsigned platform_index;  /* P in a "P:D" selector */
    unsigned device_index;    /* D in a "P:D" selector */
    char platform_name[XD_INFO_LEN];
    char platform_vendor[XD_INFO_LEN];
    char platform_version[XD_INFO_LEN];
    char name[XD_INFO_LEN];
    char vendor[XD_INFO_LEN];
    char driver_version[XD_INFO_LEN];
    char driver_package[XD_INFO_LEN]; /* "intel-opencl-rt==2021.4.0" for a driver added by version, else "" */
    char device_version[XD_INFO_LEN]; /* "OpenCL 3.0 ..." */
    char opencl_c_version[XD_INFO_LEN];
    xd_device_type type;
    uint32_t compute_units;
    uint64_t max_work_group_size;
    uint64_t local_mem_size;
    uint64_t global_mem_size;
    uint64_t max_mem_alloc_size;
    xd_cap fp32_denorm;                     /* CL_FP_DENORM in CL_DEVICE_SINGLE_FP_CONFIG */
    xd_cap fp32_fma;                        /* CL_FP_FMA */
    xd_cap fp32_round_to_nearest;           /* CL_FP_ROUND_TO_NEAREST */
    xd_cap fp32_inf_nan;                    /* CL_FP_INF_NAN */
    xd_cap fp32_correctly_rounded_div_sqrt; /* CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT */
    xd_cap fp64;                            /* cl_khr_fp64 (or a non-zero CL_DEVICE_DOUBLE_FP_CONFIG) */
    char query_errors[XD_INFO_LEN];         /* "" or the properties whose query failed */
    void *platform_handle;                  /* cl_platform_id */
    void *device_handle;                    /* cl_device_id */
} xd_device_info;

typedef struct xd_device_list xd_device_list;

/* Enumerate every platform and device.  No platform at all (no ICD, an empty
 * vendors folder) gives an empty list and XD_OK, not an error.  On failure
 * *out is NULL and err (if given) says why. */
XD_API xd_status xd_device_list_create(xd_device_list **out, xd_error *err);
/* A list built from given records (tests, traces from other machines). */
XD_API xd_status xd_device_list_from_infos(const xd_device_info *infos, size_t n, xd_device_list **out, xd_error *err);
XD_API void xd_device_list_destroy(xd_device_list *list);
XD_API size_t xd_device_list_count(const xd_device_list *list);
XD_API const xd_device_info *xd_device_list_get(const xd_device_list *list, size_t i);

/* Resolve a selector: "all", "P:D", a device type ("gpu", "cpu",
 * "accelerator"; simulators such as Oclgrind, which reports a GPU, are not
 * a "gpu"), "vendor:NAME" (a case-insensitive substring of the device's or
 * its platform's vendor, or the platform's name), or a case-insensitive
 * substring of the id; several comma-separated.  Each matching device appears once, in list
 * order.  A selector item that matches nothing, or is malformed, is
 * XD_NO_DEVICE / XD_INVALID_ARGUMENT with a message naming the item and the
 * devices that exist.  indices must hold xd_device_list_count() entries. */
XD_API xd_status xd_device_select(const xd_device_list *list, const char *selector, size_t *indices, size_t *count,
                                  xd_error *err);

/* The lowercase slug used in ids: runs of non-alphanumerics become one '-',
 * trimmed; "(R)", "(TM)" dropped.  Writes at most cap bytes including NUL. */
XD_API void xd_slugify(const char *in, char *out, size_t cap);

/* The record as a JSON object (every field above but the handles), as text
 * the caller frees with xd_free(); NULL when out of memory. */
XD_API char *xd_device_info_json(const xd_device_info *d);
XD_API void xd_free(void *p);

XD_API const char *xd_cap_string(xd_cap c); /* "yes" / "no" / "unknown" */
XD_API const char *xd_device_type_string(xd_device_type t);

#ifdef __cplusplus
}
#endif
#endif
