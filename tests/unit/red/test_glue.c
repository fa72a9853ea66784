/* gateway/gw_redact.c: the "redaction" config section, a realistic chat body
 * and embeddings input redacted in place (valid JSON, no planted value left),
 * role overrides, block, audit counts, restoring answers (JSON and SSE with a
 * placeholder split across events) and the `gateway redact` command. */
#include "red_tests.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gateway/gw_redact.h"

static bool has_err(const cm_errlist *e, const char *s)
{
    for (size_t i = 0; i < e->n; i++)
        if (strstr(e->msgs[i], s) != NULL)
            return true;
    return false;
}

static gw_redactor *load(const char *json, cm_errlist *errs)
{
    json_error_t jerr;
    json_t *sec = json ? json_loads(json, 0, &jerr) : NULL;
    gw_redactor *r = NULL;
    int rc = gw_redactor_load(sec, ".", &r, errs);
    json_decref(sec);
    return rc == 0 ? r : NULL;
}

static void test_config(void)
{
    cm_errlist e = {0};
    CHECK(load("{\"rules_dir\":\"rules\",\"colour\":1}", &e) == NULL);
    CHECK(has_err(&e, "redaction.colour: unknown key"));
    cm_errlist_fini(&e);
    memset(&e, 0, sizeof(e));
    CHECK(load("{\"actions\":{\"EMAIL\":\"shred\",\"NOPE\":\"mask\"},"
               "\"roles\":{\"admin\":{\"actions\":{\"IBAN\":\"none\"},\"x\":1}}}",
               &e) == NULL);
    CHECK(has_err(&e, "redaction.actions.EMAIL: expected one of none, pseudonymize"));
    CHECK(has_err(&e, "redaction.actions.NOPE: unknown entity type"));
    CHECK(has_err(&e, "redaction.roles.admin.x: unknown key"));
    cm_errlist_fini(&e);
    memset(&e, 0, sizeof(e));
    unsetenv("RED_TEST_NO_KEY");
    CHECK(load("{\"hmac_key_env\":\"RED_TEST_NO_KEY\",\"actions\":{\"EMAIL\":\"hash\"}}", &e) ==
          NULL);
    CHECK(has_err(&e, "redaction.hmac_key_env: environment variable RED_TEST_NO_KEY is not set"));
    cm_errlist_fini(&e);
    memset(&e, 0, sizeof(e));
    CHECK(load("{\"rules_dir\":\"/nonexistent\"}", &e) == NULL);
    CHECK(e.n > 0);
    cm_errlist_fini(&e);
    memset(&e, 0, sizeof(e));
    gw_redactor *r = load(NULL, &e); /* no section: defaults */
    CHECK(r != NULL && e.n == 0);
    gw_redactor_free(r);
    cm_errlist_fini(&e);
}

static const char chat_body[] =
    "{\"model\":\"gpt-4o\",\"user\":\"olga.petrova@yandex.ru\",\"messages\":["
    "{\"role\":\"system\",\"content\":\"You help Jane (jane.doe@example.com).\"},"
    "{\"role\":\"developer\",\"content\":\"Escalate to +49 30 1234567.\"},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Refund to IBAN "
    "DE89 3704 0044 0532 0130 00, card 4111 1111 1111 1111, mail jane.doe@example.com\"},"
    "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x.example/a.png\"}}]},"
    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
    "\"function\":{\"name\":\"lookup\",\"arguments\":\"{\\\"email\\\":\\\"jane.doe@example.com\\\","
    "\\\"ip\\\":\\\"203.0.113.42\\\"}\"}}]},"
    "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"found SSN 536-22-1234\"}]}";

static const char *const planted[] = {
    "olga.petrova@yandex.ru", "jane.doe@example.com", "1234567", "DE89 3704", "4111 1111",
    "203.0.113.42",           "536-22-1234"};

