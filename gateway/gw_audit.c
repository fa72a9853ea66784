/* Audit log: exactly one JSON line per request, rejected ones included,
 * written by its own thread so a slow disk never stalls a request. Lines carry
 * decisions, sizes and timings: never prompt text, never keys. On shutdown the
 * queue is drained before the file is closed, so no record is lost. */
#include "gw_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct line {
    struct line *next;
    char *text;
} line;

static struct {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    line *head, *tail;
    size_t queued;
    FILE *f;
    bool stop;
    bool running;
} au = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void *audit_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&au.mu);
    for (;;) {
        /* Writers do not signal each line (a thread wake per request costs more than
         * the request): the writer wakes every 20 ms, or at once when the queue grows. */
        while (au.head == NULL && !au.stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 20 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&au.cv, &au.mu, &ts);
        }
        line *l = au.head;
        au.head = au.tail = NULL;
        au.queued = 0;
        bool stop = au.stop;
        pthread_mutex_unlock(&au.mu);
        while (l != NULL) {
            line *next = l->next;
            fputs(l->text, au.f);
            fputc('\n', au.f);
            free(l->text);
            free(l);
            l = next;
        }
        fflush(au.f);
        pthread_mutex_lock(&au.mu);
        if (stop && au.head == NULL)
            break;
    }
    pthread_mutex_unlock(&au.mu);
    return NULL;
}

int gw_audit_open(const char *path)
{
    if (strcmp(path, "-") == 0) {
        au.f = stdout;
    } else if ((au.f = fopen(path, "a")) == NULL) {
        cm_log(CM_LOG_ERROR, "audit: cannot open %s: %s", path, strerror(errno));
        return CM_EIO;
    }
    if (pthread_create(&au.thread, NULL, audit_main, NULL) != 0)
        return CM_EINTERNAL;
    au.running = true;
    return 0;
}

void gw_audit_write(char *text)
{
    line *l = cm_xmalloc(sizeof(*l));
    l->text = text;
    l->next = NULL;
    pthread_mutex_lock(&au.mu);
    if (!au.running) {
        /* before start or after close (CLI use): write synchronously to stderr */
        pthread_mutex_unlock(&au.mu);
        fprintf(stderr, "%s\n", text);
        free(text);
        free(l);
        return;
    }
    if (au.tail != NULL)
        au.tail->next = l;
    else
        au.head = l;
    au.tail = l;
    if (++au.queued == 1024)
        pthread_cond_signal(&au.cv);
    pthread_mutex_unlock(&au.mu);
}

static const char *endpoint_name(enum gw_endpoint ep)
{
    switch (ep) {
    case GW_EP_CHAT: return "chat.completions";
    case GW_EP_EMBEDDINGS: return "embeddings";
    case GW_EP_MODELS: return "models";
    case GW_EP_HEALTH: return "healthz";
    case GW_EP_READY: return "readyz";
    case GW_EP_METRICS: return "metrics";
    default: return "unknown";
    }
}

void gw_audit_record(gw_req *r)
{
    uint64_t now = cm_now_us();
    uint64_t total = now - r->t_start_us;
    gw_metrics_record(r, total);
    char ts[40];
    struct timespec tv;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &tv);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03ldZ", tv.tv_nsec / 1000000L);

    pthread_mutex_lock(&r->mu);
    gw_xfer *x = &r->x;
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s}", "ts", ts, "id", r->id, "method",
                          r->method ? r->method : "", "path", r->path ? r->path : "",
                          "endpoint", endpoint_name(r->ep));
    if (r->ident != NULL) {
        const pol_identity *id = r->ident;
        json_t *roles = json_array();
        for (size_t i = 0; i < id->nroles; i++)
            json_array_append_new(roles, json_string(id->roles[i]));
        json_object_set_new(j, "subject", json_string(id->subject ? id->subject : ""));
        json_object_set_new(j, "roles", roles);
        json_object_set_new(j, "auth", json_string(id->method ? id->method : ""));
        if (id->team != NULL)
            json_object_set_new(j, "team", json_string(id->team));
        if (id->key_id != NULL)
            json_object_set_new(j, "key_id", json_string(id->key_id));
        if (id->token_ref != NULL)
            json_object_set_new(j, "token_ref", json_string(id->token_ref));
    }
    if (r->auth_why != NULL)
        json_object_set_new(j, "auth_error", json_string(r->auth_why));
    if (r->deny_why != NULL)
        json_object_set_new(j, "policy_denied", json_string(r->deny_why));
    if (r->model != NULL)
        json_object_set_new(j, "model", json_string(r->model));
    if (r->has_xfer && x->target != NULL) {
        json_object_set_new(j, "provider", json_string(x->target->provider->name));
        json_object_set_new(j, "target_model", json_string(x->target->model));
        json_object_set_new(j, "stream", json_boolean(x->is_stream));
        if (x->failovers > 0)
            json_object_set_new(j, "failovers", json_integer(x->failovers));
        json_object_set_new(j, "upstream_status", json_integer(x->status));
        uint64_t up_end = x->t_end_us ? x->t_end_us : now;
        uint64_t upstream = up_end > r->t_up_start_us ? up_end - r->t_up_start_us : 0;
        json_object_set_new(j, "upstream_ms", json_real((double)upstream / 1000.0));
        if (x->t_first_byte_us > r->t_up_start_us)
            json_object_set_new(
                j, "upstream_first_byte_ms",
                json_real((double)(x->t_first_byte_us - r->t_up_start_us) / 1000.0));
        uint64_t overhead = total > upstream ? total - upstream : 0;
        json_object_set_new(j, "overhead_ms", json_real((double)overhead / 1000.0));
    } else {
        json_object_set_new(j, "overhead_ms", json_real((double)total / 1000.0));
    }
    if (r->redact != NULL) {
        cm_buf b;
        cm_buf_init(&b, 4096);
        if (gw_redact_audit(r->redact, &b) == 0 && b.data != NULL)
            json_object_set_new(j, "redaction", json_loadb(b.data, b.len, 0, NULL));
        cm_buf_fini(&b);
    }
    if (r->block_type != NULL)
        json_object_set_new(j, "blocked", json_string(r->block_type));
    json_object_set_new(j, "status", json_integer(r->status));
    json_object_set_new(j, "latency_ms", json_real((double)total / 1000.0));
    json_object_set_new(j, "bytes_in", json_integer((json_int_t)r->bytes_in));
    json_object_set_new(j, "bytes_out", json_integer((json_int_t)r->bytes_out));
    if (r->err_code != NULL)
        json_object_set_new(j, "error", json_string(r->err_code));
    pthread_mutex_unlock(&r->mu);
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(j);
    if (s != NULL)
        gw_audit_write(s);
}

void gw_audit_close(void)
{
    if (!au.running)
        return;
    pthread_mutex_lock(&au.mu);
    au.stop = true;
    pthread_cond_signal(&au.cv);
    pthread_mutex_unlock(&au.mu);
    pthread_join(au.thread, NULL);
    au.running = false;
    if (au.f != stdout)
        fclose(au.f);
    au.f = NULL;
}
