/* Configuration: one JSON file, described section by section as tables of
 * {key, type, required, min, max, default} and walked; every mistake is
 * collected with its JSON path. The result is an immutable snapshot; the
 * current one is swapped atomically on reload and freed with its last user. */
#include "gw_internal.h"

#include <errno.h>
#include <libgen.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum ftype { F_STR, F_INT };

typedef struct field {
    const char *key;
    enum ftype type;
    bool required;
    long long min, max;
    long long def_int;
    const char *def_str;
    size_t off;
} field;

#define INTF(k, mn, mx, d, s, m) {k, F_INT, false, mn, mx, d, NULL, offsetof(s, m)}

static const field limit_fields[] = {
    INTF("max_connections", 1, 1000000, 10000, gw_limits, max_connections),
    INTF("connection_timeout_s", 1, 86400, 300, gw_limits, connection_timeout_s),
    INTF("max_body_bytes", 1024, 1LL << 30, 4 << 20, gw_limits, max_body_bytes),
    INTF("max_header_bytes", 1024, 1 << 20, 16 << 10, gw_limits, max_header_bytes),
    INTF("max_response_bytes", 1024, 1LL << 30, 32 << 20, gw_limits, max_response_bytes),
    INTF("request_arena_bytes", 4096, 1LL << 31, 64 << 20, gw_limits, request_arena_bytes),
    INTF("upstream_connect_timeout_ms", 1, 600000, 10000, gw_limits, upstream_connect_timeout_ms),
    INTF("upstream_timeout_ms", 1, 3600000, 600000, gw_limits, upstream_timeout_ms),
    INTF("stream_idle_timeout_s", 1, 3600, 120, gw_limits, stream_idle_timeout_s),
    INTF("shutdown_grace_s", 0, 3600, 30, gw_limits, shutdown_grace_s),
    INTF("max_upstream_connections", 1, 1000000, 20000, gw_limits, max_upstream_connections),
    INTF("workers", 0, 64, 0, gw_limits, workers),
};

static const char *const top_keys[] = {"listen",   "limits", "audit", "providers", "models",
                                       "auth",     "roles",  "redaction", NULL};

static bool key_known(const char *k, const char *const *keys)
{
    for (; *keys != NULL; keys++)
        if (strcmp(k, *keys) == 0)
            return true;
    return false;
}

static void check_unknown(json_t *obj, const char *path, const char *const *keys, cm_errlist *errs)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        if (!key_known(k, keys))
            cm_errlist_add(errs, "%s.%s: unknown key", path, k);
    }
}

static void walk_ints(json_t *obj, const char *path, const field *f, size_t n, void *dst,
                      cm_errlist *errs)
{
    const char *keys[32];
    for (size_t i = 0; i < n && i < 31; i++)
        keys[i] = f[i].key;
    keys[n < 31 ? n : 31] = NULL;
    if (obj != NULL)
        check_unknown(obj, path, keys, errs);
    for (size_t i = 0; i < n; i++) {
        long long *slot = (long long *)((char *)dst + f[i].off);
        json_t *v = obj ? json_object_get(obj, f[i].key) : NULL;
        *slot = f[i].def_int;
        if (v == NULL) {
            if (f[i].required)
                cm_errlist_add(errs, "%s.%s: required", path, f[i].key);
            continue;
        }
        if (!json_is_integer(v)) {
            cm_errlist_add(errs, "%s.%s: expected an integer", path, f[i].key);
            continue;
        }
        long long x = json_integer_value(v);
        if (x < f[i].min)
            cm_errlist_add(errs, "%s.%s: %lld is below minimum %lld", path, f[i].key, x, f[i].min);
        else if (x > f[i].max)
            cm_errlist_add(errs, "%s.%s: %lld is above maximum %lld", path, f[i].key, x, f[i].max);
        else
            *slot = x;
    }
}

/* A string member; NULL when absent (reported if required) or not a string. */
static const char *get_str(json_t *obj, const char *path, const char *key, bool required,
                           cm_errlist *errs)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        if (required)
            cm_errlist_add(errs, "%s.%s: required", path, key);
        return NULL;
    }
    if (!json_is_string(v) || json_string_length(v) == 0) {
        cm_errlist_add(errs, "%s.%s: expected a non-empty string", path, key);
        return NULL;
    }
    return json_string_value(v);
}

static char *resolve_path(const char *base_dir, const char *p)
{
    if (p[0] == '/')
        return cm_xstrdup(p);
    size_t n = strlen(base_dir) + strlen(p) + 2;
    char *s = cm_xmalloc(n);
    snprintf(s, n, "%s/%s", base_dir, p);
    return s;
}

