/* GET /metrics: Prometheus text exposition (format 0.0.4) of counters the
 * loops bump once per request, when its audit line is written: requests by
 * endpoint and status, latency histograms by endpoint, failovers, blocked
 * and redacted requests; and gauges read at scrape time (requests in flight,
 * open client connections). Relaxed atomics: a scrape may see one request's
 * counters half-updated, never a torn number. No label carries a model name,
 * an identity or anything from a request. */
#include "gw_internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#define GW_EPS      7 /* enum gw_endpoint, GW_EP_METRICS included */
#define GW_STATUSES 600
#define GW_BUCKETS  14

static const double bucket_le_ms[GW_BUCKETS] = {1,   2.5, 5,    10,   25,   50,    100,
                                                250, 500, 1000, 2500, 5000, 10000, 30000};
static const char *const ep_names[GW_EPS] = {"unknown", "chat.completions", "embeddings", "models",
                                             "healthz", "readyz",           "metrics"};

static atomic_ullong requests[GW_EPS][GW_STATUSES];
static atomic_ullong latency_bucket[GW_EPS][GW_BUCKETS + 1]; /* not cumulative; last: +Inf */
static atomic_ullong latency_sum_us[GW_EPS];
static atomic_ullong failovers_total, upstream_errors_total;

void gw_metrics_record(const gw_req *r, uint64_t latency_us)
{
    unsigned ep = (unsigned)r->ep < GW_EPS ? (unsigned)r->ep : 0;
    long st = r->status >= 100 && r->status < GW_STATUSES ? r->status : 0;
    atomic_fetch_add_explicit(&requests[ep][st], 1, memory_order_relaxed);
    double ms = (double)latency_us / 1000.0;
    unsigned b = 0;
    while (b < GW_BUCKETS && ms > bucket_le_ms[b])
        b++;
    atomic_fetch_add_explicit(&latency_bucket[ep][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&latency_sum_us[ep], latency_us, memory_order_relaxed);
    if (r->x.failovers > 0)
        atomic_fetch_add_explicit(&failovers_total, r->x.failovers, memory_order_relaxed);
    if (r->has_xfer && (r->x.curl_rc != 0 || r->x.status >= 500 || r->x.status == 429))
        atomic_fetch_add_explicit(&upstream_errors_total, 1, memory_order_relaxed);
}

static unsigned long long get(atomic_ullong *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

/* every append checked: a failed one (over the 1 MiB bound) makes it a 500 */
#define PUT(...) (ok = ok && cm_buf_appendf(&b, __VA_ARGS__) == 0)

enum MHD_Result gw_metrics_reply(gw_req *r)
{
    cm_buf b;
    bool ok = true;
    cm_buf_init(&b, 1u << 20);
    PUT("# HELP gateway_requests_total Requests answered, by endpoint and HTTP status.\n"
        "# TYPE gateway_requests_total counter\n");
    for (unsigned e = 0; e < GW_EPS; e++)
        for (unsigned s = 0; s < GW_STATUSES; s++) {
            unsigned long long n = get(&requests[e][s]);
            if (n > 0)
                PUT("gateway_requests_total{endpoint=\"%s\",code=\"%u\"} %llu\n", ep_names[e], s,
                    n);
        }
    PUT("# HELP gateway_request_duration_seconds Time from the request line to the "
        "audit line.\n# TYPE gateway_request_duration_seconds histogram\n");
    for (unsigned e = 0; e < GW_EPS; e++) {
        unsigned long long cum = 0;
        for (unsigned k = 0; k <= GW_BUCKETS; k++)
            cum += get(&latency_bucket[e][k]);
        if (cum == 0)
            continue;
        unsigned long long acc = 0;
        for (unsigned k = 0; k < GW_BUCKETS; k++) {
            acc += get(&latency_bucket[e][k]);
            PUT("gateway_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %llu\n",
                ep_names[e], bucket_le_ms[k] / 1000.0, acc);
        }
        acc += get(&latency_bucket[e][GW_BUCKETS]);
        PUT("gateway_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %llu\n"
            "gateway_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n"
            "gateway_request_duration_seconds_count{endpoint=\"%s\"} %llu\n",
            ep_names[e], acc, ep_names[e], (double)get(&latency_sum_us[e]) / 1e6, ep_names[e], acc);
    }
    PUT("# HELP gateway_failovers_total Moves to an alias's next target.\n"
        "# TYPE gateway_failovers_total counter\ngateway_failovers_total %llu\n"
        "# HELP gateway_upstream_errors_total Requests whose last provider attempt failed "
        "(no answer, 429 or 5xx).\n"
        "# TYPE gateway_upstream_errors_total counter\ngateway_upstream_errors_total %llu\n"
        "# HELP gateway_requests_in_flight Requests begun and not yet audited.\n"
        "# TYPE gateway_requests_in_flight gauge\ngateway_requests_in_flight %d\n"
        "# HELP gateway_client_connections Open client connections.\n"
        "# TYPE gateway_client_connections gauge\ngateway_client_connections %d\n",
        get(&failovers_total), get(&upstream_errors_total), gw_server_inflight(),
        gw_server_connections());
    if (!ok || b.data == NULL) {
        cm_buf_fini(&b);
        return gw_reply_error(r, 500, "server_error", "metrics_failed", NULL,
                              "The metrics could not be rendered.");
    }
    size_t len = b.len;
    char *text = b.data; /* handed to MHD, which frees it */
    b.data = NULL;
    cm_buf_fini(&b);
    return gw_reply_body(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len, false);
}
