/* JSON side of redaction: the "redaction" config section (rules_dir, HMAC
 * key, actions per type and per role), the walk over every text an OpenAI
 * request carries, restoring pseudonyms in answers and SSE events, the audit
 * counts and the `gateway redact` command. Scanning itself is redaction/;
 * workers (Hyperscan scratch) come from a pool shared by the event loops. */
#include "gateway/gw_redact.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "redaction/red.h"

#define GW_RED_MAX_TYPES 128
#define GW_RED_MIN_KEY   16
#define GW_RED_STDIN_MAX (64u << 20)

typedef struct gw_role_actions {
    char *name;
    bool is_set[GW_RED_MAX_TYPES];
    red_action act[GW_RED_MAX_TYPES];
} gw_role_actions;

typedef struct gw_pool {
    pthread_mutex_t mu;
    red_worker **w;
    size_t n, cap;
} gw_pool;

struct gw_redactor {
    red_engine *eng;
    const red_type *types;
    size_t ntypes;
    red_action defaults[GW_RED_MAX_TYPES];
    gw_role_actions *roles;
    size_t nroles;
    unsigned char *key;
    size_t keylen;
    gw_pool *pool;
};

struct gw_redact_req {
    const gw_redactor *r;
    red_session *sess;
    red_action act[GW_RED_MAX_TYPES];
    unsigned counts[GW_RED_MAX_TYPES];
    int streams[64]; /* stream ids used by restore_event, for the final flush */
    size_t nstreams;
};

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

static int pool_get(const gw_redactor *r, red_worker **w)
{
    gw_pool *p = r->pool;
    pthread_mutex_lock(&p->mu);
    *w = p->n > 0 ? p->w[--p->n] : NULL;
    pthread_mutex_unlock(&p->mu);
    return *w != NULL ? 0 : red_worker_new(r->eng, w);
}

static void pool_put(const gw_redactor *r, red_worker *w)
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
    rc = pool_get(r, &k.w);
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
    pool_put(r, k.w);
    if (rc == 0)
        *out = rr;
    return rc;
}

bool gw_redact_needs_restore(const gw_redact_req *rr)
{
    return rr != NULL && red_session_pseudonyms(rr->sess) > 0;
}

/* ---- restoring answers ------------------------------------------------------ */

static int restore_str(gw_redact_req *rr, json_t *s)
{
    if (!json_is_string(s))
        return 0;
    cm_buf out;
    cm_buf_init(&out, 0);
    const char *in = json_string_value(s);
    size_t len = json_string_length(s);
    int rc = red_restore(rr->sess, -1, in, len, true, &out);
    bool is_same = out.len == len && (len == 0 || memcmp(out.data, in, len) == 0);
    if (rc == 0 && !is_same && json_string_setn(s, out.data ? out.data : "", out.len) != 0)
        rc = CM_EINTERNAL;
    cm_buf_fini(&out);
    return rc;
}

int gw_redact_restore_json(gw_redact_req *rr, json_t *response)
{
    if (!gw_redact_needs_restore(rr) || !json_is_object(response))
        return 0;
    json_t *choices = json_object_get(response, "choices"), *c, *p, *t;
    size_t i, j;
    int rc = 0;
    json_array_foreach (choices, i, c) {
        json_t *m = json_object_get(c, "message"), *content = json_object_get(m, "content");
        rc = restore_str(rr, content);
        json_array_foreach (content, j, p) {
            if (rc == 0)
                rc = restore_str(rr, json_object_get(p, "text"));
        }
        if (rc == 0)
            rc = restore_str(rr, json_object_get(m, "refusal"));
        json_array_foreach (json_object_get(m, "tool_calls"), j, t) {
            if (rc == 0)
                rc = restore_str(rr, json_object_get(json_object_get(t, "function"), "arguments"));
        }
        if (rc == 0)
            rc = restore_str(rr, json_object_get(c, "text")); /* legacy completions */
        if (rc != 0)
            break;
    }
    return rc;
}

/* Restore one streamed piece; *changed tells whether the JSON must be rewritten. */
static int restore_piece(gw_redact_req *rr, int id, json_t *parent, const char *key, bool is_last,
                         bool *changed)
{
    json_t *s = json_object_get(parent, key);
    if (s != NULL && !json_is_string(s) && !json_is_null(s))
        return 0;
    const char *text = json_is_string(s) ? json_string_value(s) : "";
    size_t len = json_is_string(s) ? json_string_length(s) : 0;
    size_t k = 0;
    while (k < rr->nstreams && rr->streams[k] != id)
        k++;
    if (k == rr->nstreams) {
        if (rr->nstreams == sizeof(rr->streams) / sizeof(rr->streams[0]))
            return CM_ETOOBIG;
        rr->streams[rr->nstreams++] = id;
    }
    cm_buf out;
    cm_buf_init(&out, 0);
    int rc = red_restore(rr->sess, id, text, len, is_last, &out);
    if (rc == 0 && (out.len != len || (len > 0 && memcmp(out.data, text, len) != 0))) {
        if (s == NULL && out.len == 0) {
            /* nothing to add */
        } else if (json_object_set_new(parent, key,
                                       json_stringn(out.data ? out.data : "", out.len)) != 0) {
            rc = CM_EINTERNAL;
        } else {
            *changed = true;
        }
    }
    cm_buf_fini(&out);
    return rc;
}

