/* HTTP front: libmicrohttpd with one internal epoll thread and
 * suspend/resume. A request is born in the URI callback (so even requests MHD
 * rejects early are audited), reads its body under the size limit, then is
 * handed to gw_proxy.c. Streams are relayed by a content reader that suspends
 * the connection when it has nothing to send (never returns 0 otherwise). */
#include "gw_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <unistd.h>

static atomic_int inflight;
static atomic_int open_conns;
static int conn_limit;
static atomic_bool draining;
static atomic_uint_fast64_t req_counter;
static uint32_t boot_id;

int gw_server_inflight(void)
{
    return atomic_load(&inflight);
}

int gw_server_connections(void)
{
    return atomic_load(&open_conns);
}

bool gw_server_draining(void)
{
    return atomic_load(&draining);
}

void gw_req_ref(gw_req *r)
{
    atomic_fetch_add(&r->refs, 1);
}

void gw_req_unref(gw_req *r)
{
    if (atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    json_decref(r->json);
    cm_buf_fini(&r->body);
    cm_buf_fini(&r->x.out);
    cm_buf_fini(&r->x.sse);
    free(r->x.url);
    if (r->x.body != NULL) {
        cm_wipe(r->x.body, r->x.body_len);
        free(r->x.body);
    }
    cm_arena_free(r->arena);
    gw_config_release(r->cfg);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

void gw_req_wake_locked(gw_req *r)
{
    if (r->suspended) {
        r->suspended = false;
        MHD_resume_connection(r->conn);
        gw_loop_resumed(r->loop);
    }
}

void gw_server_set_draining(void)
{
    atomic_store(&draining, true);
}

/* The status of the error MHD answered by itself on this loop (431 for
 * headers over its pool, 400 for a malformed request), for the audit line of
 * that request: MHD tells it only in its log, on the loop's own thread, just
 * before the request completes. */
static _Thread_local unsigned mhd_own_status;

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    gw_req *r = cm_xcalloc(1, sizeof(*r));
    r->loop = cls;
    atomic_init(&r->refs, 1);
    pthread_mutex_init(&r->mu, NULL);
    r->conn = conn;
    r->t_start_us = cm_now_us();
    r->cfg = gw_config_acquire();
    r->arena = cm_arena_new((size_t)r->cfg->limits.request_arena_bytes);
    snprintf(r->id, sizeof(r->id), "req_%08x%012llx", boot_id,
             (unsigned long long)atomic_fetch_add(&req_counter, 1));
    size_t n = strcspn(uri, "?");
    r->path = cm_arena_strndup(r->arena, uri, n > 256 ? 256 : n);
    r->method = "";
    cm_buf_init(&r->body, (size_t)r->cfg->limits.max_body_bytes);
    cm_buf_init(&r->x.out, (size_t)r->cfg->limits.max_response_bytes);
    cm_buf_init(&r->x.sse, (size_t)r->cfg->limits.max_response_bytes);
    atomic_fetch_add(&inflight, 1);
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    gw_req *r = *con_cls;
    if (r == NULL)
        return;
    *con_cls = NULL;
    bool cancel = false;
    pthread_mutex_lock(&r->mu);
    if (toe == MHD_REQUEST_TERMINATED_WITH_ERROR && r->method[0] == '\0' && mhd_own_status >= 400 &&
        mhd_own_status < 600) {
        /* refused by MHD before the gateway saw it */
        r->status = (long)mhd_own_status;
        r->err_code = mhd_own_status == 431 ? "headers_too_large" : "malformed_request";
    }
    mhd_own_status = 0;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
        r->client_gone = true;
        if (r->status == 0 || r->phase == GW_PH_STREAM) {
            if (r->err_code == NULL)
                r->err_code = toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "client_timeout"
                                                                             : "client_closed";
            if (r->status == 0)
                r->status = 499;
        }
    }
    cancel = r->has_xfer && !r->x.finished;
    pthread_mutex_unlock(&r->mu);
    if (cancel)
        gw_upstream_cancel(r);
    gw_audit_record(r);
    atomic_fetch_sub(&inflight, 1);
    gw_req_unref(r);
}

static enum gw_endpoint classify(const char *path, const char **want_method)
{
    static const struct {
        const char *path;
        enum gw_endpoint ep;
        const char *method;
    } routes[] = {
        {"/v1/chat/completions", GW_EP_CHAT, "POST"},
        {"/v1/embeddings", GW_EP_EMBEDDINGS, "POST"},
        {"/v1/models", GW_EP_MODELS, "GET"},
        {"/healthz", GW_EP_HEALTH, "GET"},
        {"/readyz", GW_EP_READY, "GET"},
        {"/metrics", GW_EP_METRICS, "GET"},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(path, routes[i].path) == 0) {
            *want_method = routes[i].method;
            return routes[i].ep;
        }
    }
    return GW_EP_UNKNOWN;
}

