/* Replies: OpenAI's error envelope {"error":{"message","type","code","param"}}
 * and the mapping of upstream failures to statuses. This is the only file that
 * turns error conditions into HTTP statuses. */
#include "gw_internal.h"

#include <curl/curl.h>
#include <string.h>

void gw_reply_common_headers(gw_req *r, struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "X-Request-Id", r->id);
}

enum MHD_Result gw_reply_json(gw_req *r, unsigned status, const char *body, size_t len, bool copy)
{
    return gw_reply_body(r, status, "application/json", body, len, copy);
}

enum MHD_Result gw_reply_body(gw_req *r, unsigned status, const char *type, const char *body,
                              size_t len, bool copy)
{
    /* a body handed over (copy false) is malloc'd; it may hold restored personal data,
     * so it is wiped when MHD is done with it */
    struct MHD_Response *resp =
        copy ? MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
                                               MHD_RESPMEM_MUST_COPY)
             : MHD_create_response_from_buffer_with_free_callback(len, (void *)(uintptr_t)body,
                                                                  cm_wipe_free);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", type);
    gw_reply_common_headers(r, resp);
    r->status = (int)status;
    r->bytes_out += len;
    r->phase = GW_PH_DONE;
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static char *error_body(const char *type, const char *code, const char *param, const char *message,
                        size_t *len)
{
    json_t *e = json_pack("{s:{s:s, s:s, s:s?, s:s?}}", "error", "message", message, "type", type,
                          "param", param, "code", code);
    char *s = json_dumps(e, JSON_COMPACT);
    json_decref(e);
    if (s == NULL)
        abort();
    *len = strlen(s);
    return s;
}

enum MHD_Result gw_reply_error(gw_req *r, unsigned status, const char *type, const char *code,
                               const char *param, const char *message)
{
    size_t len;
    char *body = error_body(type, code, param, message, &len);
    if (r->err_code == NULL)
        r->err_code = code;
    /* error_body comes from jansson's malloc: MHD frees it with free() */
    return gw_reply_json(r, status, body, len, false);
}

/* Keep an upstream error body when it already is an OpenAI envelope. */
static bool is_openai_error(const char *body, size_t len)
{
    json_t *j = json_loadb(body, len, 0, NULL);
    bool ok = j != NULL && json_is_object(json_object_get(j, "error")) &&
              json_is_string(json_object_get(json_object_get(j, "error"), "message"));
    json_decref(j);
    return ok;
}

enum MHD_Result gw_reply_upstream_failure(gw_req *r)
{
    gw_xfer *x = &r->x;
    char msg[256];
    const char *prov = x->target ? x->target->provider->name : "upstream";
    if (x->curl_rc == CURLE_OPERATION_TIMEDOUT) {
        snprintf(msg, sizeof(msg),
                 "The provider '%s' did not answer in time; retry later or raise "
                 "limits.upstream_timeout_ms.",
                 prov);
        return gw_reply_error(r, 504, "upstream_error", "upstream_timeout", NULL, msg);
    }
    if (x->curl_rc != CURLE_OK || x->status == 0) {
        snprintf(msg, sizeof(msg), "The provider '%s' could not be reached (%s).", prov,
                 curl_easy_strerror((CURLcode)x->curl_rc));
        return gw_reply_error(r, 502, "upstream_error", "upstream_unreachable", NULL, msg);
    }
    /* The provider answered with an error status: pass it through in the envelope. */
    unsigned status = (unsigned)x->status;
    if (status < 400 || status > 599)
        status = 502;
    struct MHD_Response *resp;
    if (x->out.len > 0 && is_openai_error(x->out.data, x->out.len)) {
        resp = MHD_create_response_from_buffer(x->out.len, x->out.data, MHD_RESPMEM_MUST_COPY);
        r->bytes_out += x->out.len;
        r->err_code = "upstream_error";
    } else {
        size_t len;
        snprintf(msg, sizeof(msg), "The provider '%s' returned HTTP %ld.", prov, x->status);
        char *body = error_body(status >= 500 ? "server_error" : "upstream_error",
                                "upstream_error", NULL, msg, &len);
        resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
        r->bytes_out += len;
        r->err_code = "upstream_error";
    }
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (x->retry_after[0] != '\0')
        MHD_add_response_header(resp, "Retry-After", x->retry_after);
    gw_reply_common_headers(r, resp);
    r->status = (int)status;
    r->phase = GW_PH_DONE;
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result gw_reply_unauthorized(gw_req *r)
{
    /* One answer for every failure: a forger learns nothing about which check failed. */
    size_t len;
    char *body = error_body("invalid_request_error", "invalid_api_key", NULL,
                            "Missing or invalid credentials. Send 'Authorization: Bearer <token>' "
                            "with a valid JWT from your identity provider or a gateway API key.",
                            &len);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"gateway\"");
    gw_reply_common_headers(r, resp);
    r->status = 401;
    r->bytes_out += len;
    r->phase = GW_PH_DONE;
    if (r->err_code == NULL)
        r->err_code = "unauthorized";
    enum MHD_Result ret = MHD_queue_response(r->conn, 401, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result gw_reply_forbidden(gw_req *r, const char *why)
{
    char msg[400];
    if (strcmp(why, "model_not_allowed") == 0)
        snprintf(msg, sizeof(msg),
                 "Your role does not allow the model '%.64s'. GET /v1/models lists the models "
                 "you may use.",
                 r->model ? r->model : "");
    else if (strcmp(why, "stream_not_allowed") == 0)
        snprintf(msg, sizeof(msg), "Your role does not allow streaming; send \"stream\": false.");
    else if (strcmp(why, "endpoint_not_allowed") == 0)
        snprintf(msg, sizeof(msg), "Your role does not allow this endpoint.");
    else
        snprintf(msg, sizeof(msg), "Your role does not allow this request.");
    return gw_reply_error(r, 403, "permission_error", why,
                          strcmp(why, "model_not_allowed") == 0 ? "model" : NULL,
                          cm_arena_sprintf(r->arena, "%s", msg));
}
