/* Load-time key material: the pinned JWT verification keys of auth.jwt.keys
 * (public PEM files, HMAC secrets from the environment or a file) and the
 * gateway API keys (SHA-256 hashes inline or in a JSON-lines key file).
 * pol_load.c calls these; secrets live in the set's arena, wiped at free. */
#include "policy/pol_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/decoder.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static const pol_field key_fields[] = {
    {"kid", POL_T_STR, true, 1, 256, 0},        {"alg", POL_T_STR, true, 1, 16, 0},
    {"pem_file", POL_T_STR, false, 1, 0, 0},    {"secret_env", POL_T_STR, false, 1, 256, 0},
    {"secret_file", POL_T_STR, false, 1, 0, 0},
};

static const pol_field apikey_fields[] = {
    {"id", POL_T_STR, true, 1, 64, 0},
    {"sha256", POL_T_STR, true, 64, 64, 0},
    {"roles", POL_T_STRS, true, 1, 64, 0},
    {"team", POL_T_STR, false, 1, POL_MAX_CLAIM, 0},
};

static void pkey_free(void *k)
{
    EVP_PKEY_free(k);
}

/* A public key from PEM text: SPKI, PKCS#1 RSA, or a certificate. */
static EVP_PKEY *pem_public_key(const char *pem, size_t len, const char **why)
{
    EVP_PKEY *pkey = NULL;
    OSSL_DECODER_CTX *dctx;
    const unsigned char *data = (const unsigned char *)pem;
    size_t left = len;

    if (strstr(pem, "PRIVATE KEY") != NULL) {
        *why = "holds a private key; give the public key (openssl pkey -pubout)";
        return NULL;
    }
    dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, NULL, EVP_PKEY_PUBLIC_KEY, NULL, NULL);
    if (dctx != NULL && OSSL_DECODER_from_data(dctx, &data, &left) != 1)
        pkey = NULL;
    OSSL_DECODER_CTX_free(dctx);
    if (pkey == NULL) {
        BIO *bio = BIO_new_mem_buf(pem, (int)len);
        X509 *x = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
        if (x != NULL)
            pkey = X509_get_pubkey(x);
        X509_free(x);
        BIO_free(bio);
    }
    if (pkey == NULL)
        *why = "no PEM public key or certificate found";
    return pkey;
}

