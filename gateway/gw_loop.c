/* Event loops: N worker threads (one per core by default), each owning one
 * epoll set with its own libmicrohttpd daemon (external epoll mode, the
 * listening port shared with SO_REUSEPORT) and its own curl multi driven by
 * curl_multi_socket_action. A request lives on one loop from accept to the
 * end, so the client side and the provider side never hand work across
 * threads (a thread wake costs more than the rest of a small request).
 * Other threads (signals, shutdown) post operations to a loop's queue and
 * ring its eventfd. */
#include "gw_internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Past this many undelivered bytes the transfer is paused (backpressure). */
#define GW_OUT_HIGH (256 * 1024)
#define GW_MAX_LOOPS 64
/* easy handles kept per loop for reuse (an init+cleanup per request is mallocs for nothing) */
#define GW_IDLE_EASY 256

enum op_kind { OP_UNPAUSE, OP_QUIESCE, OP_CANCEL_ALL, OP_STOP };

typedef struct op {
    struct op *next;
    enum op_kind kind;
    gw_req *req;
} op;

struct gw_loop {
    int idx;
    pthread_t thread;
    int epfd;
    int evfd;
    struct MHD_Daemon *mhd;
    int mhd_fd;
    CURLM *multi;
    uint64_t curl_due_us; /* curl's one-shot timer (cm_now_us), or UINT64_MAX: none */
    bool stop;
    pthread_mutex_t qmu;
    op *qhead, *qtail;
    gw_req *list; /* active transfers, loop thread only */
    bool resumed; /* a connection was resumed this turn: MHD must run */
    CURL *idle[GW_IDLE_EASY]; /* reset easy handles kept for reuse */
    size_t nidle;
    uint8_t *reg; /* per curl socket (by fd): 0 not in epfd, else its epoll events + 1 */
    size_t nreg;
};

static gw_loop loops[GW_MAX_LOOPS];
static size_t nloops;

static void post(gw_loop *l, enum op_kind kind, gw_req *r)
{
    op *o = cm_xcalloc(1, sizeof(*o));
    o->kind = kind;
    o->req = r;
    if (r != NULL)
        gw_req_ref(r);
    pthread_mutex_lock(&l->qmu);
    if (l->qtail != NULL)
        l->qtail->next = o;
    else
        l->qhead = o;
    l->qtail = o;
    pthread_mutex_unlock(&l->qmu);
    uint64_t one = 1;
    ssize_t n = write(l->evfd, &one, sizeof(one));
    (void)n; /* a full eventfd counter still wakes the loop */
}

void gw_loop_resumed(gw_loop *l)
{
    l->resumed = true;
}

void gw_upstream_unpause(gw_req *r)
{
    /* deferred: resuming curl from inside the MHD reader would re-enter it */
    post(r->loop, OP_UNPAUSE, r);
}

/* ---- curl callbacks ------------------------------------------------------ */

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
    gw_req *r = ud;
    gw_xfer *x = &r->x;
    size_t len = size * n;
    if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        /* a new status line (also after 1xx): forget earlier headers */
        x->retry_after[0] = '\0';
        x->is_sse = false;
        return len;
    }
    if (len > 12 && strncasecmp(buf, "retry-after:", 12) == 0) {
        size_t i = 12, j = 0;
        while (i < len && buf[i] == ' ')
            i++;
        while (i < len && j + 1 < sizeof(x->retry_after) && buf[i] != '\r' && buf[i] != '\n' &&
               (unsigned char)buf[i] >= 0x20)
            x->retry_after[j++] = buf[i++];
        x->retry_after[j] = '\0';
    } else if (len > 13 && strncasecmp(buf, "content-type:", 13) == 0) {
        x->is_sse = memmem(buf, len, "text/event-stream", 17) != NULL;
    } else if (len <= 2 && (buf[0] == '\r' || buf[0] == '\n')) {
        long code = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 200) {
            pthread_mutex_lock(&r->mu);
            x->status = code;
            x->headers_seen = true;
            /* a successful stream starts now; everything else waits for the end */
            if (x->is_stream && code < 300 && x->is_sse) {
                r->ready = true;
                gw_req_wake_locked(r);
            }
            pthread_mutex_unlock(&r->mu);
        }
    }
    return len;
}