/* Read a provider key from the environment or a file; never logged. */
static char *load_secret(json_t *pj, const char *path, const char *base_dir, cm_errlist *errs)
{
    const char *env = get_str(pj, path, "api_key_env", false, errs);
    const char *file = get_str(pj, path, "api_key_file", false, errs);
    if (env != NULL && file != NULL) {
        cm_errlist_add(errs, "%s: give api_key_env or api_key_file, not both", path);
        return NULL;
    }
    if (env != NULL) {
        const char *v = getenv(env);
        if (v == NULL || v[0] == '\0') {
            cm_errlist_add(errs, "%s.api_key_env: environment variable %s is not set", path, env);
            return NULL;
        }
        return cm_xstrdup(v);
    }
    if (file != NULL) {
        char *fp = resolve_path(base_dir, file);
        char *data = NULL;
        size_t len = 0;
        cm_err e;
        if (cm_file_read(fp, 8192, &data, &len, &e) != 0) {
            cm_errlist_add(errs, "%s.api_key_file: %s", path, e.msg);
            free(fp);
            return NULL;
        }
        free(fp);
        while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' '))
            data[--len] = '\0';
        if (len == 0) {
            cm_errlist_add(errs, "%s.api_key_file: file is empty", path);
            free(data);
            return NULL;
        }
        return data;
    }
    return NULL;
}

