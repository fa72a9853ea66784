/* JWKS: turn a JSON Web Key Set into pinned verification keys (RSA, EC,
 * OKP rebuilt as EVP_PKEYs; symmetric and encryption keys refused), and keep
 * it fresh from a file or an https URL on a background thread (libcurl easy).
 * A failed fetch or a broken document keeps the last good set. Readers take
 * a read lock around key lookup and signature check; the swap takes it for
 * writing only for the pointer exchange. */
#include "policy/pol_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>

#define JWKS_RETRY_MAX_S 30 /* after a failure, try again within this */

struct pol_jwks {
    pol_jwks_cfg cfg; /* strings belong to the set's arena, which outlives us */
    pthread_rwlock_t lock;
    pol_keyset *cur; /* guarded by lock */
    uint64_t gen;    /* guarded by lock */
    pthread_mutex_t fetch_mu;
    unsigned char doc_hash[POL_SHA256_LEN]; /* guarded by fetch_mu */
    bool has_doc;
    pthread_mutex_t mu; /* guards what follows */
    pthread_cond_t cv;
    bool is_stopping, is_kicked, was_last_ok;
    uint64_t last_fetch_us;
    unsigned nok, nfail;
    pthread_t thread;
    bool has_thread;
};

static void pkey_free(void *k)
{
    EVP_PKEY_free(k);
}

/* Decode a base64url member into a heap buffer of at most max bytes. */
static unsigned char *jwk_bytes(json_t *jwk, const char *name, size_t max, size_t *len)
{
    json_t *v = json_object_get(jwk, name);
    size_t n = json_string_length(v);
    unsigned char *out;

    if (!json_is_string(v) || n == 0 || n > (max * 4 + 2) / 3)
        return NULL;
    out = cm_xmalloc(n * 3 / 4 + 1);
    if (pol_b64url_decode(json_string_value(v), n, out, len) != 0 || *len == 0) {
        free(out);
        return NULL;
    }
    return out;
}

static EVP_PKEY *fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;

    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    OSSL_PARAM_free(params);
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

static EVP_PKEY *jwk_rsa(json_t *jwk, const char **why)
{
    size_t nlen = 0, elen = 0;
    unsigned char *n = jwk_bytes(jwk, "n", 1024, &nlen), *e = jwk_bytes(jwk, "e", 16, &elen);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bn = NULL, *be = NULL;
    EVP_PKEY *pkey = NULL;

    *why = "RSA key needs base64url n and e";
    if (n == NULL || e == NULL || bld == NULL)
        goto out;
    bn = BN_bin2bn(n, (int)nlen, NULL);
    be = BN_bin2bn(e, (int)elen, NULL);
    if (bn == NULL || be == NULL || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
        goto out;
    pkey = fromdata("RSA", bld);
out:
    BN_free(bn);
    BN_free(be);
    OSSL_PARAM_BLD_free(bld);
    free(n);
    free(e);
    return pkey;
}

static EVP_PKEY *jwk_ec(json_t *jwk, const char *crv, size_t flen, const char **why)
{
    size_t xlen = 0, ylen = 0;
    unsigned char *x = jwk_bytes(jwk, "x", flen, &xlen), *y = jwk_bytes(jwk, "y", flen, &ylen);
    unsigned char pub[1 + 2 * 66];
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *chk = NULL;

    *why = "EC key needs x and y of the curve's size";
    if (x == NULL || y == NULL || xlen != flen || ylen != flen || bld == NULL)
        goto out;
    pub[0] = 0x04;
    memcpy(pub + 1, x, flen);
    memcpy(pub + 1 + flen, y, flen);
    if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, crv, 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 1 + 2 * flen))
        goto out;
    *why = "EC point is not on the curve";
    pkey = fromdata("EC", bld);
    /* an off-curve point must never reach ECDSA (fromdata may not check) */
    chk = pkey != NULL ? EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL) : NULL;
    if (pkey != NULL && (chk == NULL || EVP_PKEY_public_check(chk) != 1)) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
out:
    EVP_PKEY_CTX_free(chk);
    OSSL_PARAM_BLD_free(bld);
    free(x);
    free(y);
    return pkey;
}

