/* mock_http.c: libmicrohttpd side of the mock: access handler, content reader, completion.
 * Every wait (delay_ms, gaps between events, stalls) suspends the connection and hands a
 * deadline to mock_timer.c, which resumes it; nothing sleeps and no reader returns 0 without
 * suspending first. While suspended, MHD cannot see a client leave, so a waiting request also
 * wakes every probe_ms and peeks at its socket (recv MSG_PEEK == 0 means the peer closed).
 * Locks: response mutex (MHD, around the reader) -> request lock -> timer heap lock; the live
 * list lock -> request lock (shutdown only). The request lock guards only suspension state.
 */
#include "mock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

enum { END_EOS, END_ERROR, END_STALL };

struct mock_req {
    pthread_mutex_t lock;
    atomic_int refs;
    struct MHD_Connection *conn;
    struct mock_req *prev, *next; /* live list, for resuming everything at shutdown */
    char method[16];
    uint64_t seq;
    bool is_admin;
    bool is_v1;
    bool is_planned;
    bool is_queued;
    bool is_too_big;
    mock_buf body;
    mock_directives dir;
    mock_reply rep;
    uint64_t due; /* when the response headers may go out */
    /* Guarded by lock, shared with the timer thread; the rest is MHD-thread only. */
    bool is_suspended;
    bool woke; /* resumed since the last look at the socket */
    unsigned gen;
    /* How it ended. */
    bool client_gone;
    bool dropped;
    /* Body sending: events of rep, in order. */
    size_t ev_idx;
    size_t ev_off;
    uint64_t ev_ready;
    int end_action;
};

static atomic_bool g_stopping;
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mock_req *live_head;

/* ---- request lifetime -------------------------------------------------------------------- */

static void req_ref(struct mock_req *r)
{
    atomic_fetch_add(&r->refs, 1);
}

void mock_req_unref(struct mock_req *r)
{
    if (atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    mock_buf_fini(&r->body);
    mock_dir_fini(&r->dir);
    mock_reply_fini(&r->rep);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

static enum MHD_Result add_header_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                     size_t key_size, const char *value, size_t value_size)
{
    json_t *obj = cls;
    char name[256];
    size_t n = key_size < sizeof name - 1 ? key_size : sizeof name - 1;
    json_t *old;
    mock_buf v = {0};

    (void)kind;
    for (size_t i = 0; i < n; i++)
        name[i] = (key[i] >= 'A' && key[i] <= 'Z') ? (char)(key[i] + 32) : key[i];
    name[n] = '\0';
    if (!mock_utf8_valid(name, n))
        return MHD_YES;
    /* Repeated headers are folded the way HTTP allows: "a, b". */
    if ((old = json_object_get(obj, name)) != NULL && json_is_string(old)) {
        mock_buf_add(&v, json_string_value(old), json_string_length(old));
        mock_buf_adds(&v, ", ");
    }
    if (value != NULL) {
        char *s = mock_utf8_sanitize(value, value_size, &n);
        mock_buf_add(&v, s, n);
        free(s);
    }
    if (value == NULL && old == NULL)
        json_object_set_new(obj, name, json_null());
    else
        json_object_set_new(obj, name, json_stringn(v.data ? v.data : "", v.len));
    mock_buf_fini(&v);
    return MHD_YES;
}

static struct mock_req *req_new(struct MHD_Connection *conn, const char *url, const char *method)
{
    struct mock_req *r = mock_xmalloc(sizeof *r);
    json_t *headers = NULL, *query = NULL;

    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    atomic_init(&r->refs, 1);
    r->conn = conn;
    snprintf(r->method, sizeof r->method, "%s", method);
    mock_dir_init(&r->dir);
    r->is_admin = strncmp(url, "/_mock/", 7) == 0;
    r->is_v1 = strncmp(url, "/v1/", 4) == 0;
    if (!r->is_admin) {
        if (g_mock_cfg.record) {
            headers = json_object();
            query = json_object();
            MHD_get_connection_values_n(conn, MHD_HEADER_KIND, add_header_cb, headers);
            MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, add_header_cb, query);
        }
        r->seq = mock_rec_begin(method, url, headers, query);
    }
    if (r->is_v1) {
        const char *hdr = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Mock");
        mock_run_take(&r->dir);
        if (hdr != NULL)
            mock_dir_parse(hdr, strlen(hdr), &r->dir, NULL, 0);
    }
    pthread_mutex_lock(&live_lock);
    r->next = live_head;
    if (live_head)
        live_head->prev = r;
    live_head = r;
    pthread_mutex_unlock(&live_lock);
    return r;
}