static bool header_safe(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

static void load_providers(gw_config *c, json_t *root, cm_errlist *errs)
{
    static const char *const keys[] = {"type", "base_url", "base_url_env", "api_key_env",
                                       "api_key_file", NULL};
    json_t *ps = json_object_get(root, "providers");
    if (!json_is_object(ps) || json_object_size(ps) == 0) {
        cm_errlist_add(errs, "providers: required: an object of named providers");
        return;
    }
    c->providers = cm_xcalloc(json_object_size(ps), sizeof(gw_provider));
    const char *name;
    json_t *pj;
    json_object_foreach(ps, name, pj)
    {
        char path[300];
        snprintf(path, sizeof(path), "providers.%s", name);
        if (!json_is_object(pj)) {
            cm_errlist_add(errs, "%s: expected an object", path);
            continue;
        }
        check_unknown(pj, path, keys, errs);
        const char *type = get_str(pj, path, "type", true, errs);
        const char *url = get_str(pj, path, "base_url", true, errs);
        const char *url_env = get_str(pj, path, "base_url_env", false, errs);
        if (type != NULL && strcmp(type, "openai") != 0)
            cm_errlist_add(errs, "%s.type: \"%s\" is not supported (expected \"openai\")", path,
                           type);
        if (url_env != NULL && getenv(url_env) != NULL && getenv(url_env)[0] != '\0')
            url = getenv(url_env);
        if (url != NULL && strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
            cm_errlist_add(errs, "%s.base_url: expected an http:// or https:// URL", path);
            url = NULL;
        }
        char *key = load_secret(pj, path, c->base_dir, errs);
        if (key != NULL && !header_safe(key)) {
            cm_errlist_add(errs, "%s: the API key contains control characters", path);
            cm_wipe(key, strlen(key));
            free(key);
            key = NULL;
        }
        gw_provider *p = &c->providers[c->nproviders++];
        p->name = cm_xstrdup(name);
        p->type = cm_xstrdup(type ? type : "openai");
        p->base_url = cm_xstrdup(url ? url : "");
        size_t n = strlen(p->base_url);
        while (n > 0 && p->base_url[n - 1] == '/')
            p->base_url[--n] = '\0';
        if (key != NULL) {
            size_t hl = strlen(key) + 32;
            p->auth_hdr = cm_xmalloc(hl);
            snprintf(p->auth_hdr, hl, "Authorization: Bearer %s", key);
            cm_wipe(key, strlen(key));
            free(key);
        }
    }
}

static char *read_pem(const gw_config *c, json_t *tj, const char *key, bool required,
                      cm_errlist *errs)
{
    const char *f = get_str(tj, "listen.tls", key, required, errs);
    if (f == NULL)
        return NULL;
    char *fp = resolve_path(c->base_dir, f);
    char *data = NULL;
    cm_err e;
    if (cm_file_read(fp, 1 << 20, &data, NULL, &e) != 0)
        cm_errlist_add(errs, "listen.tls.%s: %s", key, e.msg);
    else if (strstr(data, "-----BEGIN ") == NULL)
        cm_errlist_add(errs, "listen.tls.%s: %s is not PEM", key, fp);
    free(fp);
    return data;
}

static void load_tls(gw_config *c, json_t *tj, cm_errlist *errs)
{
    static const char *const keys[] = {"cert_file", "key_file", "client_ca_file", "client_cert",
                                       NULL};
    if (!json_is_object(tj)) {
        cm_errlist_add(errs, "listen.tls: expected an object");
        return;
    }
    check_unknown(tj, "listen.tls", keys, errs);
    c->tls_cert = read_pem(c, tj, "cert_file", true, errs);
    c->tls_key = read_pem(c, tj, "key_file", true, errs);
    c->tls_client_ca = read_pem(c, tj, "client_ca_file", false, errs);
    const char *mode = get_str(tj, "listen.tls", "client_cert", false, errs);
    if (mode == NULL || strcmp(mode, "off") == 0) {
        c->tls_client_mode = c->tls_client_ca ? GW_CLIENT_CERT_OPTIONAL : GW_CLIENT_CERT_OFF;
    } else if (strcmp(mode, "optional") == 0 || strcmp(mode, "require") == 0) {
        c->tls_client_mode =
            strcmp(mode, "require") == 0 ? GW_CLIENT_CERT_REQUIRE : GW_CLIENT_CERT_OPTIONAL;
        if (c->tls_client_ca == NULL)
            cm_errlist_add(errs, "listen.tls.client_cert: \"%s\" needs client_ca_file", mode);
    } else {
        cm_errlist_add(errs, "listen.tls.client_cert: expected \"off\", \"optional\" or "
                             "\"require\"");
    }
}

static const gw_provider *find_provider(const gw_config *c, const char *name)
{
    for (size_t i = 0; i < c->nproviders; i++)
        if (strcmp(c->providers[i].name, name) == 0)
            return &c->providers[i];
    return NULL;
}

static void load_target(gw_config *c, json_t *tj, const char *path, const char *alias,
                        gw_target *t, cm_errlist *errs)
{
    static const char *const keys[] = {"provider", "model", NULL};
    if (!json_is_object(tj)) {
        cm_errlist_add(errs, "%s: expected an object {\"provider\", \"model\"}", path);
        return;
    }
    check_unknown(tj, path, keys, errs);
    const char *prov = get_str(tj, path, "provider", true, errs);
    const char *model = get_str(tj, path, "model", false, errs);
    if (prov != NULL && (t->provider = find_provider(c, prov)) == NULL)
        cm_errlist_add(errs, "%s.provider: \"%s\" is not defined in providers", path, prov);
    t->model = cm_xstrdup(model ? model : alias);
}

static void load_models(gw_config *c, json_t *root, cm_errlist *errs)
{
    static const char *const keys[] = {"provider", "model", "targets", NULL};
    json_t *ms = json_object_get(root, "models");
    if (!json_is_object(ms) || json_object_size(ms) == 0) {
        cm_errlist_add(errs, "models: required: an object mapping model names to targets");
        return;
    }
    c->models = cm_xcalloc(json_object_size(ms), sizeof(gw_model));
    const char *name;
    json_t *mj;
    json_object_foreach(ms, name, mj)
    {
        char path[300];
        snprintf(path, sizeof(path), "models.%s", name);
        gw_model *m = &c->models[c->nmodels++];
        m->name = cm_xstrdup(name);
        if (!json_is_object(mj)) {
            cm_errlist_add(errs, "%s: expected an object", path);
            continue;
        }
        check_unknown(mj, path, keys, errs);
        json_t *ts = json_object_get(mj, "targets");
        if (ts != NULL) {
            if (json_object_get(mj, "provider") != NULL) {
                cm_errlist_add(errs, "%s: give \"provider\" or \"targets\", not both", path);
                continue;
            }
            if (!json_is_array(ts) || json_array_size(ts) == 0) {
                cm_errlist_add(errs, "%s.targets: expected a non-empty array", path);
                continue;
            }
            m->targets = cm_xcalloc(json_array_size(ts), sizeof(gw_target));
            size_t i;
            json_t *tj;
            json_array_foreach(ts, i, tj)
            {
                char tp[340];
                snprintf(tp, sizeof(tp), "%s.targets[%zu]", path, i);
                load_target(c, tj, tp, name, &m->targets[m->ntargets++], errs);
            }
        } else {
            m->targets = cm_xcalloc(1, sizeof(gw_target));
            load_target(c, mj, path, name, &m->targets[m->ntargets++], errs);
        }
    }
}

static void config_free(gw_config *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nproviders; i++) {
        gw_provider *p = &c->providers[i];
        free(p->name);
        free(p->type);
        free(p->base_url);
        if (p->auth_hdr != NULL) {
            cm_wipe(p->auth_hdr, strlen(p->auth_hdr));
            free(p->auth_hdr);
        }
    }
    free(c->providers);
    for (size_t i = 0; i < c->nmodels; i++) {
        for (size_t j = 0; j < c->models[i].ntargets; j++)
            free(c->models[i].targets[j].model);
        free(c->models[i].targets);
        free(c->models[i].name);
    }
    free(c->models);
    pol_set_free(c->pol);
    gw_redactor_free(c->red);
    free(c->listen_host);
    free(c->tls_cert);
    if (c->tls_key != NULL) {
        cm_wipe(c->tls_key, strlen(c->tls_key));
        free(c->tls_key);
    }
    free(c->tls_client_ca);
    free(c->audit_path);
    free(c->base_dir);
    free(c->path);
    free(c);
}

