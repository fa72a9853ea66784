/* Claims to identity: configurable and nested claim paths (Keycloak's
 * realm_access.roles, groups, a scope string, a namespaced claim with dots),
 * the team, token_ref from jti or the token hash; and mTLS subjects mapped
 * per auth.mtls. */
#include "tpol.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#define HDR  "{\"alg\":\"RS256\",\"kid\":\"rs\"}"
#define KEYS "\"keys\":[{\"kid\":\"rs\",\"alg\":\"RS256\",\"pem_file\":\"rsa.pub\"}]"

static bool has_role(const pol_identity *id, const char *r)
{
    for (size_t i = 0; i < id->nroles; i++)
        if (strcmp(id->roles[i], r) == 0)
            return true;
    return false;
}

static void test_paths(void)
{
    pol_set *p = tp_load("{\"auth\":{\"jwt\":{" KEYS ",\"claims\":{"
                         "\"subject\":\"preferred_username\","
                         "\"roles\":[\"realm_access.roles\",\"groups\",\"scope\","
                         "\"https://example.com/roles\"],\"team\":\"org.team\"}}}}");
    pol_identity *id = NULL;
    const char *why = NULL;

    CHECK(p != NULL);
    if (p == NULL)
        return;
    char *tok = tp_token(HDR,
                         "{\"sub\":\"f81d4fae\",\"preferred_username\":\"bob\","
                         "\"realm_access\":{\"roles\":[\"analyst\",\"offline_access\"]},"
                         "\"groups\":[\"/admins\",\"analyst\"],\"scope\":\"openid  chat:write\","
                         "\"https://example.com/roles\":[\"ns-role\"],"
                         "\"org\":{\"team\":\"blue\"},\"jti\":\"abc-123\",\"exp\":@+600}",
                         "RS256", tp_rsa, NULL, 0);
    CHECK(tp_auth(p, tok, &id, &why) == 0);
    if (id != NULL) {
        CHECK_STR_EQ(id->subject, "bob");
        CHECK_STR_EQ(id->team, "blue");
        CHECK_STR_EQ(id->token_ref, "abc-123");
        CHECK(id->nroles == 6); /* "analyst" once */
        CHECK(has_role(id, "analyst") && has_role(id, "offline_access") &&
              has_role(id, "/admins") && has_role(id, "openid") && has_role(id, "chat:write") &&
              has_role(id, "ns-role"));
    }
    free(tok);

    /* absent role claims: a valid caller with no roles (authorization denies later) */
    tok =
        tp_token(HDR, "{\"preferred_username\":\"carol\",\"exp\":@+600}", "RS256", tp_rsa, NULL, 0);
    id = NULL;
    CHECK(tp_auth(p, tok, &id, &why) == 0 && id != NULL && id->nroles == 0 && id->team == NULL);
    free(tok);

    /* wrong shapes are refused, not guessed at */
    static const char *const bad[] = {
        "{\"preferred_username\":\"bob\",\"realm_access\":{\"roles\":{\"a\":1}},\"exp\":@+600}",
        "{\"preferred_username\":\"bob\",\"groups\":7,\"exp\":@+600}",
        "{\"preferred_username\":\"bob\",\"groups\":[\"ok\",null],\"exp\":@+600}",
        "{\"preferred_username\":\"bob\",\"org\":{\"team\":5},\"exp\":@+600}",
        "{\"preferred_username\":[\"bob\"],\"exp\":@+600}",
        "{\"preferred_username\":\"\",\"exp\":@+600}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tok = tp_token(HDR, bad[i], "RS256", tp_rsa, NULL, 0);
        CHECK(tp_auth(p, tok, NULL, &why) == CM_EAUTH);
        CHECK_STR_EQ(why, "bad_claim_type");
        free(tok);
    }
    /* the subject claim is required */
    tok = tp_token(HDR, "{\"sub\":\"x\",\"exp\":@+600}", "RS256", tp_rsa, NULL, 0);
    CHECK(tp_auth(p, tok, NULL, &why) == CM_EAUTH);
    CHECK_STR_EQ(why, "missing_claim");
    free(tok);
    pol_set_free(p);

    /* defaults: sub, roles, team; no jti -> 16 hex of SHA-256(token) */
    p = tp_load("{\"auth\":{\"jwt\":{" KEYS "}}}");
    CHECK(p != NULL);
    if (p == NULL)
        return;
    tok = tp_token(HDR, "{\"sub\":\"dave\",\"roles\":\"a b\",\"team\":\"red\",\"exp\":@+600}",
                   "RS256", tp_rsa, NULL, 0);
    id = NULL;
    CHECK(tp_auth(p, tok, &id, &why) == 0);
    if (id != NULL) {
        unsigned char h[32];
        char ref[17];
        SHA256((const unsigned char *)tok, strlen(tok), h);
        pol_hex(h, 8, ref);
        CHECK_STR_EQ(id->subject, "dave");
        CHECK_STR_EQ(id->team, "red");
        CHECK(id->nroles == 2 && has_role(id, "a") && has_role(id, "b"));
        CHECK_STR_EQ(id->token_ref, ref);
        CHECK(strstr(tok, id->token_ref) == NULL);
    }
    free(tok);
    pol_set_free(p);

    /* pol_claim_get: literal keys first, then dotted walks */
    json_t *j = json_loads("{\"a\":{\"b\":{\"c\":1}},\"a.b\":2,\"x\":{\"y\":3}}", 0, NULL);
    CHECK(json_integer_value(pol_claim_get(j, "a.b")) == 2);
    CHECK(json_integer_value(pol_claim_get(j, "a.b.c")) == 1);
    CHECK(json_integer_value(pol_claim_get(j, "x.y")) == 3);
    CHECK(pol_claim_get(j, "x.y.z") == NULL);
    CHECK(pol_claim_get(j, "x..y") == NULL);
    CHECK(pol_claim_get(j, "nope") == NULL);
    json_decref(j);
}

