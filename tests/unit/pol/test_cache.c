/* The verified-token cache (hits, expiry while cached, tampered tokens never
 * served, bounded size, off switch, concurrent use) and the printed
 * micro-measurement of pol_authenticate for RS256, cold and cached. */
#include "tpol.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jwt.h>

static int64_t fake_time;
static int64_t fake_now(void)
{
    return fake_time;
}

#define CFG(extra)                                                                                 \
    "{\"auth\":{\"jwt\":{\"leeway_s\":60" extra                                                    \
    ",\"keys\":[{\"kid\":\"rs\",\"alg\":\"RS256\",\"pem_file\":\"rsa.pub\"}]}}}"
#define HDR "{\"alg\":\"RS256\",\"kid\":\"rs\"}"

static void test_hits_and_expiry(void)
{
    pol_set *p = tp_load(CFG(""));
    int64_t t0 = (int64_t)time(NULL);
    pol_identity *id = NULL;
    const char *why = NULL;
    char sub1[64], ref1[64];

    CHECK(p != NULL && p->cache != NULL);
    if (p == NULL)
        return;
    p->now = fake_now;
    fake_time = t0;
    char *tok =
        tp_token(HDR, "{\"sub\":\"alice\",\"roles\":[\"a\",\"b\"],\"team\":\"t\",\"exp\":@+100}",
                 "RS256", tp_rsa, NULL, 0);
    CHECK(tp_auth(p, tok, &id, &why) == 0);
    CHECK(pol_cache_hits(p->cache) == 0);
    snprintf(sub1, sizeof(sub1), "%s", id->subject);
    snprintf(ref1, sizeof(ref1), "%s", id->token_ref);
    CHECK(tp_auth(p, tok, &id, &why) == 0 && why == NULL);
    CHECK(pol_cache_hits(p->cache) == 1);
    /* the cached identity is the verified one */
    CHECK_STR_EQ(id->subject, sub1);
    CHECK_STR_EQ(id->token_ref, ref1);
    CHECK_STR_EQ(id->team, "t");
    CHECK_STR_EQ(id->key_id, "rs");
    CHECK_STR_EQ(id->method, "jwt");
    CHECK(id->nroles == 2 && strcmp(id->roles[0], "a") == 0 && strcmp(id->roles[1], "b") == 0);

    /* valid until exp + leeway, then expired even though cached */
    fake_time = t0 + 159;
    CHECK(tp_auth(p, tok, NULL, &why) == 0);
    CHECK(pol_cache_hits(p->cache) == 2);
    fake_time = t0 + 161;
    CHECK(tp_auth(p, tok, NULL, &why) == CM_EAUTH);
    CHECK_STR_EQ(why, "expired");
    CHECK(pol_cache_hits(p->cache) == 2);

    /* a changed token is a different cache key and fails its own checks */
    fake_time = t0;
    CHECK(tp_auth(p, tok, NULL, &why) == 0);
    char *c = strrchr(tok, '.') + 3;
    *c = *c == 'A' ? 'B' : 'A';
    CHECK(tp_auth(p, tok, NULL, &why) == CM_EAUTH);
    CHECK_STR_EQ(why, "bad_signature");
    free(tok);
    pol_set_free(p);
}

static void test_bounded_and_off(void)
{
    pol_set *p = tp_load(CFG(",\"cache_entries\":8"));
    char *toks[50];
    const char *why;

    CHECK(p != NULL);
    if (p == NULL)
        return;
    for (int i = 0; i < 50; i++) {
        char pl[128];
        snprintf(pl, sizeof(pl), "{\"sub\":\"u%d\",\"exp\":@+%d}", i, 600 + i);
        toks[i] = tp_token(HDR, pl, "RS256", tp_rsa, NULL, 0);
        CHECK(tp_auth(p, toks[i], NULL, &why) == 0);
    }
    unsigned long h = pol_cache_hits(p->cache);
    CHECK(tp_auth(p, toks[49], NULL, &why) == 0);
    CHECK(pol_cache_hits(p->cache) == h + 1);
    for (int i = 0; i < 50; i++) /* evicted or not, every token still verifies */
        CHECK(tp_auth(p, toks[i], NULL, &why) == 0);
    CHECK(pol_cache_hits(p->cache) - h <= 9);
    pol_set_free(p);

    p = tp_load(CFG(",\"cache_entries\":0"));
    CHECK(p != NULL && p->cache == NULL);
    if (p != NULL) {
        CHECK(tp_auth(p, toks[0], NULL, &why) == 0);
        CHECK(tp_auth(p, toks[0], NULL, &why) == 0);
    }
    pol_set_free(p);
    for (int i = 0; i < 50; i++)
        free(toks[i]);
}

