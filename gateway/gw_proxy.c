/* The proxied endpoints (chat completions, embeddings): validate the OpenAI
 * request, pick the target for the model alias, hand the transfer to the
 * upstream thread, then answer: the provider's JSON, or its SSE stream relayed
 * event by event through a content reader. Also GET /v1/models. */
#include "gw_internal.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GW_DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

static enum MHD_Result bad_request(gw_req *r, const char *param, const char *msg)
{
    return gw_reply_error(r, 400, "invalid_request_error", "invalid_request", param, msg);
}

static const char *const roles_ok[] = {"system", "user", "assistant", "tool", "developer",
                                       "function", NULL};

/* Shape checks on a chat request; returns MHD_YES and *ok=false after replying. */
static enum MHD_Result validate_chat(gw_req *r, json_t *root, bool *ok)
{
    json_t *msgs = json_object_get(root, "messages");
    *ok = false;
    if (msgs == NULL)
        return bad_request(r, "messages", "Missing required parameter: 'messages'.");
    if (!json_is_array(msgs) || json_array_size(msgs) == 0)
        return bad_request(r, "messages", "'messages' must be a non-empty array of messages.");
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m)
    {
        char param[48];
        if (!json_is_object(m)) {
            snprintf(param, sizeof(param), "messages[%zu]", i);
            return bad_request(r, cm_arena_sprintf(r->arena, "%s", param),
                               "Each message must be an object with 'role' and 'content'.");
        }
        json_t *role = json_object_get(m, "role");
        bool role_ok = false;
        for (const char *const *k = roles_ok; json_is_string(role) && *k; k++)
            role_ok |= strcmp(json_string_value(role), *k) == 0;
        if (!role_ok) {
            snprintf(param, sizeof(param), "messages[%zu].role", i);
            return bad_request(r, cm_arena_sprintf(r->arena, "%s", param),
                               "Invalid 'role': expected one of system, developer, user, "
                               "assistant, tool.");
        }
        json_t *content = json_object_get(m, "content");
        if (content != NULL && !json_is_string(content) && !json_is_array(content) &&
            !json_is_null(content)) {
            snprintf(param, sizeof(param), "messages[%zu].content", i);
            return bad_request(r, cm_arena_sprintf(r->arena, "%s", param),
                               "'content' must be a string or an array of content parts.");
        }
    }
    static const char *const int_keys[] = {"max_tokens", "max_completion_tokens", "n", NULL};
    for (const char *const *k = int_keys; *k; k++) {
        json_t *v = json_object_get(root, *k);
        if (v != NULL && !json_is_null(v) && (!json_is_integer(v) || json_integer_value(v) < 1)) {
            char msg[96];
            snprintf(msg, sizeof(msg), "'%s' must be a positive integer.", *k);
            return bad_request(r, *k, cm_arena_sprintf(r->arena, "%s", msg));
        }
    }
    json_t *so = json_object_get(root, "stream_options");
    if (so != NULL && !json_is_null(so) && !json_is_object(so))
        return bad_request(r, "stream_options", "'stream_options' must be an object.");
    *ok = true;
    return MHD_YES;
}

static enum MHD_Result validate_embeddings(gw_req *r, json_t *root, bool *ok)
{
    json_t *in = json_object_get(root, "input");
    *ok = false;
    if (in == NULL)
        return bad_request(r, "input", "Missing required parameter: 'input'.");
    if (!json_is_string(in) && !(json_is_array(in) && json_array_size(in) > 0))
        return bad_request(r, "input", "'input' must be a string or a non-empty array.");
    *ok = true;
    return MHD_YES;
}

/* The caller's max_tokens cap: a larger request is refused, a missing one gets the cap. */
static enum MHD_Result apply_token_cap(gw_req *r, json_t *root, bool *ok)
{
    unsigned cap = pol_max_tokens(r->cfg->pol, r->ident);
    *ok = true;
    if (cap == 0)
        return MHD_YES;
    static const char *const keys[] = {"max_tokens", "max_completion_tokens"};
    bool present = false;
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_object_get(root, keys[i]);
        if (!json_is_integer(v))
            continue;
        present = true;
        if (json_integer_value(v) > (json_int_t)cap) {
            char msg[160];
            snprintf(msg, sizeof(msg), "'%s' is above your role's limit of %u tokens.", keys[i],
                     cap);
            *ok = false;
            r->deny_why = "max_tokens_over_cap";
            return gw_reply_error(r, 400, "invalid_request_error", "max_tokens_over_cap", keys[i],
                                  cm_arena_sprintf(r->arena, "%s", msg));
        }
    }
    if (!present)
        json_object_set_new(root, "max_tokens", json_integer(cap));
    return MHD_YES;
}

