/* mock_record.c: what the mock saw, for tests to inspect, plus the per-run directives.
 * Records live in a ring of g_mock_cfg.max_records slots indexed by seq % capacity, so a
 * benchmark cannot grow memory; a request finds its own record again by seq (or learns it
 * was evicted). One mutex guards the ring, the counters and the per-run config; it is taken a
 * few times per request and never while another lock is held.
 */
#include "mock.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct mock_record {
    uint64_t seq; /* 0: empty slot */
    char method[16];
    char *path;
    json_t *headers;
    json_t *query;
    char *body;
    size_t body_len;
    bool has_body;
    int status;
    bool completed;
    bool aborted;
    const char *termination;
} mock_record;

static pthread_mutex_t r_lock = PTHREAD_MUTEX_INITIALIZER;
static mock_record *r_ring;
static size_t r_cap;
static uint64_t r_next_seq = 1; /* never reset: ids stay unique */
static uint64_t r_first_seq = 1; /* oldest seq that may still be in the ring */
static uint64_t r_epoch_seq = 1; /* first seq after the last reset */
static uint64_t s_requests, s_aborted, s_active, s_max_active;

static mock_directives run_dir;
static char *run_text;
static long run_count; /* 0: inactive, < 0: until changed */

void mock_rec_init(void)
{
    r_cap = g_mock_cfg.max_records ? g_mock_cfg.max_records : 1;
    if (g_mock_cfg.record) {
        r_ring = mock_xmalloc(r_cap * sizeof *r_ring);
        memset(r_ring, 0, r_cap * sizeof *r_ring);
    }
    mock_dir_init(&run_dir);
}

static void rec_clear_slot(mock_record *r)
{
    free(r->path);
    free(r->body);
    json_decref(r->headers);
    json_decref(r->query);
    memset(r, 0, sizeof *r);
}

void mock_rec_fini(void)
{
    if (r_ring != NULL) {
        for (size_t i = 0; i < r_cap; i++)
            rec_clear_slot(&r_ring[i]);
        free(r_ring);
        r_ring = NULL;
    }
    mock_dir_fini(&run_dir);
    free(run_text);
    run_text = NULL;
}

static mock_record *rec_find(uint64_t seq)
{
    mock_record *r;

    if (r_ring == NULL || seq < r_first_seq)
        return NULL;
    r = &r_ring[seq % r_cap];
    return r->seq == seq ? r : NULL;
}

uint64_t mock_rec_begin(const char *method, const char *path, json_t *headers, json_t *query)
{
    uint64_t seq;

    pthread_mutex_lock(&r_lock);
    seq = r_next_seq++;
    s_requests++;
    if (++s_active > s_max_active)
        s_max_active = s_active;
    if (r_ring != NULL) {
        mock_record *r = &r_ring[seq % r_cap];
        rec_clear_slot(r);
        r->seq = seq;
        snprintf(r->method, sizeof r->method, "%s", method);
        r->path = mock_xstrndup(path, strlen(path));
        r->headers = headers;
        r->query = query;
        headers = query = NULL;
        if (r_first_seq + r_cap <= seq)
            r_first_seq = seq - r_cap + 1;
    }
    pthread_mutex_unlock(&r_lock);
    json_decref(headers);
    json_decref(query);
    return seq;
}

void mock_rec_body(uint64_t seq, const char *body, size_t len)
{
    pthread_mutex_lock(&r_lock);
    mock_record *r = rec_find(seq);
    if (r != NULL) {
        free(r->body);
        r->body = mock_xstrndup(body ? body : "", body ? len : 0);
        r->body_len = body ? len : 0;
        r->has_body = true;
    }
    pthread_mutex_unlock(&r_lock);
}

void mock_rec_status(uint64_t seq, int status)
{
    pthread_mutex_lock(&r_lock);
    mock_record *r = rec_find(seq);
    if (r != NULL)
        r->status = status;
    pthread_mutex_unlock(&r_lock);
}

void mock_rec_end(uint64_t seq, bool aborted, const char *termination)
{
    pthread_mutex_lock(&r_lock);
    if (s_active > 0)
        s_active--;
    /* A request that began before the last reset is not counted against the new epoch. */
    if (aborted && seq >= r_epoch_seq)
        s_aborted++;
    mock_record *r = rec_find(seq);
    if (r != NULL) {
        r->completed = true;
        r->aborted = aborted;
        r->termination = termination;
    }
    pthread_mutex_unlock(&r_lock);
}

