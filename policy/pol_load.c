/* pol_set_load: walk the "auth" and "roles" config objects against their
 * field tables, build the immutable pol_set, and start the JWKS refresher
 * only when the whole config is valid. Key material is loaded by
 * pol_keys.c; the format is documented in policy/README.md. */
#include "policy/pol_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const pol_field auth_fields[] = {
    {"jwt", POL_T_OBJ, false, 0, 0, 0},
    {"api_keys", POL_T_ARR, false, 0, 100000, 0},
    {"api_keys_file", POL_T_STR, false, 1, 0, 0},
    {"mtls", POL_T_OBJ, false, 0, 0, 0},
};

static const pol_field jwt_fields[] = {
    {"issuer", POL_T_STR, false, 1, 1024, 0},
    {"audience", POL_T_STR_OR_STRS, false, 1, 64, 0},
    {"leeway_s", POL_T_INT, false, 0, 600, 60},
    {"max_token_bytes", POL_T_INT, false, 512, 65536, 8192},
    {"required_claims", POL_T_STRS, false, 0, 64, 0},
    {"claims", POL_T_OBJ, false, 0, 0, 0},
    {"keys", POL_T_ARR, false, 0, 256, 0},
    {"jwks", POL_T_OBJ, false, 0, 0, 0},
    {"cache_entries", POL_T_INT, false, 0, 1000000, 4096},
};

static const pol_field claims_fields[] = {
    {"subject", POL_T_STR, false, 1, 256, 0},
    {"roles", POL_T_STR_OR_STRS, false, 1, 16, 0},
    {"team", POL_T_STR, false, 1, 256, 0},
};

static const pol_field jwks_fields[] = {
    {"file", POL_T_STR, false, 1, 0, 0},
    {"url", POL_T_STR, false, 8, 2048, 0},
    {"ca_file", POL_T_STR, false, 1, 0, 0},
    {"refresh_s", POL_T_INT, false, 1, 86400, 300},
    {"min_refresh_s", POL_T_INT, false, 1, 3600, 30},
    {"timeout_s", POL_T_INT, false, 1, 120, 5},
    {"default_rsa_alg", POL_T_STR, false, 5, 5, 0},
    {"allow_http", POL_T_BOOL, false, 0, 0, 0},
};

static const pol_field mtls_fields[] = {
    {"subject", POL_T_STR, false, 1, 32, 0},
    {"roles", POL_T_STR, false, 1, 32, 0},
    {"team", POL_T_STR, false, 1, 32, 0},
    {"default_roles", POL_T_STRS, false, 0, 64, 0},
};

static const pol_field role_fields[] = {
    {"models", POL_T_STRS, false, 0, 1024, 0},        {"deny", POL_T_STRS, false, 0, 1024, 0},
    {"endpoints", POL_T_STRS, false, 0, 3, 0},        {"stream", POL_T_BOOL, false, 0, 0, 1},
    {"max_tokens", POL_T_INT, false, 1, 10000000, 0},
};

static int64_t wall_now(void)
{
    return (int64_t)time(NULL);
}

static int load_role(pol_set *p, const char *name, json_t *r, pol_role *out, cm_errlist *errs)
{
    char path[320];
    json_t *eps = json_object_get(r, "endpoints");
    int bad;

    snprintf(path, sizeof(path), "roles.%s", name);
    if (!pol_is_clean(name)) {
        cm_errlist_add(errs, "%s: role names are 1..%d printable bytes", path, POL_MAX_CLAIM);
        return 1;
    }
    if ((bad = pol_cfg_check(r, role_fields, POL_NFIELDS(role_fields), path, errs)) != 0)
        return bad;
    out->name = cm_arena_strndup(p->arena, name, strlen(name));
    out->models = pol_cfg_strs(p->arena, json_object_get(r, "models"), &out->nmodels);
    out->deny = pol_cfg_strs(p->arena, json_object_get(r, "deny"), &out->ndeny);
    out->is_stream_allowed = pol_cfg_bool(r, role_fields, POL_NFIELDS(role_fields), "stream");
    out->max_tokens = (unsigned)pol_cfg_int(r, role_fields, POL_NFIELDS(role_fields), "max_tokens");
    out->endpoints = eps == NULL ? POL_EP_ALL : 0;
    for (size_t i = 0; i < json_array_size(eps); i++) {
        const char *ep = json_string_value(json_array_get(eps, i));
        unsigned bit = pol_endpoint_bit(ep);
        if (bit == 0) {
            cm_errlist_add(errs,
                           "%s.endpoints[%zu]: unknown endpoint \"%s\" (chat, embeddings, models)",
                           path, i, ep);
            bad++;
        }
        out->endpoints |= bit;
    }
    for (size_t i = 0; i < out->nmodels + out->ndeny; i++) {
        const char *g = i < out->nmodels ? out->models[i] : out->deny[i - out->nmodels];
        if (!pol_is_clean(g)) {
            cm_errlist_add(errs, "%s: model pattern \"%.40s\" has control bytes or is too long",
                           path, g);
            bad++;
        }
    }
    return bad;
}

