/* pol_authenticate: read the Authorization header, then hand a JWT to
 * pol_jwt.c or look a gateway key up by its SHA-256 (constant time, full
 * scan). Also the mTLS identity from a verified certificate subject and the
 * anonymous identity when authentication is off. Every identity is copied
 * into the request arena. */
#include "policy/pol_internal.h"

#include <string.h>
#include <strings.h>

#include <openssl/sha.h>

#define POL_MAX_DN 2048

bool pol_is_clean(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++)
        if ((unsigned char)s[n] < 0x20 || s[n] == 0x7f || n >= POL_MAX_CLAIM)
            return false;
    return n > 0;
}

pol_identity *pol_identity_new(cm_arena *a, const char *subject, const char *const *roles,
                               size_t nroles, const char *team, const char *method,
                               const char *key_id, const char *token_ref)
{
    pol_identity *id = cm_arena_calloc(a, sizeof(*id));
    const char **r = cm_arena_calloc(a, (nroles + 1) * sizeof(*r));
    bool is_ok = id != NULL && r != NULL;

#define DUP(s) ((s) != NULL && is_ok ? cm_arena_strndup(a, (s), strlen(s)) : NULL)
    if (!is_ok)
        return NULL;
    for (size_t i = 0; i < nroles && is_ok; i++)
        is_ok = (r[i] = DUP(roles[i])) != NULL;
    id->subject = DUP(subject);
    id->team = DUP(team);
    id->method = method; /* static */
    id->key_id = DUP(key_id);
    id->token_ref = DUP(token_ref);
#undef DUP
    id->roles = r;
    id->nroles = nroles;
    if (!is_ok || id->subject == NULL || (team != NULL && id->team == NULL) ||
        (key_id != NULL && id->key_id == NULL) || (token_ref != NULL && id->token_ref == NULL))
        return NULL;
    return id;
}

long pol_apikey_find(const pol_set *p, const unsigned char hash[POL_SHA256_LEN], size_t *ncompared)
{
    unsigned long found = 0; /* index + 1 of the match, 0 for none */

    /* Every entry is compared and the match is selected with a mask, so the
     * time does not depend on which entry (if any) matched. */
    for (size_t i = 0; i < p->napikeys; i++) {
        unsigned long ne = (unsigned long)cm_memeq_ct(p->apikeys[i].hash, hash, POL_SHA256_LEN);
        unsigned long mask = ne - 1; /* all ones when equal */
        found = (found & ~mask) | ((i + 1) & mask);
    }
    if (ncompared != NULL)
        *ncompared = p->napikeys;
    return (long)found - 1;
}

static int auth_apikey(const pol_set *p, const char *key, size_t len, cm_arena *a,
                       pol_identity **out, const char **why)
{
    unsigned char hash[POL_SHA256_LEN];
    char ref[2 * POL_SHA256_LEN + 1];
    long i;

    for (size_t k = 3; k < len; k++) {
        char c = key[k];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
            *why = "malformed";
            return CM_EAUTH;
        }
    }
    SHA256((const unsigned char *)key, len, hash);
    if ((i = pol_apikey_find(p, hash, NULL)) < 0) {
        *why = "unknown_api_key";
        return CM_EAUTH;
    }
    const pol_apikey *k = &p->apikeys[i];
    pol_hex(hash, 8, ref);
    if ((*out = pol_identity_new(a, k->id, k->roles, k->nroles, k->team, "api_key", k->id, ref)) ==
        NULL) {
        *why = "arena_budget";
        return CM_ETOOBIG;
    }
    *why = NULL;
    return 0;
}

int pol_authenticate(const pol_set *p, const char *authorization, cm_arena *a, pol_identity **out,
                     const char **why)
{
    static const char *const anon_roles[] = {"anonymous"};
    const char *tok;
    size_t len, max;

    *why = NULL;
    if (!p->has_auth) {
        *out = pol_identity_new(a, "anonymous", anon_roles, 1, NULL, "none", NULL, NULL);
        *why = *out == NULL ? "arena_budget" : NULL;
        return *out == NULL ? CM_ETOOBIG : 0;
    }
    *why = "missing_credential";
    if (authorization == NULL || authorization[strspn(authorization, " \t")] == '\0')
        return CM_EAUTH;
    /* RFC 6750: "Bearer" (any case) 1*SP token */
    if (strncasecmp(authorization, "Bearer ", 7) != 0) {
        *why = "bad_scheme";
        return CM_EAUTH;
    }
    tok = authorization + 7;
    tok += strspn(tok, " ");
    max = p->max_token_bytes > 256 ? p->max_token_bytes : 256;
    len = strnlen(tok, max + 16);
    while (len > 0 && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
        len--;
    if (len == 0)
        return CM_EAUTH;
    if (len > max) {
        *why = "token_too_large";
        return CM_EAUTH;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)tok[i] <= 0x20 || (unsigned char)tok[i] >= 0x7f) {
            *why = "malformed";
            return CM_EAUTH;
        }
    }
    if (len > 3 && strncmp(tok, "gw_", 3) == 0)
        return auth_apikey(p, tok, len, a, out, why);
    if (!p->has_jwt) {
        *why = "jwt_disabled";
        return CM_EAUTH;
    }
    return pol_jwt_authenticate(p, tok, len, a, out, why);
}

