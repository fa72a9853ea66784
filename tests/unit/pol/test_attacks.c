/* The JWT attack table of issue 3, as data: each row builds one token (header
 * and payload templates, a signing key, an optional mutation) and names the
 * reason pol_authenticate must give, or NULL when it must be accepted. */
#include "tpol.h"

#include <stdlib.h>
#include <string.h>

enum { K_NONE, K_RS, K_ES, K_HS, K_ED, K_RS_PEM, K_ES_PEM, K_EVIL_RS, K_EVIL_HS, K_EMPTY_HS };
enum {
    M_NONE,
    M_FLIP_SIG,   /* change one signature character */
    M_TRUNC_SIG,  /* drop the last 2 signature bytes */
    M_EMPTY_SIG,  /* drop the signature */
    M_SIG_PAD,    /* "==" after the signature */
    M_TAMPER_HDR, /* after signing, add a header member */
    M_TAMPER_PL,  /* after signing, sub alice -> admin */
    M_RAW_HDR,    /* hdr is the raw first segment (signed) */
    M_RAW_PL,     /* payload is the raw second segment (signed) */
    M_PAD_PL,     /* "=" after the payload segment (signed) */
    M_APPEND_SEG, /* a fourth segment */
    M_LITERAL     /* payload is the whole token */
};

typedef struct attack {
    const char *name;
    int cfg; /* 0: five pinned keys + iss/aud/required; 1: a single RS256 key */
    const char *hdr, *payload;
    const char *alg; /* signing algorithm; NULL = no signature */
    int key, mut;
    const char *why; /* NULL = accepted */
} attack;

#define ISS         "\"iss\":\"https://idp.test\""
#define AUD         "\"aud\":\"gateway\""
#define SUB         "\"sub\":\"alice\""
#define EMAIL       "\"email\":\"alice@example.com\""
#define ROLES       "\"roles\":[\"analyst\"]"
#define EXP         "\"exp\":@+3600"
#define C_OK        ISS "," AUD "," SUB "," EMAIL "," ROLES "," EXP
#define P_OK        "{" C_OK "}"
#define H(alg, kid) "{\"alg\":\"" alg "\",\"kid\":\"" kid "\",\"typ\":\"JWT\"}"
#define H_RS        H("RS256", "rs")
#define H_ES        H("ES256", "es")
#define H_HS        H("HS256", "hs")