/* "[DONE]" after a stream that never sent finish_reason: release what is held. */
static int flush_streams(gw_redact_req *rr, cm_buf *out)
{
    json_t *choices = json_array();
    int rc = 0;
    for (size_t k = 0; k < rr->nstreams && rc == 0; k++) {
        cm_buf held;
        cm_buf_init(&held, 0);
        rc = red_restore(rr->sess, rr->streams[k], "", 0, true, &held);
        if (rc == 0 && held.len > 0) {
            int id = rr->streams[k];
            json_t *delta = json_object(), *fn;
            if (id % 1024 == 0) {
                json_object_set_new(delta, "content", json_stringn(held.data, held.len));
            } else {
                fn = json_pack("{s:i,s:{s:s%}}", "index", id % 1024 - 1, "function", "arguments",
                               held.data, held.len);
                json_object_set_new(delta, "tool_calls", json_pack("[o]", fn));
            }
            json_array_append_new(choices,
                                  json_pack("{s:i,s:o}", "index", id / 1024, "delta", delta));
        }
        cm_buf_fini(&held);
    }
    if (rc == 0 && json_array_size(choices) > 0) {
        json_t *chunk =
            json_pack("{s:s,s:o}", "object", "chat.completion.chunk", "choices", choices);
        choices = NULL;
        char *s = chunk ? json_dumps(chunk, JSON_COMPACT) : NULL;
        rc = s ? cm_buf_append(out, s, strlen(s)) : CM_EINTERNAL;
        if (rc == 0)
            rc = cm_buf_append(out, "\n\ndata: ", 8);
        free(s);
        json_decref(chunk);
    }
    json_decref(choices);
    return rc == 0 ? cm_buf_append(out, "[DONE]", 6) : rc;
}

int gw_redact_restore_event(gw_redact_req *rr, const char *data, size_t len, cm_buf *out)
{
    if (!gw_redact_needs_restore(rr))
        return cm_buf_append(out, data, len);
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0)
        return flush_streams(rr, out);
    json_t *ev = json_loadb(data, len, 0, NULL);
    if (ev == NULL)
        return cm_buf_append(out, data, len); /* not JSON: nothing of ours in it */
    bool changed = false;
    int rc = 0;
    size_t i, j;
    json_t *c, *t;
    json_array_foreach (json_object_get(ev, "choices"), i, c) {
        json_t *jidx = json_object_get(c, "index"), *delta = json_object_get(c, "delta");
        json_t *fin = json_object_get(c, "finish_reason");
        int idx = json_is_integer(jidx) ? (int)json_integer_value(jidx) : (int)i;
        bool is_last = fin != NULL && !json_is_null(fin);
        if (idx < 0 || idx > 1000)
            continue;
        if (!json_is_object(delta)) {
            if (!is_last)
                continue;
            delta = json_object();
            json_object_set_new(c, "delta", delta);
        }
        if (rc == 0 && (json_object_get(delta, "content") != NULL || is_last))
            rc = restore_piece(rr, idx * 1024, delta, "content", is_last, &changed);
        json_array_foreach (json_object_get(delta, "tool_calls"), j, t) {
            json_t *ti = json_object_get(t, "index"), *fn = json_object_get(t, "function");
            int tidx = json_is_integer(ti) ? (int)json_integer_value(ti) : (int)j;
            if (rc == 0 && json_is_object(fn) && tidx >= 0 && tidx < 1000)
                rc = restore_piece(rr, idx * 1024 + 1 + tidx, fn, "arguments", is_last, &changed);
        }
        /* a finish chunk without the tool call still releases its held tail */
        for (size_t k = 0; rc == 0 && is_last && k < rr->nstreams; k++) {
            int id = rr->streams[k];
            if (id / 1024 != idx || id % 1024 == 0)
                continue;
            cm_buf held;
            cm_buf_init(&held, 0);
            rc = red_restore(rr->sess, id, "", 0, true, &held);
            if (rc == 0 && held.len > 0) {
                json_t *tc = json_object_get(delta, "tool_calls");
                if (!json_is_array(tc)) {
                    tc = json_array();
                    json_object_set_new(delta, "tool_calls", tc);
                }
                json_array_append_new(tc, json_pack("{s:i,s:{s:s%}}", "index", id % 1024 - 1,
                                                    "function", "arguments", held.data, held.len));
                changed = true;
            }
            cm_buf_fini(&held);
        }
    }
    if (rc == 0) {
        char *s = changed ? json_dumps(ev, JSON_COMPACT) : NULL;
        if (changed && s == NULL)
            rc = CM_EINTERNAL;
        else
            rc = changed ? cm_buf_append(out, s, strlen(s)) : cm_buf_append(out, data, len);
        free(s);
    }
    json_decref(ev);
    return rc;
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

/* ---- gateway redact -------------------------------------------------------- */