typedef struct worker {
    const pol_set *p;
    char **toks;
    int ntoks, nok;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 400; i++) {
        cm_arena *a = cm_arena_new(0);
        pol_identity *id;
        const char *why;
        char hdr[2048];
        snprintf(hdr, sizeof(hdr), "Bearer %s", w->toks[i % w->ntoks]);
        if (pol_authenticate(w->p, hdr, a, &id, &why) == 0 && strcmp(id->subject, "alice") == 0)
            w->nok++;
        cm_arena_free(a);
    }
    return NULL;
}

static void test_threads(void)
{
    pol_set *p = tp_load(CFG(",\"cache_entries\":4"));
    char *toks[12];
    pthread_t th[3];
    worker w[3];

    CHECK(p != NULL);
    if (p == NULL)
        return;
    for (int i = 0; i < 12; i++) {
        char pl[128];
        snprintf(pl, sizeof(pl), "{\"sub\":\"alice\",\"jti\":\"j%d\",\"exp\":@+600}", i);
        toks[i] = tp_token(HDR, pl, "RS256", tp_rsa, NULL, 0);
    }
    for (int i = 0; i < 3; i++) {
        w[i] = (worker){p, toks, 12, 0};
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        CHECK(w[i].nok == 400);
    }
    for (int i = 0; i < 12; i++)
        free(toks[i]);
    pol_set_free(p);
}

void test_cache(void)
{
    test_hits_and_expiry();
    test_bounded_and_off();
    test_threads();
}

/* Printed, not asserted: what one RS256 caller pays per request. */
void test_perf(void)
{
    enum { N = 200, ROUNDS = 5 };
    pol_set *p = tp_load(CFG(""));
    char *toks[N], *pem = tp_pub_pem(tp_rsa);
    cm_arena *a = cm_arena_new(0);
    uint64_t t0, cold, warm, lj;
    int nok = 0;

    if (p == NULL)
        return;
    for (int i = 0; i < N; i++) {
        char pl[160];
        snprintf(pl, sizeof(pl),
                 "{\"sub\":\"alice\",\"roles\":[\"analyst\"],\"jti\":\"perf-%d\",\"exp\":@+600}",
                 i);
        toks[i] = tp_token(HDR, pl, "RS256", tp_rsa, NULL, 0);
    }
    t0 = cm_now_us();
    for (int i = 0; i < N; i++) {
        pol_identity *id;
        const char *why;
        char hdr[1024];
        snprintf(hdr, sizeof(hdr), "Bearer %s", toks[i]);
        nok += pol_authenticate(p, hdr, a, &id, &why) == 0;
    }
    cold = cm_now_us() - t0;
    t0 = cm_now_us();
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < N; i++) {
            pol_identity *id;
            const char *why;
            char hdr[1024];
            snprintf(hdr, sizeof(hdr), "Bearer %s", toks[i]);
            nok += pol_authenticate(p, hdr, a, &id, &why) == 0;
        }
    }
    warm = cm_now_us() - t0;
    t0 = cm_now_us();
    for (int i = 0; i < N / 4; i++) {
        jwt_t *j = NULL;
        nok += jwt_decode(&j, toks[i], (const unsigned char *)pem, (int)strlen(pem)) == 0;
        jwt_free(j);
    }
    lj = cm_now_us() - t0;
    CHECK(nok == N + N * ROUNDS + N / 4);
    fprintf(stderr,
            "perf: RS256-2048 pol_authenticate: cold %.1f us, cached %.2f us; "
            "libjwt jwt_decode (PEM each call) %.1f us\n",
            (double)cold / N, (double)warm / (N * ROUNDS), (double)lj / (N / 4));
    for (int i = 0; i < N; i++)
        free(toks[i]);
    free(pem);
    cm_arena_free(a);
    pol_set_free(p);
}
