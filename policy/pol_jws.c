/* JWS primitives: the algorithm table, strict base64url, and signature
 * verification and signing with OpenSSL on cached EVP_PKEYs (libjwt 1.10
 * re-parses PEM on every call and lacks PS* and EdDSA; see LIBRARIES.md §3).
 * pol_jwt.c verifies tokens with these; pol_cli.c and the tests sign. */
#include "policy/pol_internal.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

static const pol_alg algs[] = {
    {"HS256", POL_FAM_HMAC, "SHA256", 32, NULL},  {"HS384", POL_FAM_HMAC, "SHA384", 48, NULL},
    {"HS512", POL_FAM_HMAC, "SHA512", 64, NULL},  {"RS256", POL_FAM_RSA, "SHA256", 0, NULL},
    {"RS384", POL_FAM_RSA, "SHA384", 0, NULL},    {"RS512", POL_FAM_RSA, "SHA512", 0, NULL},
    {"PS256", POL_FAM_PSS, "SHA256", 0, NULL},    {"PS384", POL_FAM_PSS, "SHA384", 0, NULL},
    {"PS512", POL_FAM_PSS, "SHA512", 0, NULL},    {"ES256", POL_FAM_EC, "SHA256", 64, "P-256"},
    {"ES384", POL_FAM_EC, "SHA384", 96, "P-384"}, {"ES512", POL_FAM_EC, "SHA512", 132, "P-521"},
    {"EdDSA", POL_FAM_ED, NULL, 0, NULL},
};

const pol_alg *pol_alg_find(const char *name)
{
    for (size_t i = 0; name != NULL && i < sizeof(algs) / sizeof(algs[0]); i++)
        if (strcmp(algs[i].name, name) == 0)
            return &algs[i];
    return NULL;
}

static const EVP_MD *alg_md(const pol_alg *alg)
{
    if (alg->md == NULL)
        return NULL;
    if (strcmp(alg->md, "SHA256") == 0)
        return EVP_sha256();
    if (strcmp(alg->md, "SHA384") == 0)
        return EVP_sha384();
    return EVP_sha512();
}

const char *pol_key_misfit(const pol_alg *alg, EVP_PKEY *pkey)
{
    if (pkey == NULL)
        return "no public key";
    switch (alg->family) {
    case POL_FAM_HMAC:
        return "an HMAC algorithm takes a secret, not a public key";
    case POL_FAM_RSA:
    case POL_FAM_PSS:
        if (!EVP_PKEY_is_a(pkey, "RSA") &&
            !(alg->family == POL_FAM_PSS && EVP_PKEY_is_a(pkey, "RSA-PSS")))
            return "the key is not an RSA key";
        if (EVP_PKEY_get_bits(pkey) < 2048)
            return "RSA keys shorter than 2048 bits are refused";
        if (EVP_PKEY_get_bits(pkey) > 8192)
            return "RSA keys longer than 8192 bits are refused (verification cost)";
        return NULL;
    case POL_FAM_EC: {
        char group[64];
        if (!EVP_PKEY_is_a(pkey, "EC"))
            return "the key is not an EC key";
        if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                            NULL))
            return "the EC key has no named curve";
        int nid = OBJ_sn2nid(group);
        if (nid == NID_undef)
            nid = EC_curve_nist2nid(group);
        if (nid == NID_undef || nid != EC_curve_nist2nid(alg->curve))
            return "the EC key is on the wrong curve for this alg";
        return NULL;
    }
    case POL_FAM_ED:
        if (!EVP_PKEY_is_a(pkey, "ED25519") && !EVP_PKEY_is_a(pkey, "ED448"))
            return "the key is not an Ed25519 or Ed448 key";
        return NULL;
    }
    return "unsupported algorithm";
}

/* ---- base64url ---------------------------------------------------------- */
static int b64_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int pol_b64url_decode(const char *s, size_t n, unsigned char *out, size_t *outlen)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;

    if (n % 4 == 1)
        return CM_EINVAL;
    for (size_t i = 0; i < n; i++) {
        int v = b64_val((unsigned char)s[i]);
        if (v < 0)
            return CM_EINVAL;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    /* Leftover bits must be zero: one token, one encoding. */
    if ((acc & ((1u << bits) - 1)) != 0)
        return CM_EINVAL;
    *outlen = o;
    return 0;
}

int pol_b64url_append(cm_buf *b, const void *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *s = p;
    char q[4];
    int rc = 0;

    for (size_t i = 0; i < n && rc == 0; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        size_t k = n - i >= 3 ? 3 : n - i;
        if (k > 1)
            v |= (uint32_t)s[i + 1] << 8;
        if (k > 2)
            v |= s[i + 2];
        q[0] = tab[(v >> 18) & 63];
        q[1] = tab[(v >> 12) & 63];
        q[2] = tab[(v >> 6) & 63];
        q[3] = tab[v & 63];
        rc = cm_buf_append(b, q, k + 1);
    }
    return rc;
}

void pol_hex(const void *p, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[s[i] >> 4];
        out[2 * i + 1] = hx[s[i] & 15];
    }
    out[2 * n] = '\0';
}