static EVP_PKEY *jwk_okp(json_t *jwk, const char *crv, const char **why)
{
    bool is_25519 = strcmp(crv, "Ed25519") == 0;
    size_t want = is_25519 ? 32 : 57, xlen = 0;
    unsigned char *x = jwk_bytes(jwk, "x", want, &xlen);
    EVP_PKEY *pkey = NULL;

    *why = "OKP key needs x of the curve's size";
    if (x != NULL && xlen == want)
        pkey = EVP_PKEY_new_raw_public_key(is_25519 ? EVP_PKEY_ED25519 : EVP_PKEY_ED448, NULL, x,
                                           xlen);
    free(x);
    return pkey;
}

/* One JWK to a pinned key; NULL pkey with *why when it is skipped. */
static EVP_PKEY *jwk_key(json_t *jwk, const pol_alg *rsa_default, const pol_alg **alg,
                         const char **why)
{
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const char *use = json_string_value(json_object_get(jwk, "use"));
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    json_t *jalg = json_object_get(jwk, "alg");
    EVP_PKEY *pkey = NULL;

    *alg = NULL;
    if (!json_is_object(jwk) || kty == NULL) {
        *why = "not a JWK (kty missing)";
        return NULL;
    }
    if (use != NULL && strcmp(use, "sig") != 0) {
        *why = "use is not \"sig\"";
        return NULL;
    }
    if (jalg != NULL && (*alg = pol_alg_find(json_string_value(jalg))) == NULL) {
        *why = "alg is not a supported signature algorithm";
        return NULL;
    }
    if (strcmp(kty, "RSA") == 0) {
        pkey = jwk_rsa(jwk, why);
        if (*alg == NULL)
            *alg = rsa_default;
    } else if (strcmp(kty, "EC") == 0 && crv != NULL) {
        static const struct {
            const char *crv, *alg;
            size_t flen;
        } ec[] = {{"P-256", "ES256", 32}, {"P-384", "ES384", 48}, {"P-521", "ES512", 66}};
        *why = "EC curve is not P-256, P-384 or P-521";
        for (size_t i = 0; i < sizeof(ec) / sizeof(ec[0]); i++) {
            if (strcmp(crv, ec[i].crv) == 0) {
                pkey = jwk_ec(jwk, crv, ec[i].flen, why);
                if (*alg == NULL)
                    *alg = pol_alg_find(ec[i].alg);
            }
        }
    } else if (strcmp(kty, "OKP") == 0 && crv != NULL &&
               (strcmp(crv, "Ed25519") == 0 || strcmp(crv, "Ed448") == 0)) {
        pkey = jwk_okp(jwk, crv, why);
        if (*alg == NULL)
            *alg = pol_alg_find("EdDSA");
    } else if (strcmp(kty, "oct") == 0) {
        *why = "symmetric (oct) keys are never taken from a JWKS";
    } else {
        *why = "unsupported kty or crv";
    }
    if (pkey != NULL && (*why = pol_key_misfit(*alg, pkey)) != NULL) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    return pkey;
}

int pol_jwks_parse(const char *doc, size_t len, const pol_alg *rsa_default, pol_keyset **out,
                   cm_err *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(doc, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *keys = json_object_get(root, "keys"), *jwk;
    pol_keyset *ks = NULL;
    size_t i;
    int rc = CM_EINVAL;

    if (root == NULL) {
        cm_err_set(err, rc, "JWKS is not JSON: %s (line %d)", jerr.text, jerr.line);
        goto out;
    }
    if (!json_is_array(keys)) {
        cm_err_set(err, rc, "JWKS has no \"keys\" array");
        goto out;
    }
    ks = cm_xcalloc(1, sizeof(*ks));
    ks->arena = cm_arena_new(0);
    ks->keys = cm_arena_calloc(ks->arena, (json_array_size(keys) + 1) * sizeof(pol_key));
    json_array_foreach (keys, i, jwk) {
        const char *why = NULL, *kid = json_string_value(json_object_get(jwk, "kid"));
        const pol_alg *alg = NULL;
        EVP_PKEY *pkey = jwk_key(jwk, rsa_default, &alg, &why);
        for (size_t j = 0; pkey != NULL && j < ks->n; j++) {
            const char *other = ks->keys[j].kid;
            if ((kid == NULL) != (other == NULL) || (kid != NULL && strcmp(kid, other) == 0)) {
                why = "kid repeats an earlier key (or one key has no kid)";
                EVP_PKEY_free(pkey);
                pkey = NULL;
            }
        }
        if (pkey == NULL) {
            cm_log(CM_LOG_DEBUG, "jwks: key %zu (kid %.64s) skipped: %s", i, kid ? kid : "-", why);
            continue;
        }
        if (cm_arena_defer(ks->arena, pkey_free, pkey) != 0)
            continue;
        ks->keys[ks->n].kid = kid != NULL ? cm_arena_strndup(ks->arena, kid, strlen(kid)) : NULL;
        ks->keys[ks->n].alg = alg;
        ks->keys[ks->n].pkey = pkey;
        ks->n++;
    }
    if (ks->n == 0) {
        cm_err_set(err, rc, "JWKS has no usable signature key (%zu skipped)",
                   json_array_size(keys));
        goto out;
    }
    *out = ks;
    ks = NULL;
    rc = 0;
out:
    pol_keyset_free(ks);
    json_decref(root);
    return rc;
}

void pol_keyset_free(pol_keyset *ks)
{
    if (ks == NULL)
        return;
    cm_arena_free(ks->arena);
    free(ks);
}

/* ---- fetching -------------------------------------------------------------- */
static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    cm_buf *b = ud;
    return cm_buf_append(b, ptr, size * nmemb) == 0 ? size * nmemb : 0;
}