static json_t *rec_json(const mock_record *r)
{
    json_t *o = json_object();

    json_object_set_new(o, "seq", json_integer((json_int_t)r->seq));
    json_object_set_new(o, "method", json_string(r->method));
    json_object_set_new(o, "path", json_string(r->path));
    json_object_set_new(o, "query", r->query ? json_incref(r->query) : json_object());
    json_object_set_new(o, "headers", r->headers ? json_incref(r->headers) : json_object());
    if (!r->has_body) {
        json_object_set_new(o, "body", json_null());
    } else if (mock_utf8_valid(r->body, r->body_len)) {
        json_object_set_new(o, "body", json_stringn(r->body, r->body_len));
    } else {
        /* Not representable as a JSON string: give the bytes with bad ones replaced, and
         * say so. */
        size_t n;
        char *s = mock_utf8_sanitize(r->body, r->body_len, &n);
        json_object_set_new(o, "body", json_stringn(s, n));
        json_object_set_new(o, "body_invalid_utf8", json_true());
        free(s);
    }
    json_object_set_new(o, "body_len", json_integer((json_int_t)r->body_len));
    json_object_set_new(o, "status", json_integer(r->status));
    json_object_set_new(o, "completed", json_boolean(r->completed));
    json_object_set_new(o, "aborted", json_boolean(r->aborted));
    json_object_set_new(o, "termination", r->termination ? json_string(r->termination)
                                                         : json_null());
    return o;
}

json_t *mock_rec_list(void)
{
    json_t *arr = json_array();

    pthread_mutex_lock(&r_lock);
    for (uint64_t s = r_first_seq; r_ring != NULL && s < r_next_seq; s++) {
        mock_record *r = rec_find(s);
        if (r != NULL)
            json_array_append_new(arr, rec_json(r));
    }
    pthread_mutex_unlock(&r_lock);
    return arr;
}

json_t *mock_rec_stats(void)
{
    json_t *o;

    pthread_mutex_lock(&r_lock);
    o = json_pack("{s:I, s:I, s:I, s:I}", "requests", (json_int_t)s_requests, "active",
                  (json_int_t)s_active, "aborted", (json_int_t)s_aborted, "max_concurrent",
                  (json_int_t)s_max_active);
    pthread_mutex_unlock(&r_lock);
    return o;
}

size_t mock_rec_clear(void)
{
    size_t n = 0;

    pthread_mutex_lock(&r_lock);
    for (size_t i = 0; r_ring != NULL && i < r_cap; i++) {
        if (r_ring[i].seq != 0)
            n++;
        rec_clear_slot(&r_ring[i]);
    }
    r_first_seq = r_epoch_seq = r_next_seq;
    s_requests = 0;
    s_aborted = 0;
    s_max_active = s_active;
    pthread_mutex_unlock(&r_lock);
    return n;
}

int mock_run_set(const char *directives, long count, char *err, size_t errlen)
{
    mock_directives d;
    size_t n = strlen(directives);

    mock_dir_init(&d);
    if (mock_dir_parse(directives, n, &d, err, errlen) != 0) {
        mock_dir_fini(&d);
        return -1;
    }
    pthread_mutex_lock(&r_lock);
    mock_dir_fini(&run_dir);
    run_dir = d;
    free(run_text);
    run_text = mock_xstrndup(directives, n);
    run_count = n == 0 ? 0 : count;
    pthread_mutex_unlock(&r_lock);
    return 0;
}

void mock_run_take(mock_directives *d)
{
    pthread_mutex_lock(&r_lock);
    if (run_count != 0) {
        mock_dir_merge(d, &run_dir);
        if (run_count > 0)
            run_count--;
    }
    pthread_mutex_unlock(&r_lock);
}

json_t *mock_run_get(void)
{
    json_t *o;

    pthread_mutex_lock(&r_lock);
    o = json_pack("{s:s, s:I}", "directives", run_count != 0 && run_text ? run_text : "",
                  "count", (json_int_t)run_count);
    pthread_mutex_unlock(&r_lock);
    return o;
}