/* ---- signatures ----------------------------------------------------------- */
/* JWS carries EC signatures as fixed-width R||S; OpenSSL wants DER. */
static int ec_raw_to_der(const unsigned char *sig, size_t siglen, unsigned char **der, int *derlen)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)(siglen / 2), NULL);
    BIGNUM *s = BN_bin2bn(sig + siglen / 2, (int)(siglen / 2), NULL);
    int rc = CM_EAUTH;

    if (es == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(es, r, s)) {
        BN_free(r);
        BN_free(s);
        goto out;
    }
    *der = NULL;
    *derlen = i2d_ECDSA_SIG(es, der);
    if (*derlen > 0)
        rc = 0;
out:
    ECDSA_SIG_free(es);
    return rc;
}

static int set_pss(EVP_PKEY_CTX *pctx)
{
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0;
}

int pol_sig_verify(const pol_key *k, const void *input, size_t inlen, const unsigned char *sig,
                   size_t siglen)
{
    const pol_alg *alg = k->alg;
    EVP_MD_CTX *ctx = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *der = NULL;
    int derlen = 0;
    int rc = CM_EAUTH;

    if (alg->family == POL_FAM_HMAC) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int maclen = 0;
        if (k->secret == NULL || k->secret_len < alg->size || siglen != alg->size)
            return CM_EAUTH;
        if (HMAC(alg_md(alg), k->secret, (int)k->secret_len, input, inlen, mac, &maclen) == NULL ||
            maclen != siglen)
            return CM_EAUTH;
        rc = cm_memeq_ct(mac, sig, siglen) == 0 ? 0 : CM_EAUTH;
        cm_wipe(mac, sizeof(mac));
        return rc;
    }
    if (k->pkey == NULL)
        return CM_EAUTH;
    if (alg->family == POL_FAM_EC) {
        if (siglen != alg->size || ec_raw_to_der(sig, siglen, &der, &derlen) != 0)
            return CM_EAUTH;
        sig = der;
        siglen = (size_t)derlen;
    }
    if ((ctx = EVP_MD_CTX_new()) == NULL)
        goto out;
    if (EVP_DigestVerifyInit(ctx, &pctx, alg_md(alg), NULL, k->pkey) != 1)
        goto out;
    if (alg->family == POL_FAM_PSS && !set_pss(pctx))
        goto out;
    if (EVP_DigestVerify(ctx, sig, siglen, input, inlen) == 1)
        rc = 0;
out:
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    return rc;
}

static int ec_der_to_raw(const pol_alg *alg, unsigned char *der, size_t derlen, unsigned char *raw)
{
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
    int half = (int)(alg->size / 2);
    int rc = CM_EINTERNAL;

    if (es != NULL && BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, half) == half &&
        BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + half, half) == half)
        rc = 0;
    ECDSA_SIG_free(es);
    return rc;
}

int pol_sig_sign(const pol_alg *alg, EVP_PKEY *priv, const unsigned char *secret, size_t slen,
                 const void *input, size_t inlen, unsigned char **sig, size_t *siglen)
{
    EVP_MD_CTX *ctx = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = CM_EINTERNAL;

    if (alg->family == POL_FAM_HMAC) {
        unsigned int maclen = 0;
        buf = cm_xmalloc(EVP_MAX_MD_SIZE);
        if (secret == NULL ||
            HMAC(alg_md(alg), secret, (int)slen, input, inlen, buf, &maclen) == NULL)
            goto out;
        len = maclen;
        rc = 0;
        goto out;
    }
    if (priv == NULL || (ctx = EVP_MD_CTX_new()) == NULL)
        goto out;
    if (EVP_DigestSignInit(ctx, &pctx, alg_md(alg), NULL, priv) != 1)
        goto out;
    if (alg->family == POL_FAM_PSS && !set_pss(pctx))
        goto out;
    if (EVP_DigestSign(ctx, NULL, &len, input, inlen) != 1)
        goto out;
    buf = cm_xmalloc(len);
    if (EVP_DigestSign(ctx, buf, &len, input, inlen) != 1)
        goto out;
    if (alg->family == POL_FAM_EC) {
        unsigned char *raw = cm_xmalloc(alg->size);
        if (ec_der_to_raw(alg, buf, len, raw) != 0) {
            free(raw);
            goto out;
        }
        free(buf);
        buf = raw;
        len = alg->size;
    }
    rc = 0;
out:
    EVP_MD_CTX_free(ctx);
    if (rc != 0) {
        free(buf);
        buf = NULL;
    }
    *sig = buf;
    *siglen = len;
    return rc;
}

char *pol_jws_compact(const pol_alg *alg, EVP_PKEY *priv, const unsigned char *secret, size_t slen,
                      const char *header_json, const char *payload_json)
{
    cm_buf b;
    unsigned char *sig = NULL;
    size_t siglen = 0;

    cm_buf_init(&b, 0);
    if (pol_b64url_append(&b, header_json, strlen(header_json)) != 0 ||
        cm_buf_append(&b, ".", 1) != 0 ||
        pol_b64url_append(&b, payload_json, strlen(payload_json)) != 0)
        goto fail;
    if (pol_sig_sign(alg, priv, secret, slen, b.data, b.len, &sig, &siglen) != 0)
        goto fail;
    if (cm_buf_append(&b, ".", 1) != 0 || pol_b64url_append(&b, sig, siglen) != 0)
        goto fail;
    free(sig);
    return b.data;
fail:
    free(sig);
    cm_buf_fini(&b);
    return NULL;
}
