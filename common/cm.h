/* common/cm.h: the few pieces gateway/, policy/ and redaction/ share:
 * error codes and text, a per-request arena with deferred cleanups, a bounded
 * byte buffer, and logging. Nothing here knows about HTTP, JSON or rules. */
#ifndef CM_H
#define CM_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define CM_MUST_CHECK __attribute__((warn_unused_result))
#define CM_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Shared error codes: 0 is success, failures are negative. */
enum {
    CM_OK = 0,
    CM_ENOMEM = -1,    /* allocation failed */
    CM_EINVAL = -2,    /* malformed input or argument */
    CM_ETOOBIG = -3,   /* a size bound was exceeded */
    CM_EDENIED = -4,   /* policy said no */
    CM_EUPSTREAM = -5, /* the provider failed */
    CM_ETIMEOUT = -6,  /* a deadline passed */
    CM_ENOTFOUND = -7, /* unknown model, key, path */
    CM_EAUTH = -8,     /* missing or invalid credential */
    CM_EIO = -9,       /* file or socket error */
    CM_EBLOCKED = -10, /* content rule blocked the request */
    CM_EINTERNAL = -11 /* a bug or an unexpected library failure */
};

/* Human-readable story of a failure at load time; fixed size, no allocation. */
typedef struct cm_err {
    char msg[256];
} cm_err;

/* Fill err (may be NULL) with a formatted message; returns code unchanged. */
int cm_err_set(cm_err *err, int code, const char *fmt, ...) CM_PRINTF(3, 4);
/* Short static name of a code ("ETOOBIG"). */
const char *cm_strerror(int code);

/* A list of messages, for validators that report every mistake at once. */
typedef struct cm_errlist {
    char **msgs;
    size_t n;
} cm_errlist;
/* Append a formatted message (copied). */
void cm_errlist_add(cm_errlist *l, const char *fmt, ...) CM_PRINTF(2, 3);
void cm_errlist_fini(cm_errlist *l);

/* ---- arena: request lifetime ---------------------------------------- */
typedef struct cm_arena cm_arena;
/* New arena allowing at most budget bytes of allocations (0 = unlimited). */
cm_arena *cm_arena_new(size_t budget);
/* Runs deferred cleanups (LIFO), wipes and frees every chunk. NULL is fine. */
void cm_arena_free(cm_arena *a);
/* Aligned allocation; NULL when the budget is exceeded (CM_ETOOBIG). */
void *cm_arena_alloc(cm_arena *a, size_t n);
void *cm_arena_calloc(cm_arena *a, size_t n);
char *cm_arena_strndup(cm_arena *a, const char *s, size_t n);
char *cm_arena_sprintf(cm_arena *a, const char *fmt, ...) CM_PRINTF(2, 3);
/* Register fn(ptr) to run when the arena is freed. */
int cm_arena_defer(cm_arena *a, void (*fn)(void *), void *ptr) CM_MUST_CHECK;
size_t cm_arena_used(const cm_arena *a);

/* ---- bounded buffer -------------------------------------------------- */
typedef struct cm_buf {
    char *data; /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
    size_t max; /* hard bound on len; 0 = SIZE_MAX/2 */
} cm_buf;

void cm_buf_init(cm_buf *b, size_t max);
/* Append n bytes; CM_ETOOBIG past max (buffer unchanged). Aborts on OOM. */
int cm_buf_append(cm_buf *b, const void *p, size_t n) CM_MUST_CHECK;
int cm_buf_appendf(cm_buf *b, const char *fmt, ...) CM_PRINTF(2, 3) CM_MUST_CHECK;
/* Make room for n more bytes up front (one allocation instead of doublings). */
int cm_buf_reserve(cm_buf *b, size_t n) CM_MUST_CHECK;
/* Drop the first n bytes. */
void cm_buf_consume(cm_buf *b, size_t n);
void cm_buf_reset(cm_buf *b);
/* Wipe and release; the buffer may be reused after cm_buf_init. */
void cm_buf_fini(cm_buf *b);

/* ---- misc -------------------------------------------------------------- */
/* Abort with a message on allocation failure (recovery paths never get tested). */
void *cm_xmalloc(size_t n);
void *cm_xcalloc(size_t n, size_t m);
void *cm_xrealloc(void *p, size_t n);
char *cm_xstrdup(const char *s);
/* Constant-time comparison of two equal-length byte strings: 0 when equal. */
int cm_memeq_ct(const void *a, const void *b, size_t n);
/* Wipe memory that held secrets or prompts (not optimised away). */
void cm_wipe(void *p, size_t n);
/* free() that wipes the whole malloc block first; a drop-in free for
 * allocators handed to libraries (jansson's json_set_alloc_funcs). */
void cm_wipe_free(void *p);
/* Monotonic and wall clocks. */
uint64_t cm_now_us(void);
uint64_t cm_wall_ms(void);
/* Read a whole file (≤ max bytes) into a NUL-terminated heap buffer. */
int cm_file_read(const char *path, size_t max, char **out, size_t *len, cm_err *err) CM_MUST_CHECK;

/* ---- logging (stderr, one line each) ---------------------------------- */
enum { CM_LOG_DEBUG, CM_LOG_INFO, CM_LOG_WARN, CM_LOG_ERROR };
void cm_log_set_level(int level);
/* fmt must be a literal; never pass prompt text, tokens or secrets. */
void cm_log(int level, const char *fmt, ...) CM_PRINTF(2, 3);

#endif
