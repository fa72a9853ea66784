/* JWT verification for pol_authenticate. Order matters: size cap, cache,
 * then the unverified header (alg none, unsupported alg, crit/typ), the key
 * by kid with the alg pinned to it, the signature (pol_jws.c, cached
 * EVP_PKEY), and only then the payload: duplicates, exp/nbf/iat with leeway,
 * iss, aud, required claims, and the claim paths that give subject, roles
 * and team. libjwt is not on this path: see policy/README.md. */
#include "policy/pol_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/sha.h>

#define POL_MAX_ROLES 256

typedef struct jwt_parts {
    const char *seg[3];
    size_t len[3];
} jwt_parts;

static bool split(const char *tok, size_t len, jwt_parts *pt)
{
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || tok[i] == '.') {
            if (k == 3)
                return false;
            pt->seg[k] = tok + start;
            pt->len[k] = i - start;
            k++;
            start = i + 1;
        }
    }
    return k == 3 && pt->len[0] > 0 && pt->len[1] > 0;
}

/* Decode a base64url JSON object segment; *why on failure. */
static json_t *segment_json(const char *s, size_t n, const char *dup_why, const char **why)
{
    unsigned char *buf = cm_xmalloc(n * 3 / 4 + 1);
    size_t len = 0;
    json_error_t jerr;
    json_t *j = NULL;

    *why = "malformed";
    if (pol_b64url_decode(s, n, buf, &len) == 0) {
        j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
        if (j == NULL && json_error_code(&jerr) == json_error_duplicate_key)
            *why = dup_why;
    }
    cm_wipe(buf, n * 3 / 4 + 1);
    free(buf);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

static bool is_typ_ok(const char *typ)
{
    static const char *const ok[] = {"JWT", "at+jwt", "application/jwt", "application/at+jwt"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strcasecmp(typ, ok[i]) == 0)
            return true;
    return false;
}

/* Header checks that need no key. */
static int check_header(json_t *hdr, const pol_alg **alg, const char **kid, const char **why)
{
    json_t *jalg = json_object_get(hdr, "alg"), *jkid = json_object_get(hdr, "kid");
    json_t *typ = json_object_get(hdr, "typ");

    if (!json_is_string(jalg) || (jkid != NULL && !json_is_string(jkid)) ||
        (typ != NULL && !json_is_string(typ))) {
        *why = "malformed";
        return CM_EAUTH;
    }
    if (strcasecmp(json_string_value(jalg), "none") == 0) {
        *why = "alg_none";
        return CM_EAUTH;
    }
    if ((*alg = pol_alg_find(json_string_value(jalg))) == NULL) {
        *why = "unsupported_alg";
        return CM_EAUTH;
    }
    /* we implement no extensions (RFC 7515 4.1.11) and no nested tokens */
    if (json_object_get(hdr, "crit") != NULL || json_object_get(hdr, "cty") != NULL ||
        (typ != NULL && !is_typ_ok(json_string_value(typ)))) {
        *why = "unsupported_header";
        return CM_EAUTH;
    }
    *kid = jkid != NULL ? json_string_value(jkid) : NULL;
    return 0;
}

/* The key for kid, static keys first; without kid only a lone key will do. */
static const pol_key *pick_key(const pol_set *p, const pol_keyset *jw, const char *kid,
                               const char **why)
{
    size_t njw = jw != NULL ? jw->n : 0;

    if (kid == NULL) {
        if (p->keys.n + njw == 1)
            return p->keys.n == 1 ? &p->keys.keys[0] : &jw->keys[0];
        *why = p->keys.n + njw == 0 ? "no_keys" : "missing_kid";
        return NULL;
    }
    for (size_t i = 0; i < p->keys.n; i++)
        if (strcmp(p->keys.keys[i].kid, kid) == 0)
            return &p->keys.keys[i];
    for (size_t i = 0; i < njw; i++)
        if (jw->keys[i].kid != NULL && strcmp(jw->keys[i].kid, kid) == 0)
            return &jw->keys[i];
    *why = "unknown_kid";
    return NULL;
}

/* Signature over "header.payload" with the pinned key. */
static int verify_sig(const pol_set *p, const jwt_parts *pt, const pol_alg *alg, const char *kid,
                      cm_arena *a, const char **key_id, uint64_t *gen, const char **why)
{
    const pol_keyset *jw = NULL;
    const pol_key *k;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    int rc = CM_EAUTH;

    *gen = 0;
    if (p->jwks != NULL)
        jw = pol_jwks_acquire(p->jwks, gen);
    if ((k = pick_key(p, jw, kid, why)) == NULL) {
        if (p->jwks != NULL && kid != NULL)
            pol_jwks_kick(p->jwks);
        goto out;
    }
    if (k->alg != alg) {
        /* the pin: an HS256 token never meets an RSA/EC key (key confusion) */
        *why = "alg_mismatch";
        goto out;
    }
    sig = cm_xmalloc(pt->len[2] * 3 / 4 + 1);
    if (pt->len[2] == 0 || pol_b64url_decode(pt->seg[2], pt->len[2], sig, &siglen) != 0) {
        *why = "malformed";
        goto out;
    }
    if (pol_sig_verify(k, pt->seg[0], pt->len[0] + 1 + pt->len[1], sig, siglen) != 0) {
        *why = "bad_signature";
        goto out;
    }
    *key_id = NULL;
    if (k->kid != NULL && (*key_id = cm_arena_strndup(a, k->kid, strlen(k->kid))) == NULL) {
        *why = "arena_budget";
        rc = CM_ETOOBIG;
        goto out;
    }
    rc = 0;
out:
    if (p->jwks != NULL)
        pol_jwks_release(p->jwks);
    free(sig);
    return rc;
}

/* A JSON string without embedded NULs that passes pol_is_clean. */
static bool is_clean_str(json_t *v)
{
    return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v) &&
           pol_is_clean(json_string_value(v));
}