/* Move complete SSE events from x->sse to x->out (caller holds r->mu). Events
 * are forwarded whole so that later stages can rewrite them one by one. */
static void sse_flush_events(gw_req *r)
{
    gw_xfer *x = &r->x;
    size_t start = 0;
    for (size_t i = 0; i + 1 < x->sse.len; i++) {
        size_t end = 0;
        if (x->sse.data[i] == '\n' && x->sse.data[i + 1] == '\n')
            end = i + 2;
        else if (i + 3 < x->sse.len && memcmp(x->sse.data + i, "\r\n\r\n", 4) == 0)
            end = i + 4;
        if (end == 0)
            continue;
        if (gw_stream_event(r, x->sse.data + start, end - start) != 0)
            break;
        start = end;
        i = end - 1;
    }
    cm_buf_consume(&x->sse, start);
}

static size_t on_write(char *buf, size_t size, size_t n, void *ud)
{
    gw_req *r = ud;
    gw_xfer *x = &r->x;
    size_t len = size * n;
    size_t ret = len;
    pthread_mutex_lock(&r->mu);
    if (x->t_first_byte_us == 0)
        x->t_first_byte_us = cm_now_us();
    if (r->client_gone) {
        ret = 0; /* aborts the transfer */
    } else if (x->is_stream && x->status < 300 && x->is_sse) {
        if (x->out.len >= GW_OUT_HIGH) {
            x->paused = true;
            ret = CURL_WRITEFUNC_PAUSE;
        } else if (cm_buf_append(&x->sse, buf, len) != 0) {
            ret = 0;
        } else {
            size_t before = x->out.len;
            sse_flush_events(r);
            if (x->out.len > before)
                gw_req_wake_locked(r);
        }
    } else if (cm_buf_append(&x->out, buf, len) != 0) {
        ret = 0; /* answer larger than limits.max_response_bytes */
    }
    pthread_mutex_unlock(&r->mu);
    return ret;
}

/* curl's interest in socket s. What is registered is remembered per fd, so a
 * request costs an ADD, a MOD and a DEL, not a failed MOD first, and an
 * unchanged interest costs nothing (syscalls are most of a small request's
 * cost). The fallbacks cover a socket closed without REMOVE whose fd came back. */
static int on_socket(CURL *e, curl_socket_t s, int what, void *ud, void *sockp)
{
    (void)e;
    (void)sockp;
    gw_loop *l = ud;
    if (s < 0)
        return 0;
    if ((size_t)s >= l->nreg) {
        size_t n = l->nreg ? l->nreg : 1024;
        while (n <= (size_t)s)
            n *= 2;
        l->reg = cm_xrealloc(l->reg, n);
        memset(l->reg + l->nreg, 0, n - l->nreg);
        l->nreg = n;
    }
    uint8_t *st = &l->reg[s];
    if (what == CURL_POLL_REMOVE) {
        if (*st != 0)
            epoll_ctl(l->epfd, EPOLL_CTL_DEL, s, NULL);
        *st = 0;
        return 0;
    }
    struct epoll_event ev = {0};
    ev.data.fd = s;
    if (what & CURL_POLL_IN)
        ev.events |= EPOLLIN;
    if (what & CURL_POLL_OUT)
        ev.events |= EPOLLOUT;
    if (*st == ev.events + 1)
        return 0;
    if (*st == 0) {
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, s, &ev) != 0 && errno == EEXIST)
            epoll_ctl(l->epfd, EPOLL_CTL_MOD, s, &ev);
    } else if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT) {
        epoll_ctl(l->epfd, EPOLL_CTL_ADD, s, &ev);
    }
    *st = (uint8_t)(ev.events + 1);
    return 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *ud)
{
    (void)m;
    gw_loop *l = ud;
    /* non-repeating, as libcurl asks: it fires once, then curl sets the next */
    l->curl_due_us = timeout_ms < 0 ? UINT64_MAX : cm_now_us() + (uint64_t)timeout_ms * 1000u;
    return 0;
}

/* ---- transfers ------------------------------------------------------------ */

static void fail_now(gw_req *r, int rc)
{
    pthread_mutex_lock(&r->mu);
    r->x.curl_rc = rc;
    r->x.finished = true;
    r->ready = true;
    gw_req_wake_locked(r);
    pthread_mutex_unlock(&r->mu);
}

