/* Actions on findings: mask, keyed hash, pseudonyms (stable within a
 * session, per type), none, block; a hash without a key fails. */
#include "red_tests.h"

#include <stdlib.h>

static const char *apply(red_session *s, const red_action *acts, const char *text,
                         const char **block, int *rc)
{
    static char res[2048];
    const red_finding *f;
    size_t n;
    cm_buf out;
    cm_buf_init(&out, 0);
    *rc = red_scan(t_wrk, text, strlen(text), &f, &n);
    if (*rc == 0)
        *rc = red_apply(s, acts, text, strlen(text), f, n, &out, block);
    snprintf(res, sizeof(res), "%s", out.data ? out.data : "");
    cm_buf_fini(&out);
    return res;
}

static void set_all(red_action *acts, red_action a)
{
    for (size_t i = 0; i < RED_MAX_TYPES; i++)
        acts[i] = a;
}

void test_actions(void)
{
    static const char key[] = "0123456789abcdef-test-key";
    cm_arena *a = cm_arena_new(1 << 20);
    red_session *s = NULL;
    red_action acts[RED_MAX_TYPES];
    const char *blk = NULL;
    int rc;
    CHECK(red_session_new(t_eng, key, sizeof(key) - 1, a, &s) == 0);

    set_all(acts, RED_ACT_MASK);
    CHECK_STR_EQ(apply(s, acts, "mail jane@example.com or call +49 30 1234567", &blk, &rc),
                 "mail [EMAIL] or call [PHONE]");
    CHECK(rc == 0);

    set_all(acts, RED_ACT_HASH);
    char h1[256], h2[256];
    snprintf(h1, sizeof(h1), "%s", apply(s, acts, "to jane@example.com", &blk, &rc));
    CHECK(rc == 0 && strncmp(h1, "to [EMAIL_", 10) == 0 && strlen(h1) == 10 + 8 + 1);
    for (size_t i = 10; i < 18; i++)
        CHECK((h1[i] >= '0' && h1[i] <= '9') || (h1[i] >= 'a' && h1[i] <= 'f'));
    snprintf(h2, sizeof(h2), "%s", apply(s, acts, "to jane@example.com", &blk, &rc));
    CHECK_STR_EQ(h1, h2); /* stable under one key */
    char label[9], other[9];
    CHECK(red_hash_label(key, sizeof(key) - 1, "jane@example.com", 16, label) == 0);
    CHECK(memcmp(h1 + 10, label, 8) == 0);
    CHECK(red_hash_label("another-key-0123456", 19, "jane@example.com", 16, other) == 0);
    CHECK(strcmp(label, other) != 0); /* keyed: another key, another label */

    set_all(acts, RED_ACT_PSEUDO);
    CHECK_STR_EQ(apply(s, acts, "a@example.com, b@example.com, a@example.com, 10.1.2.3", &blk, &rc),
                 "<EMAIL_1>, <EMAIL_2>, <EMAIL_1>, <IPV4_1>");
    /* the same value keeps its placeholder in a later text of the same request */
    CHECK_STR_EQ(apply(s, acts, "again b@example.com", &blk, &rc), "again <EMAIL_2>");
    CHECK(red_session_pseudonyms(s) == 3);

    set_all(acts, RED_ACT_NONE);
    CHECK_STR_EQ(apply(s, acts, "keep jane@example.com", &blk, &rc), "keep jane@example.com");

    /* block: the static type name, never the value */
    set_all(acts, RED_ACT_MASK);
    acts[t_type("AWS_ACCESS_KEY")] = RED_ACT_BLOCK;
    blk = NULL;
    apply(s, acts, "id AKIAIOSFODNN7EXAMPLE and jane@example.com", &blk, &rc);
    CHECK(rc == CM_EBLOCKED);
    CHECK_STR_EQ(blk, "AWS_ACCESS_KEY");

    /* defaults from the rules (actions NULL): private keys are masked */
    CHECK_STR_EQ(apply(s, NULL,
                       "k -----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZp"
                       "YRTBnVJk5oJ4rBHFyM6TboAoGCCqGSM49\n-----END EC PRIVATE KEY----- .",
                       &blk, &rc),
                 "k [PRIVATE_KEY] .");

    /* a hash without a key is an error, not clear text */
    red_session *nokey = NULL;
    CHECK(red_session_new(t_eng, NULL, 0, a, &nokey) == 0);
    set_all(acts, RED_ACT_HASH);
    apply(nokey, acts, "jane@example.com", &blk, &rc);
    CHECK(rc == CM_EINVAL);

    /* findings out of order are refused */
    red_finding bad[2] = {{.start = 5, .end = 8, .type = 0, .rule = "x"},
                          {.start = 1, .end = 3, .type = 0, .rule = "x"}};
    cm_buf out;
    cm_buf_init(&out, 0);
    set_all(acts, RED_ACT_MASK);
    CHECK(red_apply(s, acts, "0123456789", 10, bad, 2, &out, &blk) == CM_EINVAL);
    cm_buf_fini(&out);

    /* the arena budget bounds the session */
    cm_arena *tiny = cm_arena_new(64);
    red_session *ts = NULL;
    CHECK(red_session_new(t_eng, NULL, 0, tiny, &ts) == CM_ETOOBIG);
    cm_arena_free(tiny);
    cm_arena_free(a);
}
