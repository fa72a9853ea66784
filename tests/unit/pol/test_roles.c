/* Per-role policy: glob allowlists with per-role denies, union over the
 * caller's roles (one role must allow endpoint, model and streaming
 * together), default deny, model visibility for GET /v1/models, the
 * max_tokens cap, and the anonymous identity when auth is off. */
#include "tpol.h"

#include <stdlib.h>
#include <string.h>

static const char *roles_cfg =
    "{\"roles\":{"
    "\"analyst\":{\"models\":[\"gpt-4o*\",\"claude-*\"],\"deny\":[\"gpt-4o-realtime*\"],"
    "\"endpoints\":[\"chat\",\"models\"],\"stream\":false,\"max_tokens\":4096},"
    "\"embedder\":{\"models\":[\"text-embedding-3-*\"],\"endpoints\":[\"embeddings\"],"
    "\"max_tokens\":1000},"
    "\"streamer\":{\"models\":[\"gpt-4o-mini\"],\"endpoints\":[\"chat\"],\"max_tokens\":8192},"
    "\"admin\":{\"models\":[\"*\"]},"
    "\"viewer\":{\"endpoints\":[\"models\"]}}}";

typedef struct check_case {
    const char *roles[4];
    const char *endpoint, *model;
    bool is_stream;
    const char *why; /* NULL = allowed */
} check_case;

static const check_case checks[] = {
    {{"analyst"}, "chat", "gpt-4o", false, NULL},
    {{"analyst"}, "chat", "gpt-4o-mini", false, NULL},
    {{"analyst"}, "chat", "claude-3-5-sonnet", false, NULL},
    {{"analyst"}, "chat", "gpt-4o-realtime-preview", false, "model_not_allowed"},
    {{"analyst"}, "chat", "o1-preview", false, "model_not_allowed"},
    {{"analyst"}, "chat", "GPT-4o", false, "model_not_allowed"}, /* case matters */
    {{"analyst"}, "chat", "gpt-4", false, "model_not_allowed"},
    {{"analyst"}, "chat", "gpt-4o", true, "stream_not_allowed"},
    {{"analyst"}, "embeddings", "text-embedding-3-small", false, "endpoint_not_allowed"},
    {{"analyst"}, "models", NULL, false, NULL},
    {{"analyst"}, "completions", "gpt-4o", false, "endpoint_not_allowed"},
    {{"analyst"}, "chat", NULL, false, "model_not_allowed"},
    {{"analyst"}, "chat", "gpt-4o\n", false, "model_not_allowed"},
    {{"embedder"}, "embeddings", "text-embedding-3-small", false, NULL},
    {{"embedder"}, "chat", "text-embedding-3-small", false, "endpoint_not_allowed"},
    {{"embedder"}, "models", NULL, false, "endpoint_not_allowed"},
    /* union: one role must allow the whole request */
    {{"analyst", "streamer"}, "chat", "gpt-4o-mini", true, NULL},
    {{"analyst", "streamer"}, "chat", "gpt-4o", true, "stream_not_allowed"},
    {{"analyst", "embedder"}, "embeddings", "text-embedding-3-large", false, NULL},
    {{"analyst", "embedder"}, "embeddings", "gpt-4o", false, "model_not_allowed"},
    /* a deny narrows its own role only */
    {{"analyst", "admin"}, "chat", "gpt-4o-realtime-preview", true, NULL},
    {{"admin"}, "embeddings", "anything-at-all", true, NULL},
    /* default deny */
    {{"viewer"}, "models", NULL, false, NULL},
    {{"viewer"}, "chat", "gpt-4o", false, "endpoint_not_allowed"},
    {{"ghost"}, "chat", "gpt-4o", false, "endpoint_not_allowed"},
    {{"ghost"}, "models", NULL, false, "endpoint_not_allowed"},
    {{NULL}, "chat", "gpt-4o", false, "endpoint_not_allowed"},
};

static pol_identity *ident(cm_arena *a, const char *const *roles)
{
    size_t n = 0;
    while (n < 4 && roles[n] != NULL)
        n++;
    return pol_identity_new(a, "tester", roles, n, NULL, "jwt", NULL, NULL);
}

static void test_glob(void)
{
    static const struct {
        const char *pat, *s;
        bool is_match;
    } g[] = {
        {"*", "", true},
        {"*", "anything", true},
        {"gpt-4o*", "gpt-4o", true},
        {"gpt-4o*", "gpt-4o-mini", true},
        {"gpt-4o*", "gpt-4", false},
        {"gpt-4o*", "xgpt-4o", false},
        {"claude-*", "claude-", true},
        {"claude-*", "claude", false},
        {"a?c", "abc", true},
        {"a?c", "ac", false},
        {"*mini*", "gpt-4o-mini-2024", true},
        {"*-mini", "gpt-4o-mini-2024", false},
        {"a*b*c", "aXXbYYc", true},
        {"a*b*c", "aXXbYY", false},
        {"exact", "exact", true},
        {"exact", "exactly", false},
        {"", "", true},
        {"", "x", false},
    };
    for (size_t i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
        bool m = pol_glob_match(g[i].pat, g[i].s);
        CHECK(m == g[i].is_match);
        if (m != g[i].is_match)
            fprintf(stderr, "  glob \"%s\" vs \"%s\"\n", g[i].pat, g[i].s);
    }
    /* no exponential blow-up on hostile model names */
    char s[4097];
    memset(s, 'a', 4096);
    s[4096] = '\0';
    uint64_t t0 = cm_now_us();
    CHECK(!pol_glob_match("*a*a*a*a*a*a*a*a*b", s));
    CHECK(cm_now_us() - t0 < 500000);
}

