/* gateway/gw_internal.h: what the files of gateway/ share. The gateway is the
 * top of the dependency tree (it uses policy/, redaction/ and common/), so it
 * has no public header of its own besides what gw_main.c needs. */
#ifndef GW_INTERNAL_H
#define GW_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "common/cm.h"
#include "gateway/gw_redact.h"
#include "policy/pol.h"

/* ---- configuration snapshot (gw_config.c) ---------------------------- */
typedef struct gw_provider {
    char *name;
    char *type;     /* "openai" */
    char *base_url; /* no trailing slash, e.g. https://api.openai.com/v1 */
    char *auth_hdr; /* "Authorization: Bearer ..." or NULL; wiped on free */
} gw_provider;

typedef struct gw_target {
    const gw_provider *provider;
    char *model;
} gw_target;

typedef struct gw_model {
    char *name;
    gw_target *targets;
    size_t ntargets;
} gw_model;

typedef struct gw_limits {
    long long max_connections;
    long long connection_timeout_s;
    long long max_body_bytes;
    long long max_header_bytes; /* request line and headers; sizes MHD's pool at start */
    long long max_response_bytes;
    long long request_arena_bytes;
    long long upstream_connect_timeout_ms;
    long long upstream_timeout_ms;  /* whole non-streamed answer */
    long long stream_idle_timeout_s; /* no byte from the provider for this long */
    long long shutdown_grace_s;
    long long max_upstream_connections;
    long long workers; /* event loops; 0 = one per online CPU */
} gw_limits;

typedef struct gw_config {
    atomic_int refs;
    char *path;
    char *base_dir;
    char *listen_host;
    long long listen_port;
    char *tls_cert; /* PEM text; NULL = plain HTTP */
    char *tls_key;  /* PEM text, wiped on free */
    char *tls_client_ca;  /* PEM text; NULL = no client certificates */
    int tls_client_mode;  /* GW_CLIENT_CERT_* */
    gw_limits limits;
    char *audit_path;
    gw_provider *providers;
    size_t nproviders;
    gw_model *models;
    size_t nmodels;
    pol_set *pol; /* NULL: no "auth"/"roles" sections, the gateway is open */
    gw_redactor *red; /* NULL: no "redaction" section */
} gw_config;

enum { GW_CLIENT_CERT_OFF, GW_CLIENT_CERT_OPTIONAL, GW_CLIENT_CERT_REQUIRE };

/* Load and validate path; every mistake goes to errs with its JSON path. */
int gw_config_load(const char *path, gw_config **out, cm_errlist *errs) CM_MUST_CHECK;
/* The current snapshot with a reference taken; release when done. */
gw_config *gw_config_acquire(void);
void gw_config_release(gw_config *c);
/* Make c current (takes ownership of its reference); the old one is released. */
void gw_config_install(gw_config *c);
const gw_model *gw_config_model(const gw_config *c, const char *name);

/* ---- requests (gw_server.c, gw_proxy.c) -------------------------------- */
enum gw_endpoint {
    GW_EP_UNKNOWN,
    GW_EP_CHAT,
    GW_EP_EMBEDDINGS,
    GW_EP_MODELS,
    GW_EP_HEALTH,
    GW_EP_READY,
    GW_EP_METRICS
};

enum gw_phase {
    GW_PH_BODY,     /* reading the request body */
    GW_PH_UPSTREAM, /* waiting for the provider's status line and headers */
    GW_PH_STREAM,   /* relaying the answer */
    GW_PH_DONE
};

typedef struct gw_req gw_req;
typedef struct gw_loop gw_loop;

typedef struct gw_xfer {
    void *easy; /* CURL * (upstream thread only) */
    struct curl_slist *hdrs;
    char *url;
    char *body; /* upstream request body (malloc) */
    size_t body_len;
    const gw_target *target;
    const gw_model *model; /* the alias: its next target is the failover */
    size_t target_idx;
    unsigned failovers;
    bool is_stream;
    /* below: shared with the HTTP thread, guarded by req->mu */
    long status;
    bool headers_seen;
    bool is_sse;
    bool finished;  /* transfer over (ok or not) */
    bool paused;    /* write callback returned PAUSE */
    bool unpause_queued;
    int curl_rc;    /* CURLcode */
    char retry_after[32];
    cm_buf out;     /* bytes ready for the client */
    cm_buf sse;     /* partial SSE event (upstream thread only) */
    uint64_t t_first_byte_us;
    uint64_t t_end_us;
    gw_req *prev, *next; /* list of active transfers (upstream thread only) */
} gw_xfer;

struct gw_req {
    atomic_int refs;
    pthread_mutex_t mu;
    gw_loop *loop; /* the event loop that owns the connection and the transfer */
    struct MHD_Connection *conn;
    gw_config *cfg;
    cm_arena *arena;
    char id[32];
    uint64_t t_start_us;
    uint64_t t_up_start_us;
    enum gw_endpoint ep;
    enum gw_phase phase;
    bool suspended;   /* guarded by mu */
    bool ready;       /* upstream has something for the handler, guarded by mu */
    bool too_big;
    bool client_gone;
    bool has_xfer;
    cm_buf body;
    json_t *json;
    gw_xfer x;
    pol_identity *ident; /* NULL until authenticated (or when the gateway is open) */
    const char *auth_why; /* internal reason of an auth failure: audit only */
    const char *deny_why; /* internal reason of a policy denial */
    gw_redact_req *redact;  /* findings and pseudonyms of this request */
    const char *block_type; /* entity type that blocked the request */
    /* audit */
    const char *method;
    const char *path;
    const char *model;
    int status;
    const char *err_code;
    size_t bytes_in;
    size_t bytes_out;
};