json_t *pol_claim_get(json_t *payload, const char *path)
{
    json_t *v = json_object_get(payload, path);
    char seg[POL_MAX_CLAIM];

    if (v != NULL || strchr(path, '.') == NULL)
        return v;
    v = payload;
    while (v != NULL && *path != '\0') {
        size_t n = strcspn(path, ".");
        if (n == 0 || n >= sizeof(seg))
            return NULL;
        memcpy(seg, path, n);
        seg[n] = '\0';
        v = json_object_get(v, seg);
        path += n + (path[n] == '.');
    }
    return v;
}

static int check_time(const pol_set *p, json_t *pl, int64_t now, double *exp, const char **why)
{
    json_t *jexp = json_object_get(pl, "exp"), *nbf = json_object_get(pl, "nbf");
    json_t *iat = json_object_get(pl, "iat");
    double lw = (double)p->leeway_s, t = (double)now;

    if (jexp == NULL) {
        *why = "missing_claim";
        return CM_EAUTH;
    }
    if (!json_is_number(jexp) || (nbf != NULL && !json_is_number(nbf)) ||
        (iat != NULL && !json_is_number(iat))) {
        *why = "bad_claim_type";
        return CM_EAUTH;
    }
    *exp = json_number_value(jexp);
    if (t >= *exp + lw) {
        *why = "expired";
        return CM_EAUTH;
    }
    if (nbf != NULL && t + lw < json_number_value(nbf)) {
        *why = "not_yet_valid";
        return CM_EAUTH;
    }
    if (iat != NULL && t + lw < json_number_value(iat)) {
        *why = "iat_in_future";
        return CM_EAUTH;
    }
    return 0;
}

static bool aud_matches(const pol_set *p, const char *aud)
{
    for (size_t i = 0; i < p->naudiences; i++)
        if (strcmp(p->audiences[i], aud) == 0)
            return true;
    return false;
}

static int check_claims(const pol_set *p, json_t *pl, const char **why)
{
    json_t *iss = json_object_get(pl, "iss"), *aud = json_object_get(pl, "aud"), *e;
    size_t i;

    if ((iss != NULL && !json_is_string(iss)) ||
        (aud != NULL && !json_is_string(aud) && !json_is_array(aud))) {
        *why = "bad_claim_type";
        return CM_EAUTH;
    }
    if (p->issuer != NULL && iss == NULL) {
        *why = "missing_claim";
        return CM_EAUTH;
    }
    if (p->issuer != NULL && strcmp(json_string_value(iss), p->issuer) != 0) {
        *why = "wrong_issuer";
        return CM_EAUTH;
    }
    if (p->naudiences > 0) {
        bool is_ok = json_is_string(aud) && aud_matches(p, json_string_value(aud));
        if (aud == NULL) {
            *why = "missing_claim";
            return CM_EAUTH;
        }
        json_array_foreach (aud, i, e) {
            if (!json_is_string(e)) {
                *why = "bad_claim_type";
                return CM_EAUTH;
            }
            is_ok = is_ok || aud_matches(p, json_string_value(e));
        }
        if (!is_ok) {
            *why = "wrong_audience";
            return CM_EAUTH;
        }
    }
    for (i = 0; i < p->nrequired; i++) {
        e = pol_claim_get(pl, p->required[i]);
        if (e == NULL || json_is_null(e)) {
            *why = "missing_claim";
            return CM_EAUTH;
        }
    }
    return 0;
}

static int add_role(const char **roles, size_t *n, const char *r, size_t len, cm_arena *a,
                    const char **why)
{
    char *s;

    if ((s = cm_arena_strndup(a, r, len)) == NULL) {
        *why = "arena_budget";
        return CM_ETOOBIG;
    }
    if (!pol_is_clean(s)) {
        *why = "bad_claim_type";
        return CM_EAUTH;
    }
    for (size_t i = 0; i < *n; i++)
        if (strcmp(roles[i], s) == 0)
            return 0;
    if (*n == POL_MAX_ROLES) {
        *why = "too_many_roles";
        return CM_EAUTH;
    }
    roles[(*n)++] = s;
    return 0;
}