/* Body and URL for the current target: the alias becomes the target's model name. */
static int prepare_target(gw_req *r)
{
    gw_xfer *x = &r->x;
    const gw_target *t = &x->model->targets[x->target_idx];
    x->target = t;
    json_object_set_new(r->json, "model", json_string(t->model));
    char *body = json_dumps(r->json, GW_DUMP_FLAGS);
    if (body == NULL)
        return CM_ENOMEM;
    if (x->body != NULL) {
        cm_wipe(x->body, x->body_len);
        free(x->body);
    }
    x->body = body;
    x->body_len = strlen(body);
    const char *suffix = r->ep == GW_EP_CHAT ? "/chat/completions" : "/embeddings";
    size_t ul = strlen(t->provider->base_url) + strlen(suffix) + 1;
    free(x->url);
    x->url = cm_xmalloc(ul);
    snprintf(x->url, ul, "%s%s", t->provider->base_url, suffix);
    return 0;
}

int gw_proxy_next_target(gw_req *r)
{
    gw_xfer *x = &r->x;
    if (x->model == NULL || x->target_idx + 1 >= x->model->ntargets)
        return CM_ENOTFOUND;
    x->target_idx++;
    x->failovers++;
    pthread_mutex_lock(&r->mu);
    x->status = 0;
    x->headers_seen = false;
    x->is_sse = false;
    x->retry_after[0] = '\0';
    x->curl_rc = 0;
    x->t_first_byte_us = 0;
    cm_buf_reset(&x->out);
    cm_buf_reset(&x->sse);
    pthread_mutex_unlock(&r->mu);
    return prepare_target(r);
}

/* Every text the request carries goes through redaction; anything that cannot be
 * scanned is refused, never forwarded. */
static enum MHD_Result redact(gw_req *r, json_t *root, bool *ok)
{
    const char *const *roles = r->ident ? r->ident->roles : NULL;
    size_t nroles = r->ident ? r->ident->nroles : 0;
    int rc = gw_redact_request(r->cfg->red, roles, nroles,
                               r->ep == GW_EP_CHAT ? "chat" : "embeddings", root, r->arena,
                               &r->redact, &r->block_type);
    *ok = rc == 0;
    if (rc == 0)
        return MHD_YES;
    if (rc == CM_EBLOCKED) {
        char msg[300];
        snprintf(msg, sizeof(msg),
                 "The request contains data that the gateway's data protection rules do not "
                 "allow to leave (%s). Remove it and retry.",
                 r->block_type ? r->block_type : "blocked");
        return gw_reply_error(r, 400, "invalid_request_error", "content_blocked", NULL,
                              cm_arena_sprintf(r->arena, "%s", msg));
    }
    if (rc == CM_ETOOBIG)
        return gw_reply_error(r, 413, "invalid_request_error", "request_too_large", NULL,
                              "The request is too large to be scanned within "
                              "limits.request_arena_bytes.");
    if (rc == CM_EINVAL)
        return gw_reply_error(r, 400, "invalid_request_error", "unscannable_input", NULL,
                              "The gateway can only forward text it can scan; send text, not "
                              "token ids or other encodings.");
    return gw_reply_error(r, 500, "server_error", "redaction_failed", NULL,
                          "The request could not be scanned, so it was not forwarded.");
}

static enum MHD_Result suspend_for_upstream(gw_req *r)
{
    r->phase = GW_PH_UPSTREAM;
    r->has_xfer = true;
    r->t_up_start_us = cm_now_us();
    pthread_mutex_lock(&r->mu);
    r->suspended = true;
    MHD_suspend_connection(r->conn);
    pthread_mutex_unlock(&r->mu);
    gw_upstream_submit(r);
    return MHD_YES;
}

enum MHD_Result gw_proxy_start(gw_req *r)
{
    json_error_t jerr;
    if (r->body.len == 0)
        return bad_request(r, NULL, "The request body is empty; send a JSON object.");
    r->json = json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (r->json == NULL) {
        char msg[300];
        snprintf(msg, sizeof(msg),
                 "We could not parse the JSON body of your request (line %d, column %d: %s). "
                 "Send valid JSON.",
                 jerr.line, jerr.column, jerr.text);
        return gw_reply_error(r, 400, "invalid_request_error", "invalid_json", NULL,
                              cm_arena_sprintf(r->arena, "%s", msg));
    }
    /* the parsed tree is the request from here on; the raw bytes can go */
    cm_buf_fini(&r->body);
    json_t *root = r->json;
    if (!json_is_object(root))
        return bad_request(r, NULL, "The request body must be a JSON object.");
    json_t *mj = json_object_get(root, "model");
    if (mj == NULL)
        return bad_request(r, "model", "Missing required parameter: 'model'.");
    if (!json_is_string(mj) || json_string_length(mj) == 0 || json_string_length(mj) > 256)
        return bad_request(r, "model", "'model' must be a non-empty string.");
    r->model = cm_arena_strndup(r->arena, json_string_value(mj), json_string_length(mj));
    json_t *sj = json_object_get(root, "stream");
    if (sj != NULL && !json_is_boolean(sj) && !json_is_null(sj))
        return bad_request(r, "stream", "'stream' must be a boolean.");
    bool ok;
    enum MHD_Result ret = r->ep == GW_EP_CHAT ? validate_chat(r, root, &ok)
                                              : validate_embeddings(r, root, &ok);
    if (!ok)
        return ret;