void gw_upstream_submit(gw_req *r)
{
    gw_loop *l = r->loop;
    gw_xfer *x = &r->x;
    const gw_config *c = r->cfg;
    CURL *e = l->nidle > 0 ? l->idle[--l->nidle] : curl_easy_init();
    if (e == NULL) {
        fail_now(r, CURLE_OUT_OF_MEMORY);
        return;
    }
    x->easy = e;
    x->hdrs = curl_slist_append(x->hdrs, "Content-Type: application/json");
    x->hdrs = curl_slist_append(x->hdrs, "Expect:");
    if (x->is_stream)
        x->hdrs = curl_slist_append(x->hdrs, "Accept: text/event-stream");
    if (x->target->provider->auth_hdr != NULL)
        x->hdrs = curl_slist_append(x->hdrs, x->target->provider->auth_hdr);
    char rid[48];
    snprintf(rid, sizeof(rid), "X-Request-Id: %s", r->id);
    x->hdrs = curl_slist_append(x->hdrs, rid);
    curl_easy_setopt(e, CURLOPT_URL, x->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->limits.upstream_connect_timeout_ms);
    if (x->is_stream) {
        /* no total deadline for a stream: it may last; an idle one is cut */
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)c->limits.stream_idle_timeout_s);
    } else {
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->limits.upstream_timeout_ms);
    }
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->limits.max_response_bytes);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    /* Waiting to multiplex only pays over TLS (h2 by ALPN); on http:// it would make
     * every new transfer wait for the previous connection attempt. */
    if (strncmp(x->url, "https://", 8) == 0)
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    if (curl_multi_add_handle(l->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        curl_slist_free_all(x->hdrs);
        x->hdrs = NULL;
        x->easy = NULL;
        fail_now(r, CURLE_FAILED_INIT);
        return;
    }
    gw_req_ref(r); /* the transfer's reference, dropped in xfer_finish */
    x->prev = NULL;
    x->next = l->list;
    if (l->list != NULL)
        l->list->x.prev = r;
    l->list = r;
}

/* Failover: a failure before anything reached the client (no connection, a
 * timeout, a reset, 429 or 5xx) moves on to the alias's next target. */
static bool should_fail_over(gw_req *r, CURLcode rc)
{
    gw_xfer *x = &r->x;
    if (rc == CURLE_ABORTED_BY_CALLBACK || r->client_gone || r->phase != GW_PH_UPSTREAM)
        return false;
    if (x->model == NULL || x->target_idx + 1 >= x->model->ntargets)
        return false;
    if (x->headers_seen && x->status >= 200 && x->status < 300)
        return false; /* a success has begun: its bytes may be on their way */
    return rc != CURLE_OK || x->status == 429 || x->status >= 500;
}

/* The transfer is over: release curl resources, tell the HTTP side. */
static void xfer_finish(gw_req *r, CURLcode rc)
{
    gw_loop *l = r->loop;
    gw_xfer *x = &r->x;
    if (x->prev != NULL)
        x->prev->x.next = x->next;
    else
        l->list = x->next;
    if (x->next != NULL)
        x->next->x.prev = x->prev;
    x->prev = x->next = NULL;
    curl_multi_remove_handle(l->multi, x->easy);
    if (l->nidle < GW_IDLE_EASY) {
        curl_easy_reset(x->easy);
        l->idle[l->nidle++] = x->easy;
    } else {
        curl_easy_cleanup(x->easy);
    }
    x->easy = NULL;
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
    if (should_fail_over(r, rc)) {
        cm_log(CM_LOG_WARN, "%s: provider %s failed (HTTP %ld, %s); trying the next target", r->id,
               x->target->provider->name, x->status, curl_easy_strerror(rc));
        if (gw_proxy_next_target(r) == 0) {
            gw_upstream_submit(r); /* takes its own reference */
            gw_req_unref(r);
            return;
        }
    }
    pthread_mutex_lock(&r->mu);
    x->curl_rc = rc;
    x->finished = true;
    x->t_end_us = cm_now_us();
    if (x->sse.len > 0 && rc == CURLE_OK) /* a last event without its blank line */
        gw_stream_event(r, x->sse.data, x->sse.len);
    gw_stream_end(r);
    r->ready = true;
    gw_req_wake_locked(r);
    pthread_mutex_unlock(&r->mu);
    gw_req_unref(r);
}