static void live_remove(struct mock_req *r)
{
    pthread_mutex_lock(&live_lock);
    if (r->prev)
        r->prev->next = r->next;
    else
        live_head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    pthread_mutex_unlock(&live_lock);
}

/* ---- suspension -------------------------------------------------------------------------- */

/* MHD thread only (access handler or reader). False when shutting down. r->lock is held
 * only here and in the wake paths, never around MHD calls that take the response mutex (the
 * reader runs under it), so the lock order stays response -> request -> MHD/timer internals. */
static bool req_suspend(struct mock_req *r, uint64_t due)
{
    uint64_t wake = mock_now_ms() + (uint64_t)g_mock_cfg.probe_ms;
    bool ok = false;

    if (due < wake)
        wake = due;
    pthread_mutex_lock(&r->lock);
    if (!atomic_load(&g_stopping)) {
        r->is_suspended = true;
        r->gen++;
        MHD_suspend_connection(r->conn);
        req_ref(r);
        mock_timer_add(wake, r, r->gen);
        ok = true;
    }
    pthread_mutex_unlock(&r->lock);
    return ok;
}

void mock_req_wake(struct mock_req *r, unsigned gen)
{
    pthread_mutex_lock(&r->lock);
    if (r->is_suspended && r->gen == gen) {
        r->is_suspended = false;
        r->woke = true;
        MHD_resume_connection(r->conn);
    }
    pthread_mutex_unlock(&r->lock);
}

static bool peer_gone(struct mock_req *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    char c;
    ssize_t n;

    if (ci == NULL)
        return false;
    n = recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0)
        return true;
    return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

/* After a resume: has the client left while we were not looking? */
static bool check_gone(struct mock_req *r)
{
    bool woke;

    pthread_mutex_lock(&r->lock);
    woke = r->woke;
    r->woke = false;
    pthread_mutex_unlock(&r->lock);
    if (woke && peer_gone(r))
        r->client_gone = true;
    return r->client_gone;
}

/* ---- responses --------------------------------------------------------------------------- */

static enum MHD_Result send_buf(struct MHD_Connection *conn, unsigned status, char *body,
                                size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result ret;

    if (resp == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    mock_buf b = {0};

    json_decref(j);
    mock_buf_adds(&b, s ? s : "null");
    mock_buf_add(&b, "\n", 1);
    free(s);
    return send_buf(conn, status, b.data, b.len);
}

static enum MHD_Result admin_config(struct mock_req *r)
{
    json_error_t jerr;
    json_t *root = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, &jerr);
    json_t *dirs = json_object_get(root, "directives");
    json_t *count = json_object_get(root, "count");
    char err[160] = "";

    if (!json_is_string(dirs) || (count != NULL && !json_is_integer(count))) {
        json_decref(root);
        return send_json(r->conn, 400,
                         json_pack("{s:s}", "error",
                                   "expected {\"directives\":\"k=v;...\",\"count\":N}"));
    }
    if (mock_run_set(json_string_value(dirs), count ? (long)json_integer_value(count) : -1, err,
                     sizeof err) != 0) {
        json_decref(root);
        return send_json(r->conn, 400, json_pack("{s:s}", "error", err));
    }
    json_decref(root);
    return send_json(r->conn, 200, mock_run_get());
}

