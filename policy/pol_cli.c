/* The people-facing subcommands of policy/: `gateway token` mints a
 * development JWT with a development private key (certs/make-certs.sh), and
 * `gateway keys new` makes a gateway API key, printed once, with the JSON
 * line (SHA-256 only) to add to auth.api_keys or the api_keys_file. Output
 * goes to stdout, explanations and errors to stderr. */
#include "policy/pol_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#define CLI_MAX_ROLES 32
#define CLI_MAX_TTL   (30L * 86400)

typedef struct token_opts {
    const char *sub, *team, *key, *alg, *kid, *iss, *aud;
    const char *roles[CLI_MAX_ROLES];
    size_t nroles;
    long ttl;
} token_opts;

static int usage_token(void)
{
    fprintf(stderr,
            "usage: gateway token --sub SUBJECT --role ROLE [--role ROLE2] [--team T]\n"
            "         [--ttl 1h] [--key certs/dev/jwt-rsa.key] [--alg RS256] [--kid dev-rs]\n"
            "         [--iss gateway-dev] [--aud gateway]\n"
            "  --key is a PEM private key, or for HS256/384/512 a secret file\n"
            "  --ttl takes s, m, h or d (at most 30d)\n");
    return 2;
}

/* "90", "45s", "30m", "1h", "7d" -> seconds; -1 when bad. */
static long parse_ttl(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    long mul = 1;

    if (end == s || v <= 0)
        return -1;
    if (*end != '\0') {
        if (end[1] != '\0')
            return -1;
        switch (*end) {
        case 's':
            mul = 1;
            break;
        case 'm':
            mul = 60;
            break;
        case 'h':
            mul = 3600;
            break;
        case 'd':
            mul = 86400;
            break;
        default:
            return -1;
        }
    }
    if (v > CLI_MAX_TTL / mul)
        return -1;
    return v * mul;
}

static int parse_token_args(int argc, char **argv, token_opts *o)
{
    o->key = "certs/dev/jwt-rsa.key";
    o->alg = "RS256";
    o->kid = "dev-rs";
    o->iss = "gateway-dev";
    o->aud = "gateway";
    o->ttl = 3600;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0 || val == NULL)
            return -1;
        i++;
        if (strcmp(opt, "--sub") == 0)
            o->sub = val;
        else if (strcmp(opt, "--role") == 0 && o->nroles < CLI_MAX_ROLES)
            o->roles[o->nroles++] = val;
        else if (strcmp(opt, "--team") == 0)
            o->team = val;
        else if (strcmp(opt, "--key") == 0)
            o->key = val;
        else if (strcmp(opt, "--alg") == 0)
            o->alg = val;
        else if (strcmp(opt, "--kid") == 0)
            o->kid = val;
        else if (strcmp(opt, "--iss") == 0)
            o->iss = val;
        else if (strcmp(opt, "--aud") == 0)
            o->aud = val;
        else if (strcmp(opt, "--ttl") == 0 && (o->ttl = parse_ttl(val)) > 0)
            continue;
        else
            return -1;
    }
    return o->sub != NULL && o->nroles > 0 ? 0 : -1;
}

static json_t *token_payload(const token_opts *o)
{
    json_t *pl = json_object(), *roles = json_array();
    unsigned char rnd[16];
    char jti[33];
    long long now = (long long)time(NULL);

    for (size_t i = 0; i < o->nroles; i++)
        json_array_append_new(roles, json_string(o->roles[i]));
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        json_decref(roles);
        json_decref(pl);
        return NULL;
    }
    pol_hex(rnd, sizeof(rnd), jti);
    json_object_set_new(pl, "iss", json_string(o->iss));
    json_object_set_new(pl, "aud", json_string(o->aud));
    json_object_set_new(pl, "sub", json_string(o->sub));
    json_object_set_new(pl, "roles", roles);
    if (o->team != NULL)
        json_object_set_new(pl, "team", json_string(o->team));
    json_object_set_new(pl, "iat", json_integer(now));
    json_object_set_new(pl, "exp", json_integer(now + o->ttl));
    json_object_set_new(pl, "jti", json_string(jti));
    return pl;
}

