/* Config loading: every mistake is refused with its JSON path, HMAC secrets
 * that are empty or shorter than the hash are refused at start (libjwt 1.10
 * would silently skip verification with an empty key), keys must fit their
 * pinned algorithm, unknown keys are errors. */
#include "tpol.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/rsa.h>

typedef struct load_case {
    const char *name;
    const char *cfg;
    const char *expect; /* substring of one error; NULL: must load */
} load_case;

#define JWT(keys) "{\"auth\":{\"jwt\":{\"keys\":[" keys "]}}}"
#define RS_OK     "{\"kid\":\"a\",\"alg\":\"RS256\",\"pem_file\":\"rsa.pub\"}"

static const load_case cases[] = {
    {"minimal RSA", JWT(RS_OK), NULL},
    {"certificate as pem_file", JWT("{\"kid\":\"a\",\"alg\":\"RS256\",\"pem_file\":\"cert.pem\"}"),
     NULL},
    {"PKCS#1 RSA public key", JWT("{\"kid\":\"a\",\"alg\":\"RS256\",\"pem_file\":\"pkcs1.pub\"}"),
     NULL},
    {"auth off and no roles", "{}", NULL},
    {"empty HMAC secret from the environment",
     JWT("{\"kid\":\"h\",\"alg\":\"HS256\",\"secret_env\":\"TP_EMPTY\"}"),
     "auth.jwt.keys[0].secret_env: environment variable TP_EMPTY is not set or empty"},
    {"unset HMAC secret variable",
     JWT("{\"kid\":\"h\",\"alg\":\"HS256\",\"secret_env\":\"TP_NOT_SET_ANYWHERE\"}"),
     "TP_NOT_SET_ANYWHERE is not set or empty"},
    {"empty HMAC secret file",
     JWT("{\"kid\":\"h\",\"alg\":\"HS256\",\"secret_file\":\"empty.secret\"}"),
     "auth.jwt.keys[0]: HMAC secret is 0 bytes; HS256 needs at least 32"},
    {"newline-only HMAC secret file",
     JWT("{\"kid\":\"h\",\"alg\":\"HS256\",\"secret_file\":\"nl.secret\"}"),
     "HMAC secret is 0 bytes"},
    {"31-byte HMAC secret",
     JWT("{\"kid\":\"h\",\"alg\":\"HS256\",\"secret_file\":\"short.secret\"}"),
     "auth.jwt.keys[0]: HMAC secret is 31 bytes; HS256 needs at least 32"},
    {"HS512 with a 48-byte secret",
     JWT(RS_OK ",{\"kid\":\"h\",\"alg\":\"HS512\",\"secret_file\":\"hs48.secret\"}"),
     "auth.jwt.keys[1]: HMAC secret is 48 bytes; HS512 needs at least 64"},
    {"alg none", JWT(RS_OK ",{\"kid\":\"n\",\"alg\":\"none\",\"secret_file\":\"hs32.secret\"}"),
     "auth.jwt.keys[1].alg: \"none\" is not accepted"},
    {"HMAC alg with a PEM", JWT("{\"kid\":\"h\",\"alg\":\"HS256\",\"pem_file\":\"rsa.pub\"}"),
     "auth.jwt.keys[0]: HS256 takes secret_env or secret_file, not pem_file"},
    {"RSA alg with a secret",
     JWT("{\"kid\":\"h\",\"alg\":\"RS256\",\"secret_file\":\"hs32.secret\"}"),
     "auth.jwt.keys[0]: RS256 takes pem_file"},
    {"two sources",
     JWT("{\"kid\":\"h\",\"alg\":\"HS256\",\"secret_file\":\"hs32.secret\","
         "\"secret_env\":\"X\"}"),
     "give exactly one of pem_file, secret_env, secret_file"},
    {"EC key for RS256", JWT("{\"kid\":\"a\",\"alg\":\"RS256\",\"pem_file\":\"ec256.pub\"}"),
     "the key is not an RSA key"},
    {"P-384 key for ES256", JWT("{\"kid\":\"a\",\"alg\":\"ES256\",\"pem_file\":\"ec384.pub\"}"),
     "wrong curve"},
    {"RSA key for EdDSA", JWT("{\"kid\":\"a\",\"alg\":\"EdDSA\",\"pem_file\":\"rsa.pub\"}"),
     "not an Ed25519 or Ed448 key"},
    {"RSA 1024", JWT("{\"kid\":\"a\",\"alg\":\"RS256\",\"pem_file\":\"rsa1024.pub\"}"),
     "shorter than 2048 bits"},
    {"private key as pem_file", JWT("{\"kid\":\"a\",\"alg\":\"RS256\",\"pem_file\":\"rsa.key\"}"),
     "auth.jwt.keys[0].pem_file: " /* then the path */},
    {"private key message", JWT("{\"kid\":\"a\",\"alg\":\"RS256\",\"pem_file\":\"rsa.key\"}"),
     "holds a private key"},
    {"missing pem file", JWT("{\"kid\":\"a\",\"alg\":\"RS256\",\"pem_file\":\"nope.pub\"}"),
     "auth.jwt.keys[0].pem_file:"},
    {"duplicate kid", JWT(RS_OK "," RS_OK), "auth.jwt.keys[1].kid: \"a\" is used twice"},
    {"kid missing", JWT("{\"alg\":\"RS256\",\"pem_file\":\"rsa.pub\"}"),
     "auth.jwt.keys[0].kid: required key is missing"},
    {"unknown key in a key",
     JWT("{\"kid\":\"a\",\"alg\":\"RS256\",\"pem_file\":\"rsa.pub\",\"x\":1}"),
     "auth.jwt.keys[0].x: unknown key"},
    {"unknown key in jwt", "{\"auth\":{\"jwt\":{\"keys\":[" RS_OK "],\"isuer\":\"x\"}}}",
     "auth.jwt.isuer: unknown key"},
    {"unknown key in auth", "{\"auth\":{\"jwt\":{\"keys\":[" RS_OK "]},\"apikeys\":[]}}",
     "auth.apikeys: unknown key"},
    {"no keys and no jwks", "{\"auth\":{\"jwt\":{\"issuer\":\"x\"}}}",
     "auth.jwt: needs keys, jwks, or both"},
    {"empty auth", "{\"auth\":{}}", "auth: configure jwt, api_keys"},
    {"leeway too large", "{\"auth\":{\"jwt\":{\"keys\":[" RS_OK "],\"leeway_s\":601}}}",
     "auth.jwt.leeway_s: 601 is above maximum 600"},
    {"leeway not an integer", "{\"auth\":{\"jwt\":{\"keys\":[" RS_OK "],\"leeway_s\":\"60\"}}}",
     "auth.jwt.leeway_s: expected an integer"},
    {"max_token_bytes too small",
     "{\"auth\":{\"jwt\":{\"keys\":[" RS_OK "],\"max_token_bytes\":10}}}",
     "auth.jwt.max_token_bytes: 10 is below minimum 512"},
    {"audience of wrong type", "{\"auth\":{\"jwt\":{\"keys\":[" RS_OK "],\"audience\":5}}}",
     "auth.jwt.audience: expected a string or an array of strings"},
    {"claims unknown key",
     "{\"auth\":{\"jwt\":{\"keys\":[" RS_OK "],\"claims\":{\"group\":\"g\"}}}}",
     "auth.jwt.claims.group: unknown key"},
    {"jwks file and url",
     "{\"auth\":{\"jwt\":{\"jwks\":{\"file\":\"j.json\",\"url\":\"https://idp/certs\"}}}}",
     "auth.jwt.jwks: give exactly one of file, url"},
    {"jwks plain http", "{\"auth\":{\"jwt\":{\"jwks\":{\"url\":\"http://idp.example/certs\"}}}}",
     "auth.jwt.jwks.url: must be https://"},
    {"jwks file missing", "{\"auth\":{\"jwt\":{\"jwks\":{\"file\":\"none.json\"}}}}",
     "auth.jwt.jwks: "},
    {"jwks default alg",
     "{\"auth\":{\"jwt\":{\"jwks\":{\"file\":\"j.json\",\"default_rsa_alg\":\"ES256\"}}}}",
     "auth.jwt.jwks.default_rsa_alg: expected RS256/384/512 or PS256/384/512"},
    {"roles not an object", "{\"roles\":[]}", "roles: expected an object"},
    {"role unknown endpoint",
     "{\"roles\":{\"a\":{\"models\":[\"x\"],\"endpoints\":[\"completions\"]}}}",
     "roles.a.endpoints[0]: unknown endpoint \"completions\""},
    {"role stream not bool", "{\"roles\":{\"a\":{\"stream\":\"yes\"}}}",
     "roles.a.stream: expected true or false"},
    {"role unknown key", "{\"roles\":{\"a\":{\"model\":[\"x\"]}}}", "roles.a.model: unknown key"},
    {"role max_tokens zero", "{\"roles\":{\"a\":{\"max_tokens\":0}}}",
     "roles.a.max_tokens: 0 is below minimum 1"},
    {"role empty model pattern", "{\"roles\":{\"a\":{\"models\":[\"\"]}}}",
     "roles.a.models[0]: expected a non-empty string"},
    {"api key bad hash",
     "{\"auth\":{\"api_keys\":[{\"id\":\"k\",\"sha256\":\"zz\",\"roles\":[\"a\"]}]},\"roles\":{"
     "\"a\":{}}}",
     "auth.api_keys[0].sha256: length 2 is outside 64..64"},
    {"api key undefined role",
     "{\"auth\":{\"api_keys\":[{\"id\":\"k\",\"sha256\":"
     "\"0000000000000000000000000000000000000000000000000000000000000000\",\"roles\":[\"ghost\"]}]}"
     ","
     "\"roles\":{\"a\":{}}}",
     "auth.api_keys[0].roles[0]: role \"ghost\" is not defined in roles"},
    {"mtls unknown key", "{\"auth\":{\"mtls\":{\"cn\":\"CN\"}}}", "auth.mtls.cn: unknown key"},
};