/* Who is calling: an Authorization header (JWT or gateway key) when present,
 * else a verified client certificate. Returns 0 or CM_EAUTH. */
static int authenticate(gw_req *r)
{
    const gw_config *c = r->cfg;
    char dn[512];
    int cert = CM_ENOTFOUND;
    if (c->tls_client_mode != GW_CLIENT_CERT_OFF) {
        cert = gw_tls_peer_dn(r->conn, dn, sizeof(dn));
        if (cert == CM_EAUTH || (cert != 0 && c->tls_client_mode == GW_CLIENT_CERT_REQUIRE)) {
            r->auth_why = cert == CM_EAUTH ? "client_cert_invalid" : "client_cert_missing";
            return CM_EAUTH;
        }
    }
    if (c->pol == NULL)
        return 0;
    const char *authz =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (authz == NULL && cert == 0) {
        if (pol_identity_from_cert(c->pol, dn, r->arena, &r->ident) == 0)
            return 0;
        r->ident = NULL;
        r->auth_why = "client_cert_unmapped";
        return CM_EAUTH;
    }
    if (pol_authenticate(c->pol, authz, r->arena, &r->ident, &r->auth_why) != 0) {
        r->ident = NULL;
        return CM_EAUTH;
    }
    return 0;
}

static enum MHD_Result reply_too_large(gw_req *r)
{
    char msg[160];
    snprintf(msg, sizeof(msg),
             "The request body is larger than the limit of %lld bytes (limits.max_body_bytes).",
             r->cfg->limits.max_body_bytes);
    return gw_reply_error(r, 413, "invalid_request_error", "request_too_large", NULL, msg);
}

static enum MHD_Result first_call(gw_req *r, const char *method)
{
    const char *want = NULL;
    r->ep = classify(r->path, &want);
    if (r->ep == GW_EP_UNKNOWN)
        return gw_reply_error(r, 404, "invalid_request_error", "unknown_url", NULL,
                              "Unknown endpoint. Supported: POST /v1/chat/completions, POST "
                              "/v1/embeddings, GET /v1/models, GET /healthz, GET /readyz, GET /metrics.");
    if (strcmp(method, want) != 0 && !(strcmp(want, "GET") == 0 && strcmp(method, "HEAD") == 0)) {
        char msg[128];
        snprintf(msg, sizeof(msg), "This endpoint accepts %s only.", want);
        return gw_reply_error(r, 405, "invalid_request_error", "method_not_allowed", NULL, msg);
    }
    if (r->ep != GW_EP_HEALTH && r->ep != GW_EP_READY && r->ep != GW_EP_METRICS &&
        authenticate(r) != 0)
        return gw_reply_unauthorized(r);
    switch (r->ep) {
    case GW_EP_HEALTH:
        return gw_reply_json(r, 200, "{\"status\":\"ok\"}", 15, true);
    case GW_EP_READY:
        if (gw_server_draining())
            return gw_reply_error(r, 503, "server_error", "draining", NULL,
                                  "The gateway is shutting down.");
        return gw_reply_json(r, 200, "{\"status\":\"ready\"}", 18, true);
    case GW_EP_MODELS:
        return gw_models_reply(r);
    case GW_EP_METRICS:
        return gw_metrics_reply(r);
    default:
        break;
    }
    if (gw_server_draining())
        return gw_reply_error(r, 503, "server_error", "draining", NULL,
                              "The gateway is shutting down; retry on another instance.");
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
    if (cl != NULL) {
        char *end;
        unsigned long long v = strtoull(cl, &end, 10);
        if (v > (unsigned long long)r->cfg->limits.max_body_bytes) {
            return reply_too_large(r);
        }
        /* the body is copied once, into a buffer of the announced size */
        if (*end == '\0' && v > 0 && cm_buf_reserve(&r->body, (size_t)v) != 0)
            r->too_big = true;
    }
    return MHD_YES;
}

static enum MHD_Result add_header_bytes(void *cls, enum MHD_ValueKind kind, const char *key,
                                        const char *value)
{
    (void)kind;
    *(size_t *)cls += strlen(key) + (value != NULL ? strlen(value) : 0) + 4; /* ": ", CRLF */
    return MHD_YES;
}

/* Request line and headers over limits.max_header_bytes: 431 in the envelope
 * (MHD answers those over its pool itself; on_completed records them). */
