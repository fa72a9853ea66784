/* mock_openai.c: OpenAI wire format for the mock: chat completions (JSON and SSE chunks),
 * embeddings, models and the error envelope. Pure functions of the request bytes, the
 * sequence number and the directives; transport faults (delay, stall, drop) are applied by
 * mock_http.c. Replies are deterministic: content is "Echo: " + the last user message.
 */
#include "mock.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const k_models[] = {"mock-gpt", "mock-gpt-mini", "mock-embedding"};
#define N_MODELS (sizeof k_models / sizeof k_models[0])

static const char k_bad_json[] =
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
    "sent was not valid JSON. If you have trouble figuring out how to fix this, please contact "
    "us through our help center at help.openai.com.)";

void mock_reply_fini(mock_reply *rep)
{
    free(rep->body);
    for (size_t i = 0; i < rep->n_evs; i++)
        free(rep->evs[i].data);
    free(rep->evs);
    memset(rep, 0, sizeof *rep);
}

static size_t tokens_of(size_t bytes)
{
    return (bytes + 3) / 4;
}

/* ---- errors ---------------------------------------------------------------------------- */

char *mock_openai_error(int status, const char *message, const char *param, const char *code,
                        size_t *len)
{
    const char *type = status >= 500 ? "server_error" : "invalid_request_error";
    const char *msg = message;
    const char *dcode = NULL;
    mock_buf b = {0};
    char tmp[64];
    char *m;
    size_t mlen;

    switch (status) {
    case 400:
        msg = msg ? msg : "Invalid request (mock).";
        break;
    case 401:
        msg = msg ? msg
                  : "Incorrect API key provided: sk-mock***. You can find your API key at "
                    "https://platform.openai.com/account/api-keys.";
        dcode = "invalid_api_key";
        break;
    case 403:
        msg = msg ? msg : "You are not allowed to perform this request (mock).";
        break;
    case 404:
        msg = msg ? msg : "The model does not exist or you do not have access to it.";
        dcode = message ? NULL : "model_not_found";
        break;
    case 413:
        msg = msg ? msg : "Request too large.";
        break;
    case 429:
        msg = msg ? msg
                  : "Rate limit reached for mock-gpt in organization org-mock on requests per "
                    "min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s. Visit "
                    "https://platform.openai.com/account/rate-limits to learn more.";
        type = "requests";
        dcode = "rate_limit_exceeded";
        break;
    case 500:
        msg = msg ? msg
                  : "The server had an error while processing your request. Sorry about that!";
        break;
    case 502:
        msg = msg ? msg : "Bad gateway.";
        break;
    case 503:
        msg = msg ? msg : "The engine is currently overloaded, please try again later";
        break;
    case 504:
        msg = msg ? msg : "Gateway timeout.";
        break;
    default:
        break;
    }
    if (msg == NULL) {
        snprintf(tmp, sizeof tmp, "Mock error %d.", status);
        msg = tmp;
    }
    m = mock_utf8_sanitize(msg, strlen(msg), &mlen);
    mock_buf_adds(&b, "{\"error\":{\"message\":");
    mock_buf_add_jstr(&b, m, mlen);
    free(m);
    mock_buf_adds(&b, ",\"type\":");
    mock_buf_add_jstr(&b, type, strlen(type));
    mock_buf_adds(&b, ",\"param\":");
    if (param)
        mock_buf_add_jstr(&b, param, strlen(param));
    else
        mock_buf_adds(&b, "null");
    code = code ? code : dcode;
    mock_buf_adds(&b, ",\"code\":");
    if (code)
        mock_buf_add_jstr(&b, code, strlen(code));
    else
        mock_buf_adds(&b, "null");
    mock_buf_adds(&b, "}}\n");
    return mock_buf_steal(&b, len);
}

void mock_openai_set_error(mock_reply *rep, int status, const char *message, const char *param,
                           const char *code)
{
    mock_reply_fini(rep);
    rep->status = status;
    rep->body = mock_openai_error(status, message, param, code, &rep->body_len);
}

/* ---- chat completions -------------------------------------------------------------------- */

typedef struct chat_req {
    const char *model;
    size_t model_len;
    mock_buf user; /* text of the last user message */
    size_t prompt_bytes;
    bool stream;
    bool include_usage;
} chat_req;