void test_claims(void)
{
    test_paths();
}

void test_mtls(void)
{
    pol_set *p = tp_load("{\"auth\":{\"mtls\":{\"subject\":\"CN\",\"roles\":\"OU\",\"team\":\"O\","
                         "\"default_roles\":[\"mtls\"]}},"
                         "\"roles\":{\"analyst\":{},\"mtls\":{}}}");
    static const struct {
        const char *dn;
        const char *subject, *team, *roles; /* roles: comma-joined; NULL subject = refused */
    } t[] = {
        {"CN=alice,OU=analyst,O=gateway-dev", "alice", "gateway-dev", "analyst,mtls"},
        {"/O=gateway-dev/OU=analyst/CN=alice", "alice", "gateway-dev", "analyst,mtls"},
        {"cn=alice,ou=analyst,ou=ops", "alice", NULL, "analyst,ops,mtls"},
        {"CN=Doe\\, John,OU=analyst", "Doe, John", NULL, "analyst,mtls"},
        {"CN=caf\\C3\\A9+OU=analyst", "caf\xc3\xa9", NULL, "analyst,mtls"},
        {"OU=analyst,CN=svc", "svc", NULL, "analyst,mtls"},
        {"CN=bob", "bob", NULL, "mtls"},
        {"CN=alice,CN=admin", NULL, NULL, NULL}, /* ambiguous subject */
        {"O=a,O=b,CN=x", NULL, NULL, NULL},      /* ambiguous team */
        {"OU=analyst", NULL, NULL, NULL},        /* no subject */
        {"", NULL, NULL, NULL},
        {"CN=", NULL, NULL, NULL},
        {"CN=#04024869", NULL, NULL, NULL}, /* BER hex value */
        {"CN=a\\01b", NULL, NULL, NULL},    /* control byte */
        {"CN=a\\00b", NULL, NULL, NULL},    /* NUL */
        {"CN", NULL, NULL, NULL},
        {"CN=alice\\", NULL, NULL, NULL},
    };
    cm_arena *a = cm_arena_new(0);

    CHECK(p != NULL);
    if (p == NULL)
        return;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        pol_identity *id = NULL;
        int rc = pol_identity_from_cert(p, t[i].dn, a, &id);
        if (t[i].subject == NULL) {
            CHECK(rc == CM_EAUTH);
            if (rc != CM_EAUTH)
                fprintf(stderr, "  mtls DN \"%s\" accepted\n", t[i].dn);
            continue;
        }
        CHECK(rc == 0 && id != NULL);
        if (rc != 0 || id == NULL) {
            fprintf(stderr, "  mtls DN \"%s\" refused\n", t[i].dn);
            continue;
        }
        char joined[256] = "";
        for (size_t r = 0; r < id->nroles; r++)
            snprintf(joined + strlen(joined), sizeof(joined) - strlen(joined), "%s%s", r ? "," : "",
                     id->roles[r]);
        CHECK_STR_EQ(id->subject, t[i].subject);
        CHECK(t[i].team == NULL ? id->team == NULL : id->team && !strcmp(id->team, t[i].team));
        CHECK_STR_EQ(joined, t[i].roles);
        CHECK_STR_EQ(id->method, "mtls");
        CHECK(id->token_ref != NULL && strlen(id->token_ref) == 16);
    }
    pol_set_free(p);

    /* without auth.mtls no certificate identity exists */
    p = tp_load("{\"auth\":{\"jwt\":{" KEYS "}}}");
    pol_identity *id = NULL;
    CHECK(p != NULL && pol_identity_from_cert(p, "CN=alice", a, &id) == CM_EAUTH);
    pol_set_free(p);
    cm_arena_free(a);
}