static void test_request(gw_redactor *r)
{
    cm_arena *a = cm_arena_new(1 << 20);
    json_error_t jerr;
    json_t *body = json_loads(chat_body, 0, &jerr);
    CHECK(body != NULL);
    gw_redact_req *rr = NULL;
    const char *blk = NULL;
    CHECK(gw_redact_request(r, NULL, 0, "chat", body, a, &rr, &blk) == 0);
    char *dump = json_dumps(body, JSON_COMPACT);
    CHECK(dump != NULL);
    for (size_t i = 0; dump && i < sizeof(planted) / sizeof(planted[0]); i++) {
        check_count++;
        if (strstr(dump, planted[i]) != NULL) {
            check_failures++;
            fprintf(stderr, "%s:%d: planted value left: %s\n", __FILE__, __LINE__, planted[i]);
        }
    }
    json_t *again = dump ? json_loads(dump, 0, &jerr) : NULL; /* still valid JSON */
    CHECK(again != NULL);
    /* the same value gets the same placeholder in every message, also in tool arguments */
    const char *args = json_string_value(json_object_get(
        json_object_get(
            json_array_get(json_object_get(json_array_get(json_object_get(again, "messages"), 3),
                                           "tool_calls"),
                           0),
            "function"),
        "arguments"));
    CHECK(args != NULL && strstr(args, "<EMAIL_1>") != NULL);
    CHECK_STR_EQ(json_string_value(json_object_get(again, "user")), "<EMAIL_2>");
    CHECK(gw_redact_needs_restore(rr));
    cm_buf au;
    cm_buf_init(&au, 0);
    CHECK(gw_redact_audit(rr, &au) == 0);
    CHECK_STR_EQ(au.data, "{\"EMAIL\":4,\"CREDIT_CARD\":1,\"IBAN\":1,\"US_SSN\":1,\"IPV4\":1,"
                          "\"PHONE\":1}");
    cm_buf_fini(&au);

    /* the answer gets the values back */
    json_t *resp =
        json_pack("{s:[{s:i,s:{s:s,s:s,s:[{s:{s:s,s:s}}]}}]}", "choices", "index", 0, "message",
                  "role", "assistant", "content", "I wrote to <EMAIL_1> and <EMAIL_2>.",
                  "tool_calls", "function", "name", "send", "arguments", "{\"to\":\"<EMAIL_1>\"}");
    CHECK(gw_redact_restore_json(rr, resp) == 0);
    char *rs = json_dumps(resp, JSON_COMPACT);
    CHECK(rs && strstr(rs, "I wrote to jane.doe@example.com and olga.petrova@yandex.ru.") != NULL);
    CHECK(rs && strstr(rs, "{\\\"to\\\":\\\"jane.doe@example.com\\\"}") != NULL);
    free(rs);
    json_decref(resp);

    /* SSE: "<EMAIL_1>" split over three events, then the finish chunk */
    static const char *const ev[] = {
        "{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Mail <EM\"}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"AIL_\"}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"1> now\"}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}",
        "[DONE]"};
    cm_buf sse, all;
    cm_buf_init(&sse, 0);
    cm_buf_init(&all, 0);
    for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++) {
        cm_buf_reset(&sse);
        CHECK(gw_redact_restore_event(rr, ev[i], strlen(ev[i]), &sse) == 0);
        json_t *j = json_loads(sse.data, 0, &jerr);
        const char *c = json_string_value(json_object_get(
            json_object_get(json_array_get(json_object_get(j, "choices"), 0), "delta"), "content"));
        if (c != NULL)
            CHECK(cm_buf_append(&all, c, strlen(c)) == 0);
        if (i == 0) /* nothing to restore: the same bytes */
            CHECK_STR_EQ(sse.data, ev[0]);
        if (i == 5)
            CHECK_STR_EQ(sse.data, "[DONE]");
        json_decref(j);
    }
    CHECK_STR_EQ(all.data, "Mail jane.doe@example.com now");
    /* a stream that ends without finish_reason: [DONE] carries the held tail first */
    cm_buf_reset(&sse);
    static const char tail[] =
        "{\"choices\":[{\"index\":1,\"delta\":{\"content\":\"bye <EMAIL_\"}}]}";
    CHECK(gw_redact_restore_event(rr, tail, strlen(tail), &sse) == 0);
    CHECK(strstr(sse.data, "\"bye \"") != NULL);
    cm_buf_reset(&sse);
    CHECK(gw_redact_restore_event(rr, "[DONE]", 6, &sse) == 0);
    CHECK(strstr(sse.data, "<EMAIL_\"") != NULL && strstr(sse.data, "\n\ndata: [DONE]") != NULL);
    cm_buf_fini(&sse);
    cm_buf_fini(&all);
    free(dump);
    json_decref(again);
    json_decref(body);

    /* embeddings: a string, a list of strings; token ids cannot be scanned */
    body = json_pack("{s:s,s:[s,s]}", "model", "e", "input", "ip 10.1.2.3", "x 10.1.2.4");
    CHECK(gw_redact_request(r, NULL, 0, "embeddings", body, a, &rr, &blk) == 0);
    CHECK_STR_EQ(json_string_value(json_array_get(json_object_get(body, "input"), 1)),
                 "x <IPV4_2>");
    json_decref(body);
    body = json_pack("{s:[i,i]}", "input", 15339, 2068);
    CHECK(gw_redact_request(r, NULL, 0, "embeddings", body, a, &rr, &blk) == CM_EINVAL);
    json_decref(body);
    body = json_pack("{s:s}", "messages", "not a list");
    CHECK(gw_redact_request(r, NULL, 0, "chat", body, a, &rr, &blk) == CM_EINVAL);
    CHECK(gw_redact_request(r, NULL, 0, "images", body, a, &rr, &blk) == CM_EINVAL);
    json_decref(body);
    cm_arena_free(a);
    /* the arena budget is a hard bound: fail closed */
    cm_arena *tiny = cm_arena_new(256);
    body = json_loads(chat_body, 0, &jerr);
    CHECK(gw_redact_request(r, NULL, 0, "chat", body, tiny, &rr, &blk) == CM_ETOOBIG);
    json_decref(body);
    cm_arena_free(tiny);
}