static const attack table[] = {
    /* controls: the same keys accept honest tokens */
    {"control RS256", 0, H_RS, P_OK, "RS256", K_RS, M_NONE, NULL},
    {"control ES256", 0, H_ES, P_OK, "ES256", K_ES, M_NONE, NULL},
    {"control HS256", 0, H_HS, P_OK, "HS256", K_HS, M_NONE, NULL},
    {"control PS256", 0, H("PS256", "ps"), P_OK, "PS256", K_RS, M_NONE, NULL},
    {"control EdDSA", 0, H("EdDSA", "ed"), P_OK, "EdDSA", K_ED, M_NONE, NULL},
    {"exp passed but within leeway", 0, H_RS, "{" ISS "," AUD "," SUB "," EMAIL ",\"exp\":@-30}",
     "RS256", K_RS, M_NONE, NULL},
    {"nbf ahead but within leeway", 0, H_RS, "{" C_OK ",\"nbf\":@+30}", "RS256", K_RS, M_NONE,
     NULL},
    {"aud array holding one of ours", 0, H_RS,
     "{" ISS "," SUB "," EMAIL "," EXP ",\"aud\":[\"other\",\"gw-alt\"]}", "RS256", K_RS, M_NONE,
     NULL},
    {"typ at+jwt (RFC 9068)", 0, "{\"alg\":\"RS256\",\"kid\":\"rs\",\"typ\":\"at+jwt\"}", P_OK,
     "RS256", K_RS, M_NONE, NULL},
    {"single key, no kid", 1, "{\"alg\":\"RS256\"}", P_OK, "RS256", K_RS, M_NONE, NULL},

    /* alg none, any case, with or without a signature */
    {"alg none", 0, "{\"alg\":\"none\"}", P_OK, NULL, K_NONE, M_NONE, "alg_none"},
    {"alg none with kid", 0, "{\"alg\":\"none\",\"kid\":\"rs\"}", P_OK, NULL, K_NONE, M_NONE,
     "alg_none"},
    {"alg None", 0, "{\"alg\":\"None\",\"kid\":\"hs\"}", P_OK, NULL, K_NONE, M_NONE, "alg_none"},
    {"alg NONE", 0, "{\"alg\":\"NONE\"}", P_OK, NULL, K_NONE, M_NONE, "alg_none"},
    {"alg nOnE with a real signature", 0, "{\"alg\":\"nOnE\",\"kid\":\"rs\"}", P_OK, "RS256", K_RS,
     M_NONE, "alg_none"},
    {"alg none, single key", 1, "{\"alg\":\"none\"}", P_OK, NULL, K_NONE, M_NONE, "alg_none"},

    /* key confusion: HMAC keyed with the public key text, and other cross-family tries */
    {"HS256 keyed with the RSA public PEM", 0, H("HS256", "rs"), P_OK, "HS256", K_RS_PEM, M_NONE,
     "alg_mismatch"},
    {"HS384 keyed with the RSA public PEM", 0, H("HS384", "rs"), P_OK, "HS384", K_RS_PEM, M_NONE,
     "alg_mismatch"},
    {"HS256 keyed with the EC public PEM", 0, H("HS256", "es"), P_OK, "HS256", K_ES_PEM, M_NONE,
     "alg_mismatch"},
    {"HS256 keyed with the PEM, single key, no kid", 1, "{\"alg\":\"HS256\"}", P_OK, "HS256",
     K_RS_PEM, M_NONE, "alg_mismatch"},
    {"RS256 against the HMAC key", 0, H("RS256", "hs"), P_OK, "RS256", K_EVIL_RS, M_NONE,
     "alg_mismatch"},
    {"ES256 against the RSA key", 0, H("ES256", "rs"), P_OK, "ES256", K_ES, M_NONE, "alg_mismatch"},
    {"PS256 by the real key pinned to RS256", 0, H("PS256", "rs"), P_OK, "PS256", K_RS, M_NONE,
     "alg_mismatch"},
    {"RS256 by the real key pinned to PS256", 0, H("RS256", "ps"), P_OK, "RS256", K_RS, M_NONE,
     "alg_mismatch"},
    {"HS256 with an empty secret", 0, H_HS, P_OK, "HS256", K_EMPTY_HS, M_NONE, "bad_signature"},
    {"HS256 with another secret", 0, H_HS, P_OK, "HS256", K_EVIL_HS, M_NONE, "bad_signature"},

    /* kid */
    {"unknown kid", 0, H("RS256", "nope"), P_OK, "RS256", K_RS, M_NONE, "unknown_kid"},
    {"missing kid, several keys", 0, "{\"alg\":\"RS256\"}", P_OK, "RS256", K_RS, M_NONE,
     "missing_kid"},
    {"kid not a string", 0, "{\"alg\":\"RS256\",\"kid\":5}", P_OK, "RS256", K_RS, M_NONE,
     "malformed"},

    /* tampering and bad signatures */
    {"tampered payload RS256", 0, H_RS, P_OK, "RS256", K_RS, M_TAMPER_PL, "bad_signature"},
    {"tampered payload ES256", 0, H_ES, P_OK, "ES256", K_ES, M_TAMPER_PL, "bad_signature"},
    {"tampered payload HS256", 0, H_HS, P_OK, "HS256", K_HS, M_TAMPER_PL, "bad_signature"},
    {"tampered payload EdDSA", 0, H("EdDSA", "ed"), P_OK, "EdDSA", K_ED, M_TAMPER_PL,
     "bad_signature"},
    {"tampered header RS256", 0, H_RS, P_OK, "RS256", K_RS, M_TAMPER_HDR, "bad_signature"},
    {"tampered header HS256", 0, H_HS, P_OK, "HS256", K_HS, M_TAMPER_HDR, "bad_signature"},
    {"flipped signature RS256", 0, H_RS, P_OK, "RS256", K_RS, M_FLIP_SIG, "bad_signature"},
    {"flipped signature ES256", 0, H_ES, P_OK, "ES256", K_ES, M_FLIP_SIG, "bad_signature"},
    {"flipped signature PS256", 0, H("PS256", "ps"), P_OK, "PS256", K_RS, M_FLIP_SIG,
     "bad_signature"},
    {"flipped signature EdDSA", 0, H("EdDSA", "ed"), P_OK, "EdDSA", K_ED, M_FLIP_SIG,
     "bad_signature"},
    {"flipped signature HS256", 0, H_HS, P_OK, "HS256", K_HS, M_FLIP_SIG, "bad_signature"},
    {"truncated ES256 signature", 0, H_ES, P_OK, "ES256", K_ES, M_TRUNC_SIG, "bad_signature"},
    {"signed by another RSA key", 0, H_RS, P_OK, "RS256", K_EVIL_RS, M_NONE, "bad_signature"},
    {"jku header pointing elsewhere", 0,
     "{\"alg\":\"RS256\",\"kid\":\"rs\",\"jku\":\"https://evil.example/jwks\"}", P_OK, "RS256",
     K_EVIL_RS, M_NONE, "bad_signature"},
    {"empty signature", 0, H_RS, P_OK, "RS256", K_RS, M_EMPTY_SIG, "malformed"},

    /* time */
    {"exp passed beyond leeway", 0, H_RS, "{" ISS "," AUD "," SUB "," EMAIL ",\"exp\":@-120}",
     "RS256", K_RS, M_NONE, "expired"},
    {"exp missing", 0, H_RS, "{" ISS "," AUD "," SUB "," EMAIL "}", "RS256", K_RS, M_NONE,
     "missing_claim"},
    {"exp a string", 0, H_RS, "{" ISS "," AUD "," SUB "," EMAIL ",\"exp\":\"tomorrow\"}", "RS256",
     K_RS, M_NONE, "bad_claim_type"},
    {"nbf beyond leeway", 0, H_RS, "{" C_OK ",\"nbf\":@+120}", "RS256", K_RS, M_NONE,
     "not_yet_valid"},
    {"nbf a string", 0, H_RS, "{" C_OK ",\"nbf\":\"now\"}", "RS256", K_RS, M_NONE,
     "bad_claim_type"},
    {"iat in the future", 0, H_RS, "{" C_OK ",\"iat\":@+3600}", "RS256", K_RS, M_NONE,
     "iat_in_future"},

    /* issuer and audience */
    {"wrong iss", 0, H_RS, "{\"iss\":\"https://evil.test\"," AUD "," SUB "," EMAIL "," EXP "}",
     "RS256", K_RS, M_NONE, "wrong_issuer"},
    {"iss missing", 0, H_RS, "{" AUD "," SUB "," EMAIL "," EXP "}", "RS256", K_RS, M_NONE,
     "missing_claim"},
    {"iss not a string", 0, H_RS, "{\"iss\":1," AUD "," SUB "," EMAIL "," EXP "}", "RS256", K_RS,
     M_NONE, "bad_claim_type"},
    {"wrong aud", 0, H_RS, "{" ISS ",\"aud\":\"other\"," SUB "," EMAIL "," EXP "}", "RS256", K_RS,
     M_NONE, "wrong_audience"},
    {"aud array without ours", 0, H_RS, "{" ISS ",\"aud\":[\"a\",\"b\"]," SUB "," EMAIL "," EXP "}",
     "RS256", K_RS, M_NONE, "wrong_audience"},
    {"aud empty array", 0, H_RS, "{" ISS ",\"aud\":[]," SUB "," EMAIL "," EXP "}", "RS256", K_RS,
     M_NONE, "wrong_audience"},
    {"aud missing", 0, H_RS, "{" ISS "," SUB "," EMAIL "," EXP "}", "RS256", K_RS, M_NONE,
     "missing_claim"},
    {"aud array with a number", 0, H_RS,
     "{" ISS ",\"aud\":[\"gateway\",1]," SUB "," EMAIL "," EXP "}", "RS256", K_RS, M_NONE,
     "bad_claim_type"},

    /* required claims and types */
    {"required email missing", 0, H_RS, "{" ISS "," AUD "," SUB "," EXP "}", "RS256", K_RS, M_NONE,
     "missing_claim"},
    {"required email null", 0, H_RS, "{" ISS "," AUD "," SUB ",\"email\":null," EXP "}", "RS256",
     K_RS, M_NONE, "missing_claim"},
    {"sub missing", 0, H_RS, "{" ISS "," AUD "," EMAIL "," EXP "}", "RS256", K_RS, M_NONE,
     "missing_claim"},
    {"sub a number", 0, H_RS, "{" ISS "," AUD ",\"sub\":7," EMAIL "," EXP "}", "RS256", K_RS,
     M_NONE, "bad_claim_type"},
    {"sub with a control byte", 0, H_RS,
     "{" ISS "," AUD ",\"sub\":\"ali\\u0001ce\"," EMAIL "," EXP "}", "RS256", K_RS, M_NONE,
     "bad_claim_type"},
    /* jansson refuses \u0000 unless JSON_ALLOW_NUL, which we never pass */
    {"sub with a NUL", 0, H_RS, "{" ISS "," AUD ",\"sub\":\"alice\\u0000admin\"," EMAIL "," EXP "}",
     "RS256", K_RS, M_NONE, "malformed"},
    {"roles with a number", 0, H_RS, "{" ISS "," AUD "," SUB "," EMAIL "," EXP ",\"roles\":[1]}",
     "RS256", K_RS, M_NONE, "bad_claim_type"},
    {"jti not a string", 0, H_RS, "{" C_OK ",\"jti\":42}", "RS256", K_RS, M_NONE, "bad_claim_type"},

    /* duplicates */
    {"duplicate sub", 0, H_RS, "{" C_OK ",\"sub\":\"admin\"}", "RS256", K_RS, M_NONE,
     "duplicate_claim"},
    {"duplicate exp", 0, H_RS, "{" C_OK ",\"exp\":@+999999}", "RS256", K_RS, M_NONE,
     "duplicate_claim"},
    {"duplicate alg in header", 0, "{\"alg\":\"RS256\",\"kid\":\"rs\",\"alg\":\"none\"}", P_OK,
     "RS256", K_RS, M_NONE, "duplicate_header"},

    /* header parameters */
    {"crit header", 0, "{\"alg\":\"RS256\",\"kid\":\"rs\",\"crit\":[\"exp\"],\"exp\":1}", P_OK,
     "RS256", K_RS, M_NONE, "unsupported_header"},
    {"cty (nested JWT)", 0, "{\"alg\":\"RS256\",\"kid\":\"rs\",\"cty\":\"JWT\"}", P_OK, "RS256",
     K_RS, M_NONE, "unsupported_header"},
    {"typ logout+jwt", 0, "{\"alg\":\"RS256\",\"kid\":\"rs\",\"typ\":\"logout+jwt\"}", P_OK,
     "RS256", K_RS, M_NONE, "unsupported_header"},
    {"alg lowercase rs256", 0, "{\"alg\":\"rs256\",\"kid\":\"rs\"}", P_OK, "RS256", K_RS, M_NONE,
     "unsupported_alg"},
    {"alg HS1", 0, "{\"alg\":\"HS1\",\"kid\":\"hs\"}", P_OK, "HS256", K_HS, M_NONE,
     "unsupported_alg"},
    {"alg missing", 0, "{\"kid\":\"rs\"}", P_OK, "RS256", K_RS, M_NONE, "malformed"},
    {"alg not a string", 0, "{\"alg\":[\"RS256\"],\"kid\":\"rs\"}", P_OK, "RS256", K_RS, M_NONE,
     "malformed"},

    /* size */
    {"token over max_token_bytes", 0, H_RS, "{" C_OK ",\"pad\":\"@BIG\"}", "RS256", K_RS, M_NONE,
     "token_too_large"},

    /* malformed base64 and JSON */
    {"one segment", 0, "", "abc", NULL, K_NONE, M_LITERAL, "malformed"},
    {"two segments", 0, "", "eyJhbGciOiJSUzI1NiJ9.e30", NULL, K_NONE, M_LITERAL, "malformed"},
    {"five segments (JWE)", 0, "", "a.b.c.d.e", NULL, K_NONE, M_LITERAL, "malformed"},
    {"four segments", 0, H_RS, P_OK, "RS256", K_RS, M_APPEND_SEG, "malformed"},
    {"space inside", 0, "", "eyJh bGci.e30.abc", NULL, K_NONE, M_LITERAL, "malformed"},
    {"header with a bad base64 byte", 0, "eyJhbGciOiJSUzI1NiJ*", P_OK, "RS256", K_RS, M_RAW_HDR,
     "malformed"},
    {"header not JSON", 0, "bm90IGpzb24", P_OK, "RS256", K_RS, M_RAW_HDR, "malformed"},
    {"header a JSON array", 0, "WzFd", P_OK, "RS256", K_RS, M_RAW_HDR, "malformed"},
    {"payload with base64 padding (signed)", 0, H_RS, P_OK, "RS256", K_RS, M_PAD_PL, "malformed"},
    {"payload with a bad base64 byte (signed)", 0, H_RS, "eyJzdWIiOiJhIn0!", "RS256", K_RS,
     M_RAW_PL, "malformed"},
    {"payload not JSON (signed)", 0, H_RS, "bm90IGpzb24", "RS256", K_RS, M_RAW_PL, "malformed"},
    {"payload a JSON array (signed)", 0, H_RS, "WzFd", "RS256", K_RS, M_RAW_PL, "malformed"},
    {"payload canonical base64 of {} (signed)", 0, H_RS, "e30", "RS256", K_RS, M_RAW_PL,
     "missing_claim"},
    {"payload non-canonical base64 of {} (signed)", 0, H_RS, "e31", "RS256", K_RS, M_RAW_PL,
     "malformed"},
    {"signature with padding", 0, H_RS, P_OK, "RS256", K_RS, M_SIG_PAD, "malformed"},
};