static int load_roles(pol_set *p, json_t *roles, cm_errlist *errs)
{
    const char *name;
    json_t *r;
    int bad = 0;

    if (!json_is_object(roles)) {
        cm_errlist_add(errs, "roles: expected an object of role name -> policy");
        return 1;
    }
    p->roles = cm_arena_calloc(p->arena, (json_object_size(roles) + 1) * sizeof(pol_role));
    json_object_foreach (roles, name, r) {
        int b = load_role(p, name, r, &p->roles[p->nroles], errs);
        if (b == 0)
            p->nroles++;
        bad += b;
    }
    return bad;
}

/* http:// JWKS can be rewritten by anyone on the path; allow it for
 * loopback, or when the operator says so. */
static bool is_loopback_http(const char *url)
{
    static const char *const ok[] = {"http://127.0.0.1:", "http://127.0.0.1/", "http://localhost:",
                                     "http://localhost/", "http://[::1]:",     "http://[::1]/"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strncmp(url, ok[i], strlen(ok[i])) == 0)
            return true;
    return false;
}

static int load_jwks_cfg(pol_set *p, json_t *j, const char *base_dir, pol_jwks_cfg *cfg,
                         cm_errlist *errs)
{
    const char *file = json_string_value(json_object_get(j, "file"));
    const char *url = json_string_value(json_object_get(j, "url"));
    const char *ca = json_string_value(json_object_get(j, "ca_file"));
    const char *rsa = json_string_value(json_object_get(j, "default_rsa_alg"));
    int bad;

    if ((bad = pol_cfg_check(j, jwks_fields, POL_NFIELDS(jwks_fields), "auth.jwt.jwks", errs)) != 0)
        return bad;
    if ((file != NULL) == (url != NULL)) {
        cm_errlist_add(errs, "auth.jwt.jwks: give exactly one of file, url");
        return 1;
    }
    if (url != NULL && strncmp(url, "https://", 8) != 0 &&
        !(strncmp(url, "http://", 7) == 0 &&
          (is_loopback_http(url) ||
           pol_cfg_bool(j, jwks_fields, POL_NFIELDS(jwks_fields), "allow_http")))) {
        cm_errlist_add(errs, "auth.jwt.jwks.url: must be https:// (http:// only for loopback or "
                             "with allow_http: true)");
        bad++;
    }
    cfg->rsa_default = pol_alg_find(rsa != NULL ? rsa : "RS256");
    if (cfg->rsa_default == NULL ||
        (cfg->rsa_default->family != POL_FAM_RSA && cfg->rsa_default->family != POL_FAM_PSS)) {
        cm_errlist_add(errs,
                       "auth.jwt.jwks.default_rsa_alg: expected RS256/384/512 or PS256/384/512");
        bad++;
    }
    cfg->file = file != NULL ? pol_cfg_path(p->arena, base_dir, file) : NULL;
    cfg->url = url != NULL ? pol_cfg_str(p->arena, j, "url") : NULL;
    cfg->ca_file = ca != NULL ? pol_cfg_path(p->arena, base_dir, ca) : NULL;
    cfg->refresh_s = (unsigned)pol_cfg_int(j, jwks_fields, POL_NFIELDS(jwks_fields), "refresh_s");
    cfg->timeout_s = (unsigned)pol_cfg_int(j, jwks_fields, POL_NFIELDS(jwks_fields), "timeout_s");
    cfg->min_refresh_s =
        (unsigned)pol_cfg_int(j, jwks_fields, POL_NFIELDS(jwks_fields), "min_refresh_s");
    return bad;
}

static int load_jwt(pol_set *p, json_t *jwt, const char *base_dir, pol_jwks_cfg *jcfg,
                    bool *has_jwks, cm_errlist *errs)
{
    json_t *claims = json_object_get(jwt, "claims");
    json_t *keys = json_object_get(jwt, "keys");
    json_t *jwks = json_object_get(jwt, "jwks");
    size_t n = POL_NFIELDS(jwt_fields);
    int bad;

    /* keep going after a mistake so that every one is reported; members of
     * the wrong type were reported by the walker and are skipped below */
    bad = pol_cfg_check(jwt, jwt_fields, n, "auth.jwt", errs);
    if (!json_is_object(jwt))
        return bad;
    if (!json_is_object(claims))
        claims = NULL;
    if (claims != NULL)
        bad += pol_cfg_check(claims, claims_fields, POL_NFIELDS(claims_fields), "auth.jwt.claims",
                             errs);
    p->has_jwt = true;
    p->issuer = pol_cfg_str(p->arena, jwt, "issuer");
    p->audiences = pol_cfg_strs(p->arena, json_object_get(jwt, "audience"), &p->naudiences);
    p->leeway_s = pol_cfg_int(jwt, jwt_fields, n, "leeway_s");
    p->max_token_bytes = (size_t)pol_cfg_int(jwt, jwt_fields, n, "max_token_bytes");
    p->required = pol_cfg_strs(p->arena, json_object_get(jwt, "required_claims"), &p->nrequired);
    p->claim_subject = pol_cfg_str(p->arena, claims, "subject");
    if (p->claim_subject == NULL)
        p->claim_subject = "sub";
    p->claim_roles = pol_cfg_strs(p->arena, json_object_get(claims, "roles"), &p->nclaim_roles);
    if (p->nclaim_roles == 0) {
        static const char *def_roles[] = {"roles"};
        p->claim_roles = def_roles;
        p->nclaim_roles = 1;
    }
    p->claim_team = pol_cfg_str(p->arena, claims, "team");
    if (p->claim_team == NULL)
        p->claim_team = "team";
    if (json_array_size(keys) == 0 && jwks == NULL) {
        cm_errlist_add(errs, "auth.jwt: needs keys, jwks, or both");
        bad++;
    }
    if (json_is_array(keys))
        bad += pol_load_keys(p, keys, base_dir, errs);
    if (json_is_object(jwks)) {
        bad += load_jwks_cfg(p, jwks, base_dir, jcfg, errs);
        *has_jwks = true;
    }
    p->cache = pol_cache_new((size_t)pol_cfg_int(jwt, jwt_fields, n, "cache_entries"));
    return bad;
}

