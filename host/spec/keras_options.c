/* Checking the options of a Keras config object (a layer's, a loss's, an
 * optimizer's): each check reads one key and refuses what crossdev does
 * not support with "FILE: WHERE: OPTION VALUE is not supported (WHAT)". */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/keras.h"

xd_status xd_kopt_refuse(const xd_kopts *o, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return xd_error_set(o->err, XD_FORMAT, 0, "%s: %s: %s", o->file, o->where, msg);
}

void xd_keras_json_text(json_t *v, char *buf, size_t cap)
{
    char *s = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
    snprintf(buf, cap, "%s", s ? s : "(absent)");
    if (s && strlen(s) >= cap && cap > 4) memcpy(buf + cap - 4, "...", 4);
    free(s);
}

xd_status xd_kopt_unsupported(const xd_kopts *o, const char *key, const char *what)
{
    char v[256];
    xd_keras_json_text(json_object_get(o->cfg, key), v, sizeof v);
    return xd_kopt_refuse(o, "%s %s is not supported (%s)", key, v, what);
}

int xd_keras_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n >= XD_LAYER_NAME_LEN || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
              *p == '-' || *p == '.'))
            return 0;
    return 1;
}

int xd_keras_dtype_is_float32(json_t *dtype, char *buf, size_t cap)
{
    snprintf(buf, cap, "?");
    if (!dtype || json_is_null(dtype)) return 1; /* Keras's default policy, float32 */
    if (json_is_string(dtype)) {
        snprintf(buf, cap, "%s", json_string_value(dtype));
        return strcmp(json_string_value(dtype), "float32") == 0;
    }
    const char *cls = json_string_value(json_object_get(dtype, "class_name"));
    const char *name = json_string_value(json_object_get(json_object_get(dtype, "config"), "name"));
    snprintf(buf, cap, "%s", name ? name : cls ? cls : "?");
    return cls && name && (strcmp(cls, "DTypePolicy") == 0 || strcmp(cls, "FloatDTypePolicy") == 0) &&
           strcmp(name, "float32") == 0;
}

xd_status xd_kopt_int_pair(const xd_kopts *o, const char *key, int def, int lo, int hi, int out[2])
{
    json_t *v = json_object_get(o->cfg, key);
    if (!v && def >= 0) {
        out[0] = out[1] = def;
        return XD_OK;
    }
    json_t *a = v, *b = v;
    if (json_is_array(v) && json_array_size(v) == 2) a = json_array_get(v, 0), b = json_array_get(v, 1);
    if (!json_is_integer(a) || !json_is_integer(b) || json_integer_value(a) < lo || json_integer_value(a) > hi ||
        json_integer_value(b) < lo || json_integer_value(b) > hi) {
        char what[96];
        snprintf(what, sizeof what, "only an integer or a pair of integers in %d..%d", lo, hi);
        return xd_kopt_unsupported(o, key, what);
    }
    out[0] = (int)json_integer_value(a);
    out[1] = (int)json_integer_value(b);
    return XD_OK;
}

xd_status xd_kopt_int(const xd_kopts *o, const char *key, int lo, int hi, int *out)
{
    json_t *v = json_object_get(o->cfg, key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        char what[64];
        snprintf(what, sizeof what, "only an integer in %d..%d", lo, hi);
        return xd_kopt_unsupported(o, key, what);
    }
    *out = (int)json_integer_value(v);
    return XD_OK;
}

xd_status xd_kopt_bool(const xd_kopts *o, const char *key, int def, int *out)
{
    json_t *v = json_object_get(o->cfg, key);
    if (!v) {
        *out = def;
        return XD_OK;
    }
    if (!json_is_boolean(v)) return xd_kopt_unsupported(o, key, "only true or false");
    *out = json_is_true(v);
    return XD_OK;
}

xd_status xd_kopt_number(const xd_kopts *o, const char *key, double def, double lo, double hi, int hi_closed,
                         double *out)
{
    json_t *v = json_object_get(o->cfg, key);
    double x = v ? json_number_value(v) : def;
    if ((v && !json_is_number(v)) || !(x >= lo) || !(hi_closed ? x <= hi : x < hi)) {
        char what[96];
        snprintf(what, sizeof what, "only a number in [%g, %g%c", lo, hi, hi_closed ? ']' : ')');
        return xd_kopt_unsupported(o, key, what);
    }
    *out = x;
    return XD_OK;
}

xd_status xd_kopt_null(const xd_kopts *o, const char *const *keys)
{
    for (; *keys; keys++) {
        json_t *v = json_object_get(o->cfg, *keys);
        if (v && !json_is_null(v)) return xd_kopt_unsupported(o, *keys, "only null");
    }
    return XD_OK;
}

xd_status xd_kopt_false(const xd_kopts *o, const char *key)
{
    json_t *v = json_object_get(o->cfg, key);
    return !v || json_is_false(v) ? XD_OK : xd_kopt_unsupported(o, key, "only false");
}

xd_status xd_kopt_value(const xd_kopts *o, const char *key, double want, const char *what)
{
    json_t *v = json_object_get(o->cfg, key);
    return !v || (json_is_number(v) && json_number_value(v) == want) ? XD_OK : xd_kopt_unsupported(o, key, what);
}

xd_status xd_kopt_ones(const xd_kopts *o, const char *key)
{
    json_t *v = json_object_get(o->cfg, key);
    if (!v || (json_is_integer(v) && json_integer_value(v) == 1)) return XD_OK;
    if (!json_is_array(v) || json_array_size(v) == 0) return xd_kopt_unsupported(o, key, "only 1");
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_integer(e) || json_integer_value(e) != 1) return xd_kopt_unsupported(o, key, "only 1");
    }
    return XD_OK;
}

xd_status xd_kopt_unknown(const xd_kopts *o, const char *const *known)
{
    for (void *it = json_object_iter(o->cfg); it; it = json_object_iter_next(o->cfg, it)) {
        const char *k = json_object_iter_key(it);
        json_t *v = json_object_iter_value(it);
        const char *const *p = known;
        while (*p && strcmp(*p, k) != 0) p++;
        if (*p || json_is_null(v)) continue;
        char t[128];
        xd_keras_json_text(v, t, sizeof t);
        return xd_kopt_refuse(o, "option '%s' %s is not supported", k, t);
    }
    return XD_OK;
}