static int fetch_url(const pol_jwks_cfg *cfg, char **doc, size_t *len, cm_err *err)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hdr = NULL;
    cm_buf b;
    CURLcode cc;

    if (c == NULL)
        return cm_err_set(err, CM_EINTERNAL, "curl_easy_init failed");
    cm_buf_init(&b, POL_JWKS_MAX);
    hdr = curl_slist_append(hdr, "Accept: application/json, application/jwk-set+json");
    curl_easy_setopt(c, CURLOPT_URL, cfg->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)cfg->timeout_s);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)cfg->timeout_s);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "gateway-jwks/1");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    if (cfg->ca_file != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, cfg->ca_file);
    cc = curl_easy_perform(c);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    if (cc != CURLE_OK) {
        cm_buf_fini(&b);
        return cm_err_set(err, CM_EIO, "%s: %s", cfg->url, curl_easy_strerror(cc));
    }
    if (b.data == NULL) {
        cm_buf_fini(&b);
        return cm_err_set(err, CM_EIO, "%s: empty body", cfg->url);
    }
    *doc = b.data;
    *len = b.len;
    return 0;
}

static int refresh(pol_jwks *j, cm_err *err)
{
    char *doc = NULL;
    size_t len = 0;
    unsigned char hash[POL_SHA256_LEN];
    pol_keyset *ks = NULL, *old = NULL;
    int rc;

    pthread_mutex_lock(&j->fetch_mu);
    if (j->cfg.url != NULL)
        rc = fetch_url(&j->cfg, &doc, &len, err);
    else
        rc = cm_file_read(j->cfg.file, POL_JWKS_MAX, &doc, &len, err);
    if (rc == 0) {
        SHA256((const unsigned char *)doc, len, hash);
        if (!j->has_doc || memcmp(hash, j->doc_hash, sizeof(hash)) != 0)
            rc = pol_jwks_parse(doc, len, j->cfg.rsa_default, &ks, err);
    }
    if (ks != NULL) {
        pthread_rwlock_wrlock(&j->lock);
        old = j->cur;
        j->cur = ks;
        j->gen++;
        pthread_rwlock_unlock(&j->lock);
        memcpy(j->doc_hash, hash, sizeof(hash));
        j->has_doc = true;
        cm_log(CM_LOG_INFO, "jwks: %zu keys loaded from %s", ks->n,
               j->cfg.url != NULL ? j->cfg.url : j->cfg.file);
    }
    pthread_mutex_unlock(&j->fetch_mu);
    pol_keyset_free(old);
    free(doc);
    if (rc != 0)
        cm_log(CM_LOG_WARN, "jwks: refresh failed, keeping the last good set: %s", err->msg);
    pthread_mutex_lock(&j->mu);
    j->last_fetch_us = cm_now_us();
    j->was_last_ok = rc == 0;
    if (rc == 0)
        j->nok++;
    else
        j->nfail++;
    pthread_mutex_unlock(&j->mu);
    return rc;
}