static void test_roles_block(void)
{
    cm_errlist e = {0};
    setenv("RED_TEST_KEY", "0123456789abcdef0123", 1);
    gw_redactor *r = load("{\"hmac_key_env\":\"RED_TEST_KEY\",\"actions\":{\"EMAIL\":\"hash\","
                          "\"PRIVATE_KEY\":\"block\"},\"roles\":{\"admin\":{\"actions\":{\"EMAIL\":"
                          "\"none\"}},\"auditor\":{\"actions\":{\"EMAIL\":\"mask\"}}}}",
                          &e);
    for (size_t i = 0; i < e.n; i++)
        fprintf(stderr, "%s\n", e.msgs[i]);
    CHECK(r != NULL);
    cm_errlist_fini(&e);
    if (r == NULL)
        return;
    cm_arena *a = cm_arena_new(1 << 20);
    gw_redact_req *rr = NULL;
    const char *blk = NULL;
    static const char *const admin[] = {"admin"}, *const both[] = {"admin", "auditor"},
                             *const other[] = {"viewer"};
    json_t *b = json_pack("{s:[{s:s,s:s}]}", "messages", "role", "user", "content", "a@b.example");
    CHECK(gw_redact_request(r, admin, 1, "chat", b, a, &rr, &blk) == 0);
    CHECK_STR_EQ(json_string_value(
                     json_object_get(json_array_get(json_object_get(b, "messages"), 0), "content")),
                 "a@b.example");
    CHECK(gw_redact_request(r, both, 2, "chat", b, a, &rr, &blk) == 0); /* strictest wins */
    CHECK_STR_EQ(json_string_value(
                     json_object_get(json_array_get(json_object_get(b, "messages"), 0), "content")),
                 "[EMAIL]");
    json_decref(b);
    b = json_pack("{s:[{s:s,s:s}]}", "messages", "role", "user", "content", "a@b.example");
    CHECK(gw_redact_request(r, other, 1, "chat", b, a, &rr, &blk) == 0);
    const char *h = json_string_value(
        json_object_get(json_array_get(json_object_get(b, "messages"), 0), "content"));
    CHECK(h != NULL && strncmp(h, "[EMAIL_", 7) == 0 && strlen(h) == 16);
    CHECK(!gw_redact_needs_restore(rr));
    json_decref(b);
    b = json_pack(
        "{s:[{s:s,s:s}]}", "messages", "role", "user", "content",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAA"
        "AAAAAABAAAAMwAAAAtzc2gtZWQyNTUxOQAAACB\n-----END OPENSSH PRIVATE KEY-----");
    blk = NULL;
    CHECK(gw_redact_request(r, other, 1, "chat", b, a, &rr, &blk) == CM_EBLOCKED);
    CHECK_STR_EQ(blk, "PRIVATE_KEY");
    json_decref(b);
    cm_arena_free(a);
    gw_redactor_free(r);
}