    bool is_stream = r->ep == GW_EP_CHAT && json_is_true(sj);
    if (r->cfg->pol != NULL) {
        const char *ep = r->ep == GW_EP_CHAT ? "chat" : "embeddings";
        if (pol_check(r->cfg->pol, r->ident, ep, r->model, is_stream, &r->deny_why) != 0)
            return gw_reply_forbidden(r, r->deny_why);
        if (r->ep == GW_EP_CHAT && (ret = apply_token_cap(r, root, &ok), !ok))
            return ret;
    }
    const gw_model *m = gw_config_model(r->cfg, r->model);
    if (m == NULL) {
        char msg[400];
        snprintf(msg, sizeof(msg),
                 "The model '%.64s' does not exist or you do not have access to it. "
                 "GET /v1/models lists the models you can use.",
                 r->model);
        return gw_reply_error(r, 404, "invalid_request_error", "model_not_found", "model",
                              cm_arena_sprintf(r->arena, "%s", msg));
    }
    if (r->cfg->red != NULL && (ret = redact(r, root, &ok), !ok))
        return ret;
    gw_xfer *x = &r->x;
    x->model = m;
    x->target_idx = 0;
    x->is_stream = is_stream;
    if (prepare_target(r) != 0)
        return gw_reply_error(r, 500, "server_error", "internal_error", NULL,
                              "The request could not be encoded.");
    return suspend_for_upstream(r);
}

/* ---- answering ------------------------------------------------------------ */

int gw_stream_event(gw_req *r, const char *ev, size_t len)
{
    gw_xfer *x = &r->x;
    if (r->redact == NULL || !gw_redact_needs_restore(r->redact))
        return cm_buf_append(&x->out, ev, len);
    /* Pseudonyms to restore: take the event's data lines apart, let redaction
     * rewrite the payload, frame it again. Other lines pass unchanged. */
    cm_buf data, payload;
    cm_buf_init(&data, (size_t)r->cfg->limits.max_response_bytes);
    cm_buf_init(&payload, (size_t)r->cfg->limits.max_response_bytes);
    int rc = 0;
    bool has_data = false;
    const char *p = ev, *end = ev + len;
    while (p < end && rc == 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        size_t n = (size_t)(le - p);
        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (n >= 5 && memcmp(p, "data:", 5) == 0) {
            size_t off = (n > 5 && p[5] == ' ') ? 6 : 5;
            if (has_data)
                rc = cm_buf_append(&data, "\n", 1);
            if (rc == 0)
                rc = cm_buf_append(&data, p + off, n - off);
            has_data = true;
        } else if (n > 0) {
            rc = cm_buf_append(&x->out, p, n);
            if (rc == 0)
                rc = cm_buf_append(&x->out, "\n", 1);
        }
        p = nl ? nl + 1 : end;
    }
    if (rc == 0 && has_data)
        rc = gw_redact_restore_event(r->redact, data.data, data.len, &payload);
    if (rc == 0 && has_data) {
        rc = cm_buf_append(&x->out, "data: ", 6);
        if (rc == 0)
            rc = cm_buf_append(&x->out, payload.data ? payload.data : "", payload.len);
        if (rc == 0)
            rc = cm_buf_append(&x->out, "\n\n", 2);
    }
    cm_buf_fini(&data);
    cm_buf_fini(&payload);
    return rc;
}

