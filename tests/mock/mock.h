/* mock.h: internal interface of the mock OpenAI provider (tests/mock/).
 * The binary is built from every tests/mock/ C file: mock_main (CLI, daemon, signals), mock_http (MHD
 * callbacks, request state machine), mock_openai (wire-format bodies), mock_directive (failure
 * injection), mock_record (recording, stats, per-run config), mock_timer (the one timer thread
 * that resumes suspended connections) and mock_buf (byte buffer, JSON escaping, UTF-8).
 */
#ifndef MOCK_H
#define MOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define MOCK_MAX_BODY     (64u * 1024u * 1024u)
#define MOCK_NEVER        UINT64_MAX
#define MOCK_FINGERPRINT  "fp_mock0001"
#define MOCK_CREATED_BASE 1700000000

/* Process-wide settings from the command line; written once before the daemon starts. */
typedef struct mock_cfg {
    const char *host;
    unsigned port;
    const char *api_key; /* NULL: no auth */
    int events;          /* default content pieces per stream */
    long gap_ms;         /* default gap between stream events */
    bool record;
    size_t max_records;
    long probe_ms; /* how often a suspended connection checks that its client is still there */
    bool quiet;
} mock_cfg;

extern mock_cfg g_mock_cfg;

/* ---- mock_buf.c ------------------------------------------------------------------------- */
typedef struct mock_buf {
    char *data;
    size_t len;
    size_t cap;
} mock_buf;

void *mock_xmalloc(size_t n);
void *mock_xrealloc(void *p, size_t n);
char *mock_xstrndup(const char *s, size_t n);
void mock_buf_add(mock_buf *b, const void *p, size_t n);
void mock_buf_adds(mock_buf *b, const char *s);
void mock_buf_addf(mock_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a quoted JSON string; s must be valid UTF-8 (see mock_utf8_sanitize). */
void mock_buf_add_jstr(mock_buf *b, const char *s, size_t n);
/* Returns the NUL-terminated data (caller frees) and resets b. */
char *mock_buf_steal(mock_buf *b, size_t *len);
void mock_buf_fini(mock_buf *b);
/* New malloc'd copy of s with every invalid UTF-8 byte replaced by U+FFFD. */
char *mock_utf8_sanitize(const char *s, size_t n, size_t *out_len);
bool mock_utf8_valid(const char *s, size_t n);
uint64_t mock_now_ms(void);

/* ---- mock_directive.c ------------------------------------------------------------------- */
enum { MOCK_UNSET = -1 };
enum { MOCK_STALL_NONE = 0, MOCK_STALL_HEADERS = 1, MOCK_STALL_BODY = 2 };
enum { MOCK_DROP_NONE = 0, MOCK_DROP_BEFORE = 1, MOCK_DROP_MID = 2 };

/* Every field is MOCK_UNSET (content: NULL) until a directive sets it. */
typedef struct mock_directives {
    int status;
    int retry_after;
    long delay_ms;
    long gap_ms;
    int events;
    int stall;
    int drop;
    int malformed;
    char *content; /* owned, valid UTF-8 */
} mock_directives;

void mock_dir_init(mock_directives *d);
void mock_dir_fini(mock_directives *d);
/* Parses "k=v;k=v" and overrides the fields it names. Returns the number of bad directives;
 * if err is given, the first problem is described there. */
int mock_dir_parse(const char *s, size_t n, mock_directives *d, char *err, size_t errlen);
/* Fields set in src override dst. */
void mock_dir_merge(mock_directives *dst, const mock_directives *src);
/* Looks for "[[mock:...]]" in text and parses the first one into d. */
void mock_dir_from_text(const char *text, size_t n, mock_directives *d);

/* ---- mock_record.c ---------------------------------------------------------------------- */
void mock_rec_init(void);
void mock_rec_fini(void);
/* Counts a request and, when recording, stores it (headers/query are stolen, may be NULL).
 * Returns its sequence number (1, 2, ...), used for ids too. */
uint64_t mock_rec_begin(const char *method, const char *path, json_t *headers, json_t *query);
void mock_rec_body(uint64_t seq, const char *body, size_t len);
void mock_rec_status(uint64_t seq, int status);
void mock_rec_end(uint64_t seq, bool aborted, const char *termination);
json_t *mock_rec_list(void);
json_t *mock_rec_stats(void);
size_t mock_rec_clear(void);
/* Per-run directives. count < 0: until changed. Empty directives clear. */
int mock_run_set(const char *directives, long count, char *err, size_t errlen);
/* Merges the per-run directives into d (if any are active) and consumes one use. */
void mock_run_take(mock_directives *d);
json_t *mock_run_get(void);

/* ---- mock_timer.c ----------------------------------------------------------------------- */
struct mock_req;
int mock_timer_start(void);
/* Schedules mock_req_wake(r, gen) at monotonic time due_ms. The caller hands over one
 * reference on r, which the timer drops after the wake (or in mock_timer_drain). */
void mock_timer_add(uint64_t due_ms, struct mock_req *r, unsigned gen);
void mock_timer_stop(void);  /* joins the thread; entries stay queued */
void mock_timer_drain(void); /* drops the references held by queued entries */

/* ---- mock_http.c ------------------------------------------------------------------------ */
struct MHD_Daemon;
struct MHD_Daemon *mock_http_start(void);
void mock_http_stop(struct MHD_Daemon *d);
void mock_req_wake(struct mock_req *r, unsigned gen);
void mock_req_unref(struct mock_req *r);

/* ---- mock_openai.c ---------------------------------------------------------------------- */
/* One SSE event (or a slice of a body) with the delay to wait after the previous one. */
typedef struct mock_event {
    char *data;
    size_t len;
    long delay_ms;
} mock_event;

/* What the endpoint logic decided before transport-level faults are applied. */
typedef struct mock_reply {
    int status;
    char *body; /* non-stream body (malloc'd) */
    size_t body_len;
    bool is_stream;
    mock_event *evs; /* stream events */
    size_t n_evs;
} mock_reply;

void mock_reply_fini(mock_reply *rep);
/* Fills rep for a request to a /v1 path. dir holds the merged header/run directives; the
 * function adds text directives found in the request, then builds the reply using them. */
void mock_openai_reply(const char *method, const char *path, const char *body, size_t len,
                       uint64_t seq, mock_directives *dir, mock_reply *rep);
/* OpenAI error envelope for status (message/code NULL: the default text for that status). */
char *mock_openai_error(int status, const char *message, const char *param, const char *code,
                        size_t *len);
/* Replaces rep with status's error envelope (non-stream). */
void mock_openai_set_error(mock_reply *rep, int status, const char *message, const char *param,
                           const char *code);

#endif