static enum MHD_Result admin_reply(struct mock_req *r, const char *url)
{
    bool get = strcmp(r->method, "GET") == 0;

    if (strcmp(url, "/_mock/requests") == 0 && get)
        return send_json(r->conn, 200, mock_rec_list());
    if (strcmp(url, "/_mock/requests") == 0 && strcmp(r->method, "DELETE") == 0)
        return send_json(r->conn, 200, json_pack("{s:I}", "cleared", (json_int_t)mock_rec_clear()));
    if (strcmp(url, "/_mock/stats") == 0 && get)
        return send_json(r->conn, 200, mock_rec_stats());
    if (strcmp(url, "/_mock/config") == 0 && strcmp(r->method, "POST") == 0)
        return admin_config(r);
    if (strcmp(url, "/_mock/config") == 0 && get)
        return send_json(r->conn, 200, mock_run_get());
    if (strcmp(url, "/_mock/health") == 0 && get)
        return send_json(r->conn, 200, json_pack("{s:b}", "ok", 1));
    return send_json(r->conn, 404, json_pack("{s:s}", "error", "unknown mock endpoint"));
}

static bool auth_ok(struct mock_req *r)
{
    const char *h;

    if (g_mock_cfg.api_key == NULL)
        return true;
    h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    return h != NULL && strncmp(h, "Bearer ", 7) == 0 && strcmp(h + 7, g_mock_cfg.api_key) == 0;
}

static void plan(struct mock_req *r, const char *url)
{
    if (g_mock_cfg.record)
        mock_rec_body(r->seq, r->body.data, r->body.len);
    if (r->is_v1 && !auth_ok(r)) {
        /* Like the real API: a bad key is answered before anything else happens. */
        mock_dir_fini(&r->dir);
        mock_dir_init(&r->dir);
        mock_openai_set_error(&r->rep, 401, NULL, NULL, NULL);
    } else if (r->is_too_big) {
        mock_openai_set_error(&r->rep, 413, NULL, NULL, NULL);
    } else {
        mock_openai_reply(r->method, url, r->body.data, r->body.len, r->seq, &r->dir, &r->rep);
    }
    if (r->dir.delay_ms > 0)
        r->due = mock_now_ms() + (uint64_t)r->dir.delay_ms;
}

