/* redaction/red.h: find PII and secrets in bytes, and rewrite or restore them.
 * Bytes in, spans and bytes out: nothing here knows about HTTP or JSON.
 * Lifetimes: red_engine (process, immutable, shared by threads), red_worker
 * (one per thread), red_session (one per request, lives in the request arena). */
#ifndef RED_H
#define RED_H

#include "common/cm.h"

typedef struct red_engine red_engine;   /* compiled rules; immutable after load, thread-safe */
typedef struct red_worker red_worker;   /* Hyperscan scratch + PCRE2 match data; one thread */
typedef struct red_session red_session; /* pseudonym map and HMAC key for one request */

/* Actions, ordered from least to most strict (a larger value wins a role merge). */
typedef enum red_action {
    RED_ACT_NONE = 0, /* leave the value */
    RED_ACT_PSEUDO,   /* <EMAIL_1>, restorable within the session */
    RED_ACT_HASH,     /* [EMAIL_3f9a1c2b], HMAC-SHA256 first 8 hex */
    RED_ACT_MASK,     /* [EMAIL] */
    RED_ACT_BLOCK     /* refuse the whole request */
} red_action;
#define RED_NACTIONS 5

/* An entity type (EMAIL, IBAN, ...) and its default action from the rules. */
typedef struct red_type {
    const char *name;
    red_action action;
} red_type;

/* One merged finding: [start,end) are byte offsets on UTF-8 character boundaries. */
typedef struct red_finding {
    size_t start, end;
    unsigned type;    /* index into red_engine_types() */
    const char *rule; /* rule id; valid as long as the engine */
} red_finding;

/* Load every *.rules file of dir, compile one Hyperscan database and the PCRE2
 * confirmations. Every bad rule is added to errs as "file:line: rule \"id\": msg".
 * Returns 0, CM_EINVAL (bad rules), CM_EIO (unreadable dir/file). */
int red_engine_load(const char *dir, red_engine **out, cm_errlist *errs) CM_MUST_CHECK;
void red_engine_free(red_engine *eng); /* NULL is fine; no worker may outlive it */
/* The engine's entity types (borrowed, engine lifetime); *n gets their count. */
const red_type *red_engine_types(const red_engine *eng, size_t *n);

/* Per-thread scan state (Hyperscan scratch cloned from the engine's prototype). */
int red_worker_new(const red_engine *eng, red_worker **out) CM_MUST_CHECK;
void red_worker_free(red_worker *w);

/* Scan text: Hyperscan pass, local confirmation (PCRE2 JIT, validators, context)
 * and deterministic merge (priority, then longest, then leftmost). *out is
 * borrowed from w, sorted by start, valid until the next call on w.
 * Fails closed: CM_ETOOBIG (text > 4 GiB), CM_EINTERNAL (a library failure). */
int red_scan(red_worker *w, const char *text, size_t len, const red_finding **out,
             size_t *n) CM_MUST_CHECK;

/* New request session in arena a. key (may be NULL when no rule hashes) is
 * borrowed and must outlive the session. Returns 0 or CM_ETOOBIG (arena budget). */
int red_session_new(const red_engine *eng, const void *key, size_t keylen, cm_arena *a,
                    red_session **out) CM_MUST_CHECK;

/* Append text to out with every finding replaced as actions[type] says
 * (actions NULL: the rules' defaults). Returns 0; CM_EBLOCKED with *block_type
 * set to the static type name when a finding's action is block (out is then
 * unspecified); CM_ETOOBIG (out's bound or the arena budget); CM_EINVAL when a
 * hash is asked without a key. Pseudonyms are recorded in s. */
int red_apply(red_session *s, const red_action *actions, const char *text, size_t len,
              const red_finding *f, size_t nf, cm_buf *out, const char **block_type) CM_MUST_CHECK;

/* Replace every placeholder <TYPE_N> made by s with its original value.
 * stream < 0: text is complete. stream >= 0: text is the next piece of stream
 * number `stream`; a tail that may begin a placeholder is held back and put in
 * front of the next piece; is_last releases it. Returns 0, CM_ETOOBIG. */
int red_restore(red_session *s, int stream, const char *text, size_t len, bool is_last,
                cm_buf *out) CM_MUST_CHECK;
/* Number of distinct pseudonyms s created (0: nothing to restore). */
size_t red_session_pseudonyms(const red_session *s);

#endif
