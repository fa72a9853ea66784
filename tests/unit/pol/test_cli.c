/* certs/make-certs.sh, policy/dev-policy.json and the CLIs together: tokens
 * minted by `gateway token` with the development keys verify under the
 * development config (every dev alg), the client certificate maps to an
 * mTLS identity, and `gateway keys new` prints a usable key once. */
#include "tpol.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

static pol_set *load_dev(void)
{
    json_error_t jerr;
    json_t *root = json_load_file("policy/dev-policy.json", JSON_REJECT_DUPLICATES, &jerr);
    cm_errlist errs = {0};
    pol_set *p = NULL;

    if (root == NULL) {
        fprintf(stderr, "  policy/dev-policy.json: %s\n", jerr.text);
        return NULL;
    }
    if (pol_set_load(json_object_get(root, "auth"), json_object_get(root, "roles"), tp_dir, &p,
                     &errs) != 0) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "  dev config: %s\n", errs.msgs[i]);
    }
    cm_errlist_fini(&errs);
    json_decref(root);
    return p;
}

/* Run `gateway token ...` in tp_dir (so the default --key path works). */
static char *mint(int *rc, ...)
{
    char cwd[1024], *out = NULL;
    const char *argv[24] = {0};
    int argc = 0;
    va_list ap;

    va_start(ap, rc);
    for (const char *s; argc < 23 && (s = va_arg(ap, const char *)) != NULL;)
        argv[argc++] = s;
    va_end(ap);
    if (getcwd(cwd, sizeof(cwd)) == NULL || chdir(tp_dir) != 0)
        abort();
    /* tp_capture takes a NULL-terminated list: pass up to 12 words */
    *rc = tp_capture(pol_cli_token, &out, argv[0], argv[1], argv[2], argv[3], argv[4], argv[5],
                     argv[6], argv[7], argv[8], argv[9], argv[10], argv[11], NULL);
    if (chdir(cwd) != 0)
        abort();
    out[strcspn(out, "\n")] = '\0';
    return out;
}

static json_t *payload_of(const char *tok)
{
    const char *p1 = strchr(tok, '.'), *p2 = p1 ? strchr(p1 + 1, '.') : NULL;
    unsigned char buf[4096];
    size_t len = 0;
    if (p2 == NULL || (size_t)(p2 - p1) > sizeof(buf) ||
        pol_b64url_decode(p1 + 1, (size_t)(p2 - p1 - 1), buf, &len) != 0)
        return NULL;
    return json_loadb((const char *)buf, len, 0, NULL);
}