void test_load(void)
{
    /* material the cases refer to */
    setenv("TP_EMPTY", "", 1);
    tp_write("empty.secret", "");
    tp_write("nl.secret", "\n");
    tp_write("short.secret", "0123456789012345678901234567890\n"); /* 31 + newline */
    tp_write("j.json", "{\"keys\":[]}");
    CHECK(tp_sh("openssl req -x509 -key %s/rsa.key -subj /CN=idp -days 1 -out %s/cert.pem "
                "2>/dev/null",
                tp_dir, tp_dir) == 0);
    CHECK(tp_sh("openssl rsa -pubin -in %s/rsa.pub -RSAPublicKey_out -out %s/pkcs1.pub "
                "2>/dev/null",
                tp_dir, tp_dir) == 0);
    EVP_PKEY *small = EVP_RSA_gen(1024);
    char *pem = tp_pub_pem(small);
    tp_write("rsa1024.pub", pem);
    free(pem);
    EVP_PKEY_free(small);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cm_errlist errs = {0};
        int rc = tp_load_errs(cases[i].cfg, &errs);
        bool is_ok = cases[i].expect == NULL ? rc == 0 && errs.n == 0
                                             : rc != 0 && tp_errs_has(&errs, cases[i].expect);
        CHECK(is_ok);
        if (!is_ok)
            fprintf(stderr, "  load case \"%s\": rc %d, %zu errors\n", cases[i].name, rc, errs.n);
        cm_errlist_fini(&errs);
    }

    /* every mistake of one config is reported, not only the first */
    cm_errlist errs = {0};
    CHECK(tp_load_errs("{\"auth\":{\"jwt\":{\"keys\":["
                       "{\"kid\":\"a\",\"alg\":\"HS256\",\"secret_file\":\"short.secret\"},"
                       "{\"kid\":\"b\",\"alg\":\"none\",\"pem_file\":\"rsa.pub\"}],"
                       "\"leeway_s\":-1}},"
                       "\"roles\":{\"r\":{\"endpoints\":[\"chat\",\"bogus\"]}}}",
                       &errs) == CM_EINVAL);
    CHECK(errs.n == 4);
    CHECK(tp_errs_has(&errs, "roles.r.endpoints[1]"));
    CHECK(tp_errs_has(&errs, "auth.jwt.leeway_s: -1 is below minimum 0"));
    CHECK(tp_errs_has(&errs, "auth.jwt.keys[0]: HMAC secret is 31 bytes"));
    CHECK(tp_errs_has(&errs, "auth.jwt.keys[1].alg"));
    cm_errlist_fini(&errs);

    /* NULL errs is allowed (messages go to the log) */
    json_t *auth = json_loads("{\"jwt\":{\"keys\":[]}}", 0, NULL);
    pol_set *p = NULL;
    CHECK(pol_set_load(auth, NULL, tp_dir, &p, NULL) == CM_EINVAL && p == NULL);
    json_decref(auth);
    unsetenv("TP_EMPTY");
}
