/* Upstream I/O: one thread owns one curl multi, driven by
 * curl_multi_socket_action on epoll. Other threads never touch curl: they post
 * operations (start, cancel, unpause) to a queue and ring an eventfd. Bytes
 * from the provider go to the request's output buffer; the HTTP side is
 * resumed when there is something for it. */
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

enum op_kind { OP_START, OP_CANCEL, OP_UNPAUSE, OP_CANCEL_ALL };

typedef struct op {
    struct op *next;
    enum op_kind kind;
    gw_req *req;
} op;

static struct {
    pthread_t thread;
    CURLM *multi;
    int epfd;
    int evfd;
    long timeout_ms;
    atomic_bool stop;
    atomic_int active;
    pthread_mutex_t qmu;
    op *qhead, *qtail;
    gw_req *list; /* active transfers */
} up = {.qmu = PTHREAD_MUTEX_INITIALIZER, .epfd = -1, .evfd = -1};

int gw_upstream_active(void)
{
    return atomic_load(&up.active);
}

static void post(enum op_kind kind, gw_req *r)
{
    op *o = cm_xcalloc(1, sizeof(*o));
    o->kind = kind;
    o->req = r;
    if (r != NULL)
        gw_req_ref(r);
    pthread_mutex_lock(&up.qmu);
    if (up.qtail != NULL)
        up.qtail->next = o;
    else
        up.qhead = o;
    up.qtail = o;
    pthread_mutex_unlock(&up.qmu);
    uint64_t one = 1;
    ssize_t n = write(up.evfd, &one, sizeof(one));
    (void)n; /* a full eventfd counter still wakes the loop */
}

void gw_upstream_submit(gw_req *r)
{
    post(OP_START, r);
}
void gw_upstream_cancel(gw_req *r)
{
    post(OP_CANCEL, r);
}
void gw_upstream_unpause(gw_req *r)
{
    post(OP_UNPAUSE, r);
}
void gw_upstream_cancel_all(void)
{
    post(OP_CANCEL_ALL, NULL);
}

