/* JSON side of redaction: the "redaction" config section (rules_dir, HMAC
 * key, actions per type and per role), the walk over every text an OpenAI
 * request carries and the audit counts. Restoring answers and SSE events:
 * gw_redact_restore.c; the `gateway redact` command: gw_redact_cli.c.
 * Scanning itself is redaction/; workers (Hyperscan scratch) come from a
 * pool shared by the event loops. */
#include "gateway/gw_redact.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gateway/gw_redact_int.h"

static const char *const action_names[RED_NACTIONS] = {"none", "pseudonymize", "hash", "mask",
                                                       "block"};

static int action_parse(const char *s)
{
    for (int i = 0; i < RED_NACTIONS; i++)
        if (strcmp(s, action_names[i]) == 0)
            return i;
    return -1;
}

static int type_find(const gw_redactor *r, const char *name)
{
    for (size_t i = 0; i < r->ntypes; i++)
        if (strcmp(r->types[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* ---- configuration ------------------------------------------------------ */

/* "actions": {"EMAIL": "mask", ...} into act/is_set; where = JSON path. */
static int actions_parse(const gw_redactor *r, json_t *obj, const char *where, red_action *act,
                         bool *is_set, cm_errlist *errs)
{
    int rc = 0;
    const char *k;
    json_t *v;
    if (!json_is_object(obj)) {
        cm_errlist_add(errs, "%s: must be an object of TYPE: action", where);
        return CM_EINVAL;
    }
    json_object_foreach (obj, k, v) {
        int t = type_find(r, k), a = json_is_string(v) ? action_parse(json_string_value(v)) : -1;
        if (t < 0) {
            cm_errlist_add(errs, "%s.%s: unknown entity type (see rules/README.md)", where, k);
            rc = CM_EINVAL;
        } else if (a < 0) {
            cm_errlist_add(errs, "%s.%s: expected one of none, pseudonymize, hash, mask, block",
                           where, k);
            rc = CM_EINVAL;
        } else {
            act[t] = (red_action)a;
            if (is_set != NULL)
                is_set[t] = true;
        }
    }
    return rc;
}

static int roles_parse(gw_redactor *r, json_t *obj, cm_errlist *errs)
{
    int rc = 0;
    const char *k;
    json_t *v;
    if (!json_is_object(obj)) {
        cm_errlist_add(errs, "redaction.roles: must be an object of ROLE: {\"actions\": {...}}");
        return CM_EINVAL;
    }
    r->roles = cm_xcalloc(json_object_size(obj) + 1, sizeof(*r->roles));
    json_object_foreach (obj, k, v) {
        char where[160];
        snprintf(where, sizeof(where), "redaction.roles.%s", k);
        gw_role_actions *ra = &r->roles[r->nroles++];
        ra->name = cm_xstrdup(k);
        const char *rk;
        json_t *rv;
        if (!json_is_object(v)) {
            cm_errlist_add(errs, "%s: must be an object with \"actions\"", where);
            rc = CM_EINVAL;
            continue;
        }
        json_object_foreach (v, rk, rv) {
            if (strcmp(rk, "actions") != 0) {
                cm_errlist_add(errs, "%s.%s: unknown key (expected actions)", where, rk);
                rc = CM_EINVAL;
                continue;
            }
            char w2[200];
            snprintf(w2, sizeof(w2), "%s.actions", where);
            if (actions_parse(r, rv, w2, ra->act, ra->is_set, errs) != 0)
                rc = CM_EINVAL;
        }
    }
    return rc;
}

static bool uses_hash(const gw_redactor *r)
{
    for (size_t t = 0; t < r->ntypes; t++) {
        if (r->defaults[t] == RED_ACT_HASH)
            return true;
        for (size_t i = 0; i < r->nroles; i++)
            if (r->roles[i].is_set[t] && r->roles[i].act[t] == RED_ACT_HASH)
                return true;
    }
    return false;
}

static char *path_join(const char *base, const char *p)
{
    if (p[0] == '/' || base == NULL || base[0] == '\0')
        return cm_xstrdup(p);
    size_t n = strlen(base) + strlen(p) + 2;
    char *s = cm_xmalloc(n);
    snprintf(s, n, "%s/%s", base, p);
    return s;
}

static int key_load(gw_redactor *r, const char *env, const char *file, const char *base_dir,
                    cm_errlist *errs)
{
    if (file != NULL) {
        char *path = path_join(base_dir, file), *data = NULL;
        size_t len = 0;
        cm_err err;
        int rc = cm_file_read(path, 4096, &data, &len, &err);
        free(path);
        if (rc != 0) {
            cm_errlist_add(errs, "redaction.hmac_key_file: %s", err.msg);
            return rc;
        }
        while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
            len--;
        r->key = (unsigned char *)data;
        r->keylen = len;
    } else {
        const char *v = getenv(env);
        if (v != NULL) {
            r->key = (unsigned char *)cm_xstrdup(v);
            r->keylen = strlen(v);
        }
    }
    if (r->key != NULL && r->keylen < GW_RED_MIN_KEY) {
        cm_errlist_add(errs, "redaction.%s: the HMAC key must have at least %d bytes",
                       file ? "hmac_key_file" : "hmac_key_env", GW_RED_MIN_KEY);
        return CM_EINVAL;
    }
    if (r->key == NULL && uses_hash(r)) {
        if (file != NULL)
            cm_errlist_add(errs, "redaction.hmac_key_file: empty");
        else
            cm_errlist_add(errs,
                           "redaction.hmac_key_env: environment variable %s is not set; the hash "
                           "action needs a key",
                           env);
        return CM_EINVAL;
    }
    return 0;
}

int gw_redactor_load(json_t *section, const char *base_dir, gw_redactor **out, cm_errlist *errs)
{
    static const char *const keys[] = {"rules_dir", "hmac_key_env", "hmac_key_file",
                                       "actions",   "roles",        NULL};
    gw_redactor *r = cm_xcalloc(1, sizeof(*r));
    const char *rules_dir = NULL, *key_env = "GATEWAY_REDACT_KEY", *key_file = NULL, *k;
    json_t *v, *actions = NULL, *roles = NULL;
    char *dir = NULL;
    int rc = 0;
    if (section != NULL && !json_is_object(section)) {
        cm_errlist_add(errs, "redaction: must be an object");
        rc = CM_EINVAL;
        goto out;
    }
    json_object_foreach (section, k, v) {
        size_t i = 0;
        while (keys[i] != NULL && strcmp(keys[i], k) != 0)
            i++;
        bool is_str = json_is_string(v) && json_string_length(v) > 0;
        if (keys[i] == NULL) {
            cm_errlist_add(errs,
                           "redaction.%s: unknown key (expected rules_dir, hmac_key_env, "
                           "hmac_key_file, actions, roles)",
                           k);
            rc = CM_EINVAL;
        } else if (i < 3 && !is_str) {
            cm_errlist_add(errs, "redaction.%s: must be a non-empty string", k);
            rc = CM_EINVAL;
        } else if (i == 0) {
            rules_dir = json_string_value(v);
        } else if (i == 1) {
            key_env = json_string_value(v);
        } else if (i == 2) {
            key_file = json_string_value(v);
        } else if (i == 3) {
            actions = v;
        } else {
            roles = v;
        }
    }
    if (rc != 0)
        goto out;
    /* without rules_dir: "rules" next to the config, else in the working directory */
    dir = path_join(base_dir, rules_dir ? rules_dir : "rules");
    struct stat st;
    if (rules_dir == NULL && stat(dir, &st) != 0) {
        free(dir);
        dir = cm_xstrdup("rules");
    }
    rc = red_engine_load(dir, &r->eng, errs);
    if (rc != 0)
        goto out;
    r->types = red_engine_types(r->eng, &r->ntypes);
    if (r->ntypes > GW_RED_MAX_TYPES) {
        cm_errlist_add(errs, "%s: more than %d entity types", dir, GW_RED_MAX_TYPES);
        rc = CM_EINVAL;
        goto out;
    }
    for (size_t t = 0; t < r->ntypes; t++)
        r->defaults[t] = r->types[t].action;
    if (actions != NULL &&
        actions_parse(r, actions, "redaction.actions", r->defaults, NULL, errs) != 0)
        rc = CM_EINVAL;
    if (roles != NULL && roles_parse(r, roles, errs) != 0)
        rc = CM_EINVAL;
    if (rc == 0)
        rc = key_load(r, key_env, key_file, base_dir, errs);
    if (rc != 0)
        goto out;
    r->pool = cm_xcalloc(1, sizeof(*r->pool));
    pthread_mutex_init(&r->pool->mu, NULL);
    *out = r;
    r = NULL;
out:
    free(dir);
    gw_redactor_free(r);
    return rc;
}

void gw_redactor_free(gw_redactor *r)
{
    if (r == NULL)
        return;
    if (r->pool != NULL) {
        for (size_t i = 0; i < r->pool->n; i++)
            red_worker_free(r->pool->w[i]);
        free(r->pool->w);
        pthread_mutex_destroy(&r->pool->mu);
        free(r->pool);
    }
    for (size_t i = 0; i < r->nroles; i++)
        free(r->roles[i].name);
    free(r->roles);
    if (r->key != NULL) {
        cm_wipe(r->key, r->keylen);
        free(r->key);
    }
    red_engine_free(r->eng);
    free(r);
}

/* ---- per request ---------------------------------------------------------- */

int gw_red_pool_get(const gw_redactor *r, red_worker **w)
{
    gw_pool *p = r->pool;
    pthread_mutex_lock(&p->mu);
    *w = p->n > 0 ? p->w[--p->n] : NULL;
    pthread_mutex_unlock(&p->mu);
    return *w != NULL ? 0 : red_worker_new(r->eng, w);
}

void gw_red_pool_put(const gw_redactor *r, red_worker *w)
{
    gw_pool *p = r->pool;
    pthread_mutex_lock(&p->mu);
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->w = cm_xrealloc(p->w, p->cap * sizeof(*p->w));
    }
    p->w[p->n++] = w;
    pthread_mutex_unlock(&p->mu);
}

typedef struct walk {
    gw_redact_req *rr;
    red_worker *w;
    const char **block_type;
} walk;

/* Scan one JSON string and replace it when something was found. */
static int redact_str(walk *k, json_t *s)
{
    if (!json_is_string(s))
        return 0;
    const char *text = json_string_value(s);
    size_t len = json_string_length(s);
    const red_finding *f;
    size_t nf;
    int rc = red_scan(k->w, text, len, &f, &nf);
    if (rc != 0 || nf == 0)
        return rc;
    for (size_t i = 0; i < nf; i++)
        if (f[i].type < GW_RED_MAX_TYPES)
            k->rr->counts[f[i].type]++;
    cm_buf out;
    cm_buf_init(&out, 0);
    rc = red_apply(k->rr->sess, k->rr->act, text, len, f, nf, &out, k->block_type);
    if (rc == 0 && json_string_setn(s, out.data, out.len) != 0)
        rc = CM_EINTERNAL;
    cm_buf_fini(&out);
    return rc;
}

/* A string, or an array of strings; arrays of token ids cannot be scanned. */
static int redact_str_or_list(walk *k, json_t *v)
{
    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_string(v))
        return redact_str(k, v);
    if (!json_is_array(v))
        return CM_EINVAL;
    size_t i;
    json_t *e;
    json_array_foreach (v, i, e) {
        int rc = json_is_string(e) ? redact_str(k, e) : CM_EINVAL;
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* content: a string, or parts whose "text" is scanned (images pass as is). */
static int redact_content(walk *k, json_t *c)
{
    if (c == NULL || json_is_null(c) || json_is_string(c))
        return redact_str(k, c);
    if (!json_is_array(c))
        return CM_EINVAL;
    size_t i;
    json_t *p;
    json_array_foreach (c, i, p) {
        if (json_is_string(p)) {
            int rc = redact_str(k, p);
            if (rc != 0)
                return rc;
            continue;
        }
        if (!json_is_object(p))
            return CM_EINVAL;
        json_t *t = json_object_get(p, "text");
        if (t != NULL && !json_is_string(t))
            return CM_EINVAL;
        int rc = redact_str(k, t);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int redact_message(walk *k, json_t *m)
{
    if (!json_is_object(m))
        return CM_EINVAL;
    int rc = redact_content(k, json_object_get(m, "content"));
    if (rc == 0)
        rc = redact_str(k, json_object_get(m, "refusal"));
    json_t *tc = json_object_get(m, "tool_calls"), *c;
    size_t i;
    if (rc == 0 && tc != NULL && !json_is_array(tc))
        rc = CM_EINVAL;
    json_array_foreach (tc, i, c) {
        if (rc != 0)
            break;
        rc = redact_str(k, json_object_get(json_object_get(c, "function"), "arguments"));
    }
    if (rc == 0)
        rc = redact_str(k, json_object_get(json_object_get(m, "function_call"), "arguments"));
    return rc;
}

int gw_redact_request(const gw_redactor *r, const char *const *roles, size_t nroles,
                      const char *endpoint, json_t *body, cm_arena *a, gw_redact_req **out,
                      const char **block_type)
{
    bool is_chat = endpoint != NULL && strcmp(endpoint, "chat") == 0;
    if (r == NULL || body == NULL || !json_is_object(body) ||
        (!is_chat && (endpoint == NULL || strcmp(endpoint, "embeddings") != 0)))
        return CM_EINVAL;
    gw_redact_req *rr = cm_arena_calloc(a, sizeof(*rr));
    if (rr == NULL)
        return CM_ETOOBIG;
    rr->r = r;
    int rc = red_session_new(r->eng, r->key, r->keylen, a, &rr->sess);
    if (rc != 0)
        return rc;
    /* per type: the strictest override of the caller's roles, else the default */
    for (size_t t = 0; t < r->ntypes; t++) {
        bool is_over = false;
        red_action best = RED_ACT_NONE;
        for (size_t i = 0; i < nroles; i++)
            for (size_t j = 0; j < r->nroles; j++)
                if (roles[i] != NULL && strcmp(roles[i], r->roles[j].name) == 0 &&
                    r->roles[j].is_set[t] && (!is_over || r->roles[j].act[t] > best)) {
                    best = r->roles[j].act[t];
                    is_over = true;
                }
        rr->act[t] = is_over ? best : r->defaults[t];
    }
    walk k = {.rr = rr, .block_type = block_type};
    rc = gw_red_pool_get(r, &k.w);
    if (rc != 0)
        return rc;
    json_t *msgs = json_object_get(body, "messages"), *m;
    size_t i;
    if (msgs != NULL && !json_is_array(msgs))
        rc = CM_EINVAL;
    json_array_foreach (msgs, i, m) {
        if (rc != 0)
            break;
        rc = redact_message(&k, m);
    }
    if (rc == 0)
        rc = redact_str_or_list(&k, json_object_get(body, "prompt"));
    if (rc == 0)
        rc = redact_str_or_list(&k, json_object_get(body, "input"));
    if (rc == 0)
        rc = redact_str(&k, json_object_get(body, "user"));
    if (rc == 0)
        rc = redact_str(&k, json_object_get(body, "instructions"));
    if (rc == 0)
        rc = redact_content(&k, json_object_get(body, "system"));
    gw_red_pool_put(r, k.w);
    if (rc == 0)
        *out = rr;
    return rc;
}

bool gw_redact_needs_restore(const gw_redact_req *rr)
{
    return rr != NULL && red_session_pseudonyms(rr->sess) > 0;
}

int gw_redact_audit(const gw_redact_req *rr, cm_buf *out)
{
    int rc = cm_buf_append(out, "{", 1);
    bool is_first = true;
    for (size_t t = 0; rr != NULL && t < rr->r->ntypes && rc == 0; t++) {
        if (rr->counts[t] == 0)
            continue;
        rc = cm_buf_appendf(out, "%s\"%s\":%u", is_first ? "" : ",", rr->r->types[t].name,
                            rr->counts[t]);
        is_first = false;
    }
    return rc == 0 ? cm_buf_append(out, "}", 1) : rc;
}
