/* Restoring pseudonyms: whole texts, and streams where a placeholder is
 * split at every possible byte across two pieces, held back and released. */
#include "red_tests.h"

static red_session *session_with(cm_arena *a, const char *text, char *red, size_t cap)
{
    red_session *s = NULL;
    red_action acts[RED_MAX_TYPES];
    for (size_t i = 0; i < RED_MAX_TYPES; i++)
        acts[i] = RED_ACT_PSEUDO;
    const red_finding *f;
    size_t n;
    cm_buf out;
    cm_buf_init(&out, 0);
    if (red_session_new(t_eng, NULL, 0, a, &s) != 0 ||
        red_scan(t_wrk, text, strlen(text), &f, &n) != 0 ||
        red_apply(s, acts, text, strlen(text), f, n, &out, NULL) != 0)
        s = NULL;
    snprintf(red, cap, "%s", out.data ? out.data : "");
    cm_buf_fini(&out);
    return s;
}

void test_restore(void)
{
    cm_arena *a = cm_arena_new(1 << 20);
    char red[512];
    const char *orig = "write to ana.silva@example.pt and call +351 912 345 678";
    red_session *s = session_with(a, orig, red, sizeof(red));
    CHECK(s != NULL);
    if (s == NULL) {
        cm_arena_free(a);
        return;
    }
    CHECK_STR_EQ(red, "write to <EMAIL_1> and call <PHONE_1>");

    cm_buf out;
    cm_buf_init(&out, 0);
    const char *answer = "Sure: <EMAIL_1>, <PHONE_1>; unknown <EMAIL_9>, <FOO_1>, <EMAIL_x> a<b";
    CHECK(red_restore(s, -1, answer, strlen(answer), true, &out) == 0);
    CHECK_STR_EQ(out.data,
                 "Sure: ana.silva@example.pt, +351 912 345 678; unknown <EMAIL_9>, <FOO_1>, "
                 "<EMAIL_x> a<b");

    /* split at every byte: the concatenation of the outputs is the restored text */
    const char *stream = "Hi <EMAIL_1>! Ring <PHONE_1>.";
    const char *want = "Hi ana.silva@example.pt! Ring +351 912 345 678.";
    size_t n = strlen(stream);
    for (size_t cut = 0; cut <= n; cut++) {
        cm_buf_reset(&out);
        CHECK(red_restore(s, 7, stream, cut, false, &out) == 0);
        /* nothing of a possible placeholder is released early */
        CHECK(out.len == 0 || strstr(out.data, "<EMA") == NULL);
        CHECK(red_restore(s, 7, stream + cut, n - cut, true, &out) == 0);
        CHECK_STR_EQ(out.data, want);
    }
    /* three pieces, two streams interleaved */
    cm_buf_reset(&out);
    CHECK(red_restore(s, 0, "a <EM", 5, false, &out) == 0);
    CHECK(red_restore(s, 1, "b <PHO", 6, false, &out) == 0);
    CHECK(red_restore(s, 0, "AIL_", 4, false, &out) == 0);
    CHECK(red_restore(s, 1, "NE_1> c", 7, false, &out) == 0);
    CHECK(red_restore(s, 0, "1> d", 4, true, &out) == 0);
    CHECK(red_restore(s, 1, "", 0, true, &out) == 0);
    CHECK_STR_EQ(out.data, "a b +351 912 345 678 cana.silva@example.pt d");
    /* a held '<' that turns out not to be a placeholder comes out unchanged */
    cm_buf_reset(&out);
    CHECK(red_restore(s, 2, "x <", 3, false, &out) == 0);
    CHECK_STR_EQ(out.data, "x ");
    CHECK(red_restore(s, 2, "= y", 3, false, &out) == 0);
    CHECK_STR_EQ(out.data, "x <= y");
    /* the last piece releases what is held even when incomplete */
    cm_buf_reset(&out);
    CHECK(red_restore(s, 3, "end <EMAIL_", 11, false, &out) == 0);
    CHECK(red_restore(s, 3, "", 0, true, &out) == 0);
    CHECK_STR_EQ(out.data, "end <EMAIL_");
    cm_buf_fini(&out);
    cm_arena_free(a);
}