void gw_stream_end(gw_req *r)
{
    (void)r;
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    gw_req *r = cls;
    gw_xfer *x = &r->x;
    ssize_t ret;
    pthread_mutex_lock(&r->mu);
    if (x->out.len > 0) {
        size_t n = x->out.len < max ? x->out.len : max;
        memcpy(buf, x->out.data, n);
        cm_buf_consume(&x->out, n);
        r->bytes_out += n;
        if (x->paused && !x->unpause_queued) {
            x->unpause_queued = true;
            gw_upstream_unpause(r);
        }
        ret = (ssize_t)n;
    } else if (x->finished) {
        if (x->curl_rc != CURLE_OK && r->status != 0 && r->err_code == NULL) {
            /* The provider failed mid-stream: say so in the stream (OpenAI SDKs raise on an
             * error event), then cut the chunked body so raw clients see it too. */
            r->err_code = x->curl_rc == CURLE_OPERATION_TIMEDOUT ? "upstream_timeout"
                                                                  : "upstream_stream_error";
            json_t *e = json_pack("{s:{s:s,s:s,s:s,s:n}}", "error", "message",
                                  "The provider's stream ended abnormally; the answer is "
                                  "incomplete.",
                                  "type", "upstream_error", "code", r->err_code, "param");
            char *s = json_dumps(e, JSON_COMPACT);
            json_decref(e);
            int n = snprintf(buf, max, "data: %s\n\n", s ? s : "{}");
            free(s);
            ret = n > 0 && (size_t)n < max ? n : MHD_CONTENT_READER_END_WITH_ERROR;
            if (ret > 0)
                r->bytes_out += (size_t)ret;
        } else if (x->curl_rc != CURLE_OK) {
            ret = MHD_CONTENT_READER_END_WITH_ERROR;
        } else {
            ret = MHD_CONTENT_READER_END_OF_STREAM;
        }
    } else {
        r->suspended = true;
        MHD_suspend_connection(r->conn);
        ret = 0;
    }
    pthread_mutex_unlock(&r->mu);
    return ret;
}

static void stream_free(void *cls)
{
    gw_req_unref(cls);
}

static enum MHD_Result start_stream(gw_req *r)
{
    gw_req_ref(r);
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4 * 1024, stream_reader, r,
                                          stream_free);
    if (resp == NULL) {
        gw_req_unref(r);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    gw_reply_common_headers(r, resp);
    r->phase = GW_PH_STREAM;
    r->status = 200;
    enum MHD_Result ret = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result gw_proxy_respond(gw_req *r)
{
    gw_xfer *x = &r->x;
    pthread_mutex_lock(&r->mu);
    if (!r->ready) {
        /* woken without news: wait again */
        r->suspended = true;
        MHD_suspend_connection(r->conn);
        pthread_mutex_unlock(&r->mu);
        return MHD_YES;
    }
    r->ready = false;
    bool finished = x->finished;
    bool streaming = x->is_stream && x->headers_seen && x->status >= 200 && x->status < 300 &&
                     x->is_sse;
    pthread_mutex_unlock(&r->mu);
    if (streaming)
        return start_stream(r);
    if (!finished) {
        pthread_mutex_lock(&r->mu);
        r->suspended = true;
        MHD_suspend_connection(r->conn);
        pthread_mutex_unlock(&r->mu);
        return MHD_YES;
    }
    if (x->curl_rc != CURLE_OK || x->status < 200 || x->status >= 300)
        return gw_reply_upstream_failure(r);
    json_t *j = json_loadb(x->out.data ? x->out.data : "", x->out.len, 0, NULL);
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        char msg[160];
        snprintf(msg, sizeof(msg), "The provider '%s' returned a malformed answer.",
                 x->target->provider->name);
        return gw_reply_error(r, 502, "upstream_error", "upstream_malformed", NULL,
                              cm_arena_sprintf(r->arena, "%s", msg));
    }
    if (r->redact != NULL && gw_redact_needs_restore(r->redact)) {
        char *s = NULL;
        if (gw_redact_restore_json(r->redact, j) != 0 || (s = json_dumps(j, GW_DUMP_FLAGS)) == NULL) {
            json_decref(j);
            return gw_reply_error(r, 502, "upstream_error", "restore_failed", NULL,
                                  "The answer could not be de-pseudonymized.");
        }
        json_decref(j);
        return gw_reply_json(r, 200, s, strlen(s), false);
    }
    json_decref(j);
    /* hand the provider's bytes to MHD as they are: no copy */
    char *body = x->out.data;
    size_t len = x->out.len;
    x->out.data = NULL;
    x->out.len = x->out.cap = 0;
    return gw_reply_json(r, 200, body, len, false);
}

enum MHD_Result gw_models_reply(gw_req *r)
{
    if (r->cfg->pol != NULL &&
        pol_check(r->cfg->pol, r->ident, "models", NULL, false, &r->deny_why) != 0)
        return gw_reply_forbidden(r, r->deny_why);
    json_t *data = json_array();
    for (size_t i = 0; i < r->cfg->nmodels; i++) {
        const gw_model *m = &r->cfg->models[i];
        if (r->cfg->pol != NULL && !pol_model_visible(r->cfg->pol, r->ident, m->name))
            continue;
        json_array_append_new(data, json_pack("{s:s,s:s,s:i,s:s}", "id", m->name, "object",
                                              "model", "created", 0, "owned_by",
                                              m->targets[0].provider->name));
    }
    json_t *root = json_pack("{s:s,s:o}", "object", "list", "data", data);
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (s == NULL)
        return MHD_NO;
    return gw_reply_json(r, 200, s, strlen(s), false);
}
