/* Verified-token cache: SHA-256(token) -> identity, valid until the token's
 * exp (+ leeway) and only for the JWKS generation it was verified under, so
 * an RS256 caller pays one signature check per token, not per request.
 * Bounded: 4-way set associative, evicting expired then soonest-expiring
 * entries. One mutex; the critical section is a lookup and a copy. */
#include "policy/pol_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_WAYS 4

typedef struct cache_ent {
    unsigned char hash[POL_SHA256_LEN];
    uint64_t gen;
    int64_t valid_until;
    size_t nroles;
    bool has_team, has_kid;
    char *blob; /* subject, team, method, kid, ref, roles...: NUL-separated */
    size_t blob_len;
} cache_ent;

struct pol_cache {
    pthread_mutex_t mu;
    cache_ent *ents;
    size_t nsets;
    unsigned long hits;
};

pol_cache *pol_cache_new(size_t entries)
{
    pol_cache *c;
    size_t nsets = 1;

    if (entries == 0)
        return NULL;
    while (nsets * CACHE_WAYS < entries)
        nsets *= 2;
    c = cm_xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    c->nsets = nsets;
    c->ents = cm_xcalloc(nsets * CACHE_WAYS, sizeof(cache_ent));
    return c;
}

static void ent_clear(cache_ent *e)
{
    if (e->blob != NULL) {
        cm_wipe(e->blob, e->blob_len);
        free(e->blob);
    }
    memset(e, 0, sizeof(*e));
}

void pol_cache_free(pol_cache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nsets * CACHE_WAYS; i++)
        ent_clear(&c->ents[i]);
    free(c->ents);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static cache_ent *set_of(pol_cache *c, const unsigned char *hash)
{
    uint64_t h;
    memcpy(&h, hash, sizeof(h));
    return &c->ents[(h & (c->nsets - 1)) * CACHE_WAYS];
}

static const char *next_str(const char **p)
{
    const char *s = *p;
    *p += strlen(s) + 1;
    return s;
}

static pol_identity *ent_copy(const cache_ent *e, cm_arena *a)
{
    const char *p = e->blob;
    const char *sub = next_str(&p), *team = next_str(&p), *method = next_str(&p);
    const char *kid = next_str(&p), *ref = next_str(&p);
    const char **roles = cm_arena_alloc(a, (e->nroles + 1) * sizeof(*roles));

    if (roles == NULL)
        return NULL;
    for (size_t i = 0; i < e->nroles; i++)
        roles[i] = next_str(&p);
    return pol_identity_new(a, sub, roles, e->nroles, e->has_team ? team : NULL, method,
                            e->has_kid ? kid : NULL, ref);
}

bool pol_cache_get(pol_cache *c, const unsigned char hash[POL_SHA256_LEN], uint64_t gen,
                   int64_t now, cm_arena *a, pol_identity **out)
{
    bool is_hit = false;

    if (c == NULL)
        return false;
    pthread_mutex_lock(&c->mu);
    cache_ent *set = set_of(c, hash);
    for (int w = 0; w < CACHE_WAYS; w++) {
        cache_ent *e = &set[w];
        if (e->blob == NULL || cm_memeq_ct(e->hash, hash, POL_SHA256_LEN) != 0)
            continue;
        if (e->gen != gen || now >= e->valid_until) {
            ent_clear(e);
            break;
        }
        *out = ent_copy(e, a);
        is_hit = *out != NULL;
        if (is_hit)
            c->hits++;
        break;
    }
    pthread_mutex_unlock(&c->mu);
    return is_hit;
}

void pol_cache_put(pol_cache *c, const unsigned char hash[POL_SHA256_LEN], uint64_t gen,
                   int64_t valid_until, const pol_identity *id)
{
    const char *parts[5] = {id->subject, id->team ? id->team : "", id->method,
                            id->key_id ? id->key_id : "", id->token_ref ? id->token_ref : ""};
    cm_buf b;

    if (c == NULL)
        return;
    cm_buf_init(&b, 0);
    for (size_t i = 0; i < 5 + id->nroles; i++) {
        const char *s = i < 5 ? parts[i] : id->roles[i - 5];
        if (cm_buf_append(&b, s, strlen(s) + 1) != 0) {
            cm_buf_fini(&b);
            return;
        }
    }
    pthread_mutex_lock(&c->mu);
    cache_ent *set = set_of(c, hash), *victim = &set[0];
    for (int w = 0; w < CACHE_WAYS; w++) {
        cache_ent *e = &set[w];
        if (e->blob == NULL || memcmp(e->hash, hash, POL_SHA256_LEN) == 0) {
            victim = e;
            break;
        }
        if (e->valid_until < victim->valid_until)
            victim = e;
    }
    ent_clear(victim);
    memcpy(victim->hash, hash, POL_SHA256_LEN);
    victim->gen = gen;
    victim->valid_until = valid_until;
    victim->nroles = id->nroles;
    victim->has_team = id->team != NULL;
    victim->has_kid = id->key_id != NULL;
    victim->blob = b.data;
    victim->blob_len = b.cap;
    pthread_mutex_unlock(&c->mu);
}

unsigned long pol_cache_hits(pol_cache *c)
{
    unsigned long n;
    if (c == NULL)
        return 0;
    pthread_mutex_lock(&c->mu);
    n = c->hits;
    pthread_mutex_unlock(&c->mu);
    return n;
}