/* ---- curl callbacks (upstream thread) ----------------------------------- */

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
        if (cm_buf_append(&x->out, x->sse.data + start, end - start) != 0)
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
    if (r->client_gone) {
        ret = 0; /* aborts the transfer */
    } else if (x->is_stream && x->status < 300 && x->is_sse) {
        if (x->out.len >= GW_OUT_HIGH) {
            x->paused = true;
            ret = CURL_WRITEFUNC_PAUSE;
        } else if (cm_buf_append(&x->sse, buf, len) != 0) {
            ret = 0;
        } else {
            if (x->t_first_byte_us == 0)
                x->t_first_byte_us = cm_now_us();
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

static int on_socket(CURL *e, curl_socket_t s, int what, void *ud, void *sockp)
{
    (void)e;
    (void)ud;
    (void)sockp;
    struct epoll_event ev = {0};
    ev.data.fd = s;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(up.epfd, EPOLL_CTL_DEL, s, NULL);
        return 0;
    }
    if (what & CURL_POLL_IN)
        ev.events |= EPOLLIN;
    if (what & CURL_POLL_OUT)
        ev.events |= EPOLLOUT;
    if (epoll_ctl(up.epfd, EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT)
        epoll_ctl(up.epfd, EPOLL_CTL_ADD, s, &ev);
    return 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *ud)
{
    (void)m;
    (void)ud;
    up.timeout_ms = timeout_ms;
    return 0;
}

/* ---- transfers ------------------------------------------------------------ */

static void xfer_start(gw_req *r)
{
    gw_xfer *x = &r->x;
    const gw_config *c = r->cfg;
    CURL *e = curl_easy_init();
    if (e == NULL) {
        pthread_mutex_lock(&r->mu);
        x->curl_rc = CURLE_OUT_OF_MEMORY;
        x->finished = true;
        r->ready = true;
        gw_req_wake_locked(r);
        pthread_mutex_unlock(&r->mu);
        gw_req_unref(r);
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
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    pthread_mutex_lock(&r->mu);
    bool gone = r->client_gone;
    pthread_mutex_unlock(&r->mu);
    if (gone || curl_multi_add_handle(up.multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        x->easy = NULL;
        pthread_mutex_lock(&r->mu);
        x->curl_rc = CURLE_ABORTED_BY_CALLBACK;
        x->finished = true;
        r->ready = true;
        gw_req_wake_locked(r);
        pthread_mutex_unlock(&r->mu);
        gw_req_unref(r);
        return;
    }
    atomic_fetch_add(&up.active, 1);
    x->prev = NULL;
    x->next = up.list;
    if (up.list != NULL)
        up.list->x.prev = r;
    up.list = r;
}

/* The transfer is over: release curl resources, tell the HTTP side. */
static void xfer_finish(gw_req *r, CURLcode rc)
{
    gw_xfer *x = &r->x;
    if (x->prev != NULL)
        x->prev->x.next = x->next;
    else
        up.list = x->next;
    if (x->next != NULL)
        x->next->x.prev = x->prev;
    x->prev = x->next = NULL;
    curl_multi_remove_handle(up.multi, x->easy);
    curl_easy_cleanup(x->easy);
    x->easy = NULL;
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
    atomic_fetch_sub(&up.active, 1);
    pthread_mutex_lock(&r->mu);
    x->curl_rc = rc;
    x->finished = true;
    x->t_end_us = cm_now_us();
    if (x->sse.len > 0 && rc == CURLE_OK) {
        /* a last event without its blank line */
        if (cm_buf_append(&x->out, x->sse.data, x->sse.len) == 0)
            cm_buf_reset(&x->sse);
    }
    r->ready = true;
    gw_req_wake_locked(r);
    pthread_mutex_unlock(&r->mu);
    gw_req_unref(r);
}

static void check_done(void)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(up.multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        gw_req *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        xfer_finish(r, m->data.result);
    }
}

static void run_ops(void)
{
    pthread_mutex_lock(&up.qmu);
    op *o = up.qhead;
    up.qhead = up.qtail = NULL;
    pthread_mutex_unlock(&up.qmu);
    while (o != NULL) {
        op *next = o->next;
        gw_req *r = o->req;
        switch (o->kind) {
        case OP_START:
            gw_req_ref(r); /* the transfer's own reference, dropped in xfer_finish */
            xfer_start(r);
            break;
        case OP_CANCEL:
            if (r->x.easy != NULL)
                xfer_finish(r, CURLE_ABORTED_BY_CALLBACK);
            break;
        case OP_UNPAUSE:
            pthread_mutex_lock(&r->mu);
            r->x.unpause_queued = false;
            bool was = r->x.paused;
            r->x.paused = false;
            pthread_mutex_unlock(&r->mu);
            if (was && r->x.easy != NULL)
                curl_easy_pause(r->x.easy, CURLPAUSE_CONT);
            break;
        case OP_CANCEL_ALL:
            while (up.list != NULL)
                xfer_finish(up.list, CURLE_ABORTED_BY_CALLBACK);
            break;
        }
        if (r != NULL)
            gw_req_unref(r);
        free(o);
        o = next;
    }
}

static void *upstream_main(void *arg)
{
    (void)arg;
    struct epoll_event evs[256];
    int running = 0;
    while (!atomic_load(&up.stop)) {
        int timeout = up.timeout_ms < 0 ? 1000 : (int)(up.timeout_ms > 1000 ? 1000 : up.timeout_ms);
        int n = epoll_wait(up.epfd, evs, 256, timeout);
        if (n < 0 && errno != EINTR)
            break;
        if (n <= 0) {
            curl_multi_socket_action(up.multi, CURL_SOCKET_TIMEOUT, 0, &running);
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == up.evfd) {
                uint64_t v;
                ssize_t rd = read(up.evfd, &v, sizeof(v));
                (void)rd;
                run_ops();
                continue;
            }
            int flags = 0;
            if (evs[i].events & (EPOLLIN | EPOLLHUP))
                flags |= CURL_CSELECT_IN;
            if (evs[i].events & EPOLLOUT)
                flags |= CURL_CSELECT_OUT;
            if (evs[i].events & EPOLLERR)
                flags |= CURL_CSELECT_ERR;
            curl_multi_socket_action(up.multi, fd, flags, &running);
        }
        if (up.timeout_ms == 0)
            curl_multi_socket_action(up.multi, CURL_SOCKET_TIMEOUT, 0, &running);
        check_done();
    }
    return NULL;
}

int gw_upstream_start(long long max_conns)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return CM_EINTERNAL;
    up.multi = curl_multi_init();
    up.epfd = epoll_create1(EPOLL_CLOEXEC);
    up.evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (up.multi == NULL || up.epfd < 0 || up.evfd < 0)
        return CM_EINTERNAL;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = up.evfd};
    epoll_ctl(up.epfd, EPOLL_CTL_ADD, up.evfd, &ev);
    up.timeout_ms = -1;
    curl_multi_setopt(up.multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(up.multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(up.multi, CURLMOPT_MAXCONNECTS, (long)max_conns);
    curl_multi_setopt(up.multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)max_conns);
    curl_multi_setopt(up.multi, CURLMOPT_MAX_CONCURRENT_STREAMS, 200L);
    if (pthread_create(&up.thread, NULL, upstream_main, NULL) != 0)
        return CM_EINTERNAL;
    return 0;
}

void gw_upstream_stop(void)
{
    if (up.multi == NULL)
        return;
    atomic_store(&up.stop, true);
    uint64_t one = 1;
    ssize_t n = write(up.evfd, &one, sizeof(one));
    (void)n;
    pthread_join(up.thread, NULL);
    run_ops(); /* drop references held by queued operations */
    while (up.list != NULL)
        xfer_finish(up.list, CURLE_ABORTED_BY_CALLBACK);
    curl_multi_cleanup(up.multi);
    up.multi = NULL;
    close(up.epfd);
    close(up.evfd);
    curl_global_cleanup();
}
