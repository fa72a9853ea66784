/* Restoring pseudonyms in answers: whole chat.completion bodies and SSE
 * chunks, where a placeholder may be split across events (the tail that may
 * start one is held back per choice and tool call). */
#include "gateway/gw_redact_int.h"

#include <string.h>

/* ---- restoring answers ------------------------------------------------------ */

static int restore_str(gw_redact_req *rr, json_t *s)
{
    if (!json_is_string(s))
        return 0;
    cm_buf out;
    cm_buf_init(&out, 0);
    const char *in = json_string_value(s);
    size_t len = json_string_length(s);
    int rc = red_restore(rr->sess, -1, in, len, true, &out);
    bool is_same = out.len == len && (len == 0 || memcmp(out.data, in, len) == 0);
    if (rc == 0 && !is_same && json_string_setn(s, out.data ? out.data : "", out.len) != 0)
        rc = CM_EINTERNAL;
    cm_buf_fini(&out);
    return rc;
}

int gw_redact_restore_json(gw_redact_req *rr, json_t *response)
{
    if (!gw_redact_needs_restore(rr) || !json_is_object(response))
        return 0;
    json_t *choices = json_object_get(response, "choices"), *c, *p, *t;
    size_t i, j;
    int rc = 0;
    json_array_foreach (choices, i, c) {
        json_t *m = json_object_get(c, "message"), *content = json_object_get(m, "content");
        rc = restore_str(rr, content);
        json_array_foreach (content, j, p) {
            if (rc == 0)
                rc = restore_str(rr, json_object_get(p, "text"));
        }
        if (rc == 0)
            rc = restore_str(rr, json_object_get(m, "refusal"));
        json_array_foreach (json_object_get(m, "tool_calls"), j, t) {
            if (rc == 0)
                rc = restore_str(rr, json_object_get(json_object_get(t, "function"), "arguments"));
        }
        if (rc == 0)
            rc = restore_str(rr, json_object_get(c, "text")); /* legacy completions */
        if (rc != 0)
            break;
    }
    return rc;
}

/* Restore one streamed piece; *changed tells whether the JSON must be rewritten. */
static int restore_piece(gw_redact_req *rr, int id, json_t *parent, const char *key, bool is_last,
                         bool *changed)
{
    json_t *s = json_object_get(parent, key);
    if (s != NULL && !json_is_string(s) && !json_is_null(s))
        return 0;
    const char *text = json_is_string(s) ? json_string_value(s) : "";
    size_t len = json_is_string(s) ? json_string_length(s) : 0;
    size_t k = 0;
    while (k < rr->nstreams && rr->streams[k] != id)
        k++;
    if (k == rr->nstreams) {
        if (rr->nstreams == sizeof(rr->streams) / sizeof(rr->streams[0]))
            return CM_ETOOBIG;
        rr->streams[rr->nstreams++] = id;
    }
    cm_buf out;
    cm_buf_init(&out, 0);
    int rc = red_restore(rr->sess, id, text, len, is_last, &out);
    if (rc == 0 && (out.len != len || (len > 0 && memcmp(out.data, text, len) != 0))) {
        if (s == NULL && out.len == 0) {
            /* nothing to add */
        } else if (json_object_set_new(parent, key,
                                       json_stringn(out.data ? out.data : "", out.len)) != 0) {
            rc = CM_EINTERNAL;
        } else {
            *changed = true;
        }
    }
    cm_buf_fini(&out);
    return rc;
}

