/* Unit tests for common/: arena budget and defers, bounded buffer, ct compare. */
#include "check.h"
#include "common/cm.h"

CHECK_MAIN_DEFS

static int deferred;
static void bump(void *p)
{
    deferred = deferred * 10 + *(int *)p;
}

static void test_arena(void)
{
    cm_arena *a = cm_arena_new(16384);
    char *s = cm_arena_strndup(a, "hello world", 5);
    CHECK_STR_EQ(s, "hello");
    CHECK(cm_arena_alloc(a, 100000) == NULL); /* over budget */
    CHECK(cm_arena_alloc(a, 8000) != NULL);
    static int one = 1, two = 2;
    CHECK(cm_arena_defer(a, bump, &one) == 0);
    CHECK(cm_arena_defer(a, bump, &two) == 0);
    char *f = cm_arena_sprintf(a, "%s-%d", "x", 42);
    CHECK_STR_EQ(f, "x-42");
    deferred = 0;
    cm_arena_free(a);
    CHECK(deferred == 21); /* LIFO */
    cm_arena_free(NULL);
}

static void test_buf(void)
{
    cm_buf b;
    cm_buf_init(&b, 10);
    CHECK(cm_buf_append(&b, "12345", 5) == 0);
    CHECK(cm_buf_append(&b, "678901", 6) == CM_ETOOBIG);
    CHECK(b.len == 5);
    CHECK(cm_buf_appendf(&b, "%d", 67890) == 0);
    CHECK_STR_EQ(b.data, "1234567890");
    CHECK(cm_buf_reserve(&b, 1) == CM_ETOOBIG);
    cm_buf_consume(&b, 3);
    CHECK_STR_EQ(b.data, "4567890");
    cm_buf_fini(&b);
    cm_buf_init(&b, 100);
    CHECK(cm_buf_reserve(&b, 64) == 0 && b.cap == 65);
    char *before = b.data;
    CHECK(cm_buf_append(&b, "0123456789012345678901234567890123456789012345678901234567890123", 64) == 0);
    CHECK(b.data == before && b.len == 64); /* no reallocation after reserve */
    cm_buf_fini(&b);
}

static void test_ct(void)
{
    CHECK(cm_memeq_ct("abc", "abc", 3) == 0);
    CHECK(cm_memeq_ct("abc", "abd", 3) != 0);
}

int main(void)
{
    test_arena();
    test_buf();
    test_ct();
    return check_report("unit_common");
}