/* Roles from every configured claim path: arrays of strings, or a
 * space-separated string (OAuth "scope" style). */
static int map_roles(const pol_set *p, json_t *pl, cm_arena *a, const char ***out, size_t *n,
                     const char **why)
{
    const char **roles = cm_arena_alloc(a, POL_MAX_ROLES * sizeof(*roles));
    size_t i;
    json_t *e;
    int rc = 0;

    *n = 0;
    if (roles == NULL) {
        *why = "arena_budget";
        return CM_ETOOBIG;
    }
    for (size_t c = 0; c < p->nclaim_roles && rc == 0; c++) {
        json_t *v = pol_claim_get(pl, p->claim_roles[c]);
        if (v == NULL || json_is_null(v))
            continue;
        if (json_is_string(v)) {
            const char *s = json_string_value(v);
            if (strlen(s) != json_string_length(v)) {
                *why = "bad_claim_type";
                return CM_EAUTH;
            }
            while (rc == 0 && *(s += strspn(s, " ")) != '\0') {
                size_t len = strcspn(s, " ");
                rc = add_role(roles, n, s, len, a, why);
                s += len;
            }
            continue;
        }
        if (!json_is_array(v)) {
            *why = "bad_claim_type";
            return CM_EAUTH;
        }
        json_array_foreach (v, i, e) {
            if (!is_clean_str(e)) {
                *why = "bad_claim_type";
                return CM_EAUTH;
            }
            if ((rc = add_role(roles, n, json_string_value(e), json_string_length(e), a, why)) != 0)
                break;
        }
    }
    *out = roles;
    return rc;
}

static int map_identity(const pol_set *p, json_t *pl, const unsigned char *hash, const char *key_id,
                        cm_arena *a, pol_identity **out, const char **why)
{
    json_t *sub = pol_claim_get(pl, p->claim_subject), *team = pol_claim_get(pl, p->claim_team);
    json_t *jti = json_object_get(pl, "jti");
    const char **roles = NULL;
    size_t nroles = 0;
    char ref[2 * POL_SHA256_LEN + 1];
    int rc;

    if (sub == NULL) {
        *why = "missing_claim";
        return CM_EAUTH;
    }
    if (!is_clean_str(sub) || (team != NULL && !json_is_null(team) && !is_clean_str(team)) ||
        (jti != NULL && !is_clean_str(jti))) {
        *why = "bad_claim_type";
        return CM_EAUTH;
    }
    if ((rc = map_roles(p, pl, a, &roles, &nroles, why)) != 0)
        return rc;
    pol_hex(hash, 8, ref);
    *out = pol_identity_new(a, json_string_value(sub), roles, nroles,
                            json_is_string(team) ? json_string_value(team) : NULL, "jwt", key_id,
                            jti != NULL ? json_string_value(jti) : ref);
    if (*out == NULL) {
        *why = "arena_budget";
        return CM_ETOOBIG;
    }
    return 0;
}

int pol_jwt_authenticate(const pol_set *p, const char *tok, size_t len, cm_arena *a,
                         pol_identity **out, const char **why)
{
    unsigned char hash[POL_SHA256_LEN];
    json_t *hdr = NULL, *pl = NULL;
    const pol_alg *alg = NULL;
    const char *kid = NULL, *key_id = NULL;
    int64_t now = p->now();
    uint64_t gen = 0;
    double exp = 0;
    jwt_parts pt;
    int rc = CM_EAUTH;

    if (len > p->max_token_bytes) {
        *why = "token_too_large";
        return CM_EAUTH;
    }
    SHA256((const unsigned char *)tok, len, hash);
    if (p->cache != NULL &&
        pol_cache_get(p->cache, hash, p->jwks != NULL ? pol_jwks_gen(p->jwks) : 0, now, a, out)) {
        *why = NULL;
        return 0;
    }
    if (!split(tok, len, &pt)) {
        *why = "malformed";
        goto out;
    }
    if ((hdr = segment_json(pt.seg[0], pt.len[0], "duplicate_header", why)) == NULL)
        goto out;
    if ((rc = check_header(hdr, &alg, &kid, why)) != 0)
        goto out;
    if ((rc = verify_sig(p, &pt, alg, kid, a, &key_id, &gen, why)) != 0)
        goto out;
    rc = CM_EAUTH;
    if ((pl = segment_json(pt.seg[1], pt.len[1], "duplicate_claim", why)) == NULL)
        goto out;
    if ((rc = check_time(p, pl, now, &exp, why)) != 0 || (rc = check_claims(p, pl, why)) != 0 ||
        (rc = map_identity(p, pl, hash, key_id, a, out, why)) != 0)
        goto out;
    if (p->cache != NULL) {
        double until = exp + (double)p->leeway_s;
        pol_cache_put(p->cache, hash, gen, until > 9e18 ? INT64_MAX : (int64_t)floor(until), *out);
    }
    *why = NULL;
    rc = 0;
out:
    json_decref(hdr);
    json_decref(pl);
    return rc;
}