void gw_upstream_cancel(gw_req *r)
{
    /* called on r's loop thread (MHD completion callback) */
    if (r->x.easy != NULL)
        xfer_finish(r, CURLE_ABORTED_BY_CALLBACK);
}

static void check_done(gw_loop *l)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(l->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        gw_req *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        xfer_finish(r, m->data.result);
    }
}

static void run_ops(gw_loop *l)
{
    pthread_mutex_lock(&l->qmu);
    op *o = l->qhead;
    l->qhead = l->qtail = NULL;
    pthread_mutex_unlock(&l->qmu);
    while (o != NULL) {
        op *next = o->next;
        gw_req *r = o->req;
        switch (o->kind) {
        case OP_UNPAUSE: {
            pthread_mutex_lock(&r->mu);
            r->x.unpause_queued = false;
            bool was = r->x.paused;
            r->x.paused = false;
            pthread_mutex_unlock(&r->mu);
            if (was && r->x.easy != NULL)
                curl_easy_pause(r->x.easy, CURLPAUSE_CONT);
            break;
        }
        case OP_QUIESCE: {
            MHD_socket ls = MHD_quiesce_daemon(l->mhd);
            if (ls != MHD_INVALID_SOCKET)
                close(ls);
            break;
        }
        case OP_CANCEL_ALL:
            while (l->list != NULL)
                xfer_finish(l->list, CURLE_ABORTED_BY_CALLBACK);
            break;
        case OP_STOP:
            l->stop = true;
            break;
        }
        if (r != NULL)
            gw_req_unref(r);
        free(o);
        o = next;
    }
}

/* Fire curl's timer if it is due; true if it fired. */
static bool curl_timer(gw_loop *l, int *running)
{
    if (l->curl_due_us == UINT64_MAX || cm_now_us() < l->curl_due_us)
        return false;
    l->curl_due_us = UINT64_MAX;
    curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, running);
    return true;
}

static void *loop_main(void *arg)
{
    gw_loop *l = arg;
    struct epoll_event evs[256];
    int running = 0;
    while (!l->stop) {
        MHD_UNSIGNED_LONG_LONG mt = 0;
        long timeout = 1000, mhd_timeout = -1;
        if (MHD_get_timeout(l->mhd, &mt) == MHD_YES)
            mhd_timeout = mt < (MHD_UNSIGNED_LONG_LONG)timeout ? (long)mt : timeout;
        if (mhd_timeout >= 0 && mhd_timeout < timeout)
            timeout = mhd_timeout;
        if (l->curl_due_us != UINT64_MAX) {
            uint64_t now = cm_now_us();
            long ms = l->curl_due_us > now ? (long)((l->curl_due_us - now + 999) / 1000) : 0;
            if (ms < timeout)
                timeout = ms;
        }
        if (l->resumed)
            timeout = 0; /* a connection resumed after the last MHD_run */
        int n = epoll_wait(l->epfd, evs, 256, (int)timeout);
        if (n < 0 && errno != EINTR)
            break;
        bool mhd_ready = false;
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == l->evfd) {
                uint64_t v;
                ssize_t rd = read(l->evfd, &v, sizeof(v));
                (void)rd;
                run_ops(l);
                continue;
            }
            if (fd == l->mhd_fd) {
                mhd_ready = true;
                continue;
            }
            int flags = 0;
            if (evs[i].events & (EPOLLIN | EPOLLHUP))
                flags |= CURL_CSELECT_IN;
            if (evs[i].events & EPOLLOUT)
                flags |= CURL_CSELECT_OUT;
            if (evs[i].events & EPOLLERR)
                flags |= CURL_CSELECT_ERR;
            curl_multi_socket_action(l->multi, fd, flags, &running);
        }
        curl_timer(l, &running);
        check_done(l);
        /* MHD_run costs an epoll_wait of its own: only when its set is ready, a
         * connection was resumed or its timer is due (not when the wait ended
         * for curl's timer) */
        bool mhd_due = mhd_timeout == 0 || (n == 0 && mhd_timeout >= 0 && mhd_timeout <= timeout);
        if (mhd_ready || mhd_due || l->resumed) {
            l->resumed = false;
            MHD_run(l->mhd);
        }
        /* requests MHD just handed over start now, not after another epoll_wait */
        if (curl_timer(l, &running))
            check_done(l);
    }
    return NULL;
}