/* Appends the text of a message content (string or array of parts) to out. */
static size_t content_text(json_t *content, mock_buf *out)
{
    size_t total = 0;

    if (json_is_string(content)) {
        if (out)
            mock_buf_add(out, json_string_value(content), json_string_length(content));
        return json_string_length(content);
    }
    if (json_is_array(content)) {
        size_t i;
        json_t *part;
        bool first = true;
        json_array_foreach(content, i, part)
        {
            json_t *text = json_object_get(part, "text");
            const char *type = json_string_value(json_object_get(part, "type"));
            if (!json_is_string(text) || (type && strcmp(type, "text") != 0))
                continue;
            if (out && !first)
                mock_buf_add(out, "\n", 1);
            first = false;
            if (out)
                mock_buf_add(out, json_string_value(text), json_string_length(text));
            total += json_string_length(text);
        }
    }
    return total;
}

static bool chat_parse(json_t *root, chat_req *c, mock_reply *rep)
{
    json_t *model = json_object_get(root, "model");
    json_t *msgs = json_object_get(root, "messages");
    json_t *so = json_object_get(root, "stream_options");
    json_t *last_user = NULL;
    size_t i;
    json_t *m;

    if (!json_is_array(msgs)) {
        mock_openai_set_error(rep, 400, "Missing required parameter: 'messages'.", "messages",
                              "missing_required_parameter");
        return false;
    }
    if (json_array_size(msgs) == 0) {
        mock_openai_set_error(rep, 400, "[] is too short - 'messages'", "messages", NULL);
        return false;
    }
    if (!json_is_string(model)) {
        mock_openai_set_error(rep, 400, "you must provide a model parameter", NULL, NULL);
        return false;
    }
    c->model = json_string_value(model);
    c->model_len = json_string_length(model);
    json_array_foreach(msgs, i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        if (role == NULL) {
            mock_openai_set_error(rep, 400, "Missing required parameter: 'messages[].role'.",
                                  "messages", "missing_required_parameter");
            return false;
        }
        c->prompt_bytes += content_text(json_object_get(m, "content"), NULL);
        if (strcmp(role, "user") == 0)
            last_user = m;
    }
    if (last_user != NULL)
        content_text(json_object_get(last_user, "content"), &c->user);
    c->stream = json_is_true(json_object_get(root, "stream"));
    if (so != NULL && !json_is_null(so) && !c->stream) {
        mock_openai_set_error(rep, 400,
                              "The 'stream_options' parameter is only allowed when 'stream' is "
                              "enabled.",
                              "stream_options", NULL);
        return false;
    }
    c->include_usage = json_is_true(json_object_get(so, "include_usage"));
    return true;
}

static void add_usage(mock_buf *b, size_t prompt, size_t completion)
{
    mock_buf_addf(b,
                  "{\"prompt_tokens\":%zu,\"completion_tokens\":%zu,\"total_tokens\":%zu,"
                  "\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
                  "\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,"
                  "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}",
                  prompt, completion, prompt + completion);
}