static bool headers_too_large(gw_req *r, const char *method, const char *url, const char *version)
{
    size_t n = strlen(method) + strlen(url) + strlen(version) + 4;
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, add_header_bytes, &n);
    return n > (size_t)r->cfg->limits.max_header_bytes;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls)
{
    (void)cls;
    gw_req *r = *con_cls;
    if (r == NULL)
        return MHD_NO;
    r->conn = conn;
    if (r->phase == GW_PH_BODY) {
        /* A response queued before MHD has seen the end of the request makes it close the
         * connection: requests without a body are answered on the second call (keep-alive);
         * requests with one are checked at once, so a stranger's body is never read. */
        bool has_body = strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
                        strcmp(method, "PATCH") == 0;
        if (r->method[0] == '\0') {
            r->method = cm_arena_strndup(r->arena, method, strnlen(method, 16));
            if (headers_too_large(r, method, url, version)) {
                char msg[128];
                snprintf(msg, sizeof(msg),
                         "The request headers are larger than the limit of %lld bytes "
                         "(limits.max_header_bytes).",
                         r->cfg->limits.max_header_bytes);
                return gw_reply_error(r, 431, "invalid_request_error", "headers_too_large", NULL,
                                      msg);
            }
            return has_body ? first_call(r, method) : MHD_YES;
        }
        if (!has_body && *upload_size == 0)
            return first_call(r, method);
        if (*upload_size > 0) {
            r->bytes_in += *upload_size;
            if (!r->too_big && cm_buf_append(&r->body, upload, *upload_size) != 0) {
                r->too_big = true;
                cm_buf_fini(&r->body);
            }
            *upload_size = 0;
            return MHD_YES;
        }
        if (r->too_big) {
            return reply_too_large(r);
        }
        return gw_proxy_start(r);
    }
    if (r->phase == GW_PH_UPSTREAM)
        return gw_proxy_respond(r);
    return MHD_YES;
}

/* limits.max_connections over every worker: refused at accept (the socket is
 * closed at once rather than left waiting in the backlog). */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t len)
{
    (void)cls;
    (void)addr;
    (void)len;
    /* reserve the slot here so that loops accepting at the same time cannot overshoot */
    int cur = atomic_load(&open_conns);
    do {
        if (cur >= conn_limit)
            return MHD_NO;
    } while (!atomic_compare_exchange_weak(&open_conns, &cur, cur + 1));
    return MHD_YES;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    (void)cls;
    (void)conn;
    (void)socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED)
        atomic_fetch_sub(&open_conns, 1);
}

static void on_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    const char *p = strstr(line, "HTTP response code is ");
    if (p != NULL)
        mhd_own_status = (unsigned)strtoul(p + 22, NULL, 10);
    cm_log(CM_LOG_DEBUG, "mhd: %s", line);
}

/* MHD's per-connection pool holds the request line and headers (with its
 * own records of them) and the I/O buffers: headers up to max_header_bytes
 * must fit so that the gateway, not MHD, answers the ones above the limit.
 * Measured: MHD takes headers up to about the pool's size, and an idle stream's
 * memory grows with the pool (41 KB at 16 KiB, 43 KB at 20 KiB for the default
 * limit, 57 KB at 48 KiB), so the pool is no larger than the limit needs. */
static size_t gw_server_pool_bytes(const gw_config *c)
{
    size_t n = (size_t)c->limits.max_header_bytes + 4096; /* and room for the answer */
    return n > 16384 ? n : 16384;
}

int gw_server_start(const gw_config *c, gw_loop *l, unsigned port, long long max_conns,
                    bool reuse_port, struct MHD_Daemon **out)
{
    if (boot_id == 0 && getrandom(&boot_id, sizeof(boot_id), 0) != sizeof(boot_id))
        boot_id = (uint32_t)cm_wall_ms();
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, c->listen_host, &sa.sin_addr) != 1) {
        cm_log(CM_LOG_ERROR, "listen.host: %s is not an IPv4 address", c->listen_host);
        return CM_EINVAL;
    }
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    struct MHD_OptionItem tls[6];
    size_t nt = 0;
    if (c->tls_cert != NULL) {
        flags |= MHD_USE_TLS;
        tls[nt++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, c->tls_cert};
        tls[nt++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, c->tls_key};
        tls[nt++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
                                            (void *)(uintptr_t) "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1"};
        if (c->tls_client_ca != NULL)
            tls[nt++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, c->tls_client_ca};
    }
    if (reuse_port)
        tls[nt++] = (struct MHD_OptionItem){MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL};
    tls[nt] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    conn_limit = (int)c->limits.max_connections;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)port, on_accept, NULL, on_access, l, MHD_OPTION_EXTERNAL_LOGGER,
        on_log, NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)max_conns, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)c->limits.connection_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        gw_server_pool_bytes(c), MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)4096,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, l, MHD_OPTION_NOTIFY_COMPLETED, on_completed, l,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
        MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
    if (d == NULL) {
        cm_log(CM_LOG_ERROR, "cannot listen on %s:%u", c->listen_host, port);
        return CM_EIO;
    }
    *out = d;
    return 0;
}

unsigned gw_server_port(struct MHD_Daemon *d)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    return i ? i->port : 0;
}