static char *replace_once(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    size_t n = strlen(s) - strlen(from) + strlen(to) + 1;
    char *out = cm_xmalloc(n);
    if (at == NULL) {
        fprintf(stderr, "replace_once: \"%s\" not found\n", from);
        abort();
    }
    snprintf(out, n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
    return out;
}

static char *cat3(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 3;
    char *out = cm_xmalloc(n);
    snprintf(out, n, "%s.%s.%s", a, b, c);
    return out;
}

static char *build(const attack *r)
{
    char *h = tp_fill(r->hdr), *pl = tp_fill(r->payload), *hs, *ps, *ss, *tok, *t;
    EVP_PKEY *priv = NULL;
    const char *secret = NULL;
    char *pem = NULL;
    unsigned char *sig = NULL;
    size_t siglen = 0;

    if (r->mut == M_LITERAL) {
        free(h);
        return pl;
    }
    hs = r->mut == M_RAW_HDR ? cm_xstrdup(h) : tp_b64(h, strlen(h));
    ps = r->mut == M_RAW_PL ? cm_xstrdup(pl) : tp_b64(pl, strlen(pl));
    if (r->mut == M_PAD_PL) {
        size_t n = strlen(ps);
        ps = cm_xrealloc(ps, n + 2);
        memcpy(ps + n, "=", 2);
    }
    switch (r->key) {
    case K_RS:
        priv = tp_rsa;
        break;
    case K_EVIL_RS:
        priv = tp_rsa2;
        break;
    case K_ES:
        priv = tp_ec256;
        break;
    case K_ED:
        priv = tp_ed25519;
        break;
    case K_HS:
        secret = tp_hs32;
        break;
    case K_EVIL_HS:
        secret = "attacker-chosen-secret-of-32-bytes!";
        break;
    case K_EMPTY_HS:
        secret = "";
        break;
    case K_RS_PEM:
        secret = pem = tp_pub_pem(tp_rsa);
        break;
    case K_ES_PEM:
        secret = pem = tp_pub_pem(tp_ec256);
        break;
    default:
        break;
    }
    if (r->alg != NULL) {
        char *input = cm_xmalloc(strlen(hs) + strlen(ps) + 2);
        snprintf(input, strlen(hs) + strlen(ps) + 2, "%s.%s", hs, ps);
        if (pol_sig_sign(pol_alg_find(r->alg), priv, (const unsigned char *)secret,
                         secret ? strlen(secret) : 0, input, strlen(input), &sig, &siglen) != 0)
            abort();
        free(input);
    }
    if (r->mut == M_TRUNC_SIG)
        siglen -= 2;
    ss = tp_b64(sig, siglen);
    if (r->mut == M_TAMPER_PL) {
        char *tpl = replace_once(pl, "\"alice\"", "\"admin\"");
        free(ps);
        ps = tp_b64(tpl, strlen(tpl));
        free(tpl);
    } else if (r->mut == M_TAMPER_HDR) {
        char *th = replace_once(h, "}", ",\"x5u\":\"https://evil.example\"}");
        free(hs);
        hs = tp_b64(th, strlen(th));
        free(th);
    } else if (r->mut == M_FLIP_SIG) {
        char *c = &ss[strlen(ss) / 2];
        *c = *c == 'A' ? 'B' : 'A';
    } else if (r->mut == M_EMPTY_SIG) {
        ss[0] = '\0';
    }
    tok = cat3(hs, ps, ss);
    if (r->mut == M_SIG_PAD || r->mut == M_APPEND_SEG) {
        t = cm_xmalloc(strlen(tok) + 5);
        snprintf(t, strlen(tok) + 5, "%s%s", tok, r->mut == M_SIG_PAD ? "==" : ".xyz");
        free(tok);
        tok = t;
    }
    free(h);
    free(pl);
    free(hs);
    free(ps);
    free(ss);
    free(sig);
    free(pem);
    return tok;
}

static const char *cfg_multi =
    "{\"auth\":{\"jwt\":{\"issuer\":\"https://idp.test\",\"audience\":[\"gateway\",\"gw-alt\"],"
    "\"leeway_s\":60,\"max_token_bytes\":8192,\"required_claims\":[\"email\"],\"keys\":["
    "{\"kid\":\"rs\",\"alg\":\"RS256\",\"pem_file\":\"rsa.pub\"},"
    "{\"kid\":\"es\",\"alg\":\"ES256\",\"pem_file\":\"ec256.pub\"},"
    "{\"kid\":\"hs\",\"alg\":\"HS256\",\"secret_file\":\"hs32.secret\"},"
    "{\"kid\":\"ps\",\"alg\":\"PS256\",\"pem_file\":\"rsa.pub\"},"
    "{\"kid\":\"ed\",\"alg\":\"EdDSA\",\"pem_file\":\"ed25519.pub\"}]}}}";
static const char *cfg_single =
    "{\"auth\":{\"jwt\":{\"keys\":[{\"kid\":\"rs\",\"alg\":\"RS256\",\"pem_file\":\"rsa.pub\"}]}}}";

void test_attacks(void)
{
    pol_set *sets[2] = {tp_load(cfg_multi), tp_load(cfg_single)};
    size_t n = sizeof(table) / sizeof(table[0]), passed = 0;

    CHECK(sets[0] != NULL && sets[1] != NULL);
    if (sets[0] == NULL || sets[1] == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        const attack *r = &table[i];
        char *tok = build(r);
        pol_identity *id = NULL;
        const char *why = "unset";
        int rc = tp_auth(sets[r->cfg], tok, &id, &why);
        bool is_ok = r->why == NULL
                         ? rc == 0 && why == NULL && id != NULL && strcmp(id->subject, "alice") == 0
                         : rc == CM_EAUTH && why != NULL && strcmp(why, r->why) == 0;
        CHECK(is_ok);
        if (!is_ok)
            fprintf(stderr, "  attack row %zu \"%s\": rc %d why %s, expected %s\n", i, r->name, rc,
                    why ? why : "(null)", r->why ? r->why : "accepted");
        passed += is_ok;
        free(tok);
    }
    fprintf(stderr, "attack table: %zu/%zu rows as expected\n", passed, n);

    /* An embedded jwk header (CVE-2018-0114 style) is ignored: the attacker's
     * own key in the header does not verify against the pinned key. */
    char *jwk = tp_jwk(tp_rsa2, "rs", "RS256");
    size_t hl = strlen(jwk) + 64;
    char *hdr = cm_xmalloc(hl);
    snprintf(hdr, hl, "{\"alg\":\"RS256\",\"kid\":\"rs\",\"jwk\":%s}", jwk);
    char *tok = tp_token(hdr, P_OK, "RS256", tp_rsa2, NULL, 0);
    const char *why = NULL;
    CHECK(tp_auth(sets[0], tok, NULL, &why) == CM_EAUTH);
    CHECK_STR_EQ(why, "bad_signature");
    free(tok);
    free(hdr);
    free(jwk);

    /* Authorization header shapes */
    cm_arena *a = cm_arena_new(0);
    pol_identity *id;
    CHECK(pol_authenticate(sets[0], NULL, a, &id, &why) == CM_EAUTH);
    CHECK_STR_EQ(why, "missing_credential");
    CHECK(pol_authenticate(sets[0], "   ", a, &id, &why) == CM_EAUTH);
    CHECK_STR_EQ(why, "missing_credential");
    CHECK(pol_authenticate(sets[0], "Bearer ", a, &id, &why) == CM_EAUTH);
    CHECK_STR_EQ(why, "missing_credential");
    CHECK(pol_authenticate(sets[0], "Basic YWxpY2U6cHc=", a, &id, &why) == CM_EAUTH);
    CHECK_STR_EQ(why, "bad_scheme");
    tok = tp_token(H_RS, P_OK, "RS256", tp_rsa, NULL, 0);
    size_t al = strlen(tok) + 16;
    char *authz = cm_xmalloc(al);
    snprintf(authz, al, "bEaReR   %s  ", tok);
    CHECK(pol_authenticate(sets[0], authz, a, &id, &why) == 0);
    CHECK_STR_EQ(id->subject, "alice");
    CHECK_STR_EQ(id->method, "jwt");
    CHECK_STR_EQ(id->key_id, "rs");
    free(authz);
    free(tok);
    cm_arena_free(a);

    pol_set_free(sets[0]);
    pol_set_free(sets[1]);
}