static ssize_t reader_step(struct mock_req *r, char *buf, size_t max)
{
    mock_reply *rep = &r->rep;

    if (check_gone(r))
        return MHD_CONTENT_READER_END_WITH_ERROR;
    while (r->ev_off == 0) {
        if (r->ev_idx >= rep->n_evs) {
            if (r->end_action == END_EOS)
                return MHD_CONTENT_READER_END_OF_STREAM;
            if (r->end_action == END_ERROR) {
                r->dropped = true;
                return MHD_CONTENT_READER_END_WITH_ERROR;
            }
            return req_suspend(r, MOCK_NEVER) ? 0 : MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (mock_now_ms() < r->ev_ready)
            return req_suspend(r, r->ev_ready) ? 0 : MHD_CONTENT_READER_END_WITH_ERROR;
        if (rep->evs[r->ev_idx].len > 0)
            break;
        r->ev_idx++; /* empty events are never returned: 0 would mean "no data yet" */
    }
    mock_event *e = &rep->evs[r->ev_idx];
    size_t n = e->len - r->ev_off;
    if (n > max)
        n = max;
    memcpy(buf, e->data + r->ev_off, n);
    r->ev_off += n;
    if (r->ev_off == e->len) {
        r->ev_off = 0;
        if (++r->ev_idx < rep->n_evs)
            r->ev_ready = mock_now_ms() + (uint64_t)rep->evs[r->ev_idx].delay_ms;
    }
    return (ssize_t)n;
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    return reader_step(cls, buf, max);
}

static void reader_free(void *cls)
{
    mock_req_unref(cls);
}

/* Cuts the reply to what is sent before a drop or stall, and says what happens after. */
static void plan_partial(struct mock_req *r)
{
    mock_reply *rep = &r->rep;
    size_t keep = r->dir.drop == MOCK_DROP_MID ? 2 : 1;

    r->end_action = r->dir.drop == MOCK_DROP_MID ? END_ERROR : END_STALL;
    if (!rep->is_stream) {
        rep->evs = mock_xmalloc(sizeof *rep->evs);
        rep->evs[0].len = rep->body_len / 2 ? rep->body_len / 2 : rep->body_len;
        rep->evs[0].data = mock_xstrndup(rep->body, rep->evs[0].len);
        rep->evs[0].delay_ms = 0;
        rep->n_evs = 1;
        return;
    }
    while (rep->n_evs > keep) {
        rep->n_evs--;
        free(rep->evs[rep->n_evs].data);
    }
}

static enum MHD_Result queue_reply(struct mock_req *r)
{
    mock_reply *rep = &r->rep;
    bool partial = r->dir.drop == MOCK_DROP_MID || r->dir.stall == MOCK_STALL_BODY;
    struct MHD_Response *resp;
    enum MHD_Result ret;
    char tmp[32];

    if (!rep->is_stream && !partial) {
        resp = MHD_create_response_from_buffer(rep->body_len, rep->body, MHD_RESPMEM_MUST_FREE);
        rep->body = NULL;
    } else {
        if (partial)
            plan_partial(r);
        r->ev_ready = mock_now_ms();
        req_ref(r);
        resp = MHD_create_response_from_callback(rep->is_stream ? MHD_SIZE_UNKNOWN
                                                                : (uint64_t)rep->body_len,
                                                 4096, reader, r, reader_free);
        if (resp == NULL)
            mock_req_unref(r);
    }
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            rep->is_stream ? "text/event-stream" : "application/json");
    if (rep->is_stream)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    snprintf(tmp, sizeof tmp, "req_mock%llu", (unsigned long long)r->seq);
    MHD_add_response_header(resp, "x-request-id", tmp);
    MHD_add_response_header(resp, "openai-version", "2020-10-01");
    MHD_add_response_header(resp, "openai-organization", "org-mock");
    snprintf(tmp, sizeof tmp, "%ld", r->dir.delay_ms > 0 ? r->dir.delay_ms : 1L);
    MHD_add_response_header(resp, "openai-processing-ms", tmp);
    if (r->dir.retry_after != MOCK_UNSET) {
        snprintf(tmp, sizeof tmp, "%d", r->dir.retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, tmp);
    }
    if (rep->status == 429) {
        MHD_add_response_header(resp, "x-ratelimit-limit-requests", "3");
        MHD_add_response_header(resp, "x-ratelimit-remaining-requests", "0");
        snprintf(tmp, sizeof tmp, "%ds", r->dir.retry_after > 0 ? r->dir.retry_after : 20);
        MHD_add_response_header(resp, "x-ratelimit-reset-requests", tmp);
    }
    ret = MHD_queue_response(r->conn, (unsigned)rep->status, resp);
    MHD_destroy_response(resp);
    r->is_queued = true;
    if (g_mock_cfg.record)
        mock_rec_status(r->seq, rep->status);
    return ret;
}

