/* Merging: priority, then longest, then leftmost; overlaps resolved over
 * whole chains; spans widened to UTF-8 character boundaries; deterministic;
 * scans refuse what they cannot scan (fail closed). Uses rules written to a
 * temporary directory so priorities are known. */
#include "red_tests.h"

#include <stdlib.h>
#include <unistd.h>

static const char merge_rules[] =
    "[long-low]\ntype = LOW\npriority = 10\npattern = abc-def-ghi\npos = abc-def-ghi\nneg = x\n"
    "[short-high]\ntype = HIGH\npriority = 90\npattern = def\npos = def\nneg = x\n"
    "[eq-long]\ntype = EQL\npriority = 50\npattern = k1234\npos = k1234\nneg = x\n"
    "[eq-short]\ntype = EQS\npriority = 50\npattern = 234\npos = 234\nneg = x\n"
    "[left]\ntype = LEFT\npriority = 50\npattern = mn\npos = mn\nneg = x\n"
    "[right]\ntype = RIGHT\npriority = 50\npattern = no\npos = no\nneg = x\n"
    "[ca]\ntype = CA\npriority = 50\npattern = qrstu\npos = qrstu\nneg = x\n"
    "[cb]\ntype = CB\npriority = 60\npattern = uvwxy\npos = uvwxy\nneg = x\n"
    "[cc]\ntype = CC\npriority = 50\npattern = yz12\npos = yz12\nneg = x\n"
    "[utf-end]\ntype = UTFE\npattern = Q[\\x80-\\xff]\npos = Q\xc3\xa9\nneg = Q\n"
    "[utf-start]\ntype = UTFS\npattern = [\\x80-\\xff]W\npos = \xc3\xa9W\nneg = W\n";

static const char *run(red_worker *w, const red_engine *eng, const char *text, char *buf,
                       size_t cap)
{
    const red_finding *f;
    size_t n, o = 0;
    buf[0] = '\0';
    if (red_scan(w, text, strlen(text), &f, &n) != 0)
        return "ERROR";
    for (size_t i = 0; i < n && o + 48 < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s:%zu-%zu", i ? " " : "",
                              eng->types[f[i].type].name, f[i].start, f[i].end);
    return buf;
}

void test_merge(void)
{
    char dir[] = "/tmp/red_merge_XXXXXX", path[96], buf[512];
    if (mkdtemp(dir) == NULL) {
        CHECK(false);
        return;
    }
    snprintf(path, sizeof(path), "%s/m.rules", dir);
    FILE *fp = fopen(path, "w");
    CHECK(fp != NULL);
    if (fp == NULL)
        return;
    fputs(merge_rules, fp);
    fclose(fp);
    red_engine *eng = NULL;
    red_worker *w = NULL;
    cm_errlist errs = {0};
    int rc = red_engine_load(dir, &eng, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.msgs[i]);
    cm_errlist_fini(&errs);
    CHECK(rc == 0);
    if (rc == 0 && red_worker_new(eng, &w) == 0) {
        /* priority beats length */
        CHECK_STR_EQ(run(w, eng, "x abc-def-ghi", buf, sizeof(buf)), "HIGH:6-9");
        /* same priority: the longer one */
        CHECK_STR_EQ(run(w, eng, "k1234", buf, sizeof(buf)), "EQL:0-5");
        /* same priority and length: the leftmost */
        CHECK_STR_EQ(run(w, eng, "mno", buf, sizeof(buf)), "LEFT:0-2");
        /* a chain: the middle one wins and both neighbours overlap it */
        CHECK_STR_EQ(run(w, eng, "qrstuvwxyz12 mn", buf, sizeof(buf)), "CB:4-9 LEFT:13-15");
        /* disjoint findings come back sorted */
        CHECK_STR_EQ(run(w, eng, "mn def k1234", buf, sizeof(buf)), "LEFT:0-2 HIGH:3-6 EQL:7-12");
        /* deterministic */
        char again[512];
        snprintf(again, sizeof(again), "%s",
                 run(w, eng, "qrstuvwxyz12 abc-def-ghi", buf, sizeof(buf)));
        CHECK_STR_EQ(run(w, eng, "qrstuvwxyz12 abc-def-ghi", buf, sizeof(buf)), again);
        /* never split a UTF-8 character: widen to its boundaries */
        CHECK_STR_EQ(run(w, eng, "aQ\xc3\xa9z", buf, sizeof(buf)), "UTFE:1-4");
        CHECK_STR_EQ(run(w, eng, "a\xc3\xa9Wz", buf, sizeof(buf)), "UTFS:1-4");
        /* fail closed: a text longer than Hyperscan can take is refused, not passed */
        const red_finding *f = NULL;
        size_t n = 99;
        CHECK(red_scan(w, "x", (size_t)UINT32_MAX + 1, &f, &n) == CM_ETOOBIG && n == 0);
        CHECK(red_scan(w, "", 0, &f, &n) == 0 && n == 0);
    }
    red_worker_free(w);
    red_engine_free(eng);
    unlink(path);
    rmdir(dir);

    /* the default rules: Hyperscan reports every end of an e-mail, one finding remains */
    CHECK_STR_EQ(t_findings("mail john.doe@mail.example.com now"), "EMAIL:5-30");
    /* a password inside a URL wins over the e-mail-like user@host around it */
    CHECK_STR_EQ(t_findings("postgres://app:Xk9mP2vLq7@db.example.com/x"), "PASSWORD:15-25");
    /* a long key block is confirmed, not refused (JIT stack) */
    cm_buf big;
    cm_buf_init(&big, 0);
    CHECK(cm_buf_append(&big, "key -----BEGIN PRIVATE KEY-----\n", 32) == 0);
    for (int i = 0; i < 6000; i++)
        CHECK(cm_buf_append(&big,
                            "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n",
                            65) == 0);
    const red_finding *bf;
    size_t bn = 0;
    CHECK(red_scan(t_wrk, big.data, big.len, &bf, &bn) == 0);
    CHECK(bn == 1 && bf[0].start == 4 && bf[0].end == big.len - 1);
    /* longer than a full block may be (16 KB): the body is still covered */
    CHECK(cm_buf_append(&big, "-----END PRIVATE KEY-----", 25) == 0);
    CHECK(red_scan(t_wrk, big.data, big.len, &bf, &bn) == 0);
    CHECK(bn == 1 && bf[0].start == 4 && bf[0].end >= big.len - 26);
    cm_buf_fini(&big);
    /* a card is not also a phone */
    CHECK_STR_EQ(t_findings("call 4111 1111 1111 1111"), "CREDIT_CARD:5-24");
}