static void chat_body(const chat_req *c, uint64_t seq, const char *content, size_t clen,
                      mock_reply *rep)
{
    mock_buf b = {0};

    mock_buf_addf(&b, "{\"id\":\"chatcmpl-mock%llu\",\"object\":\"chat.completion\",\"created\":%lld,"
                      "\"model\":",
                  (unsigned long long)seq, (long long)time(NULL));
    mock_buf_add_jstr(&b, c->model, c->model_len);
    mock_buf_adds(&b, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
    mock_buf_add_jstr(&b, content, clen);
    mock_buf_adds(&b, ",\"refusal\":null,\"annotations\":[]},\"logprobs\":null,"
                      "\"finish_reason\":\"stop\"}],\"usage\":");
    add_usage(&b, tokens_of(c->prompt_bytes), tokens_of(clen));
    mock_buf_adds(&b, ",\"service_tier\":\"default\",\"system_fingerprint\":\"" MOCK_FINGERPRINT
                      "\"}\n");
    rep->status = 200;
    rep->body = mock_buf_steal(&b, &rep->body_len);
}

static void push_event(mock_reply *rep, size_t *cap, mock_buf *b, long delay)
{
    if (rep->n_evs == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        rep->evs = mock_xrealloc(rep->evs, *cap * sizeof *rep->evs);
    }
    mock_event *e = &rep->evs[rep->n_evs++];
    e->data = mock_buf_steal(b, &e->len);
    e->delay_ms = delay;
}

static void chat_events(const chat_req *c, uint64_t seq, const char *content, size_t clen,
                        int pieces, long gap, mock_reply *rep)
{
    mock_buf head = {0}, b = {0};
    const char *tail = c->include_usage ? "],\"usage\":null}\n\n" : "]}\n\n";
    size_t cap = 0, start = 0;

    mock_buf_addf(&head,
                  "data: {\"id\":\"chatcmpl-mock%llu\",\"object\":\"chat.completion.chunk\","
                  "\"created\":%lld,\"model\":",
                  (unsigned long long)seq, (long long)time(NULL));
    mock_buf_add_jstr(&head, c->model, c->model_len);
    mock_buf_adds(&head, ",\"service_tier\":\"default\",\"system_fingerprint\":\"" MOCK_FINGERPRINT
                         "\",\"choices\":[");

    mock_buf_add(&b, head.data, head.len);
    mock_buf_adds(&b, "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\","
                      "\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}");
    mock_buf_adds(&b, tail);
    push_event(rep, &cap, &b, 0);

    for (int k = 1; k <= pieces; k++) {
        /* Equal byte slices, each boundary moved forward to a UTF-8 lead byte. */
        size_t end = (size_t)((unsigned long long)clen * (unsigned)k / (unsigned)pieces);
        while (end < clen && ((unsigned char)content[end] & 0xC0) == 0x80)
            end++;
        if (end < start)
            end = start;
        mock_buf_add(&b, head.data, head.len);
        mock_buf_adds(&b, "{\"index\":0,\"delta\":{\"content\":");
        mock_buf_add_jstr(&b, content + start, end - start);
        mock_buf_adds(&b, "},\"logprobs\":null,\"finish_reason\":null}");
        mock_buf_adds(&b, tail);
        push_event(rep, &cap, &b, gap);
        start = end;
    }

    mock_buf_add(&b, head.data, head.len);
    mock_buf_adds(&b, "{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}");
    mock_buf_adds(&b, tail);
    push_event(rep, &cap, &b, 0);

    if (c->include_usage) {
        mock_buf_add(&b, head.data, head.len);
        mock_buf_adds(&b, "],\"usage\":");
        add_usage(&b, tokens_of(c->prompt_bytes), tokens_of(clen));
        mock_buf_adds(&b, "}\n\n");
        push_event(rep, &cap, &b, 0);
    }
    mock_buf_adds(&b, "data: [DONE]\n\n");
    push_event(rep, &cap, &b, 0);

    mock_buf_fini(&head);
    rep->status = 200;
    rep->is_stream = true;
}

static void chat_reply(json_t *root, uint64_t seq, mock_directives *dir, mock_reply *rep)
{
    chat_req c = {0};
    mock_buf echo = {0};
    const char *content;
    size_t clen;

    if (!chat_parse(root, &c, rep))
        goto out;
    mock_dir_from_text(c.user.data ? c.user.data : "", c.user.len, dir);
    if (dir->content != NULL) {
        content = dir->content;
        clen = strlen(content);
    } else {
        mock_buf_adds(&echo, "Echo: ");
        mock_buf_add(&echo, c.user.data ? c.user.data : "", c.user.len);
        content = echo.data;
        clen = echo.len;
    }
    if (c.stream)
        chat_events(&c, seq, content, clen,
                    dir->events != MOCK_UNSET ? dir->events : g_mock_cfg.events,
                    dir->gap_ms != MOCK_UNSET ? dir->gap_ms : g_mock_cfg.gap_ms, rep);
    else
        chat_body(&c, seq, content, clen, rep);
out:
    mock_buf_fini(&c.user);
    mock_buf_fini(&echo);
}

/* ---- embeddings -------------------------------------------------------------------------- */

static void base64_add(mock_buf *b, const unsigned char *p, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        char o[4];
        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        o[0] = tbl[(v >> 18) & 63];
        o[1] = tbl[(v >> 12) & 63];
        o[2] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        o[3] = i + 2 < n ? tbl[v & 63] : '=';
        mock_buf_add(b, o, 4);
    }
}

/* Newton's method: the build line links no libm. */
static double mock_sqrt(double x)
{
    double g = x > 1 ? x : 1;

    for (int i = 0; i < 60; i++)
        g = 0.5 * (g + x / g);
    return g;
}