/* Final-call logic (body complete). Called again after every resume until it queues. */
static enum MHD_Result req_step(struct mock_req *r, const char *url)
{
    if (!r->is_planned) {
        r->is_planned = true;
        if (r->is_admin)
            return admin_reply(r, url);
        plan(r, url);
    }
    if (r->is_queued)
        return MHD_YES;
    if (check_gone(r))
        return MHD_NO;
    if (r->due > mock_now_ms())
        return req_suspend(r, r->due) ? MHD_YES : MHD_NO;
    if (r->dir.stall == MOCK_STALL_HEADERS)
        return req_suspend(r, MOCK_NEVER) ? MHD_YES : MHD_NO;
    if (r->dir.drop == MOCK_DROP_BEFORE) {
        r->dropped = true;
        return MHD_NO;
    }
    return queue_reply(r);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls)
{
    struct mock_req *r = *con_cls;

    (void)cls;
    (void)version;
    if (r == NULL) {
        *con_cls = req_new(conn, url, method);
        return MHD_YES;
    }
    if (*upload_size != 0) {
        if (!r->is_too_big && r->body.len + *upload_size <= MOCK_MAX_BODY)
            mock_buf_add(&r->body, upload, *upload_size);
        else
            r->is_too_big = true;
        *upload_size = 0;
        return MHD_YES;
    }
    return req_step(r, url);
}

static const char *toe_name(enum MHD_RequestTerminationCode toe)
{
    switch (toe) {
    case MHD_REQUEST_TERMINATED_COMPLETED_OK:
        return "completed_ok";
    case MHD_REQUEST_TERMINATED_WITH_ERROR:
        return "with_error";
    case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
        return "timeout";
    case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
        return "daemon_shutdown";
    case MHD_REQUEST_TERMINATED_READ_ERROR:
        return "read_error";
    case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
        return "client_abort";
    }
    return "unknown";
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct mock_req *r = *con_cls;

    (void)cls;
    (void)conn;
    if (r == NULL)
        return;
    *con_cls = NULL;
    if (!r->is_admin) {
        bool dropped = r->dropped && !r->client_gone;
        bool aborted =
            r->client_gone || (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && !dropped);
        mock_rec_end(r->seq, aborted, dropped ? "mock_drop" : toe_name(toe));
    }
    live_remove(r);
    mock_req_unref(r);
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    if (g_mock_cfg.quiet)
        return;
    fputs("mock_provider: mhd: ", stderr);
    vfprintf(stderr, fmt, ap);
}

struct MHD_Daemon *mock_http_start(void)
{
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    struct sockaddr *sa;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;

    memset(&sin, 0, sizeof sin);
    memset(&sin6, 0, sizeof sin6);
    if (inet_pton(AF_INET, g_mock_cfg.host, &sin.sin_addr) == 1) {
        sin.sin_family = AF_INET;
        sin.sin_port = htons((uint16_t)g_mock_cfg.port);
        sa = (struct sockaddr *)&sin;
    } else if (inet_pton(AF_INET6, g_mock_cfg.host, &sin6.sin6_addr) == 1) {
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons((uint16_t)g_mock_cfg.port);
        sa = (struct sockaddr *)&sin6;
        flags |= MHD_USE_IPv6;
    } else {
        fprintf(stderr, "mock_provider: --host %s is not a numeric IPv4/IPv6 address\n",
                g_mock_cfg.host);
        return NULL;
    }
    if (mock_timer_start() != 0)
        return NULL;
    return MHD_start_daemon(
        flags, (uint16_t)g_mock_cfg.port, NULL, NULL, on_access, NULL, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, NULL, MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)20000,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)4096, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)300, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
}

void mock_http_stop(struct MHD_Daemon *d)
{
    atomic_store(&g_stopping, true);
    mock_timer_stop();
    /* MHD_stop_daemon with suspended connections is an API violation: resume them all; with
     * g_stopping set, none of them suspends again. */
    pthread_mutex_lock(&live_lock);
    for (struct mock_req *r = live_head; r != NULL; r = r->next) {
        pthread_mutex_lock(&r->lock);
        if (r->is_suspended) {
            r->is_suspended = false;
            r->woke = true;
            MHD_resume_connection(r->conn);
        }
        pthread_mutex_unlock(&r->lock);
    }
    pthread_mutex_unlock(&live_lock);
    if (d != NULL)
        MHD_stop_daemon(d);
    mock_timer_drain();
}