/* ---- mTLS ---------------------------------------------------------------------- */
typedef struct dn_attr {
    char type[32];
    char value[POL_MAX_CLAIM + 1];
} dn_attr;

/* Split an RFC 4514 DN (',' and '+' separate, '\' escapes) or an OpenSSL
 * oneline DN ('/' separates) into attributes. -1 when malformed. */
static int dn_parse(const char *dn, dn_attr *at, int max)
{
    bool is_slash = dn[0] == '/';
    const char *s = dn + is_slash;
    int n = 0;

    while (*s != '\0') {
        size_t tl = strcspn(s, "=");
        size_t vl = 0;
        if (n == max || tl == 0 || tl >= sizeof(at[n].type) || s[tl] != '=')
            return -1;
        memcpy(at[n].type, s, tl);
        at[n].type[tl] = '\0';
        s += tl + 1;
        if (!is_slash && *s == '#')
            return -1; /* hex-encoded BER values are not names */
        while (*s != '\0' && !(is_slash ? *s == '/' : (*s == ',' || *s == '+'))) {
            char c = *s++;
            if (c == '\\' && !is_slash) {
                int hi = pol_hexval(s[0]), lo = hi >= 0 ? pol_hexval(s[1]) : -1;
                if (hi >= 0 && lo >= 0) {
                    c = (char)(hi << 4 | lo);
                    s += 2;
                } else if (*s != '\0') {
                    c = *s++;
                } else {
                    return -1;
                }
            }
            if (vl == POL_MAX_CLAIM)
                return -1;
            at[n].value[vl++] = c;
        }
        at[n].value[vl] = '\0';
        if (vl == 0 || strlen(at[n].value) != vl || !pol_is_clean(at[n].value))
            return -1;
        n++;
        if (*s != '\0')
            s++;
    }
    return n;
}

/* The one value of attribute type, or NULL (*is_bad when it repeats). */
static const char *dn_single(const dn_attr *at, int n, const char *type, bool *is_bad)
{
    const char *v = NULL;
    for (int i = 0; type != NULL && i < n; i++) {
        if (strcasecmp(at[i].type, type) == 0) {
            *is_bad = *is_bad || v != NULL;
            v = at[i].value;
        }
    }
    return v;
}

int pol_identity_from_cert(const pol_set *p, const char *subject_dn, cm_arena *a,
                           pol_identity **out)
{
    dn_attr at[32];
    const char *roles[32 + 64];
    size_t nroles = 0;
    unsigned char hash[POL_SHA256_LEN];
    char ref[2 * POL_SHA256_LEN + 1];
    bool is_bad = false;
    int n;

    if (!p->has_mtls || subject_dn == NULL || strnlen(subject_dn, POL_MAX_DN + 1) > POL_MAX_DN)
        return CM_EAUTH;
    if ((n = dn_parse(subject_dn, at, 32)) <= 0)
        return CM_EAUTH;
    const char *sub = dn_single(at, n, p->mtls_subject, &is_bad);
    const char *team = dn_single(at, n, p->mtls_team, &is_bad);
    if (sub == NULL || is_bad)
        return CM_EAUTH;
    for (int i = 0; p->mtls_roles != NULL && i < n; i++)
        if (strcasecmp(at[i].type, p->mtls_roles) == 0)
            roles[nroles++] = at[i].value;
    for (size_t i = 0; i < p->nmtls_default_roles; i++)
        roles[nroles++] = p->mtls_default_roles[i];
    SHA256((const unsigned char *)subject_dn, strlen(subject_dn), hash);
    pol_hex(hash, 8, ref);
    *out = pol_identity_new(a, sub, roles, nroles, team, "mtls", NULL, ref);
    return *out != NULL ? 0 : CM_ETOOBIG;
}