static void test_token_cli(pol_set *p)
{
    int rc = -1;
    const char *why = NULL;
    pol_identity *id = NULL;

    /* defaults: certs/dev/jwt-rsa.key, RS256, kid dev-rs, iss gateway-dev, aud gateway */
    char *tok = mint(&rc, "token", "--sub", "alice", "--role", "analyst", "--ttl", "10m", NULL);
    CHECK(rc == 0 && strncmp(tok, "eyJ", 3) == 0);
    CHECK(tp_auth(p, tok, &id, &why) == 0);
    if (id != NULL) {
        CHECK_STR_EQ(id->subject, "alice");
        CHECK(id->nroles == 1 && strcmp(id->roles[0], "analyst") == 0);
        CHECK_STR_EQ(id->key_id, "dev-rs");
        CHECK(id->token_ref != NULL && strlen(id->token_ref) == 32); /* the jti */
        CHECK(pol_check(p, id, "chat", "gpt-4o", true, &why) == 0);
        CHECK(pol_check(p, id, "chat", "o1", false, &why) == CM_EDENIED);
        CHECK_STR_EQ(why, "model_not_allowed");
        CHECK(!pol_model_visible(p, id, "gpt-4o-realtime-preview"));
        CHECK(pol_max_tokens(p, id) == 4096);
    }
    json_t *pl = payload_of(tok);
    CHECK(pl != NULL && json_integer_value(json_object_get(pl, "exp")) -
                                json_integer_value(json_object_get(pl, "iat")) ==
                            600);
    CHECK(pl != NULL && strcmp(json_string_value(json_object_get(pl, "iss")), "gateway-dev") == 0);
    json_decref(pl);
    free(tok);

    /* every development key */
    static const struct {
        const char *alg, *kid, *key;
    } k[] = {
        {"ES256", "dev-es", "certs/dev/jwt-ec.key"},
        {"EdDSA", "dev-ed", "certs/dev/jwt-ed25519.key"},
        {"HS256", "dev-hs", "certs/dev/jwt-hs256.secret"},
    };
    for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
        tok = mint(&rc, "token", "--sub", "bob", "--role", "admin", "--alg", k[i].alg, "--kid",
                   k[i].kid, "--key", k[i].key, NULL);
        id = NULL;
        CHECK(rc == 0 && tp_auth(p, tok, &id, &why) == 0);
        CHECK(id != NULL && strcmp(id->key_id, k[i].kid) == 0);
        CHECK(id != NULL && pol_check(p, id, "chat", "o1", false, &why) == 0);
        free(tok);
    }
    tok = mint(&rc, "token", "--sub", "a", "--role", "r", "--role", "s", "--team", "blue", NULL);
    id = NULL;
    CHECK(rc == 0 && tp_auth(p, tok, &id, &why) == 0 && id != NULL && id->nroles == 2 &&
          strcmp(id->team, "blue") == 0);
    free(tok);
    tok = mint(&rc, "token", "--sub", "a", "--role", "r", "--iss", "elsewhere", NULL);
    CHECK(rc == 0 && tp_auth(p, tok, NULL, &why) == CM_EAUTH);
    CHECK_STR_EQ(why, "wrong_issuer");
    free(tok);

    /* usage and key mistakes */
    static const struct {
        const char *a[6];
        int rc;
    } bad[] = {
        {{"--role", "r"}, 2},
        {{"--sub", "a"}, 2},
        {{"--sub", "a", "--role", "r", "--ttl", "0"}, 2},
        {{"--sub", "a", "--role", "r", "--ttl", "31d"}, 2},
        {{"--sub", "a", "--role", "r", "--ttl", "5x"}, 2},
        {{"--sub", "a", "--role", "r", "--alg", "none"}, 2},
        {{"--sub", "a", "--role", "r", "--bogus", "x"}, 2},
        {{"--sub", "a", "--role", "r", "--key", "missing.key"}, 1},
        {{"--sub", "a", "--role", "r", "--key", "certs/dev/jwt-rsa.pub"}, 1},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tok = mint(&rc, "token", bad[i].a[0], bad[i].a[1], bad[i].a[2], bad[i].a[3], bad[i].a[4],
                   bad[i].a[5], NULL);
        CHECK(rc == bad[i].rc && tok[0] == '\0');
        free(tok);
    }
    tok =
        mint(&rc, "token", "--sub", "a", "--role", "r", "--alg", "ES256", "--kid", "dev-es", NULL);
    CHECK(rc == 1); /* the default RSA key for ES256 */
    free(tok);
    tp_write("certs/dev/short.secret", "too-short\n");
    tok = mint(&rc, "token", "--sub", "a", "--role", "r", "--alg", "HS256", "--key",
               "certs/dev/short.secret", NULL);
    CHECK(rc == 1);
    free(tok);
}

