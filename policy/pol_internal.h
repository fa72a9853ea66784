/* policy/pol_internal.h: what the files of policy/ share (and the unit tests
 * may use): the set's private layout, algorithms and signatures, key sets,
 * the JWKS refresher, the verified-token cache and the config walker. */
#ifndef POL_INTERNAL_H
#define POL_INTERNAL_H

#include <stdint.h>

#include <openssl/evp.h>

#include "policy/pol.h"

#define POL_SHA256_LEN   32
#define POL_MAX_CLAIM    256     /* bytes in a subject, role, team or jti we accept */
#define POL_JWKS_MAX     1048576 /* bytes of a JWKS document */
#define POL_APIKEY_CHARS 43      /* base62 characters after "gw_": ~256 bits */

/* ---- algorithms, base64url, signatures (pol_jws.c) ------------------ */
typedef enum { POL_FAM_HMAC, POL_FAM_RSA, POL_FAM_PSS, POL_FAM_EC, POL_FAM_ED } pol_alg_family;

typedef struct pol_alg {
    const char *name; /* "RS256" */
    pol_alg_family family;
    const char *md;    /* OpenSSL digest name; NULL for EdDSA */
    size_t size;       /* HMAC: digest length = minimum secret; EC: bytes of R||S */
    const char *curve; /* EC group name ("P-256"); NULL otherwise */
} pol_alg;

/* Supported algorithm by exact JWS name, or NULL. */
const pol_alg *pol_alg_find(const char *name);
/* Whether pkey may verify alg: key type, EC curve, RSA of 2048..8192 bits.
 * NULL when it fits, else a static message. */
const char *pol_key_misfit(const pol_alg *alg, EVP_PKEY *pkey);

/* Strict base64url (no padding, no whitespace, canonical last character).
 * out must hold n * 3 / 4 + 1 bytes. 0 or CM_EINVAL. */
int pol_b64url_decode(const char *s, size_t n, unsigned char *out, size_t *outlen);
/* Append the base64url encoding of p to b. */
int pol_b64url_append(cm_buf *b, const void *p, size_t n) CM_MUST_CHECK;
/* Lowercase hex of p into out (2n + 1 bytes). */
void pol_hex(const void *p, size_t n, char *out);

/* A verification key, pinned to one algorithm. */
typedef struct pol_key {
    const char *kid; /* NULL for a JWKS key without kid */
    const pol_alg *alg;
    EVP_PKEY *pkey;              /* public key (RSA, PSS, EC, ED) */
    const unsigned char *secret; /* HMAC */
    size_t secret_len;
} pol_key;

/* 0 when sig is a valid signature of input under k, else CM_EAUTH. */
int pol_sig_verify(const pol_key *k, const void *input, size_t inlen, const unsigned char *sig,
                   size_t siglen);
/* Sign input with a private key (asymmetric alg) or a secret (HMAC); *sig is
 * heap-allocated, in JWS form (raw R||S for EC). For the CLI and the tests. */
int pol_sig_sign(const pol_alg *alg, EVP_PKEY *priv, const unsigned char *secret, size_t slen,
                 const void *input, size_t inlen, unsigned char **sig, size_t *siglen);
/* Compact JWS of two JSON texts; heap string or NULL. */
char *pol_jws_compact(const pol_alg *alg, EVP_PKEY *priv, const unsigned char *secret, size_t slen,
                      const char *header_json, const char *payload_json);

/* ---- key sets and JWKS (pol_jwks.c) ----------------------------------- */
typedef struct pol_keyset {
    pol_key *keys;
    size_t n;
    cm_arena *arena; /* owns kids and EVP_PKEYs; NULL for the static set */
} pol_keyset;

/* Parse a JWKS document. Keys that are not usable signature keys (use "enc",
 * kty "oct", unknown alg or curve, RSA < 2048 bits) are skipped and logged.
 * CM_EINVAL with err when the document is broken or has no usable key. */
