/* Config walker: each config object is described as a table of
 * {key, type, required, min, max, default} and checked here, so pol_load.c
 * has no hand-written type checks. Mistakes carry their JSON path
 * ("auth.jwt.keys[1].alg: ..."); every one is reported, not only the first. */
#include "policy/pol_internal.h"

#include <string.h>

static const char *type_name(pol_type t)
{
    switch (t) {
    case POL_T_STR:
        return "a string";
    case POL_T_INT:
        return "an integer";
    case POL_T_BOOL:
        return "true or false";
    case POL_T_OBJ:
        return "an object";
    case POL_T_ARR:
        return "an array";
    case POL_T_STRS:
        return "an array of strings";
    case POL_T_STR_OR_STRS:
        return "a string or an array of strings";
    }
    return "?";
}

static const pol_field *field_find(const pol_field *f, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(f[i].key, key) == 0)
            return &f[i];
    return NULL;
}

static int check_strs(const json_t *v, const pol_field *f, const char *path, cm_errlist *errs)
{
    size_t i, n = json_array_size(v);
    json_t *e;
    int bad = 0;

    if ((long long)n < f->min) {
        cm_errlist_add(errs, "%s.%s: needs at least %lld entries", path, f->key, f->min);
        bad++;
    }
    if (f->max > 0 && (long long)n > f->max) {
        cm_errlist_add(errs, "%s.%s: at most %lld entries allowed", path, f->key, f->max);
        bad++;
    }
    json_array_foreach (v, i, e) {
        if (!json_is_string(e) || json_string_length(e) == 0 || json_string_length(e) > 4096) {
            cm_errlist_add(errs, "%s.%s[%zu]: expected a non-empty string", path, f->key, i);
            bad++;
        }
    }
    return bad;
}

static int check_value(const json_t *v, const pol_field *f, const char *path, cm_errlist *errs)
{
    bool is_ok;

    switch (f->type) {
    case POL_T_STR:
        is_ok = json_is_string(v);
        break;
    case POL_T_INT:
        is_ok = json_is_integer(v);
        break;
    case POL_T_BOOL:
        is_ok = json_is_boolean(v);
        break;
    case POL_T_OBJ:
        is_ok = json_is_object(v);
        break;
    case POL_T_ARR:
    case POL_T_STRS:
        is_ok = json_is_array(v);
        break;
    case POL_T_STR_OR_STRS:
        is_ok = json_is_string(v) || json_is_array(v);
        break;
    default:
        is_ok = false;
    }
    if (!is_ok) {
        cm_errlist_add(errs, "%s.%s: expected %s", path, f->key, type_name(f->type));
        return 1;
    }
    if (json_is_string(v)) {
        /* min/max bound a string's length; for STR_OR_STRS they count entries */
        bool is_plain = f->type == POL_T_STR;
        size_t len = json_string_length(v);
        long long min = is_plain && f->min > 0 ? f->min : 1;
        long long max = is_plain && f->max > 0 ? f->max : 4096;
        if ((long long)len < min || (long long)len > max) {
            cm_errlist_add(errs, "%s.%s: length %zu is outside %lld..%lld", path, f->key, len, min,
                           max);
            return 1;
        }
        return 0;
    }
    if (f->type == POL_T_INT) {
        long long x = json_integer_value(v);
        if (x < f->min) {
            cm_errlist_add(errs, "%s.%s: %lld is below minimum %lld", path, f->key, x, f->min);
            return 1;
        }
        if (x > f->max) {
            cm_errlist_add(errs, "%s.%s: %lld is above maximum %lld", path, f->key, x, f->max);
            return 1;
        }
        return 0;
    }
    if (f->type == POL_T_STRS || f->type == POL_T_STR_OR_STRS)
        return check_strs(v, f, path, errs);
    if (f->type == POL_T_ARR) {
        size_t n = json_array_size(v);
        if ((long long)n < f->min || (f->max > 0 && (long long)n > f->max)) {
            cm_errlist_add(errs, "%s.%s: %zu entries, expected %lld..%lld", path, f->key, n, f->min,
                           f->max);
            return 1;
        }
    }
    return 0;
}

int pol_cfg_check(json_t *obj, const pol_field *f, size_t n, const char *path, cm_errlist *errs)
{
    const char *key;
    json_t *v;
    int bad = 0;

    if (!json_is_object(obj)) {
        cm_errlist_add(errs, "%s: expected an object", path);
        return 1;
    }
    json_object_foreach (obj, key, v) {
        const pol_field *fd = field_find(f, n, key);
        if (fd == NULL) {
            cm_errlist_add(errs, "%s.%s: unknown key", path, key);
            bad++;
            continue;
        }
        bad += check_value(v, fd, path, errs);
    }
    for (size_t i = 0; i < n; i++) {
        if (f[i].is_required && json_object_get(obj, f[i].key) == NULL) {
            cm_errlist_add(errs, "%s.%s: required key is missing", path, f[i].key);
            bad++;
        }
    }
    return bad;
}

long long pol_cfg_int(const json_t *obj, const pol_field *f, size_t n, const char *key)
{
    json_t *v = json_object_get(obj, key);
    const pol_field *fd = field_find(f, n, key);
    if (json_is_integer(v))
        return json_integer_value(v);
    return fd != NULL ? fd->def : 0;
}

bool pol_cfg_bool(const json_t *obj, const pol_field *f, size_t n, const char *key)
{
    json_t *v = json_object_get(obj, key);
    const pol_field *fd = field_find(f, n, key);
    if (json_is_boolean(v))
        return json_is_true(v);
    return fd != NULL && fd->def != 0;
}

const char *pol_cfg_str(cm_arena *a, const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return NULL;
    return cm_arena_strndup(a, json_string_value(v), json_string_length(v));
}

const char **pol_cfg_strs(cm_arena *a, const json_t *v, size_t *n)
{
    const char **out;
    size_t i;
    json_t *e;

    *n = 0;
    if (json_is_string(v)) {
        out = cm_arena_alloc(a, sizeof(*out));
        out[0] = cm_arena_strndup(a, json_string_value(v), json_string_length(v));
        *n = 1;
        return out;
    }
    if (!json_is_array(v) || json_array_size(v) == 0)
        return NULL;
    out = cm_arena_calloc(a, json_array_size(v) * sizeof(*out));
    json_array_foreach (v, i, e) {
        if (json_is_string(e))
            out[(*n)++] = cm_arena_strndup(a, json_string_value(e), json_string_length(e));
    }
    return out;
}

const char *pol_cfg_path(cm_arena *a, const char *base_dir, const char *path)
{
    if (path[0] == '/' || base_dir == NULL || base_dir[0] == '\0')
        return cm_arena_strndup(a, path, strlen(path));
    return cm_arena_sprintf(a, "%s/%s", base_dir, path);
}
