/* JWKS: document parsing (what is taken, what is skipped), keys from a file
 * and from an http URL served by a loopback server, the background refresh,
 * and the last good set kept when a refresh fails. A key that leaves the
 * set stops verifying even for tokens already in the cache. */
#include "tpol.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rsa.h>

#define PAYLOAD "{\"sub\":\"alice\",\"exp\":@+600}"

static char *jwks_doc(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + (b ? strlen(b) : 0) + (c ? strlen(c) : 0) + 32;
    char *out = cm_xmalloc(n);
    snprintf(out, n, "{\"keys\":[%s%s%s%s%s]}", a, b ? "," : "", b ? b : "", c ? "," : "",
             c ? c : "");
    return out;
}

static char *tok_for(const char *alg, const char *kid, EVP_PKEY *k)
{
    char hdr[128];
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"%s\"}", alg, kid);
    return tp_token(hdr, PAYLOAD, alg, k, NULL, 0);
}

/* pol_authenticate's reason for a fresh token (NULL when accepted). */
static const char *try_tok(const pol_set *p, const char *alg, const char *kid, EVP_PKEY *k)
{
    char *tok = tok_for(alg, kid, k);
    const char *why = "unset";
    int rc = tp_auth(p, tok, NULL, &why);
    free(tok);
    return rc == 0 ? NULL : why;
}

#define ACCEPTED(p, alg, kid, k)     CHECK(try_tok(p, alg, kid, k) == NULL)
#define REFUSED(p, alg, kid, k, why) CHECK_STR_EQ(try_tok(p, alg, kid, k), why)

static void test_parse(void)
{
    EVP_PKEY *small = EVP_RSA_gen(1024);
    char *rs = tp_jwk(tp_rsa, "rs", "RS256"), *es = tp_jwk(tp_ec256, "es", NULL);
    char *es384 = tp_jwk(tp_ec384, "es384", NULL), *ed = tp_jwk(tp_ed25519, "ed", NULL);
    char *ps = tp_jwk(tp_rsa2, "ps", "PS256"), *weak = tp_jwk(small, "weak", "RS256");
    char *enc = tp_jwk(tp_rsa2, "enc", "RSA-OAEP");
    char *dup = tp_jwk(tp_rsa2, "rs", "RS256");
    char *es_wrong_alg = tp_jwk(tp_ec256, "es-wrong", "ES384");
    char *offcurve = tp_jwk(tp_ec256, "off", NULL);
    char *y = strstr(offcurve, "\"y\":\"") + 5;
    *y = *y == 'A' ? 'B' : 'A'; /* moves the point off P-256 */
    char doc[32768];
    snprintf(doc, sizeof(doc),
             "{\"keys\":[%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,"
             "{\"kty\":\"oct\",\"kid\":\"sym\",\"k\":\"c2VjcmV0\"},"
             "{\"kty\":\"RSA\",\"kid\":\"use-enc\",\"use\":\"enc\",\"n\":\"AQAB\",\"e\":\"AQAB\"},"
             "{\"kid\":\"nokty\"},{\"kty\":\"EC\",\"crv\":\"secp256k1\",\"kid\":\"k1\",\"x\":"
             "\"AA\",\"y\":\"AA\"}]}",
             rs, es, es384, ed, ps, weak, enc, dup, es_wrong_alg, offcurve);
    pol_keyset *ks = NULL;
    cm_err err = {{0}};
    CHECK(pol_jwks_parse(doc, strlen(doc), pol_alg_find("RS256"), &ks, &err) == 0);
    CHECK(ks != NULL && ks->n == 5);
    if (ks != NULL && ks->n == 5) {
        const char *want[5][2] = {
            {"rs", "RS256"}, {"es", "ES256"}, {"es384", "ES384"}, {"ed", "EdDSA"}, {"ps", "PS256"}};
        for (size_t i = 0; i < 5; i++) {
            CHECK_STR_EQ(ks->keys[i].kid, want[i][0]);
            CHECK_STR_EQ(ks->keys[i].alg->name, want[i][1]);
        }
    }
    pol_keyset_free(ks);

    /* an RSA JWK without alg takes default_rsa_alg */
    char *noalg = tp_jwk(tp_rsa, "r", NULL), *one = jwks_doc(noalg, NULL, NULL);
    ks = NULL;
    CHECK(pol_jwks_parse(one, strlen(one), pol_alg_find("PS384"), &ks, &err) == 0);
    CHECK(ks != NULL && ks->n == 1 && strcmp(ks->keys[0].alg->name, "PS384") == 0);
    pol_keyset_free(ks);

    static const char *const broken[] = {
        "{not json",
        "[]",
        "{\"keys\":{}}",
        "{\"keys\":[]}",
        "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}",
        "{\"keys\":[],\"keys\":[]}",
    };
    for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
        ks = NULL;
        CHECK(pol_jwks_parse(broken[i], strlen(broken[i]), pol_alg_find("RS256"), &ks, &err) ==
              CM_EINVAL);
        CHECK(ks == NULL);
    }
    free(noalg);
    free(one);
    free(rs);
    free(es);
    free(es384);
    free(ed);
    free(ps);
    free(weak);
    free(enc);
    free(dup);
    free(es_wrong_alg);
    free(offcurve);
    EVP_PKEY_free(small);
}

