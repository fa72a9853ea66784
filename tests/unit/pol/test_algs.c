/* Every supported algorithm verifies with its pinned key and rejects a
 * changed signature; interop with libjwt (HS/RS/ES, both directions) and the
 * openssl CLI (PS256, EdDSA) shows the signatures are standard JWS. */
#include "tpol.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jwt.h>

static const char *cfg_all =
    "{\"auth\":{\"jwt\":{\"keys\":["
    "{\"kid\":\"hs256\",\"alg\":\"HS256\",\"secret_file\":\"hs32.secret\"},"
    "{\"kid\":\"hs384\",\"alg\":\"HS384\",\"secret_file\":\"hs48.secret\"},"
    "{\"kid\":\"hs512\",\"alg\":\"HS512\",\"secret_file\":\"hs64.secret\"},"
    "{\"kid\":\"hsenv\",\"alg\":\"HS256\",\"secret_env\":\"TP_HS_SECRET\"},"
    "{\"kid\":\"rs256\",\"alg\":\"RS256\",\"pem_file\":\"rsa.pub\"},"
    "{\"kid\":\"rs384\",\"alg\":\"RS384\",\"pem_file\":\"rsa.pub\"},"
    "{\"kid\":\"rs512\",\"alg\":\"RS512\",\"pem_file\":\"rsa.pub\"},"
    "{\"kid\":\"ps256\",\"alg\":\"PS256\",\"pem_file\":\"rsa.pub\"},"
    "{\"kid\":\"ps384\",\"alg\":\"PS384\",\"pem_file\":\"rsa.pub\"},"
    "{\"kid\":\"ps512\",\"alg\":\"PS512\",\"pem_file\":\"rsa.pub\"},"
    "{\"kid\":\"es256\",\"alg\":\"ES256\",\"pem_file\":\"ec256.pub\"},"
    "{\"kid\":\"es384\",\"alg\":\"ES384\",\"pem_file\":\"ec384.pub\"},"
    "{\"kid\":\"es512\",\"alg\":\"ES512\",\"pem_file\":\"ec521.pub\"},"
    "{\"kid\":\"ed25519\",\"alg\":\"EdDSA\",\"pem_file\":\"ed25519.pub\"},"
    "{\"kid\":\"ed448\",\"alg\":\"EdDSA\",\"pem_file\":\"ed448.pub\"}]}}}";

#define PAYLOAD "{\"sub\":\"alice\",\"roles\":[\"analyst\"],\"exp\":@+600}"

void test_algs(void)
{
    static const char env_secret[] = "an-environment-secret-of-40-bytes-------";
    setenv("TP_HS_SECRET", env_secret, 1);
    pol_set *p = tp_load(cfg_all);
    struct {
        const char *kid, *alg;
        EVP_PKEY *priv;
        const char *secret;
    } t[] = {
        {"hs256", "HS256", NULL, tp_hs32},  {"hs384", "HS384", NULL, tp_hs48},
        {"hs512", "HS512", NULL, tp_hs64},  {"hsenv", "HS256", NULL, env_secret},
        {"rs256", "RS256", tp_rsa, NULL},   {"rs384", "RS384", tp_rsa, NULL},
        {"rs512", "RS512", tp_rsa, NULL},   {"ps256", "PS256", tp_rsa, NULL},
        {"ps384", "PS384", tp_rsa, NULL},   {"ps512", "PS512", tp_rsa, NULL},
        {"es256", "ES256", tp_ec256, NULL}, {"es384", "ES384", tp_ec384, NULL},
        {"es512", "ES512", tp_ec521, NULL}, {"ed25519", "EdDSA", tp_ed25519, NULL},
        {"ed448", "EdDSA", tp_ed448, NULL},
    };

    CHECK(p != NULL);
    if (p == NULL)
        return;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char hdr[96];
        const char *why = NULL;
        pol_identity *id = NULL;
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"%s\"}", t[i].alg, t[i].kid);
        char *tok = tp_token(hdr, PAYLOAD, t[i].alg, t[i].priv, t[i].secret,
                             t[i].secret ? strlen(t[i].secret) : 0);
        int rc = tp_auth(p, tok, &id, &why);
        CHECK(rc == 0);
        if (rc != 0)
            fprintf(stderr, "  alg %s (kid %s) refused: %s\n", t[i].alg, t[i].kid, why);
        else {
            CHECK_STR_EQ(id->subject, "alice");
            CHECK_STR_EQ(id->key_id, t[i].kid);
        }
        /* the same token with one signature character changed */
        char *c = strrchr(tok, '.') + 5;
        *c = *c == 'A' ? 'B' : 'A';
        rc = tp_auth(p, tok, NULL, &why);
        CHECK(rc == CM_EAUTH);
        CHECK_STR_EQ(why, "bad_signature");
        free(tok);
    }
    pol_set_free(p);
    unsetenv("TP_HS_SECRET");
}

static char *libjwt_sign(jwt_alg_t alg, const char *kid, const void *key, size_t klen)
{
    jwt_t *j = NULL;
    char *tok;
    jwt_new(&j);
    jwt_add_grant(j, "sub", "alice");
    jwt_add_grant_int(j, "exp", (long)time(NULL) + 600);
    jwt_add_header(j, "kid", kid);
    jwt_set_alg(j, alg, key, (int)klen);
    tok = jwt_encode_str(j);
    jwt_free(j);
    return tok;
}

static char *file_text(const char *name)
{
    char *text = NULL;
    size_t len = 0;
    if (cm_file_read(tp_path(name), 1 << 20, &text, &len, NULL) != 0)
        abort();
    return text;
}