int pol_jwks_parse(const char *doc, size_t len, const pol_alg *rsa_default, pol_keyset **out,
                   cm_err *err);
void pol_keyset_free(pol_keyset *ks);

typedef struct pol_jwks_cfg {
    const char *file; /* absolute or base_dir-resolved */
    const char *url;
    const char *ca_file;
    unsigned refresh_s;
    unsigned min_refresh_s; /* floor between fetches an unknown kid may trigger */
    unsigned timeout_s;
    const pol_alg *rsa_default;
} pol_jwks_cfg;

typedef struct pol_jwks pol_jwks;
/* Load the first set (a file must load; a URL failure is logged and retried)
 * and start the refresh thread. */
int pol_jwks_start(const pol_jwks_cfg *cfg, pol_jwks **out, cm_err *err);
void pol_jwks_stop(pol_jwks *j);
/* Current key set under a read lock until pol_jwks_release; *gen changes
 * whenever the set is replaced. */
const pol_keyset *pol_jwks_acquire(pol_jwks *j, uint64_t *gen);
void pol_jwks_release(pol_jwks *j);
uint64_t pol_jwks_gen(pol_jwks *j);
/* Ask the thread for an early refresh (unknown kid); rate limited. */
void pol_jwks_kick(pol_jwks *j);
/* Fetch and swap now, on the calling thread (tests). 0 or the failure. */
int pol_jwks_refresh_now(pol_jwks *j);
/* Successful and failed fetches since start (tests, metrics). */
void pol_jwks_stats(pol_jwks *j, unsigned *nok, unsigned *nfail);

/* ---- verified-token cache (pol_cache.c) -------------------------------- */
typedef struct pol_cache pol_cache;
/* Bounded (4-way set associative) cache; entries == 0 returns NULL (off). */
pol_cache *pol_cache_new(size_t entries);
void pol_cache_free(pol_cache *c);
/* Copy the identity cached under hash into a when it was stored with gen and
 * now < valid_until. Thread-safe. */
bool pol_cache_get(pol_cache *c, const unsigned char hash[POL_SHA256_LEN], uint64_t gen,
                   int64_t now, cm_arena *a, pol_identity **out);
void pol_cache_put(pol_cache *c, const unsigned char hash[POL_SHA256_LEN], uint64_t gen,
                   int64_t valid_until, const pol_identity *id);
/* Lookups answered from the cache since creation (tests). */
unsigned long pol_cache_hits(pol_cache *c);

/* ---- the set ----------------------------------------------------------- */
enum { POL_EP_CHAT = 1, POL_EP_EMBEDDINGS = 2, POL_EP_MODELS = 4, POL_EP_ALL = 7 };

typedef struct pol_role {
    const char *name;
    const char **models;
    size_t nmodels;
    const char **deny;
    size_t ndeny;
    unsigned endpoints; /* POL_EP_* bits */
    bool is_stream_allowed;
    unsigned max_tokens; /* 0 = uncapped */
} pol_role;

typedef struct pol_apikey {
    const char *id;
    unsigned char hash[POL_SHA256_LEN];
    const char **roles;
    size_t nroles;
    const char *team;
} pol_apikey;

struct pol_set {
    cm_arena *arena; /* strings and secrets of the set; wiped at free */
    bool has_auth;

    bool has_jwt;
    const char *issuer;
    const char **audiences;
    size_t naudiences;
    int64_t leeway_s;
    size_t max_token_bytes;
    const char **required;
    size_t nrequired;
    const char *claim_subject;
    const char **claim_roles;
    size_t nclaim_roles;
    const char *claim_team;
    pol_keyset keys; /* static keys from auth.jwt.keys */
    pol_jwks *jwks;  /* NULL without auth.jwt.jwks */
    pol_cache *cache;

    pol_apikey *apikeys;
    size_t napikeys;