/* Redact one text with the default actions; findings as a JSON array. */
static int cli_one(const gw_redactor *r, red_worker *w, const char *text, size_t len, cm_buf *out,
                   json_t **findings, const char **block_type)
{
    cm_arena *a = cm_arena_new(0);
    red_session *s = NULL;
    const red_finding *f;
    size_t nf;
    int rc = red_session_new(r->eng, r->key, r->keylen, a, &s);
    if (rc == 0)
        rc = red_scan(w, text, len, &f, &nf);
    if (rc == 0 && findings != NULL) {
        *findings = json_array();
        for (size_t i = 0; i < nf; i++)
            json_array_append_new(*findings,
                                  json_pack("{s:s,s:s,s:I,s:I}", "type", r->types[f[i].type].name,
                                            "rule", f[i].rule, "start", (json_int_t)f[i].start,
                                            "end", (json_int_t)f[i].end));
    }
    if (rc == 0)
        rc = red_apply(s, r->defaults, text, len, f, nf, out, block_type);
    cm_arena_free(a);
    return rc;
}

static json_t *cli_config(const char *path, char **base_dir)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (root == NULL) {
        fprintf(stderr, "%s:%d: %s\n", path, jerr.line, jerr.text);
        return NULL;
    }
    const char *slash = strrchr(path, '/');
    *base_dir = slash ? strndup(path, (size_t)(slash - path)) : cm_xstrdup(".");
    return root;
}

int gw_redact_cli(int argc, char **argv)
{
    const char *config = NULL;
    bool is_jsonl = false, is_usage = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config = argv[++i];
        else if (strcmp(argv[i], "--jsonl") == 0)
            is_jsonl = true;
        else
            is_usage = true;
    }
    if (config == NULL || is_usage) {
        fprintf(stderr, "usage: gateway redact --config FILE [--jsonl] < input > output\n");
        return 1;
    }
    char *base_dir = NULL, *in = NULL;
    json_t *root = cli_config(config, &base_dir);
    gw_redactor *r = NULL;
    red_worker *w = NULL;
    cm_errlist errs = {0};
    int status = 1;
    size_t inlen = 0;
    cm_buf out;
    cm_buf_init(&out, 0);
    if (root == NULL)
        goto done;
    if (gw_redactor_load(json_object_get(root, "redaction"), base_dir, &r, &errs) != 0) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.msgs[i]);
        goto done;
    }
    cm_err err;
    if (red_worker_new(r->eng, &w) != 0 ||
        cm_file_read("/dev/stdin", GW_RED_STDIN_MAX, &in, &inlen, &err) != 0) {
        fprintf(stderr, "redact: cannot read stdin\n");
        status = 2;
        goto done;
    }
    status = 0;
    if (!is_jsonl) {
        const char *blocked = NULL;
        int rc = cli_one(r, w, in, inlen, &out, NULL, &blocked);
        if (rc == CM_EBLOCKED) {
            fprintf(stderr, "redact: blocked by a %s rule\n", blocked);
            status = 3;
        } else if (rc != 0) {
            fprintf(stderr, "redact: %s\n", cm_strerror(rc));
            status = 2;
        } else {
            fwrite(out.data ? out.data : "", 1, out.len, stdout);
        }
        goto done;
    }
    size_t lineno = 0;
    for (char *line = in, *next; line < in + inlen; line = next) {
        char *nl = memchr(line, '\n', (size_t)(in + inlen - line));
        next = nl ? nl + 1 : in + inlen;
        lineno++;
        size_t ll = (size_t)((nl ? nl : in + inlen) - line);
        if (ll == 0 || (ll == 1 && line[0] == '\r'))
            continue;
        json_t *obj = json_loadb(line, ll, 0, NULL), *text = json_object_get(obj, "text");
        if (!json_is_string(text)) {
            fprintf(stderr, "redact: line %zu: expected {\"id\", \"text\"}\n", lineno);
            status = 2;
            json_decref(obj);
            continue;
        }
        json_t *findings = NULL, *res = json_object();
        const char *blocked = NULL;
        cm_buf_reset(&out);
        int rc = cli_one(r, w, json_string_value(text), json_string_length(text), &out, &findings,
                         &blocked);
        json_t *id = json_object_get(obj, "id");
        json_object_set(res, "id", id ? id : json_null());
        if (rc == 0)
            json_object_set_new(res, "text", json_stringn(out.data ? out.data : "", out.len));
        else if (rc == CM_EBLOCKED)
            json_object_set_new(res, "blocked", json_string(blocked));
        else
            json_object_set_new(res, "error", json_string(cm_strerror(rc)));
        json_object_set_new(res, "findings", findings ? findings : json_array());
        char *s = json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (s != NULL)
            printf("%s\n", s);
        free(s);
        if (rc != 0 && rc != CM_EBLOCKED)
            status = 2;
        json_decref(res);
        json_decref(obj);
    }
done:
    fflush(stdout);
    cm_buf_fini(&out);
    if (in != NULL) {
        cm_wipe(in, inlen);
        free(in);
    }
    red_worker_free(w);
    gw_redactor_free(r);
    cm_errlist_fini(&errs);
    json_decref(root);
    free(base_dir);
    return status;
}