static void test_file(void)
{
    char *a = tp_jwk(tp_rsa, "jw-rs", "RS256"), *b = tp_jwk(tp_ec256, "jw-es", NULL);
    char *c = tp_jwk(tp_rsa2, "jw-rs2", NULL);
    char *doc = jwks_doc(a, b, NULL), *doc2 = jwks_doc(c, NULL, NULL);
    unsigned nok = 0, nfail = 0;

    tp_write("jwks.json", doc);
    pol_set *p =
        tp_load("{\"auth\":{\"jwt\":{\"jwks\":{\"file\":\"jwks.json\",\"refresh_s\":3600},"
                "\"keys\":[{\"kid\":\"st\",\"alg\":\"ES384\",\"pem_file\":\"ec384.pub\"}]}}}");
    CHECK(p != NULL && p->jwks != NULL);
    if (p == NULL)
        goto out;
    ACCEPTED(p, "RS256", "jw-rs", tp_rsa);
    ACCEPTED(p, "ES256", "jw-es", tp_ec256);
    ACCEPTED(p, "ES384", "st", tp_ec384); /* static keys and JWKS together */
    REFUSED(p, "PS256", "jw-rs", tp_rsa, "alg_mismatch");
    REFUSED(p, "RS256", "jw-nope", tp_rsa, "unknown_kid");
    REFUSED(p, "RS256", "jw-rs", tp_rsa2, "bad_signature");

    /* a token verified (and cached) under jw-rs, then the key leaves the set */
    char *cached = tok_for("RS256", "jw-rs", tp_rsa);
    const char *why = NULL;
    CHECK(tp_auth(p, cached, NULL, &why) == 0);
    unsigned long hits = pol_cache_hits(p->cache);
    CHECK(tp_auth(p, cached, NULL, &why) == 0);
    CHECK(pol_cache_hits(p->cache) == hits + 1);
    uint64_t gen = pol_jwks_gen(p->jwks);
    tp_write("jwks.json", doc2);
    CHECK(pol_jwks_refresh_now(p->jwks) == 0);
    CHECK(pol_jwks_gen(p->jwks) == gen + 1);
    ACCEPTED(p, "RS256", "jw-rs2", tp_rsa2);
    CHECK(tp_auth(p, cached, NULL, &why) == CM_EAUTH);
    CHECK_STR_EQ(why, "unknown_kid");
    free(cached);

    /* the same document again: no swap */
    CHECK(pol_jwks_refresh_now(p->jwks) == 0);
    CHECK(pol_jwks_gen(p->jwks) == gen + 1);

    /* broken, empty of usable keys, or gone: the last good set stays */
    tp_write("jwks.json", "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}");
    CHECK(pol_jwks_refresh_now(p->jwks) != 0);
    tp_write("jwks.json", "{not json");
    CHECK(pol_jwks_refresh_now(p->jwks) != 0);
    unlink(tp_path("jwks.json"));
    CHECK(pol_jwks_refresh_now(p->jwks) != 0);
    CHECK(pol_jwks_gen(p->jwks) == gen + 1);
    ACCEPTED(p, "RS256", "jw-rs2", tp_rsa2);
    pol_jwks_stats(p->jwks, &nok, &nfail);
    CHECK(nok == 3 && nfail == 3); /* start, rotation, unchanged; three failures */

    /* without kid, three keys are too many */
    char *tok = tp_token("{\"alg\":\"RS256\"}", PAYLOAD, "RS256", tp_rsa2, NULL, 0);
    CHECK(tp_auth(p, tok, NULL, &why) == CM_EAUTH);
    CHECK_STR_EQ(why, "missing_kid");
    free(tok);
out:
    pol_set_free(p);
    free(a);
    free(b);
    free(c);
    free(doc);
    free(doc2);
}