    bool has_mtls;
    const char *mtls_subject;
    const char *mtls_roles;
    const char *mtls_team;
    const char **mtls_default_roles;
    size_t nmtls_default_roles;

    pol_role *roles;
    size_t nroles;

    int64_t (*now)(void); /* wall clock in seconds; tests may replace it */
};

/* ---- helpers shared by the files ----------------------------------------- */
/* JWT path of pol_authenticate: cache, header, key, signature, claims. */
int pol_jwt_authenticate(const pol_set *p, const char *tok, size_t len, cm_arena *a,
                         pol_identity **out, const char **why);
/* Claim by path: the literal key first (namespaced claims contain dots),
 * then a dotted walk through objects ("realm_access.roles"). Borrowed. */
json_t *pol_claim_get(json_t *payload, const char *path);
/* New arena identity; copies every string. */
pol_identity *pol_identity_new(cm_arena *a, const char *subject, const char *const *roles,
                               size_t nroles, const char *team, const char *method,
                               const char *key_id, const char *token_ref);
/* Whether s is 1..POL_MAX_CLAIM printable bytes (no controls; UTF-8 passes). */
bool pol_is_clean(const char *s);
/* API key lookup: compares against every stored hash in constant time and
 * never stops early. Returns the index or -1; *ncompared for the tests. */
long pol_apikey_find(const pol_set *p, const unsigned char hash[POL_SHA256_LEN], size_t *ncompared);
/* Shell-style glob: '*' any run, '?' one byte; no classes, no escapes. */
bool pol_glob_match(const char *pat, const char *s);
const pol_role *pol_role_find(const pol_set *p, const char *name);

/* ---- load-time key material (pol_keys.c); each returns the mistakes found */
int pol_load_keys(pol_set *p, json_t *keys, const char *base_dir, cm_errlist *errs);
/* Inline auth.api_keys and the JSON-lines key file (file may be NULL).
 * roles (may be NULL) is the roles config every referenced role must be in. */
int pol_load_apikeys(pol_set *p, json_t *arr, const char *file, const json_t *roles,
                     cm_errlist *errs);

/* ---- config walker (pol_cfg.c) ------------------------------------------- */
typedef enum {
    POL_T_STR, /* min..max bytes (max 0 = 4096) */
    POL_T_INT, /* min..max */
    POL_T_BOOL,
    POL_T_OBJ,
    POL_T_ARR,        /* min..max elements (max 0 = unbounded) */
    POL_T_STRS,       /* array of non-empty strings, min..max elements */
    POL_T_STR_OR_STRS /* a string or an array of non-empty strings */
} pol_type;

typedef struct pol_field {
    const char *key;
    pol_type type;
    bool is_required;
    long long min, max, def;
} pol_field;

/* Check obj against the table: unknown keys, missing required keys, types
 * and ranges, each reported as "path.key: ...". Returns the mistakes found. */
int pol_cfg_check(json_t *obj, const pol_field *f, size_t n, const char *path, cm_errlist *errs);
/* Integer value, or the table's default when absent. */
long long pol_cfg_int(const json_t *obj, const pol_field *f, size_t n, const char *key);
bool pol_cfg_bool(const json_t *obj, const pol_field *f, size_t n, const char *key);
/* String member copied into a, or NULL when absent. */
const char *pol_cfg_str(cm_arena *a, const json_t *obj, const char *key);
/* A string or an array of strings, copied into a as an array (NULL v: 0). */
const char **pol_cfg_strs(cm_arena *a, const json_t *v, size_t *n);
/* path relative to base_dir unless absolute; copied into a. */
const char *pol_cfg_path(cm_arena *a, const char *base_dir, const char *path);

#define POL_NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

/* Value of one hex digit, or -1. */
int pol_hexval(char c);
/* POL_EP_* bit of an endpoint name ("chat", "embeddings", "models"); 0 if unknown or NULL. */
unsigned pol_endpoint_bit(const char *name);

#endif
