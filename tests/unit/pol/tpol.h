/* Shared helpers of the policy/ unit runner: a temp dir of generated keys,
 * config loading from JSON text, token building with time templates, stdout
 * capture for the CLIs, and a loopback HTTP server for JWKS URLs. */
#ifndef TPOL_H
#define TPOL_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "check.h"
#include "policy/pol_internal.h"

/* Keys generated once per run (OpenSSL APIs); public PEMs and secrets are
 * written into tp_dir as rsa.pub, rsa2.pub, ec256.pub, ec384.pub, ec521.pub,
 * ed25519.pub, ed448.pub, hs32.secret, hs48.secret, hs64.secret, and the
 * private keys as *.key. */
extern char tp_dir[];
extern EVP_PKEY *tp_rsa, *tp_rsa2, *tp_ec256, *tp_ec384, *tp_ec521, *tp_ed25519, *tp_ed448;
extern const char tp_hs32[], tp_hs48[], tp_hs64[]; /* 32, 48 and 64 byte secrets */

void tp_setup(void);
void tp_teardown(void);
/* tp_dir/name in one of 8 rotating static buffers. */
const char *tp_path(const char *name);
void tp_write(const char *name, const char *text);
/* Public key as PEM text (heap). */
char *tp_pub_pem(EVP_PKEY *k);

/* Replace "@+N"/"@-N" with now+N / now-N seconds, "@BIG" with 9000 'x'. Heap. */
char *tp_fill(const char *tmpl);
/* Base64url of a string (heap). */
char *tp_b64(const void *p, size_t n);
/* Token from header and payload templates, signed with alg (NULL: empty
 * signature) using priv or secret. Heap. */
char *tp_token(const char *hdr, const char *payload, const char *alg, EVP_PKEY *priv,
               const void *secret, size_t slen);

/* Load {"auth":..,"roles":..} text (after tp_fill) with base_dir tp_dir. */
pol_set *tp_load(const char *json_text);
/* Same, returning the code and the messages. */
int tp_load_errs(const char *json_text, cm_errlist *errs);
bool tp_errs_has(const cm_errlist *e, const char *needle);

/* "Bearer <tok>" through pol_authenticate with a fresh arena kept until the
 * next tp_auth call (or tp_auth_done). */
int tp_auth(const pol_set *p, const char *tok, pol_identity **id, const char **why);
void tp_auth_done(void);
/* An identity with the given roles (NULL-terminated) in a, for pol_check. */
pol_identity *tp_ident(cm_arena *a, ...);

/* Run fn(argc, argv) with stdout captured into *out (heap); stderr muted. */
int tp_capture(int (*fn)(int, char **), char **out, ...);
/* Run a shell command; its exit status. */
int tp_sh(const char *fmt, ...);

/* Loopback HTTP server answering every GET with (status, body). */
typedef struct tp_http tp_http;
tp_http *tp_http_start(void);
unsigned tp_http_port(tp_http *h);
void tp_http_set(tp_http *h, unsigned status, const char *body);
unsigned tp_http_requests(tp_http *h);
void tp_http_stop(tp_http *h);

/* JWK JSON text for a public key (kid, alg or NULL, extra members or NULL). Heap. */
char *tp_jwk(EVP_PKEY *k, const char *kid, const char *alg);

/* Suites. */
void test_attacks(void);
void test_algs(void);
void test_interop(void);
void test_load(void);
void test_jwks(void);
void test_cache(void);
void test_apikeys(void);
void test_claims(void);
void test_mtls(void);
void test_roles(void);
void test_cli(void);
void test_perf(void);

#endif