int pol_cli_token(int argc, char **argv)
{
    token_opts o = {0};
    const pol_alg *alg;
    EVP_PKEY *priv = NULL;
    char *secret = NULL, *hdr_s = NULL, *pl_s = NULL, *tok = NULL;
    size_t slen = 0;
    json_t *hdr = NULL, *pl = NULL;
    const char *why;
    cm_err err;
    int rc = 1;

    if (parse_token_args(argc, argv, &o) != 0)
        return usage_token();
    if ((alg = pol_alg_find(o.alg)) == NULL) {
        fprintf(stderr, "gateway token: unsupported --alg %s\n", o.alg);
        return 2;
    }
    if (alg->family == POL_FAM_HMAC) {
        if (cm_file_read(o.key, 4096, &secret, &slen, &err) != 0) {
            fprintf(stderr, "gateway token: %s\n", err.msg);
            goto out;
        }
        while (slen > 0 && (secret[slen - 1] == '\n' || secret[slen - 1] == '\r'))
            slen--;
        if (slen < alg->size) {
            fprintf(stderr, "gateway token: %s: secret shorter than %zu bytes\n", o.key, alg->size);
            goto out;
        }
    } else {
        FILE *f = fopen(o.key, "r");
        if (f != NULL) {
            priv = PEM_read_PrivateKey(f, NULL, NULL, NULL);
            fclose(f);
        }
        if (priv == NULL) {
            fprintf(stderr, "gateway token: %s: no PEM private key (run make certs)\n", o.key);
            goto out;
        }
        if ((why = pol_key_misfit(alg, priv)) != NULL) {
            fprintf(stderr, "gateway token: %s: %s (alg %s)\n", o.key, why, alg->name);
            goto out;
        }
    }
    hdr = json_pack("{s:s, s:s}", "alg", alg->name, "typ", "JWT");
    if (hdr == NULL || (pl = token_payload(&o)) == NULL)
        goto out;
    if (o.kid[0] != '\0')
        json_object_set_new(hdr, "kid", json_string(o.kid));
    hdr_s = json_dumps(hdr, JSON_COMPACT);
    pl_s = json_dumps(pl, JSON_COMPACT);
    if (hdr_s == NULL || pl_s == NULL)
        goto out;
    tok = pol_jws_compact(alg, priv, (const unsigned char *)secret, slen, hdr_s, pl_s);
    if (tok == NULL) {
        fprintf(stderr, "gateway token: signing failed\n");
        goto out;
    }
    printf("%s\n", tok);
    fflush(stdout);
    rc = 0;
out:
    if (secret != NULL) {
        cm_wipe(secret, slen);
        free(secret);
    }
    EVP_PKEY_free(priv);
    json_decref(hdr);
    json_decref(pl);
    free(hdr_s);
    free(pl_s);
    free(tok);
    return rc;
}

/* ---- keys -------------------------------------------------------------------- */
static int usage_keys(void)
{
    fprintf(stderr, "usage: gateway keys new --name NAME --role ROLE [--role ROLE2] [--team T]\n"
                    "  NAME: 1..64 of A-Z a-z 0-9 . _ -\n");
    return 2;
}

static bool is_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* gw_ + base62 from the OpenSSL CSPRNG, rejection-sampled so every
 * character is uniform. */
static int new_key(char *out, size_t n)
{
    static const char b62[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    size_t k = 0;

    memcpy(out, "gw_", 3);
    while (k < n) {
        unsigned char rnd[64];
        if (RAND_bytes(rnd, sizeof(rnd)) != 1)
            return CM_EINTERNAL;
        for (size_t i = 0; i < sizeof(rnd) && k < n; i++)
            if (rnd[i] < 248)
                out[3 + k++] = b62[rnd[i] % 62];
        cm_wipe(rnd, sizeof(rnd));
    }
    out[3 + n] = '\0';
    return 0;
}

int pol_cli_keys(int argc, char **argv)
{
    const char *name = NULL, *team = NULL;
    json_t *line = NULL, *roles = json_array();
    char key[3 + POL_APIKEY_CHARS + 1], hex[2 * POL_SHA256_LEN + 1];
    unsigned char hash[POL_SHA256_LEN];
    char *js = NULL;
    int rc = 2;

    if (argc < 2 || strcmp(argv[1], "new") != 0)
        goto usage;
    for (int i = 2; i < argc; i += 2) {
        if (i + 1 >= argc)
            goto usage;
        if (strcmp(argv[i], "--name") == 0)
            name = argv[i + 1];
        else if (strcmp(argv[i], "--role") == 0 && pol_is_clean(argv[i + 1]))
            json_array_append_new(roles, json_string(argv[i + 1]));
        else if (strcmp(argv[i], "--team") == 0 && pol_is_clean(argv[i + 1]))
            team = argv[i + 1];
        else
            goto usage;
    }
    if (name == NULL || !is_name_ok(name) || json_array_size(roles) == 0)
        goto usage;
    rc = 1;
    if (new_key(key, POL_APIKEY_CHARS) != 0)
        goto out;
    SHA256((const unsigned char *)key, strlen(key), hash);
    pol_hex(hash, sizeof(hash), hex);
    line = json_pack("{s:s, s:s, s:O}", "id", name, "sha256", hex, "roles", roles);
    if (line != NULL && team != NULL)
        json_object_set_new(line, "team", json_string(team));
    if (line == NULL || (js = json_dumps(line, JSON_COMPACT)) == NULL)
        goto out;
    fprintf(stderr,
            "New gateway key for \"%s\". It is shown once and stored nowhere: give it to\n"
            "the caller now (Authorization: Bearer <key>). Add the JSON line below to\n"
            "auth.api_keys or append it to the api_keys_file, then reload the gateway.\n",
            name);
    printf("%s\n%s\n", key, js);
    fflush(stdout);
    rc = 0;
    goto out;
usage:
    rc = usage_keys();
out:
    cm_wipe(key, sizeof(key));
    free(js);
    json_decref(line);
    json_decref(roles);
    return rc;
}