static void test_url(void)
{
    tp_http *h = tp_http_start();
    char *a = tp_jwk(tp_rsa, "url-rs", "RS256"), *b = tp_jwk(tp_ec256, "url-es", NULL);
    char *c = tp_jwk(tp_ed25519, "url-ed", NULL);
    char *da = jwks_doc(a, NULL, NULL), *db = jwks_doc(b, NULL, NULL),
         *dc = jwks_doc(c, NULL, NULL);
    char cfg[512];
    unsigned port = tp_http_port(h);

    CHECK(port != 0);
    tp_http_set(h, 200, da);
    snprintf(cfg, sizeof(cfg),
             "{\"auth\":{\"jwt\":{\"jwks\":{\"url\":\"http://127.0.0.1:%u/realms/test/protocol/"
             "openid-connect/certs\",\"refresh_s\":1,\"timeout_s\":2}}}}",
             port);
    pol_set *p = tp_load(cfg);
    CHECK(p != NULL);
    if (p == NULL)
        goto out;
    CHECK(tp_http_requests(h) >= 1);
    ACCEPTED(p, "RS256", "url-rs", tp_rsa);

    /* rotation by an explicit refresh */
    tp_http_set(h, 200, db);
    CHECK(pol_jwks_refresh_now(p->jwks) == 0);
    ACCEPTED(p, "ES256", "url-es", tp_ec256);
    REFUSED(p, "RS256", "url-rs", tp_rsa, "unknown_kid");

    /* failures keep the last good set */
    tp_http_set(h, 500, "{\"error\":\"down\"}");
    CHECK(pol_jwks_refresh_now(p->jwks) != 0);
    ACCEPTED(p, "ES256", "url-es", tp_ec256);
    tp_http_set(h, 200, "<html>maintenance</html>");
    CHECK(pol_jwks_refresh_now(p->jwks) != 0);
    ACCEPTED(p, "ES256", "url-es", tp_ec256);
    char *huge = cm_xmalloc(POL_JWKS_MAX + 100);
    memset(huge, ' ', POL_JWKS_MAX + 99);
    huge[POL_JWKS_MAX + 99] = '\0';
    tp_http_set(h, 200, huge);
    free(huge);
    CHECK(pol_jwks_refresh_now(p->jwks) != 0);
    ACCEPTED(p, "ES256", "url-es", tp_ec256);

    /* the background thread picks up a new set within a few refresh periods */
    uint64_t gen = pol_jwks_gen(p->jwks);
    tp_http_set(h, 200, dc);
    for (int i = 0; i < 60 && pol_jwks_gen(p->jwks) == gen; i++)
        usleep(100000);
    CHECK(pol_jwks_gen(p->jwks) != gen);
    ACCEPTED(p, "EdDSA", "url-ed", tp_ed25519);

    /* the server goes away: still the last good set */
    tp_http_stop(h);
    h = NULL;
    CHECK(pol_jwks_refresh_now(p->jwks) != 0);
    ACCEPTED(p, "EdDSA", "url-ed", tp_ed25519);

    uint64_t t0 = cm_now_us();
    pol_set_free(p); /* stops the refresher promptly */
    p = NULL;
    CHECK(cm_now_us() - t0 < 1000000);
out:
    pol_set_free(p);
    tp_http_stop(h);
    free(a);
    free(b);
    free(c);
    free(da);
    free(db);
    free(dc);
}

