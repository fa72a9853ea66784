/* policy/pol.h: who the caller is and what the caller may do.
 * Authentication (JWT verified with OpenSSL against pinned keys and JWKS,
 * gateway API keys, mTLS subjects) and per-role authorization (model globs,
 * endpoints, streaming, max_tokens). Config format: policy/README.md. */
#ifndef POL_H
#define POL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "common/cm.h"

/* Immutable after load (the JWKS key set is swapped internally), shared by threads. */
typedef struct pol_set pol_set;

/* Who the caller is; every field is allocated from the request arena. */
typedef struct pol_identity {
    const char *subject;
    const char *const *roles;
    size_t nroles;
    const char *team;      /* may be NULL */
    const char *method;    /* "jwt", "api_key", "mtls", "none" */
    const char *key_id;    /* API key id, or JWT kid; never the secret; may be NULL */
    const char *token_ref; /* jti, or first 16 hex of SHA-256(credential); never the token */
} pol_identity;

/* Build the policy from the gateway config's "auth" and "roles" objects
 * (borrowed). NULL auth: authentication is off and every caller is
 * {subject "anonymous", roles ["anonymous"]}; NULL roles: everything is denied.
 * base_dir resolves relative file paths. Every mistake is appended to errs
 * (may be NULL) with its JSON path; returns 0, or CM_EINVAL / CM_EIO.
 * Starts a JWKS refresh thread when auth.jwt.jwks is set. */
int pol_set_load(json_t *auth, json_t *roles, const char *base_dir, pol_set **out,
                 cm_errlist *errs) CM_MUST_CHECK;
/* Stops the JWKS thread, wipes secrets, frees everything. NULL is fine. */
void pol_set_free(pol_set *p);

/* Authenticate the raw Authorization header value (may be NULL): a JWT or a
 * gateway key ("gw_..."), both as "Bearer <credential>". Returns 0 and *out
 * (arena-allocated, *why NULL), or CM_EAUTH with *why a static reason for the
 * audit line ("expired", "bad_signature", "unknown_kid", ...; list in
 * policy/README.md) that must never reach the client, or CM_ETOOBIG when the
 * arena budget is exhausted. Thread-safe. */
int pol_authenticate(const pol_set *p, const char *authorization, cm_arena *a, pol_identity **out,
                     const char **why) CM_MUST_CHECK;

/* Identity for a client certificate whose chain the TLS layer has already
 * verified. subject_dn is RFC 4514 ("CN=alice,OU=analyst,O=dev") or OpenSSL
 * oneline ("/O=dev/OU=analyst/CN=alice"); attributes map per "auth.mtls".
 * Returns 0, or CM_EAUTH (mTLS not configured, unparsable DN, no subject). */
int pol_identity_from_cert(const pol_set *p, const char *subject_dn, cm_arena *a,
                           pol_identity **out) CM_MUST_CHECK;

/* Authorization for one request (id must not be NULL; thread-safe).
 * endpoint: "chat", "embeddings", "models";
 * model may be NULL for "models". One of the caller's roles must allow the
 * endpoint, the model and streaming together. Returns 0 or CM_EDENIED with
 * *why "endpoint_not_allowed", "model_not_allowed" or "stream_not_allowed". */
int pol_check(const pol_set *p, const pol_identity *id, const char *endpoint, const char *model,
              bool is_stream, const char **why) CM_MUST_CHECK;
/* Whether GET /v1/models should list model for this caller. */
bool pol_model_visible(const pol_set *p, const pol_identity *id, const char *model);
/* max_tokens cap for this caller, 0 = none: the largest cap among the
 * caller's roles, none if any of them is uncapped. */
unsigned pol_max_tokens(const pol_set *p, const pol_identity *id);

/* CLIs; argv[0] is the subcommand ("token", "keys"); return the exit code.
 * gateway token --sub S --role R [--role R2] [--team T] [--ttl 1h] [--key FILE]
 *               [--alg RS256] [--kid dev-rs] [--iss I] [--aud A]
 * gateway keys new --name NAME --role ROLE [--role R2] [--team T] */
int pol_cli_token(int argc, char **argv);
int pol_cli_keys(int argc, char **argv);

#endif