static void embed_one(mock_buf *b, const char *text, size_t n, size_t index, int dims, bool b64)
{
    uint64_t h = 1469598103934665603ull;
    float v[256];
    double norm = 0;

    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)text[i]) * 1099511628211ull;
    for (int i = 0; i < dims; i++) {
        /* splitmix64 */
        uint64_t z = (h += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        v[i] = (float)((double)(z >> 11) / 9007199254740992.0 * 2.0 - 1.0);
        norm += (double)v[i] * v[i];
    }
    norm = norm > 0 ? mock_sqrt(norm) : 1;
    mock_buf_addf(b, "%s{\"object\":\"embedding\",\"index\":%zu,\"embedding\":", index ? "," : "",
                  index);
    if (b64) {
        unsigned char raw[sizeof v];
        for (int i = 0; i < dims; i++) {
            float f = (float)(v[i] / norm);
            uint32_t u;
            memcpy(&u, &f, 4);
            for (int k = 0; k < 4; k++)
                raw[i * 4 + k] = (unsigned char)(u >> (8 * k));
        }
        mock_buf_add(b, "\"", 1);
        base64_add(b, raw, (size_t)dims * 4);
        mock_buf_add(b, "\"", 1);
    } else {
        mock_buf_add(b, "[", 1);
        for (int i = 0; i < dims; i++)
            mock_buf_addf(b, "%s%.8f", i ? "," : "", v[i] / norm);
        mock_buf_add(b, "]", 1);
    }
    mock_buf_add(b, "}", 1);
}

/* One input item as hashable text: a string, or the compact JSON of a token array. */
static bool embed_item(json_t *item, char **text, size_t *n, size_t *tokens)
{
    if (json_is_string(item)) {
        *text = mock_xstrndup(json_string_value(item), json_string_length(item));
        *n = json_string_length(item);
        *tokens = tokens_of(*n);
        return true;
    }
    if (json_is_array(item) && json_array_size(item) > 0) {
        size_t i;
        json_t *t;
        json_array_foreach(item, i, t)
        {
            if (!json_is_integer(t))
                return false;
        }
        *text = json_dumps(item, JSON_COMPACT);
        *n = strlen(*text);
        *tokens = json_array_size(item);
        return true;
    }
    return false;
}

static void embeddings_reply(json_t *root, mock_directives *dir, mock_reply *rep)
{
    json_t *model = json_object_get(root, "model");
    json_t *input = json_object_get(root, "input");
    json_t *dims_j = json_object_get(root, "dimensions");
    const char *fmt = json_string_value(json_object_get(root, "encoding_format"));
    bool b64 = fmt && strcmp(fmt, "base64") == 0;
    int dims = 8;
    size_t count, total_tokens = 0;
    mock_buf b = {0};

    if (!json_is_string(model)) {
        mock_openai_set_error(rep, 400, "you must provide a model parameter", NULL, NULL);
        return;
    }
    if (json_is_integer(dims_j)) {
        json_int_t d = json_integer_value(dims_j);
        if (d < 1 || d > 256) {
            mock_openai_set_error(rep, 400, "Invalid value for 'dimensions' (mock allows 1..256).",
                                  "dimensions", NULL);
            return;
        }
        dims = (int)d;
    }
    /* A flat array of integers is one tokenized input; any other array is a list of inputs. */
    bool single = json_is_string(input) ||
                  (json_is_array(input) && json_is_integer(json_array_get(input, 0)));
    count = single ? 1 : json_array_size(input);
    if (input == NULL || (!single && (!json_is_array(input) || count == 0))) {
        mock_openai_set_error(rep, 400,
                              "'$.input' is invalid. Please check the API reference: "
                              "https://platform.openai.com/docs/api-reference.",
                              NULL, NULL);
        return;
    }
    mock_buf_adds(&b, "{\"object\":\"list\",\"data\":[");
    for (size_t i = 0; i < count; i++) {
        json_t *item = single ? input : json_array_get(input, i);
        char *text;
        size_t n, tok;
        if (!embed_item(item, &text, &n, &tok)) {
            mock_buf_fini(&b);
            mock_openai_set_error(rep, 400,
                                  "'$.input' is invalid. Please check the API reference: "
                                  "https://platform.openai.com/docs/api-reference.",
                                  NULL, NULL);
            return;
        }
        if (i == 0)
            mock_dir_from_text(text, n, dir);
        embed_one(&b, text, n, i, dims, b64);
        total_tokens += tok;
        free(text);
    }
    mock_buf_adds(&b, "],\"model\":");
    mock_buf_add_jstr(&b, json_string_value(model), json_string_length(model));
    mock_buf_addf(&b, ",\"usage\":{\"prompt_tokens\":%zu,\"total_tokens\":%zu}}\n", total_tokens,
                  total_tokens);
    rep->status = 200;
    rep->body = mock_buf_steal(&b, &rep->body_len);
}