static int load_mtls(pol_set *p, json_t *m, const json_t *roles, cm_errlist *errs)
{
    int bad;

    bad = pol_cfg_check(m, mtls_fields, POL_NFIELDS(mtls_fields), "auth.mtls", errs);
    p->has_mtls = true;
    p->mtls_subject = pol_cfg_str(p->arena, m, "subject");
    if (p->mtls_subject == NULL)
        p->mtls_subject = "CN";
    p->mtls_roles = pol_cfg_str(p->arena, m, "roles");
    p->mtls_team = pol_cfg_str(p->arena, m, "team");
    p->mtls_default_roles =
        pol_cfg_strs(p->arena, json_object_get(m, "default_roles"), &p->nmtls_default_roles);
    for (size_t i = 0; i < p->nmtls_default_roles; i++) {
        if (roles != NULL && json_object_get(roles, p->mtls_default_roles[i]) == NULL) {
            cm_errlist_add(errs,
                           "auth.mtls.default_roles[%zu]: role \"%s\" is not defined in roles", i,
                           p->mtls_default_roles[i]);
            bad++;
        }
    }
    return bad;
}

int pol_set_load(json_t *auth, json_t *roles, const char *base_dir, pol_set **out, cm_errlist *errs)
{
    cm_errlist local = {0};
    cm_errlist *el = errs != NULL ? errs : &local;
    size_t nerr0 = el->n;
    pol_set *p = cm_xcalloc(1, sizeof(*p));
    pol_jwks_cfg jcfg = {0};
    bool has_jwks = false;
    int rc = CM_EINVAL;
    cm_err err;

    p->arena = cm_arena_new(0);
    p->now = wall_now;
    if (roles != NULL)
        load_roles(p, roles, el);
    if (auth != NULL) {
        p->has_auth = true;
        pol_cfg_check(auth, auth_fields, POL_NFIELDS(auth_fields), "auth", el);
        json_t *jwt = json_object_get(auth, "jwt"), *mtls = json_object_get(auth, "mtls");
        json_t *keys = json_object_get(auth, "api_keys");
        json_t *file = json_object_get(auth, "api_keys_file");
        if (json_is_object(jwt))
            load_jwt(p, jwt, base_dir, &jcfg, &has_jwks, el);
        pol_load_apikeys(
            p, json_is_array(keys) ? keys : NULL,
            json_is_string(file) ? pol_cfg_path(p->arena, base_dir, json_string_value(file)) : NULL,
            roles, el);
        if (json_is_object(mtls))
            load_mtls(p, mtls, roles, el);
        if (json_is_object(auth) && jwt == NULL && keys == NULL && file == NULL && mtls == NULL)
            cm_errlist_add(el, "auth: configure jwt, api_keys, api_keys_file or mtls "
                               "(or remove auth to turn authentication off)");
    }
    if (el->n != nerr0)
        goto out;
    if (has_jwks && pol_jwks_start(&jcfg, &p->jwks, &err) != 0) {
        cm_errlist_add(el, "auth.jwt.jwks: %s", err.msg);
        rc = CM_EIO;
        goto out;
    }
    *out = p;
    p = NULL;
    rc = 0;
out:
    pol_set_free(p);
    for (size_t i = 0; errs == NULL && i < local.n; i++)
        cm_log(CM_LOG_ERROR, "policy config: %s", local.msgs[i]);
    cm_errlist_fini(&local);
    return rc;
}

void pol_set_free(pol_set *p)
{
    if (p == NULL)
        return;
    pol_jwks_stop(p->jwks);
    pol_cache_free(p->cache);
    if (p->apikeys != NULL) {
        cm_wipe(p->apikeys, p->napikeys * sizeof(*p->apikeys));
        free(p->apikeys);
    }
    cm_arena_free(p->arena);
    free(p);
}