static void test_keys_cli(void)
{
    char *out1 = NULL, *out2 = NULL, key[128];
    int rc = tp_capture(pol_cli_keys, &out1, "keys", "new", "--name", "batch-job", "--role",
                        "analyst", "--role", "admin", "--team", "ops", NULL);
    CHECK(rc == 0);
    char *nl = strchr(out1, '\n');
    CHECK(nl != NULL);
    if (nl == NULL)
        goto out;
    snprintf(key, sizeof(key), "%.*s", (int)(nl - out1), out1);
    CHECK(strlen(key) == 3 + POL_APIKEY_CHARS && strncmp(key, "gw_", 3) == 0);
    CHECK(strspn(key + 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") ==
          POL_APIKEY_CHARS);
    json_t *line = json_loads(nl + 1, JSON_DISABLE_EOF_CHECK, NULL);
    CHECK(line != NULL);
    if (line != NULL) {
        unsigned char h[32];
        char hex[65];
        SHA256((const unsigned char *)key, strlen(key), h);
        pol_hex(h, 32, hex);
        CHECK_STR_EQ(json_string_value(json_object_get(line, "id")), "batch-job");
        CHECK_STR_EQ(json_string_value(json_object_get(line, "sha256")), hex);
        CHECK_STR_EQ(json_string_value(json_object_get(line, "team")), "ops");
        CHECK(json_array_size(json_object_get(line, "roles")) == 2);
        CHECK(strstr(nl + 1, key) == NULL); /* the line never holds the key */
        json_decref(line);
    }
    CHECK(tp_capture(pol_cli_keys, &out2, "keys", "new", "--name", "batch-job", "--role", "a",
                     NULL) == 0);
    CHECK(strncmp(out1, out2, 3 + POL_APIKEY_CHARS) != 0);
out:
    free(out1);
    free(out2);
    static const char *const bad[][6] = {
        {"keys", "new", "--name", "has space", "--role", "r"},
        {"keys", "new", "--name", "n", NULL},
        {"keys", "list", NULL},
        {"keys", "new", "--role", "r", NULL},
        {"keys", NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *o = NULL;
        CHECK(tp_capture(pol_cli_keys, &o, bad[i][0], bad[i][1], bad[i][2], bad[i][3], bad[i][4],
                         bad[i][5], NULL) == 2);
        CHECK(o != NULL && o[0] == '\0');
        free(o);
    }
}

static void test_client_cert(pol_set *p)
{
    FILE *f = fopen(tp_path("certs/dev/client.crt"), "r");
    X509 *x = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    BIO *b = BIO_new(BIO_s_mem());
    char dn[512] = "";
    cm_arena *a = cm_arena_new(0);
    pol_identity *id = NULL;
    const char *why = NULL;

    if (f != NULL)
        fclose(f);
    CHECK(x != NULL);
    if (x != NULL) {
        X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253);
        int n = BIO_read(b, dn, sizeof(dn) - 1);
        dn[n > 0 ? n : 0] = '\0';
    }
    CHECK_STR_EQ(dn, "CN=alice,OU=analyst,O=gateway-dev");
    CHECK(pol_identity_from_cert(p, dn, a, &id) == 0);
    if (id != NULL) {
        CHECK_STR_EQ(id->subject, "alice");
        CHECK_STR_EQ(id->team, "gateway-dev");
        CHECK(id->nroles == 1 && strcmp(id->roles[0], "analyst") == 0);
        CHECK(pol_check(p, id, "chat", "claude-3-5-sonnet", false, &why) == 0);
    }
    X509_free(x);
    BIO_free(b);
    cm_arena_free(a);
}

void test_cli(void)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/certs/dev", tp_dir);
    CHECK(tp_sh("certs/make-certs.sh '%s' >/dev/null 2>&1", path) == 0);
    char *before = NULL, *after = NULL;
    size_t n1 = 0, n2 = 0;
    CHECK(cm_file_read(tp_path("certs/dev/jwt-rsa.pub"), 8192, &before, &n1, NULL) == 0);
    /* idempotent: a second run keeps every key */
    CHECK(tp_sh("certs/make-certs.sh '%s' >/dev/null 2>&1", path) == 0);
    CHECK(cm_file_read(tp_path("certs/dev/jwt-rsa.pub"), 8192, &after, &n2, NULL) == 0);
    CHECK(before != NULL && after != NULL && n1 == n2 && memcmp(before, after, n1) == 0);
    free(before);
    free(after);
    CHECK(tp_sh("openssl verify -CAfile '%s/ca.crt' '%s/server.crt' '%s/client.crt' >/dev/null",
                path, path, path) == 0);

    pol_set *p = load_dev();
    CHECK(p != NULL);
    if (p != NULL) {
        test_token_cli(p);
        test_client_cert(p);
    }
    pol_set_free(p);
    test_keys_cli();
}