/* Sign "header.payload" with the openssl CLI and return the token. */
static char *cli_sign(const char *hdr, const char *cmd_fmt)
{
    char *h = tp_fill(hdr), *pl = tp_fill(PAYLOAD);
    char *hb = tp_b64(h, strlen(h)), *pb = tp_b64(pl, strlen(pl));
    size_t n = strlen(hb) + strlen(pb) + 2;
    char *input = cm_xmalloc(n), *sig = NULL, *tok = NULL;
    size_t siglen = 0;

    snprintf(input, n, "%s.%s", hb, pb);
    FILE *f = fopen(tp_path("input.txt"), "w");
    fputs(input, f);
    fclose(f);
    if (tp_sh(cmd_fmt, tp_dir, tp_dir, tp_dir) == 0 &&
        cm_file_read(tp_path("sig.bin"), 4096, &sig, &siglen, NULL) == 0) {
        char *sb = tp_b64(sig, siglen);
        tok = cm_xmalloc(n + strlen(sb) + 1);
        snprintf(tok, n + strlen(sb) + 1, "%s.%s", input, sb);
        free(sb);
    }
    free(sig);
    free(h);
    free(pl);
    free(hb);
    free(pb);
    free(input);
    return tok;
}

void test_interop(void)
{
    setenv("TP_HS_SECRET", "an-environment-secret-of-40-bytes-------", 1);
    pol_set *p = tp_load(cfg_all);
    char *rsa_key = file_text("rsa.key"), *ec_key = file_text("ec256.key");
    char *ec384_key = file_text("ec384.key");
    char *rsa_pub = file_text("rsa.pub"), *ec_pub = file_text("ec256.pub");
    struct {
        jwt_alg_t alg;
        const char *kid;
        const char *key;
        size_t klen;
    } in[] = {
        {JWT_ALG_HS256, "hs256", tp_hs32, 32},
        {JWT_ALG_HS512, "hs512", tp_hs64, 64},
        {JWT_ALG_RS256, "rs256", rsa_key, strlen(rsa_key)},
        {JWT_ALG_RS512, "rs512", rsa_key, strlen(rsa_key)},
        {JWT_ALG_ES256, "es256", ec_key, strlen(ec_key)},
        {JWT_ALG_ES384, "es384", ec384_key, strlen(ec384_key)},
    };

    CHECK(p != NULL);
    if (p == NULL)
        return;
    /* libjwt signs, we verify */
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        char *tok = libjwt_sign(in[i].alg, in[i].kid, in[i].key, in[i].klen);
        const char *why = NULL;
        CHECK(tok != NULL);
        if (tok == NULL)
            continue;
        CHECK(tp_auth(p, tok, NULL, &why) == 0);
        if (why != NULL)
            fprintf(stderr, "  libjwt %s token refused: %s\n", in[i].kid, why);
        free(tok);
    }
    /* we sign, libjwt verifies */
    struct {
        const char *alg;
        EVP_PKEY *priv;
        const char *secret, *vkey;
    } out[] = {
        {"HS256", NULL, tp_hs32, tp_hs32},
        {"RS256", tp_rsa, NULL, rsa_pub},
        {"ES256", tp_ec256, NULL, ec_pub},
    };
    for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
        char hdr[64];
        jwt_t *j = NULL;
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", out[i].alg);
        char *tok = tp_token(hdr, PAYLOAD, out[i].alg, out[i].priv, out[i].secret,
                             out[i].secret ? strlen(out[i].secret) : 0);
        CHECK(jwt_decode(&j, tok, (const unsigned char *)out[i].vkey, (int)strlen(out[i].vkey)) ==
              0);
        CHECK(j != NULL && jwt_get_grant(j, "sub") != NULL &&
              strcmp(jwt_get_grant(j, "sub"), "alice") == 0);
        jwt_free(j);
        free(tok);
    }
    /* the openssl CLI signs PS256 and EdDSA, we verify */
    char *tok = cli_sign("{\"alg\":\"PS256\",\"kid\":\"ps256\"}",
                         "openssl dgst -sha256 -sign %s/rsa.key -sigopt rsa_padding_mode:pss "
                         "-sigopt rsa_pss_saltlen:digest -out %s/sig.bin %s/input.txt");
    const char *why = NULL;
    CHECK(tok != NULL && tp_auth(p, tok, NULL, &why) == 0);
    free(tok);
    tok = cli_sign("{\"alg\":\"EdDSA\",\"kid\":\"ed25519\"}",
                   "openssl pkeyutl -sign -rawin -inkey %s/ed25519.key -out %s/sig.bin "
                   "-in %s/input.txt");
    CHECK(tok != NULL && tp_auth(p, tok, NULL, &why) == 0);
    free(tok);
    /* and verifies our PS256 */
    tok = tp_token("{\"alg\":\"PS256\",\"kid\":\"ps256\"}", PAYLOAD, "PS256", tp_rsa, NULL, 0);
    char *dot = strrchr(tok, '.');
    unsigned char sig[512];
    size_t siglen = 0;
    CHECK(pol_b64url_decode(dot + 1, strlen(dot + 1), sig, &siglen) == 0);
    *dot = '\0';
    tp_write("input.txt", tok);
    FILE *f = fopen(tp_path("sig.bin"), "wb");
    fwrite(sig, 1, siglen, f);
    fclose(f);
    CHECK(tp_sh("openssl dgst -sha256 -verify %s/rsa.pub -sigopt rsa_padding_mode:pss "
                "-sigopt rsa_pss_saltlen:digest -signature %s/sig.bin %s/input.txt",
                tp_dir, tp_dir, tp_dir) == 0);
    free(tok);

    free(rsa_key);
    free(ec_key);
    free(ec384_key);
    free(rsa_pub);
    free(ec_pub);
    pol_set_free(p);
    unsetenv("TP_HS_SECRET");
}