int pol_jwks_refresh_now(pol_jwks *j)
{
    cm_err err = {{0}};
    return refresh(j, &err);
}

static void *refresher(void *arg)
{
    pol_jwks *j = arg;

    pthread_mutex_lock(&j->mu);
    while (!j->is_stopping) {
        unsigned wait_s = j->cfg.refresh_s;
        struct timespec dl;
        if (!j->was_last_ok && wait_s > JWKS_RETRY_MAX_S)
            wait_s = JWKS_RETRY_MAX_S;
        clock_gettime(CLOCK_MONOTONIC, &dl);
        dl.tv_sec += wait_s;
        while (!j->is_stopping && !j->is_kicked &&
               pthread_cond_timedwait(&j->cv, &j->mu, &dl) != ETIMEDOUT)
            ;
        if (j->is_stopping)
            break;
        j->is_kicked = false;
        pthread_mutex_unlock(&j->mu);
        (void)pol_jwks_refresh_now(j);
        pthread_mutex_lock(&j->mu);
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

int pol_jwks_start(const pol_jwks_cfg *cfg, pol_jwks **out, cm_err *err)
{
    pol_jwks *j = cm_xcalloc(1, sizeof(*j));
    pthread_rwlockattr_t ra;
    pthread_condattr_t ca;
    cm_err ferr = {{0}};

    j->cfg = *cfg;
    pthread_rwlockattr_init(&ra);
    /* a steady stream of readers must not starve the swap */
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&j->lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&j->mu, NULL);
    pthread_mutex_init(&j->fetch_mu, NULL);
    if (cfg->url != NULL)
        curl_global_init(CURL_GLOBAL_DEFAULT);
    if (refresh(j, &ferr) != 0) {
        if (cfg->url == NULL) {
            /* a file is ours: a broken one is a config mistake */
            cm_err_set(err, CM_EIO, "%s", ferr.msg);
            pol_jwks_stop(j);
            return CM_EIO;
        }
        cm_log(CM_LOG_WARN, "jwks: first fetch failed; JWTs are refused until it succeeds");
    }
    if (pthread_create(&j->thread, NULL, refresher, j) != 0) {
        cm_err_set(err, CM_EINTERNAL, "cannot start the JWKS thread");
        pol_jwks_stop(j);
        return CM_EINTERNAL;
    }
    j->has_thread = true;
    *out = j;
    return 0;
}

void pol_jwks_stop(pol_jwks *j)
{
    if (j == NULL)
        return;
    if (j->has_thread) {
        pthread_mutex_lock(&j->mu);
        j->is_stopping = true;
        pthread_cond_signal(&j->cv);
        pthread_mutex_unlock(&j->mu);
        pthread_join(j->thread, NULL);
    }
    if (j->cfg.url != NULL)
        curl_global_cleanup();
    pol_keyset_free(j->cur);
    pthread_rwlock_destroy(&j->lock);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    pthread_mutex_destroy(&j->fetch_mu);
    free(j);
}

const pol_keyset *pol_jwks_acquire(pol_jwks *j, uint64_t *gen)
{
    pthread_rwlock_rdlock(&j->lock);
    *gen = j->gen;
    return j->cur;
}

void pol_jwks_release(pol_jwks *j)
{
    pthread_rwlock_unlock(&j->lock);
}

uint64_t pol_jwks_gen(pol_jwks *j)
{
    uint64_t gen;
    pthread_rwlock_rdlock(&j->lock);
    gen = j->gen;
    pthread_rwlock_unlock(&j->lock);
    return gen;
}

void pol_jwks_kick(pol_jwks *j)
{
    uint64_t min_us = (uint64_t)j->cfg.min_refresh_s * 1000000u;
    pthread_mutex_lock(&j->mu);
    /* unknown kids are attacker-controlled: at most one early fetch per interval */
    if (cm_now_us() - j->last_fetch_us >= min_us) {
        j->is_kicked = true;
        pthread_cond_signal(&j->cv);
    }
    pthread_mutex_unlock(&j->mu);
}

void pol_jwks_stats(pol_jwks *j, unsigned *nok, unsigned *nfail)
{
    pthread_mutex_lock(&j->mu);
    *nok = j->nok;
    *nfail = j->nfail;
    pthread_mutex_unlock(&j->mu);
}
