/* Rule files: every example in rules/ behaves as written (positives hit with
 * the marked span, also after merging; negatives miss), and a bad rule file is
 * reported with file:line and the library's message. */
#include "red_tests.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void fail(const red_rule *r, const red_example *ex, const char *what, const char *got)
{
    check_failures++;
    fprintf(stderr, "%s:%u: rule \"%s\": %s example: %s (found: %s)\n", r->file, ex->line, r->id,
            ex->is_positive ? "pos" : "neg", what, got);
}

static void check_example(const red_rule *r, uint32_t ri, const red_example *ex)
{
    const red_cand *c;
    size_t n;
    size_t len = strlen(ex->text);
    check_count++;
    if (red_scan_rule(t_wrk, ri, ex->text, len, &c, &n) != 0) {
        fail(r, ex, "scan error", "");
        return;
    }
    char got[256] = "";
    for (size_t i = 0, o = 0; i < n && o < sizeof(got) - 32; i++)
        o += (size_t)snprintf(got + o, sizeof(got) - o, "%zu-%zu ", c[i].start, c[i].end);
    if (!ex->is_positive) {
        if (n != 0)
            fail(r, ex, "should not match", got);
        return;
    }
    bool is_hit = n > 0 && ex->span_start == SIZE_MAX;
    for (size_t i = 0; i < n && !is_hit; i++)
        is_hit = c[i].start == ex->span_start && c[i].end == ex->span_end;
    if (!is_hit) {
        char want[64];
        snprintf(want, sizeof(want), "expected span %zu-%zu", ex->span_start, ex->span_end);
        fail(r, ex, want, got);
        return;
    }
    /* the merged result keeps this type over the span */
    const red_finding *f;
    size_t nf;
    check_count++;
    if (red_scan(t_wrk, ex->text, len, &f, &nf) != 0) {
        fail(r, ex, "scan error", "");
        return;
    }
    bool is_kept = false;
    for (size_t i = 0; i < nf && !is_kept; i++)
        is_kept =
            f[i].type == r->type && (ex->span_start == SIZE_MAX ||
                                     (f[i].start <= ex->span_start && f[i].end >= ex->span_end));
    if (!is_kept)
        fail(r, ex, "lost in the merge", t_findings(ex->text));
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return;
    fputs(text, f);
    fclose(f);
}

static bool has_msg(const cm_errlist *e, const char *a, const char *b)
{
    for (size_t i = 0; i < e->n; i++)
        if (strstr(e->msgs[i], a) != NULL && (b == NULL || strstr(e->msgs[i], b) != NULL))
            return true;
    return false;
}

static void test_bad_rules(void)
{
    char dir[] = "/tmp/red_rules_XXXXXX";
    if (mkdtemp(dir) == NULL) {
        CHECK(false);
        return;
    }
    char path[128];
    snprintf(path, sizeof(path), "%s/bad.rules", dir);
    write_file(path, "# bad rules\n"
                     "[ok]\ntype = EMAIL\npattern = a@b\\.c\npos = a@b.c\nneg = x\n"
                     "[syntax]\ntype = EMAIL\npattern = (abc\npos = abc\nneg = x\n"
                     "[unbounded]\ntype = EMAIL\npattern = a.*b\npos = ab\nneg = x\n"
                     "[nokey]\ntype = EMAIL\npattern = x\ncolour = red\npos = x\nneg = y\n"
                     "[notype]\npattern = x\npos = x\nneg = y\n"
                     "[ok]\ntype = EMAIL\npattern = y\npos = y\nneg = x\n"
                     "[badval]\ntype = EMAIL\npattern = z\nvalidator = nope\npos = z\nneg = x\n");
    red_engine *eng = NULL;
    cm_errlist errs = {0};
    int rc = red_engine_load(dir, &eng, &errs);
    CHECK(rc == CM_EINVAL);
    CHECK(eng == NULL);
    snprintf(path, sizeof(path), "%s/bad.rules:", dir);
    CHECK(has_msg(&errs, "bad.rules:20: rule \"nokey\": unknown key: colour", NULL));
    CHECK(errs.n == 4);
    CHECK(has_msg(&errs, "bad.rules:23: rule \"notype\": missing \"type\"", NULL));
    CHECK(has_msg(&errs, "bad.rules:27: rule \"ok\" already defined at", "bad.rules:2"));
    CHECK(has_msg(&errs, "bad.rules:35: rule \"badval\": unknown validator: nope", NULL));
    cm_errlist_fini(&errs);
    /* compile errors need a file that parses: PCRE2 and Hyperscan messages */
    write_file(path, "");
    snprintf(path, sizeof(path), "%s/bad.rules", dir);
    write_file(path, "[syntax]\ntype = EMAIL\npattern = (abc\npos = abc\nneg = x\n"
                     "[unbounded]\ntype = EMAIL\npattern = a.*b\npos = ab\nneg = x\n"
                     "[empty]\ntype = EMAIL\npattern = a?\npos = a\nneg = x\n");
    memset(&errs, 0, sizeof(errs));
    rc = red_engine_load(dir, &eng, &errs);
    CHECK(rc == CM_EINVAL);
    CHECK(has_msg(&errs, "bad.rules:1: rule \"syntax\": PCRE2 error at offset 4:", "missing"));
    CHECK(has_msg(&errs, "bad.rules:6: rule \"unbounded\":", "max_len"));
    CHECK(has_msg(&errs, "bad.rules:11: rule \"empty\":", "empty"));
    cm_errlist_fini(&errs);
    /* an explicit Hyperscan trigger it cannot compile is named with its rule */
    write_file(path, "[look]\ntype = EMAIL\npattern = a(?=b)\nhs = a(?=b)\npos = ab\nneg = x\n");
    memset(&errs, 0, sizeof(errs));
    rc = red_engine_load(dir, &eng, &errs);
    CHECK(rc == CM_EINVAL);
    CHECK(has_msg(&errs, "bad.rules:1: rule \"look\": Hyperscan (hs): ", NULL));
    cm_errlist_fini(&errs);
    /* a rule Hyperscan cannot express goes through the prefilter and PCRE2 */
    write_file(path, "[look]\ntype = EMAIL\npattern = a(?=b)\nmax_len = 4\npos = ab\nneg = ac\n");
    memset(&errs, 0, sizeof(errs));
    rc = red_engine_load(dir, &eng, &errs);
    CHECK(rc == 0);
    if (rc == 0) {
        CHECK(eng->rules[0].is_prefilter);
        red_worker *w = NULL;
        const red_finding *f;
        size_t n = 0;
        CHECK(red_worker_new(eng, &w) == 0);
        CHECK(red_scan(w, "xab ac ab", 9, &f, &n) == 0 && n == 2);
        red_worker_free(w);
        red_engine_free(eng);
    }
    cm_errlist_fini(&errs);
    unlink(path);
    rmdir(dir);
    memset(&errs, 0, sizeof(errs));
    CHECK(red_engine_load("/nonexistent/rules", &eng, &errs) == CM_EIO);
    cm_errlist_fini(&errs);
}

void test_rules(void)
{
    size_t nex = 0;
    for (uint32_t i = 0; i < t_eng->nrules; i++) {
        const red_rule *r = &t_eng->rules[i];
        for (size_t k = 0; k < r->nex; k++)
            check_example(r, i, &r->ex[k]);
        nex += r->nex;
    }
    CHECK(nex >= 2 * t_eng->nrules);
    test_bad_rules();
}