int gw_loops_start(const gw_config *c, unsigned n)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return CM_EINTERNAL;
    if (n == 0)
        n = 1;
    if (n > GW_MAX_LOOPS)
        n = GW_MAX_LOOPS;
    unsigned port = (unsigned)c->listen_port;
    /* the exact limit is applied at accept over all loops (gw_server.c); MHD's own
     * per-daemon limit only bounds one loop */
    long long per_conns = c->limits.max_connections + 16;
    for (unsigned i = 0; i < n; i++) {
        gw_loop *l = &loops[i];
        l->idx = (int)i;
        pthread_mutex_init(&l->qmu, NULL);
        l->multi = curl_multi_init();
        l->epfd = epoll_create1(EPOLL_CLOEXEC);
        l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        l->curl_due_us = UINT64_MAX;
        if (l->multi == NULL || l->epfd < 0 || l->evfd < 0)
            return CM_EINTERNAL;
        curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
        curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l);
        curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, on_timer);
        curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l);
        curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS,
                          (long)(c->limits.max_upstream_connections / n + 1));
        curl_multi_setopt(l->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, 200L);
        if (gw_server_start(c, l, port, per_conns > 0 ? per_conns : 1, n > 1, &l->mhd) != 0)
            return CM_EIO;
        if (i == 0)
            port = gw_server_port(l->mhd);
        const union MHD_DaemonInfo *di = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_EPOLL_FD);
        if (di == NULL)
            return CM_EINTERNAL;
        l->mhd_fd = di->epoll_fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = l->evfd};
        epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &ev);
        ev.data.fd = l->mhd_fd;
        epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->mhd_fd, &ev);
        nloops = i + 1;
    }
    for (size_t i = 0; i < nloops; i++)
        if (pthread_create(&loops[i].thread, NULL, loop_main, &loops[i]) != 0)
            return CM_EINTERNAL;
    return 0;
}

unsigned gw_loops_port(void)
{
    return nloops > 0 ? gw_server_port(loops[0].mhd) : 0;
}

void gw_loops_drain(unsigned grace_s)
{
    for (size_t i = 0; i < nloops; i++)
        post(&loops[i], OP_QUIESCE, NULL);
    uint64_t deadline = cm_now_us() + (uint64_t)grace_s * 1000000u;
    while (gw_server_inflight() > 0 && cm_now_us() < deadline)
        usleep(20000);
    if (gw_server_inflight() > 0) {
        cm_log(CM_LOG_WARN, "shutdown: %d requests still running after %us; cancelling them",
               gw_server_inflight(), grace_s);
        for (size_t i = 0; i < nloops; i++)
            post(&loops[i], OP_CANCEL_ALL, NULL);
        deadline = cm_now_us() + 2000000u;
        while (gw_server_inflight() > 0 && cm_now_us() < deadline)
            usleep(20000);
    }
}

void gw_loops_stop(void)
{
    for (size_t i = 0; i < nloops; i++)
        post(&loops[i], OP_CANCEL_ALL, NULL);
    for (size_t i = 0; i < nloops; i++) {
        post(&loops[i], OP_STOP, NULL);
        pthread_join(loops[i].thread, NULL);
    }
    for (size_t i = 0; i < nloops; i++) {
        gw_loop *l = &loops[i];
        run_ops(l);
        while (l->list != NULL)
            xfer_finish(l->list, CURLE_ABORTED_BY_CALLBACK);
        MHD_stop_daemon(l->mhd);
        while (l->nidle > 0)
            curl_easy_cleanup(l->idle[--l->nidle]);
        curl_multi_cleanup(l->multi);
        free(l->reg);
        l->reg = NULL;
        l->nreg = 0;
        close(l->epfd);
        close(l->evfd);
        pthread_mutex_destroy(&l->qmu);
    }
    nloops = 0;
    curl_global_cleanup();
}
