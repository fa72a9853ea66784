/* gateway/gw_redact_int.h: what gw_redact.c, gw_redact_restore.c and
 * gw_redact_cli.c share. Not for other modules: they use gw_redact.h. */
#ifndef GW_REDACT_INT_H
#define GW_REDACT_INT_H

#include <pthread.h>

#include "gateway/gw_redact.h"
#include "redaction/red.h"

#define GW_RED_MAX_TYPES 128
#define GW_RED_MIN_KEY   16
#define GW_RED_STDIN_MAX (64u << 20)

typedef struct gw_role_actions {
    char *name;
    bool is_set[GW_RED_MAX_TYPES];
    red_action act[GW_RED_MAX_TYPES];
} gw_role_actions;

typedef struct gw_pool {
    pthread_mutex_t mu;
    red_worker **w;
    size_t n, cap;
} gw_pool;

struct gw_redactor {
    red_engine *eng;
    const red_type *types;
    size_t ntypes;
    red_action defaults[GW_RED_MAX_TYPES];
    gw_role_actions *roles;
    size_t nroles;
    unsigned char *key;
    size_t keylen;
    gw_pool *pool;
};

struct gw_redact_req {
    const gw_redactor *r;
    red_session *sess;
    red_action act[GW_RED_MAX_TYPES];
    unsigned counts[GW_RED_MAX_TYPES];
    int streams[64]; /* stream ids used by restore_event, for the final flush */
    size_t nstreams;
};

/* Workers (Hyperscan scratch, PCRE2 match data) shared by the event loops. */
int gw_red_pool_get(const gw_redactor *r, red_worker **w);
void gw_red_pool_put(const gw_redactor *r, red_worker *w);

#endif