/* ---- models ----------------------------------------------------------------------------- */

static void model_obj(mock_buf *b, size_t i)
{
    mock_buf_addf(b, "{\"id\":\"%s\",\"object\":\"model\",\"created\":%d,\"owned_by\":\"mock\"}",
                  k_models[i], MOCK_CREATED_BASE + (int)i);
}

static void models_reply(const char *id, mock_reply *rep)
{
    mock_buf b = {0};

    if (id == NULL) {
        mock_buf_adds(&b, "{\"object\":\"list\",\"data\":[");
        for (size_t i = 0; i < N_MODELS; i++) {
            if (i)
                mock_buf_add(&b, ",", 1);
            model_obj(&b, i);
        }
        mock_buf_adds(&b, "]}\n");
    } else {
        for (size_t i = 0; i < N_MODELS && b.len == 0; i++) {
            if (strcmp(id, k_models[i]) == 0)
                model_obj(&b, i);
        }
        if (b.len == 0) {
            char msg[300];
            snprintf(msg, sizeof msg, "The model '%.200s' does not exist", id);
            mock_openai_set_error(rep, 404, msg, "model", "model_not_found");
            return;
        }
        mock_buf_adds(&b, "\n");
    }
    rep->status = 200;
    rep->body = mock_buf_steal(&b, &rep->body_len);
}

/* ---- dispatch ---------------------------------------------------------------------------- */

/* Cuts a JSON text in half: a proper prefix of an object is never valid JSON. */
static void make_malformed(mock_reply *rep)
{
    if (rep->is_stream) {
        /* The first content event (or the role event if there is none) loses its tail. */
        size_t k = rep->n_evs > 3 ? 1 : 0;
        mock_event *e = &rep->evs[k];
        size_t keep = 6 + (e->len - 8) / 2; /* "data: " + half the JSON */
        memcpy(e->data + keep, "\n\n", 3);
        e->len = keep + 2;
    } else if (rep->body_len > 1) {
        rep->body_len /= 2;
        rep->body[rep->body_len] = '\0';
    }
}

void mock_openai_reply(const char *method, const char *path, const char *body, size_t len,
                       uint64_t seq, mock_directives *dir, mock_reply *rep)
{
    bool is_post = strcmp(method, "POST") == 0;
    bool is_get = strcmp(method, "GET") == 0;
    bool chat = is_post && strcmp(path, "/v1/chat/completions") == 0;
    bool emb = is_post && strcmp(path, "/v1/embeddings") == 0;

    memset(rep, 0, sizeof *rep);
    if (chat || emb) {
        json_error_t jerr;
        json_t *root = json_loadb(body ? body : "", len, JSON_ALLOW_NUL, &jerr);
        if (!json_is_object(root))
            mock_openai_set_error(rep, 400, k_bad_json, NULL, NULL);
        else if (chat)
            chat_reply(root, seq, dir, rep);
        else
            embeddings_reply(root, dir, rep);
        json_decref(root);
    } else if (is_get && strcmp(path, "/v1/models") == 0) {
        models_reply(NULL, rep);
    } else if (is_get && strncmp(path, "/v1/models/", 11) == 0 && path[11] != '\0') {
        models_reply(path + 11, rep);
    } else {
        char msg[300];
        snprintf(msg, sizeof msg, "Invalid URL (%.16s %.200s)", method, path);
        mock_openai_set_error(rep, 404, msg, NULL, NULL);
    }

    if (dir->status != MOCK_UNSET && dir->status != 200) {
        if (dir->status >= 400)
            mock_openai_set_error(rep, dir->status, NULL, NULL, NULL);
        else
            rep->status = dir->status;
    }
    if (dir->malformed == 1)
        make_malformed(rep);
}