void test_roles(void)
{
    json_t *root = json_loads(roles_cfg, 0, NULL);
    pol_set *p = NULL;
    cm_arena *a = cm_arena_new(0);
    cm_errlist errs = {0};

    test_glob();
    CHECK(pol_set_load(NULL, json_object_get(root, "roles"), tp_dir, &p, &errs) == 0);
    if (p == NULL)
        goto out;
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
        const check_case *c = &checks[i];
        const char *why = "unset";
        int rc = pol_check(p, ident(a, c->roles), c->endpoint, c->model, c->is_stream, &why);
        bool is_ok = c->why == NULL ? rc == 0 && why == NULL
                                    : rc == CM_EDENIED && why && strcmp(why, c->why) == 0;
        CHECK(is_ok);
        if (!is_ok)
            fprintf(stderr, "  check %zu (%s %s %s stream=%d): rc %d why %s, expected %s\n", i,
                    c->roles[0] ? c->roles[0] : "-", c->endpoint, c->model ? c->model : "-",
                    c->is_stream, rc, why ? why : "(null)", c->why ? c->why : "allowed");
    }

    /* GET /v1/models lists only what the caller may use */
    static const char *const models[] = {"gpt-4o",        "gpt-4o-mini", "gpt-4o-realtime-preview",
                                         "claude-3-opus", "o1",          "text-embedding-3-small"};
    static const struct {
        const char *roles[4];
        const char *visible; /* one char per model: 1 visible */
    } vis[] = {
        {{"analyst"}, "110100"},
        {{"embedder"}, "000001"},
        {{"admin"}, "111111"},
        {{"viewer"}, "000000"},
        {{"analyst", "embedder"}, "110101"},
        {{NULL}, "000000"},
        {{"streamer"}, "010000"},
    };
    for (size_t i = 0; i < sizeof(vis) / sizeof(vis[0]); i++) {
        pol_identity *id = ident(a, vis[i].roles);
        for (size_t m = 0; m < 6; m++)
            CHECK(pol_model_visible(p, id, models[m]) == (vis[i].visible[m] == '1'));
    }

    /* max_tokens: the largest cap among model-granting roles; uncapped wins */
    static const struct {
        const char *roles[4];
        unsigned cap;
    } caps[] = {
        {{"analyst"}, 4096},       {{"embedder"}, 1000},           {{"analyst", "streamer"}, 8192},
        {{"analyst", "admin"}, 0}, {{"viewer", "embedder"}, 1000}, {{"ghost"}, 0},
    };
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
        CHECK(pol_max_tokens(p, ident(a, caps[i].roles)) == caps[i].cap);
    pol_set_free(p);
    p = NULL;

    /* no roles config: everything is denied */
    CHECK(pol_set_load(NULL, NULL, tp_dir, &p, &errs) == 0);
    if (p != NULL) {
        const char *admin[] = {"admin", NULL}, *why = NULL;
        CHECK(pol_check(p, ident(a, admin), "chat", "gpt-4o", false, &why) == CM_EDENIED);
        CHECK(!pol_model_visible(p, ident(a, admin), "gpt-4o"));
        CHECK(pol_check(p, ident(a, admin), "models", NULL, false, &why) == CM_EDENIED);
    }
    pol_set_free(p);
    p = NULL;

    /* auth off: every caller is anonymous, with role "anonymous" */
    json_t *anon = json_loads("{\"anonymous\":{\"models\":[\"gpt-4o-mini\"]}}", 0, NULL);
    CHECK(pol_set_load(NULL, anon, tp_dir, &p, &errs) == 0);
    if (p != NULL) {
        pol_identity *id = NULL;
        const char *why = "unset";
        CHECK(pol_authenticate(p, NULL, a, &id, &why) == 0 && why == NULL);
        CHECK(id != NULL && strcmp(id->subject, "anonymous") == 0 && id->nroles == 1 &&
              strcmp(id->roles[0], "anonymous") == 0 && strcmp(id->method, "none") == 0);
        CHECK(pol_authenticate(p, "Bearer whatever", a, &id, &why) == 0);
        CHECK(pol_check(p, id, "chat", "gpt-4o-mini", true, &why) == 0);
        CHECK(pol_check(p, id, "chat", "gpt-4o", false, &why) == CM_EDENIED);
    }
    json_decref(anon);
out:
    CHECK(errs.n == 0);
    cm_errlist_fini(&errs);
    pol_set_free(p);
    cm_arena_free(a);
    json_decref(root);
}
