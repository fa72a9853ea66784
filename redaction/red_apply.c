/* Rewriting: replaces merged findings by their action (mask, keyed hash,
 * pseudonym) and records pseudonyms in the request's session so that
 * red_restore.c can put the values back into the model's answer. Everything a
 * session holds lives in the request arena, which is wiped when freed. */
#include "redaction/red_internal.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

int red_session_new(const red_engine *eng, const void *key, size_t keylen, cm_arena *a,
                    red_session **out)
{
    red_session *s = cm_arena_calloc(a, sizeof(*s));
    if (s == NULL)
        return CM_ETOOBIG;
    s->eng = eng;
    s->a = a;
    s->key = key;
    s->keylen = key ? keylen : 0;
    *out = s;
    return 0;
}

size_t red_session_pseudonyms(const red_session *s)
{
    return s ? s->count : 0;
}

static uint32_t fnv1a(uint32_t type, const char *p, size_t n)
{
    uint32_t h = 2166136261u ^ type;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 16777619u;
    }
    return h;
}

/* The pseudonym of (type, value), created on first sight. NULL: arena full. */
static red_pseudo *pseudo_get(red_session *s, uint32_t type, const char *v, size_t n)
{
    uint32_t h = fnv1a(type, v, n);
    red_pseudo **b = &s->buckets[h % RED_PSEUDO_BUCKETS];
    for (red_pseudo *p = *b; p != NULL; p = p->next)
        if (p->hash == h && p->type == type && p->len == n && memcmp(p->val, v, n) == 0)
            return p;
    if (s->ntype[type] == s->captype[type]) {
        uint32_t cap = s->captype[type] ? s->captype[type] * 2 : 8;
        red_pseudo **arr = cm_arena_alloc(s->a, cap * sizeof(*arr));
        if (arr == NULL)
            return NULL;
        if (s->ntype[type] != 0)
            memcpy(arr, s->by_type[type], s->ntype[type] * sizeof(*arr));
        s->by_type[type] = arr;
        s->captype[type] = cap;
    }
    red_pseudo *p = cm_arena_alloc(s->a, sizeof(*p));
    char *copy = p ? cm_arena_strndup(s->a, v, n) : NULL;
    if (copy == NULL)
        return NULL;
    p->val = copy;
    p->len = n;
    p->hash = h;
    p->type = type;
    p->idx = ++s->ntype[type];
    s->by_type[type][p->idx - 1] = p;
    p->next = *b;
    *b = p;
    s->count++;
    return p;
}

int red_hash_label(const void *key, size_t keylen, const char *v, size_t n, char out[9])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (key == NULL || keylen == 0 || keylen > INT32_MAX)
        return CM_EINVAL;
    if (HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)v, n, md, &mdlen) == NULL ||
        mdlen < 4)
        return CM_EINTERNAL;
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 4; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[8] = '\0';
    cm_wipe(md, sizeof(md));
    return 0;
}

int red_apply(red_session *s, const red_action *actions, const char *text, size_t len,
              const red_finding *f, size_t nf, cm_buf *out, const char **block_type)
{
    const red_engine *eng = s->eng;
    for (size_t i = 0; i < nf; i++) {
        red_action act = actions ? actions[f[i].type] : eng->types[f[i].type].action;
        if (act == RED_ACT_BLOCK) {
            if (block_type != NULL)
                *block_type = eng->types[f[i].type].name;
            return CM_EBLOCKED;
        }
    }
    size_t pos = 0;
    int rc = 0;
    for (size_t i = 0; i < nf && rc == 0; i++) {
        const char *name = eng->types[f[i].type].name;
        const char *v = text + f[i].start;
        size_t n = f[i].end - f[i].start;
        if (f[i].start < pos || f[i].end > len)
            return CM_EINVAL; /* findings must be sorted and disjoint */
        rc = cm_buf_append(out, text + pos, f[i].start - pos);
        if (rc != 0)
            break;
        red_action act = actions ? actions[f[i].type] : eng->types[f[i].type].action;
        switch (act) {
        case RED_ACT_NONE:
            rc = cm_buf_append(out, v, n);
            break;
        case RED_ACT_MASK:
            rc = cm_buf_appendf(out, "[%s]", name);
            break;
        case RED_ACT_HASH: {
            char label[9];
            rc = red_hash_label(s->key, s->keylen, v, n, label);
            if (rc == 0)
                rc = cm_buf_appendf(out, "[%s_%s]", name, label);
            break;
        }
        case RED_ACT_PSEUDO: {
            red_pseudo *p = pseudo_get(s, f[i].type, v, n);
            rc = p ? cm_buf_appendf(out, "<%s_%u>", name, (unsigned)p->idx) : CM_ETOOBIG;
            break;
        }
        case RED_ACT_BLOCK:
        default:
            rc = CM_EINTERNAL;
            break;
        }
        pos = f[i].end;
    }
    if (rc == 0)
        rc = cm_buf_append(out, text + pos, len - pos);
    return rc;
}