void gw_req_ref(gw_req *r);
void gw_req_unref(gw_req *r);
/* Resume the connection if it is suspended. Caller holds r->mu. */
void gw_req_wake_locked(gw_req *r);

/* ---- replies (gw_reply.c): the only place codes become statuses -------- */
/* Queue an OpenAI-shaped error; message must not contain secrets or prompt text. */
enum MHD_Result gw_reply_error(gw_req *r, unsigned status, const char *type, const char *code,
                               const char *param, const char *message);
/* copy false: body is malloc'd and handed over (wiped and freed after sending). */
enum MHD_Result gw_reply_json(gw_req *r, unsigned status, const char *body, size_t len,
                              bool copy);
/* The same with another Content-Type. */
enum MHD_Result gw_reply_body(gw_req *r, unsigned status, const char *type, const char *body,
                              size_t len, bool copy);
/* 401 with WWW-Authenticate; the same text whatever check failed. */
enum MHD_Result gw_reply_unauthorized(gw_req *r);
/* 403 for an authenticated caller; why is a pol_check reason. */
enum MHD_Result gw_reply_forbidden(gw_req *r, const char *why);
/* Map a curl failure / upstream status to our answer. */
enum MHD_Result gw_reply_upstream_failure(gw_req *r);
void gw_reply_common_headers(gw_req *r, struct MHD_Response *resp);

/* ---- proxying (gw_proxy.c) ---------------------------------------------- */
/* Body complete: validate, route, start the upstream transfer (suspends). */
enum MHD_Result gw_proxy_start(gw_req *r);
/* Called when resumed with upstream news: queue the client response. */
enum MHD_Result gw_proxy_respond(gw_req *r);
enum MHD_Result gw_models_reply(gw_req *r);

/* ---- event loops and upstream transfers (gw_loop.c) ----------------------- */
/* Start n loops (threads), each with an HTTP daemon on the shared port and a
 * curl multi. */
int gw_loops_start(const gw_config *c, unsigned n) CM_MUST_CHECK;
unsigned gw_loops_port(void);
/* Stop accepting, wait up to grace_s for in-flight requests, cancel the rest. */
void gw_loops_drain(unsigned grace_s);
void gw_loops_stop(void);
/* A connection of l was resumed (loop thread only): MHD runs before the next wait. */
void gw_loop_resumed(gw_loop *l);
/* Start the prepared r->x on r's loop (loop thread only). */
void gw_upstream_submit(gw_req *r);
/* Abort r's transfer if it runs (loop thread only). */
void gw_upstream_cancel(gw_req *r);
/* Resume a paused transfer (deferred to the loop's next turn). */
void gw_upstream_unpause(gw_req *r);

/* Point r->x at the model's next target and rebuild the upstream body and URL
 * (loop thread; nothing has reached the client yet). Returns 0 or an error. */
int gw_proxy_next_target(gw_req *r);

/* ---- stream relay (gw_proxy.c) ---------------------------------------------- */
/* One whole SSE event from the provider (r->mu held): rewrite if needed and
 * append to r->x.out. Returns 0 or CM_ETOOBIG. */
int gw_stream_event(gw_req *r, const char *ev, size_t len);
/* The provider's stream is over (r->mu held): release anything held back. */
void gw_stream_end(gw_req *r);

/* ---- audit (gw_audit.c) --------------------------------------------------- */
int gw_audit_open(const char *path) CM_MUST_CHECK;
/* Queue one line (no newline); ownership of line passes to the writer. */
void gw_audit_write(char *line);
void gw_audit_record(gw_req *r);
/* gw_metrics.c: count a finished request (from the audit record); GET /metrics */
void gw_metrics_record(const gw_req *r, uint64_t latency_us);
enum MHD_Result gw_metrics_reply(gw_req *r);
void gw_audit_close(void);

/* ---- TLS (gw_tls.c) ----------------------------------------------------------- */
/* Subject DN (RFC 4514) of the client's certificate when the TLS layer verified it
 * against listen.tls.client_ca_file: 0; CM_ENOTFOUND: no certificate; CM_EAUTH: one
 * that does not verify. */
int gw_tls_peer_dn(struct MHD_Connection *conn, char *dn, size_t n);

/* ---- server (gw_server.c) -------------------------------------------------- */
/* An HTTP daemon in external epoll mode for loop l (SO_REUSEPORT when shared). */
int gw_server_start(const gw_config *c, gw_loop *l, unsigned port, long long max_conns,
                    bool reuse_port, struct MHD_Daemon **out) CM_MUST_CHECK;
unsigned gw_server_port(struct MHD_Daemon *d);
int gw_server_inflight(void);
int gw_server_connections(void);
bool gw_server_draining(void);
void gw_server_set_draining(void);

#endif