/* An unreachable identity provider at start is logged, not fatal: JWTs are
 * refused until a fetch succeeds. */
static void test_url_down(void)
{
    tp_http *h = tp_http_start();
    unsigned port = tp_http_port(h);
    char cfg[256];
    tp_http_stop(h);
    snprintf(cfg, sizeof(cfg),
             "{\"auth\":{\"jwt\":{\"jwks\":{\"url\":\"http://127.0.0.1:%u/certs\","
             "\"refresh_s\":3600,\"timeout_s\":1}}}}",
             port);
    pol_set *p = tp_load(cfg);
    CHECK(p != NULL);
    if (p != NULL) {
        REFUSED(p, "RS256", "any", tp_rsa, "unknown_kid");
        char *tok = tp_token("{\"alg\":\"RS256\"}", PAYLOAD, "RS256", tp_rsa, NULL, 0);
        const char *why = NULL;
        CHECK(tp_auth(p, tok, NULL, &why) == CM_EAUTH);
        CHECK_STR_EQ(why, "no_keys");
        free(tok);
    }
    pol_set_free(p);
}

/* Key rotation at the identity provider: an unknown kid asks for an early
 * refresh, at most once per min_refresh_s however many tokens carry it. */
static void test_kick(void)
{
    tp_http *h = tp_http_start();
    char *a = tp_jwk(tp_rsa, "old", "RS256"), *b = tp_jwk(tp_ec256, "new", NULL);
    char *c = tp_jwk(tp_ed25519, "newer", NULL);
    char *d1 = jwks_doc(a, NULL, NULL), *d2 = jwks_doc(a, b, NULL), *d3 = jwks_doc(a, b, c);
    char cfg[320];

    tp_http_set(h, 200, d1);
    snprintf(cfg, sizeof(cfg),
             "{\"auth\":{\"jwt\":{\"jwks\":{\"url\":\"http://127.0.0.1:%u/certs\","
             "\"refresh_s\":3600,\"min_refresh_s\":1}}}}",
             tp_http_port(h));
    pol_set *p = tp_load(cfg);
    CHECK(p != NULL);
    if (p == NULL)
        goto out;
    usleep(1100000);
    tp_http_set(h, 200, d2);
    REFUSED(p, "ES256", "new", tp_ec256, "unknown_kid");
    for (int i = 0; i < 50 && try_tok(p, "ES256", "new", tp_ec256) != NULL; i++)
        usleep(50000);
    ACCEPTED(p, "ES256", "new", tp_ec256);
    ACCEPTED(p, "RS256", "old", tp_rsa);
    /* right after a fetch, unknown kids do not reach the identity provider */
    unsigned before = tp_http_requests(h);
    tp_http_set(h, 200, d3);
    for (int i = 0; i < 20; i++)
        REFUSED(p, "EdDSA", "newer", tp_ed25519, "unknown_kid");
    usleep(200000);
    CHECK(tp_http_requests(h) <= before + 1); /* +1 only if this box stalled for 1 s */
out:
    pol_set_free(p);
    tp_http_stop(h);
    free(a);
    free(b);
    free(c);
    free(d1);
    free(d2);
    free(d3);
}

void test_jwks(void)
{
    test_kick();
    test_parse();
    test_file();
    test_url();
    test_url_down();
}