/* Read an HMAC secret into the set's arena; trailing newlines are not part of it. */
static int load_secret(pol_set *p, const char *src, bool is_env, const char *path, pol_key *k,
                       cm_errlist *errs)
{
    char *buf = NULL;
    size_t len = 0;
    cm_err err;

    if (is_env) {
        const char *v = getenv(src);
        if (v == NULL || v[0] == '\0') {
            cm_errlist_add(errs, "%s.secret_env: environment variable %s is not set or empty", path,
                           src);
            return 1;
        }
        buf = cm_xstrdup(v);
        len = strlen(buf);
    } else if (cm_file_read(src, 4096, &buf, &len, &err) != 0) {
        cm_errlist_add(errs, "%s.secret_file: %s", path, err.msg);
        return 1;
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    /* libjwt 1.10 skips verification for an empty key; we refuse short ones too (RFC 7518 3.2) */
    if (len < k->alg->size) {
        cm_errlist_add(errs, "%s: HMAC secret is %zu bytes; %s needs at least %zu", path, len,
                       k->alg->name, k->alg->size);
        cm_wipe(buf, len);
        free(buf);
        return 1;
    }
    k->secret = (const unsigned char *)cm_arena_strndup(p->arena, buf, len);
    k->secret_len = len;
    cm_wipe(buf, len);
    free(buf);
    return 0;
}

static int load_pem(pol_set *p, const char *file, const char *path, pol_key *k, cm_errlist *errs)
{
    char *pem = NULL;
    size_t len = 0;
    const char *why = NULL;
    cm_err err;
    EVP_PKEY *pkey;

    if (cm_file_read(file, 1 << 20, &pem, &len, &err) != 0) {
        cm_errlist_add(errs, "%s.pem_file: %s", path, err.msg);
        return 1;
    }
    pkey = pem_public_key(pem, len, &why);
    free(pem);
    if (pkey == NULL) {
        cm_errlist_add(errs, "%s.pem_file: %s: %s", path, file, why);
        return 1;
    }
    if ((why = pol_key_misfit(k->alg, pkey)) != NULL) {
        cm_errlist_add(errs, "%s.pem_file: %s: %s (alg %s)", path, file, why, k->alg->name);
        EVP_PKEY_free(pkey);
        return 1;
    }
    if (cm_arena_defer(p->arena, pkey_free, pkey) != 0)
        return 1;
    k->pkey = pkey;
    return 0;
}

int pol_load_keys(pol_set *p, json_t *keys, const char *base_dir, cm_errlist *errs)
{
    size_t i;
    json_t *e;
    int bad = 0;

    p->keys.keys = cm_arena_calloc(p->arena, (json_array_size(keys) + 1) * sizeof(pol_key));
    json_array_foreach (keys, i, e) {
        char path[64];
        pol_key k = {0};
        snprintf(path, sizeof(path), "auth.jwt.keys[%zu]", i);
        if (pol_cfg_check(e, key_fields, POL_NFIELDS(key_fields), path, errs) != 0) {
            bad++;
            continue;
        }
        const char *alg = json_string_value(json_object_get(e, "alg"));
        const char *pem = json_string_value(json_object_get(e, "pem_file"));
        const char *env = json_string_value(json_object_get(e, "secret_env"));
        const char *sfile = json_string_value(json_object_get(e, "secret_file"));
        k.kid = pol_cfg_str(p->arena, e, "kid");
        if ((k.alg = pol_alg_find(alg)) == NULL) {
            cm_errlist_add(errs,
                           "%s.alg: \"%s\" is not accepted (HS256/384/512, RS256/384/512, "
                           "PS256/384/512, ES256/384/512, EdDSA)",
                           path, alg);
            bad++;
            continue;
        }
        for (size_t j = 0; j < p->keys.n; j++) {
            if (strcmp(p->keys.keys[j].kid, k.kid) == 0) {
                cm_errlist_add(errs, "%s.kid: \"%s\" is used twice", path, k.kid);
                bad++;
            }
        }
        if ((pem != NULL) + (env != NULL) + (sfile != NULL) != 1) {
            cm_errlist_add(errs, "%s: give exactly one of pem_file, secret_env, secret_file", path);
            bad++;
            continue;
        }
        if (k.alg->family == POL_FAM_HMAC && pem != NULL) {
            cm_errlist_add(errs, "%s: %s takes secret_env or secret_file, not pem_file", path, alg);
            bad++;
            continue;
        }
        if (k.alg->family != POL_FAM_HMAC && pem == NULL) {
            cm_errlist_add(errs, "%s: %s takes pem_file (a public key), not a secret", path, alg);
            bad++;
            continue;
        }
        if (pem != NULL)
            bad += load_pem(p, pol_cfg_path(p->arena, base_dir, pem), path, &k, errs);
        else if (env != NULL)
            bad += load_secret(p, env, true, path, &k, errs);
        else
            bad += load_secret(p, pol_cfg_path(p->arena, base_dir, sfile), false, path, &k, errs);
        if (k.pkey != NULL || k.secret != NULL)
            p->keys.keys[p->keys.n++] = k;
    }
    return bad;
}

/* ---- API keys --------------------------------------------------------------- */
int pol_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool role_defined(const json_t *roles, const char *name)
{
    return roles == NULL || json_object_get(roles, name) != NULL;
}

static int add_apikey(pol_set *p, json_t *e, const json_t *roles, const char *path,
                      cm_errlist *errs)
{
    pol_apikey k = {0};
    const char *hex;
    int bad;

    if ((bad = pol_cfg_check(e, apikey_fields, POL_NFIELDS(apikey_fields), path, errs)) != 0)
        return bad;
    hex = json_string_value(json_object_get(e, "sha256"));
    for (size_t i = 0; i < POL_SHA256_LEN; i++) {
        int hi = pol_hexval(hex[2 * i]), lo = pol_hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            cm_errlist_add(errs, "%s.sha256: expected 64 hex digits", path);
            return 1;
        }
        k.hash[i] = (unsigned char)(hi << 4 | lo);
    }
    k.id = pol_cfg_str(p->arena, e, "id");
    k.team = pol_cfg_str(p->arena, e, "team");
    k.roles = pol_cfg_strs(p->arena, json_object_get(e, "roles"), &k.nroles);
    for (size_t i = 0; i < k.nroles; i++) {
        if (!role_defined(roles, k.roles[i])) {
            cm_errlist_add(errs, "%s.roles[%zu]: role \"%s\" is not defined in roles", path, i,
                           k.roles[i]);
            bad++;
        }
    }
    for (size_t i = 0; i < p->napikeys; i++) {
        if (strcmp(p->apikeys[i].id, k.id) == 0) {
            cm_errlist_add(errs, "%s.id: \"%s\" is used twice", path, k.id);
            bad++;
        }
        if (memcmp(p->apikeys[i].hash, k.hash, POL_SHA256_LEN) == 0) {
            cm_errlist_add(errs, "%s.sha256: same key as \"%s\"", path, p->apikeys[i].id);
            bad++;
        }
    }
    if (bad == 0) {
        p->apikeys = cm_xrealloc(p->apikeys, (p->napikeys + 1) * sizeof(*p->apikeys));
        p->apikeys[p->napikeys++] = k;
    }
    return bad;
}

/* The key file holds one JSON object per line (what `gateway keys new`
 * prints), so keys are added with >> and removed with an editor. */
static int load_apikey_file(pol_set *p, const char *file, const json_t *roles, cm_errlist *errs)
{
    char *text = NULL, *line, *next;
    size_t len = 0, lineno = 0;
    cm_err err;
    int bad = 0;

    if (cm_file_read(file, 16 << 20, &text, &len, &err) != 0) {
        cm_errlist_add(errs, "auth.api_keys_file: %s", err.msg);
        return 1;
    }
    for (line = text; line != NULL && *line != '\0'; line = next) {
        char path[512];
        json_error_t jerr;
        json_t *e;
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        lineno++;
        line += strspn(line, " \t\r");
        if (*line == '\0' || *line == '#')
            continue;
        snprintf(path, sizeof(path), "%s:%zu", file, lineno);
        if ((e = json_loads(line, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
            cm_errlist_add(errs, "%s: %s", path, jerr.text);
            bad++;
            continue;
        }
        bad += add_apikey(p, e, roles, path, errs);
        json_decref(e);
    }
    free(text);
    return bad;
}

int pol_load_apikeys(pol_set *p, json_t *arr, const char *file, const json_t *roles,
                     cm_errlist *errs)
{
    size_t i;
    json_t *e;
    int bad = 0;

    json_array_foreach (arr, i, e) {
        char path[64];
        snprintf(path, sizeof(path), "auth.api_keys[%zu]", i);
        bad += add_apikey(p, e, roles, path, errs);
    }
    if (file != NULL)
        bad += load_apikey_file(p, file, roles, errs);
    return bad;
}