/* gateway redact, in a child with stdin/stdout on files */
static int run_cli(const char *cfg, const char *input, bool is_jsonl, char *out, size_t cap)
{
    char in_path[] = "/tmp/red_cli_in_XXXXXX", out_path[] = "/tmp/red_cli_out_XXXXXX";
    int fi = mkstemp(in_path), fo = mkstemp(out_path);
    if (fi < 0 || fo < 0)
        return -1;
    if (write(fi, input, strlen(input)) != (ssize_t)strlen(input))
        return -1;
    close(fi);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (freopen(in_path, "r", stdin) == NULL || dup2(fo, 1) < 0)
            _exit(99);
        char *argv[] = {(char *)(uintptr_t) "redact", (char *)(uintptr_t) "--config",
                        (char *)(uintptr_t)cfg, (char *)(uintptr_t) "--jsonl", NULL};
        if (!is_jsonl)
            argv[3] = NULL;
        _exit(gw_redact_cli(is_jsonl ? 4 : 3, argv));
    }
    int st = 0;
    waitpid(pid, &st, 0);
    ssize_t n = pread(fo, out, cap - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    close(fo);
    unlink(in_path);
    unlink(out_path);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_cli(void)
{
    char cwd[512], cfg[] = "/tmp/red_cli_cfg_XXXXXX", out[4096];
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        return;
    int fd = mkstemp(cfg);
    CHECK(fd >= 0);
    dprintf(fd,
            "{\"listen\":\"x\",\"redaction\":{\"rules_dir\":\"%s/rules\",\"actions\":"
            "{\"EMAIL\":\"mask\"}}}",
            cwd);
    close(fd);
    CHECK(run_cli(cfg, "Mail jane@example.com, SSN 536-22-1234\n", false, out, sizeof(out)) == 0);
    CHECK_STR_EQ(out, "Mail [EMAIL], SSN [US_SSN]\n");
    CHECK(run_cli(cfg,
                  "{\"id\":\"a1\",\"text\":\"IBAN DE89 3704 0044 0532 0130 00 ok\"}\n"
                  "{\"id\":2,\"text\":\"nothing here\"}\n",
                  true, out, sizeof(out)) == 0);
    CHECK_STR_EQ(out, "{\"id\":\"a1\",\"text\":\"IBAN [IBAN] ok\",\"findings\":[{\"type\":\"IBAN\","
                      "\"rule\":\"iban\",\"start\":5,\"end\":32}]}\n"
                      "{\"id\":2,\"text\":\"nothing here\",\"findings\":[]}\n");
    CHECK(run_cli(cfg, "not json\n", true, out, sizeof(out)) == 2);
    CHECK(run_cli("/nonexistent.json", "x", false, out, sizeof(out)) == 1);
    unlink(cfg);
}

void test_glue(void)
{
    test_config();
    cm_errlist e = {0};
    gw_redactor *r = load("{\"rules_dir\":\"rules\"}", &e);
    CHECK(r != NULL);
    cm_errlist_fini(&e);
    if (r != NULL)
        test_request(r);
    gw_redactor_free(r);
    test_roles_block();
    test_cli();
}
