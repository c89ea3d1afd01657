/* Device records as JSON (the `list --json` output and the trace's "device"). */
#include <jansson.h>
#include <stdlib.h>

#include "core.h"

static json_t *cap(xd_cap c) { return c == XD_CAP_UNKNOWN ? json_null() : json_boolean(c == XD_CAP_YES); }

json_t *xd_device_info_to_json(const xd_device_info *d)
{
    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, "id", json_string(d->id));
    json_object_set_new(o, "index", json_sprintf("%u:%u", d->platform_index, d->device_index));
    json_object_set_new(o, "platform", json_string(d->platform_name));
    json_object_set_new(o, "platform_vendor", json_string(d->platform_vendor));
    json_object_set_new(o, "platform_version", json_string(d->platform_version));
    json_object_set_new(o, "name", json_string(d->name));
    json_object_set_new(o, "vendor", json_string(d->vendor));
    json_object_set_new(o, "driver", json_string(d->driver_version));
    if (d->driver_package[0]) json_object_set_new(o, "driver_package", json_string(d->driver_package));
    json_object_set_new(o, "opencl", json_string(d->device_version));
    json_object_set_new(o, "opencl_c", json_string(d->opencl_c_version));
    json_object_set_new(o, "type", json_string(xd_device_type_string(d->type)));
    json_object_set_new(o, "compute_units", json_integer(d->compute_units));
    json_object_set_new(o, "max_work_group_size", json_integer((json_int_t)d->max_work_group_size));
    json_object_set_new(o, "local_mem_bytes", json_integer((json_int_t)d->local_mem_size));
    json_object_set_new(o, "global_mem_bytes", json_integer((json_int_t)d->global_mem_size));
    json_object_set_new(o, "max_alloc_bytes", json_integer((json_int_t)d->max_mem_alloc_size));
    json_t *fp = json_object();
    json_object_set_new(fp, "fp32_denorm", cap(d->fp32_denorm));
    json_object_set_new(fp, "fp32_fma", cap(d->fp32_fma));
    json_object_set_new(fp, "fp32_round_to_nearest", cap(d->fp32_round_to_nearest));
    json_object_set_new(fp, "fp32_inf_nan", cap(d->fp32_inf_nan));
    json_object_set_new(fp, "fp32_correctly_rounded_div_sqrt", cap(d->fp32_correctly_rounded_div_sqrt));
    json_object_set_new(fp, "fp64", cap(d->fp64));
    json_object_set_new(o, "fp", fp);
    xd_error err;
    xd_status st = xd_device_check_reproducible(d, &err);
    json_object_set_new(o, "reproducible", json_boolean(st == XD_OK));
    if (st != XD_OK) json_object_set_new(o, "reproducible_refused", json_string(err.message));
    if (d->query_errors[0]) json_object_set_new(o, "query_errors", json_string(d->query_errors));
    return o;
}

char *xd_device_info_json(const xd_device_info *d)
{
    if (!d) return NULL;
    json_t *o = xd_device_info_to_json(d);
    if (!o) return NULL;
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

void xd_free(void *p) { free(p); }