int gw_config_load(const char *path, gw_config **out, cm_errlist *errs)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        cm_errlist_add(errs, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        return CM_EINVAL;
    }
    if (!json_is_object(root)) {
        cm_errlist_add(errs, "%s: the top level must be an object", path);
        json_decref(root);
        return CM_EINVAL;
    }
    size_t before = errs->n;
    gw_config *c = cm_xcalloc(1, sizeof(*c));
    atomic_init(&c->refs, 1);
    c->path = cm_xstrdup(path);
    char *tmp = cm_xstrdup(path);
    c->base_dir = cm_xstrdup(dirname(tmp));
    free(tmp);

    check_unknown(root, "$", top_keys, errs);

    static const char *const listen_keys[] = {"host", "port", "tls", NULL};
    json_t *lj = json_object_get(root, "listen");
    const char *host = "127.0.0.1";
    c->listen_port = 8080;
    if (lj != NULL) {
        if (!json_is_object(lj)) {
            cm_errlist_add(errs, "listen: expected an object");
        } else {
            check_unknown(lj, "listen", listen_keys, errs);
            const char *h = get_str(lj, "listen", "host", false, errs);
            if (h != NULL)
                host = h;
            static const field pf[] = {
                {"port", F_INT, false, 0, 65535, 8080, NULL, offsetof(gw_config, listen_port)}};
            json_t *pj = json_object_get(lj, "port");
            if (pj != NULL) {
                json_t *one = json_pack("{sO}", "port", pj);
                walk_ints(one, "listen", pf, 1, c, errs);
                json_decref(one);
            }
        }
    }
    c->listen_host = cm_xstrdup(host);
    if (json_is_object(lj) && json_object_get(lj, "tls") != NULL)
        load_tls(c, json_object_get(lj, "tls"), errs);

    json_t *lim = json_object_get(root, "limits");
    if (lim != NULL && !json_is_object(lim)) {
        cm_errlist_add(errs, "limits: expected an object");
        lim = NULL;
    }
    walk_ints(lim, "limits", limit_fields, sizeof(limit_fields) / sizeof(limit_fields[0]),
              &c->limits, errs);

    static const char *const audit_keys[] = {"path", NULL};
    json_t *aj = json_object_get(root, "audit");
    const char *apath = NULL;
    if (aj != NULL) {
        if (!json_is_object(aj)) {
            cm_errlist_add(errs, "audit: expected an object");
        } else {
            check_unknown(aj, "audit", audit_keys, errs);
            apath = get_str(aj, "audit", "path", false, errs);
        }
    }
    c->audit_path = apath ? (strcmp(apath, "-") == 0 ? cm_xstrdup("-") : resolve_path(c->base_dir, apath))
                          : cm_xstrdup("-");

    load_providers(c, root, errs);
    load_models(c, root, errs);
    json_t *red = json_object_get(root, "redaction");
    if (red != NULL && gw_redactor_load(red, c->base_dir, &c->red, errs) != 0 && errs->n == before)
        cm_errlist_add(errs, "redaction: could not be loaded");
    json_t *auth = json_object_get(root, "auth");
    json_t *roles = json_object_get(root, "roles");
    if (auth != NULL || roles != NULL) {
        if (auth == NULL)
            cm_errlist_add(errs, "auth: required when \"roles\" is given (who is the caller?)");
        else if (pol_set_load(auth, roles, c->base_dir, &c->pol, errs) != 0 && errs->n == before)
            cm_errlist_add(errs, "auth: could not be loaded");
    }

    json_decref(root);
    if (errs->n > before) {
        config_free(c);
        return CM_EINVAL;
    }
    *out = c;
    return 0;
}

const gw_model *gw_config_model(const gw_config *c, const char *name)
{
    for (size_t i = 0; i < c->nmodels; i++)
        if (strcmp(c->models[i].name, name) == 0)
            return &c->models[i];
    return NULL;
}

static pthread_mutex_t cur_mu = PTHREAD_MUTEX_INITIALIZER;
static gw_config *cur;

gw_config *gw_config_acquire(void)
{
    pthread_mutex_lock(&cur_mu);
    gw_config *c = cur;
    if (c != NULL)
        atomic_fetch_add(&c->refs, 1);
    pthread_mutex_unlock(&cur_mu);
    return c;
}

void gw_config_release(gw_config *c)
{
    if (c != NULL && atomic_fetch_sub(&c->refs, 1) == 1)
        config_free(c);
}

void gw_config_install(gw_config *c)
{
    pthread_mutex_lock(&cur_mu);
    gw_config *old = cur;
    cur = c;
    pthread_mutex_unlock(&cur_mu);
    gw_config_release(old);
}