/* "[DONE]" after a stream that never sent finish_reason: release what is held. */
static int flush_streams(gw_redact_req *rr, cm_buf *out)
{
    json_t *choices = json_array();
    int rc = 0;
    for (size_t k = 0; k < rr->nstreams && rc == 0; k++) {
        cm_buf held;
        cm_buf_init(&held, 0);
        rc = red_restore(rr->sess, rr->streams[k], "", 0, true, &held);
        if (rc == 0 && held.len > 0) {
            int id = rr->streams[k];
            json_t *delta = json_object(), *fn;
            if (id % 1024 == 0) {
                json_object_set_new(delta, "content", json_stringn(held.data, held.len));
            } else {
                fn = json_pack("{s:i,s:{s:s%}}", "index", id % 1024 - 1, "function", "arguments",
                               held.data, held.len);
                json_object_set_new(delta, "tool_calls", json_pack("[o]", fn));
            }
            json_array_append_new(choices,
                                  json_pack("{s:i,s:o}", "index", id / 1024, "delta", delta));
        }
        cm_buf_fini(&held);
    }
    if (rc == 0 && json_array_size(choices) > 0) {
        json_t *chunk =
            json_pack("{s:s,s:o}", "object", "chat.completion.chunk", "choices", choices);
        choices = NULL;
        char *s = chunk ? json_dumps(chunk, JSON_COMPACT) : NULL;
        rc = s ? cm_buf_append(out, s, strlen(s)) : CM_EINTERNAL;
        if (rc == 0)
            rc = cm_buf_append(out, "\n\ndata: ", 8);
        free(s);
        json_decref(chunk);
    }
    json_decref(choices);
    return rc == 0 ? cm_buf_append(out, "[DONE]", 6) : rc;
}

int gw_redact_restore_event(gw_redact_req *rr, const char *data, size_t len, cm_buf *out)
{
    if (!gw_redact_needs_restore(rr))
        return cm_buf_append(out, data, len);
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0)
        return flush_streams(rr, out);
    json_t *ev = json_loadb(data, len, 0, NULL);
    if (ev == NULL)
        return cm_buf_append(out, data, len); /* not JSON: nothing of ours in it */
    bool changed = false;
    int rc = 0;
    size_t i, j;
    json_t *c, *t;
    json_array_foreach (json_object_get(ev, "choices"), i, c) {
        json_t *jidx = json_object_get(c, "index"), *delta = json_object_get(c, "delta");
        json_t *fin = json_object_get(c, "finish_reason");
        int idx = json_is_integer(jidx) ? (int)json_integer_value(jidx) : (int)i;
        bool is_last = fin != NULL && !json_is_null(fin);
        if (idx < 0 || idx > 1000)
            continue;
        if (!json_is_object(delta)) {
            if (!is_last)
                continue;
            delta = json_object();
            json_object_set_new(c, "delta", delta);
        }
        if (rc == 0 && (json_object_get(delta, "content") != NULL || is_last))
            rc = restore_piece(rr, idx * 1024, delta, "content", is_last, &changed);
        json_array_foreach (json_object_get(delta, "tool_calls"), j, t) {
            json_t *ti = json_object_get(t, "index"), *fn = json_object_get(t, "function");
            int tidx = json_is_integer(ti) ? (int)json_integer_value(ti) : (int)j;
            if (rc == 0 && json_is_object(fn) && tidx >= 0 && tidx < 1000)
                rc = restore_piece(rr, idx * 1024 + 1 + tidx, fn, "arguments", is_last, &changed);
        }
        /* a finish chunk without the tool call still releases its held tail */
        for (size_t k = 0; rc == 0 && is_last && k < rr->nstreams; k++) {
            int id = rr->streams[k];
            if (id / 1024 != idx || id % 1024 == 0)
                continue;
            cm_buf held;
            cm_buf_init(&held, 0);
            rc = red_restore(rr->sess, id, "", 0, true, &held);
            if (rc == 0 && held.len > 0) {
                json_t *tc = json_object_get(delta, "tool_calls");
                if (!json_is_array(tc)) {
                    tc = json_array();
                    json_object_set_new(delta, "tool_calls", tc);
                }
                json_array_append_new(tc, json_pack("{s:i,s:{s:s%}}", "index", id % 1024 - 1,
                                                    "function", "arguments", held.data, held.len));
                changed = true;
            }
            cm_buf_fini(&held);
        }
    }
    if (rc == 0) {
        char *s = changed ? json_dumps(ev, JSON_COMPACT) : NULL;
        if (changed && s == NULL)
            rc = CM_EINTERNAL;
        else
            rc = changed ? cm_buf_append(out, s, strlen(s)) : cm_buf_append(out, data, len);
        free(s);
    }
    json_decref(ev);
    return rc;
}
