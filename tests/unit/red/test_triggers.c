/* Trigger expressions found in C instead of Hyperscan (red_region.c,
 * red_runs.c, red_marks.c): each is compared with Hyperscan, or with its
 * byte-by-byte reference, on random texts and at its bounds; and the
 * lookbehind property that spares second searches (red_starts_runs). */
#include "red_tests.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The digits trigger found in C (red_region.c) gives the very regions that
 * its Hyperscan expression gives, on random texts of the bytes it looks at. */
static void regions_of(red_engine *eng, const char *text, size_t len, red_region *out, size_t *n)
{
    const red_finding *f;
    size_t nf;
    CHECK(red_scan(t_wrk, text, len, &f, &nf) == 0);
    (void)eng;
    *n = t_wrk->nregions[0];
    memcpy(out, t_wrk->regions[0], *n * sizeof(*out));
}

void test_digits_trigger(void)
{
    static const char abc[] = "0123456789012345 ./()-+ABCZaz_:\n";
    red_engine *eng = (red_engine *)t_eng; /* flipped back before return */
    CHECK(eng->ntriggers == 1 && eng->triggers[0].is_digits);
    if (eng->ntriggers != 1)
        return;
    static char text[8192];
    static red_region a[4096], b[4096];
    unsigned seed = 12345, bad = 0;
    for (int round = 0; round < 400; round++) {
        size_t len = 1 + (size_t)(round * 37 % 3000), na, nb;
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            /* runs of one kind (digits, capitals) now and then: long regions */
            size_t k = (seed >> 16) % (sizeof(abc) - 1);
            text[i] = (round % 4 == 3 && (seed >> 8) % 8 != 0) ? abc[(seed >> 12) % 10] : abc[k];
        }
        regions_of(eng, text, len, a, &na);
        eng->triggers[0].is_digits = false;
        regions_of(eng, text, len, b, &nb);
        eng->triggers[0].is_digits = true;
        if ((na != nb || memcmp(a, b, na * sizeof(*a)) != 0) && bad++ == 0) {
            for (size_t i = 0; i < na || i < nb; i++)
                if (i >= na || i >= nb || a[i].start != b[i].start || a[i].end != b[i].end) {
                    size_t s = i < na ? a[i].start : b[i].start;
                    fprintf(stderr, "C %zu/%zu [%u,%u) hs [%u,%u): %.*s|\n", na, nb,
                            i < na ? a[i].start : 0, i < na ? a[i].end : 0, i < nb ? b[i].start : 0,
                            i < nb ? b[i].end : 0, 40, text + (s > 8 ? s - 8 : 0));
                    break;
                }
        }
    }
    CHECK(bad == 0);
}

/* The ipv4 trigger found in C (red_dots_ends) gives every end its Hyperscan
 * expression gives, on random texts of digits, dots and a few others. */
typedef struct ends {
    size_t n;
    size_t at[8192];
} ends;

static void end_add(void *ctx, size_t end)
{
    ends *e = ctx;
    if (e->n < sizeof(e->at) / sizeof(e->at[0]))
        e->at[e->n++] = end;
}

static int on_end(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                  void *ctx)
{
    (void)id;
    (void)from;
    (void)flags;
    end_add(ctx, (size_t)to);
    return 0;
}

void test_dots_trigger(void)
{
    static const char abc[] = "0123456789......a -";
    const red_engine *eng = t_eng;
    CHECK(eng->dots_rule >= 0 && strcmp(eng->rules[eng->dots_rule].id, "ipv4") == 0);
    hs_database_t *db = NULL;
    hs_scratch_t *sc = NULL;
    hs_compile_error_t *ce = NULL;
    CHECK(hs_compile(RED_DOTS_TRIGGER, 0, HS_MODE_BLOCK, NULL, &db, &ce) == HS_SUCCESS);
    CHECK(db != NULL && hs_alloc_scratch(db, &sc) == HS_SUCCESS);
    if (db == NULL || sc == NULL)
        return;
    static char text[4096];
    static ends a, b;
    unsigned seed = 4242, bad = 0;
    for (int round = 0; round < 400; round++) {
        size_t len = 1 + (size_t)(round * 37 % 4000);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            text[i] = abc[(seed >> 16) % (sizeof(abc) - 1)];
        }
        a.n = b.n = 0;
        red_dots_ends(text, 0, len, end_add, &a);
        CHECK(hs_scan(db, text, (unsigned)len, 0, sc, on_end, &b) == HS_SUCCESS);
        if ((a.n != b.n || memcmp(a.at, b.at, a.n * sizeof(a.at[0])) != 0) && bad++ == 0)
            fprintf(stderr, "dots: C %zu ends, Hyperscan %zu: %.*s\n", a.n, b.n, (int)len, text);
    }
    CHECK(bad == 0);
    hs_free_scratch(sc);
    hs_free_database(db);
}

/* red_runs: the 64-byte mask path reports the very runs (bounds, digit and
 * dot counts) of the byte-by-byte reference, on random texts with runs
 * across block ends, long runs, NUL and non-ASCII bytes, for several minima.
 * Without AVX2 both are the reference and the check is vacuous: say so. */
typedef struct run_log {
    size_t n;
    size_t v[4 * 4096];
} run_log;

static int run_rec(void *ctx, size_t a, size_t b, unsigned nd, unsigned ndots)
{
    run_log *l = ctx;
    if (l->n + 4 <= sizeof(l->v) / sizeof(l->v[0])) {
        l->v[l->n++] = a;
        l->v[l->n++] = b;
        l->v[l->n++] = nd;
        l->v[l->n++] = ndots;
    }
    return 0;
}

void test_runs(void)
{
    static const char abc[] = "0123456789 ./()-+AZ.x,:\n\0\xc3\xa9";
    const red_trigger *tr = &t_eng->triggers[0];
    CHECK(tr->has_lut == red_has_avx2());
    if (!__builtin_cpu_supports("avx2"))
        fprintf(stderr, "runs: no AVX2 here, the mask path is not exercised\n");
    static char text[6000];
    static run_log x, y;
    static const red_run_min mins[] = {{1, 1}, {6, 2}, {6, 3}, {20, 1}, {40, 6}};
    unsigned seed = 777, bad = 0;
    size_t total = 0;
    for (int round = 0; round < 600; round++) {
        size_t len = (size_t)(round * 53 % 5000);
        int mode = round % 5;
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            unsigned r = seed >> 12;
            /* mode 0: anything; 1: mostly extend bytes (long runs); 2: sparse
             * digits in prose; 3: digit blocks; 4: runs of 60-70 bytes */
            if (mode == 1 && r % 16 != 0)
                text[i] = abc[r % 19];
            else if (mode == 2)
                text[i] = r % 9 == 0 ? abc[r % 10] : "abc de,fg"[r % 9];
            else if (mode == 3)
                text[i] = r % 7 == 0 ? ',' : abc[r % 10];
            else if (mode == 4)
                text[i] = i % 67 == 0 ? ',' : abc[r % 17];
            else
                text[i] = abc[r % (sizeof(abc) - 1)];
        }
        const red_run_min *m = &mins[round % 5];
        x.n = y.n = 0;
        CHECK(red_runs(tr, text, len, false, m, run_rec, &x) == 0);
        CHECK(red_runs(tr, text, len, true, m, run_rec, &y) == 0);
        total += y.n / 4;
        if ((x.n != y.n || memcmp(x.v, y.v, x.n * sizeof(x.v[0])) != 0) && bad++ == 0)
            fprintf(stderr, "runs: round %d: masks %zu runs, bytes %zu runs\n", round, x.n / 4,
                    y.n / 4);
    }
    CHECK(bad == 0);
    CHECK(total > 10000); /* the texts did hold runs */
}

/* The colon, dash and pgpass triggers found in C (red_marks.c) give every
 * end their Hyperscan expressions give (the hex ones caseless), on random
 * texts of hex digits, colons, dashes, stars, blanks and a few others. */
typedef struct mark_log {
    ends e[RED_MARKS];
} mark_log;

static void mark_add(void *ctx, unsigned kind, size_t end)
{
    mark_log *l = ctx;
    end_add(&l->e[kind], end);
}

static bool marks_agree(unsigned kind, const char *text, size_t len, const ends *c)
{
    static const char *const expr[RED_MARKS] = {RED_COLON_TRIGGER, RED_DASH_TRIGGER,
                                                RED_PGPASS_TRIGGER, RED_EMAIL_TRIGGER,
                                                RED_URL_TRIGGER};
    hs_database_t *db = NULL;
    hs_scratch_t *sc = NULL;
    hs_compile_error_t *ce = NULL;
    static ends h;
    h.n = 0;
    unsigned flags = kind == RED_MARK_COLON || kind == RED_MARK_DASH ? HS_FLAG_CASELESS : 0;
    bool ok = hs_compile(expr[kind], flags, HS_MODE_BLOCK, NULL, &db, &ce) == HS_SUCCESS &&
              hs_alloc_scratch(db, &sc) == HS_SUCCESS &&
              hs_scan(db, text, (unsigned)len, 0, sc, on_end, &h) == HS_SUCCESS;
    hs_free_scratch(sc);
    hs_free_database(db);
    return ok && h.n == c->n && memcmp(h.at, c->at, h.n * sizeof(h.at[0])) == 0;
}

void test_marks(void)
{
    static const char abc[] = "0123456789abcdefABCDEF::::----**gxZ .\n\t\v\f\r\0\xc3@@//_%+'\"<>,";
    static const char *const ids[RED_MARKS] = {"ipv6", "mac-dash", "password-pgpass", "email",
                                               "password-in-url"};
    if (!__builtin_cpu_supports("avx2")) {
        fprintf(stderr, "marks: no AVX2 here, the expressions stay in Hyperscan\n");
        for (unsigned k = 0; k < RED_MARKS; k++)
            CHECK(t_eng->mark_rule[k] < 0);
        return;
    }
    for (unsigned k = 0; k < RED_MARKS; k++)
        CHECK(t_eng->mark_rule[k] >= 0 &&
              strcmp(t_eng->rules[t_eng->mark_rule[k]].id, ids[k]) == 0);
    static char text[4096];
    static mark_log l;
    unsigned seed = 99, bad = 0;
    size_t total[RED_MARKS] = {0};
    for (int round = 0; round < 600; round++) {
        size_t len = (size_t)(round * 41 % 4000);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            unsigned r = seed >> 12;
            if (round % 7 == 6) /* sparse: most 64-byte blocks hold no colon, no dash */
                text[i] = r % 97 == 0 ? ":-*@/"[r / 97 % 5] : abc[r % 22];
            else if (round % 7 == 5) /* "://", then user, colon, password, @ */
                text[i] = r % 50 == 0   ? '/'
                          : r % 50 == 1 ? ':'
                          : r % 60 == 2 ? '@'
                          : r % 3 == 0  ? "abc:de"[r / 3 % 6]
                                        : abc[r / 3 % (sizeof(abc) - 1)];
            else if (round % 3 == 1) /* "hh:" / "h-" groups: long chains */
                text[i] = i % 3 == 2 ? (round % 2 ? ':' : '-') : abc[r % 22];
            else if (round % 3 == 2) /* "...:port:...": digits, colons, few blanks */
                text[i] = r % 5 == 0 ? ':' : r % 61 == 0 ? ' ' : r % 37 == 0 ? '*' : abc[r % 16];
            else
                text[i] = abc[r % (sizeof(abc) - 1)];
        }
        for (size_t i = 0; round % 7 == 5 && i + 3 < len; i += 17 + (i * 7) % 40)
            memcpy(text + i, "://", 3); /* credentials need a scheme */
        for (unsigned k = 0; k < RED_MARKS; k++)
            l.e[k].n = 0;
        red_marks_ends(text, len, (1u << RED_MARKS) - 1, mark_add, &l);
        for (unsigned k = 0; k < RED_MARKS; k++) {
            total[k] += l.e[k].n;
            if (!marks_agree(k, text, len, &l.e[k]) && bad++ == 0)
                fprintf(stderr, "marks: %s, round %d differs from Hyperscan: %.*s\n", ids[k], round,
                        (int)len, text);
        }
    }
    /* the bounds: users of 64/65 bytes, passwords of 128/129, fields of
     * 100/101, ports of 5/6 digits, each across a block end too */
    static const struct {
        unsigned kind;
        const char *head, *fill_a;
        size_t n_a;
        const char *mid, *fill_b;
        size_t n_b;
        const char *tail;
    } edge[] = {
        {RED_MARK_URL, "x://", "u", 64, ":", "p", 1, "@h"},
        {RED_MARK_URL, "x://", "u", 65, ":", "p", 1, "@h"},
        {RED_MARK_URL, "x://", "u", 0, ":", "p", 128, "@h"},
        {RED_MARK_URL, "x://", "u", 0, ":", "p", 129, "@h"},
        {RED_MARK_PGPASS, "h:", "5", 5, ":", "d", 100, ":u:"},
        {RED_MARK_PGPASS, "h:", "5", 6, ":", "d", 101, ":u:"},
        {RED_MARK_PGPASS, "h:", "5", 2, ":", "d", 1, ":u:"},
        {RED_MARK_PGPASS, "h:", "5", 1, ":", "d", 1, ":u:"},
    };
    for (size_t e = 0; e < sizeof(edge) / sizeof(edge[0]); e++)
        for (size_t shift = 0; shift < 70; shift += 23) {
            size_t n = 0;
            memset(text, 'q', shift);
            n = shift;
            n += (size_t)snprintf(text + n, 64, "%s", edge[e].head);
            for (size_t i = 0; i < edge[e].n_a; i++)
                text[n++] = edge[e].fill_a[0];
            n += (size_t)snprintf(text + n, 64, "%s", edge[e].mid);
            for (size_t i = 0; i < edge[e].n_b; i++)
                text[n++] = edge[e].fill_b[0];
            n += (size_t)snprintf(text + n, 64, "%s", edge[e].tail);
            l.e[edge[e].kind].n = 0;
            red_marks_ends(text, n, 1u << edge[e].kind, mark_add, &l);
            if (!marks_agree(edge[e].kind, text, n, &l.e[edge[e].kind]) && bad++ == 0)
                fprintf(stderr, "marks: edge %zu differs from Hyperscan: %.*s\n", e, (int)n, text);
        }
    CHECK(bad == 0);
    for (unsigned k = 0; k < RED_MARKS; k++) {
        if (total[k] <= 200)
            fprintf(stderr, "marks: %s: %zu ends\n", ids[k], total[k]);
        CHECK(total[k] > 200); /* the texts did hold matches */
    }
}

/* The date trigger found in C (red_date_ends) gives every end Hyperscan
 * gives scanning the same block, on random texts of digits (19/20 often),
 * separators and a few others, and on random slices of them. */
static void date_add(void *ctx, size_t end)
{
    end_add(ctx, end);
}

void test_dates(void)
{
    static const char abc[] = "0123456789./-12912020 x:T";
    CHECK(t_eng->date_rule >= 0 && strcmp(t_eng->rules[t_eng->date_rule].id, "dob-field") == 0);
    hs_database_t *db = NULL;
    hs_scratch_t *sc = NULL;
    hs_compile_error_t *ce = NULL;
    CHECK(hs_compile(RED_DATE_TRIGGER, 0, HS_MODE_BLOCK, NULL, &db, &ce) == HS_SUCCESS);
    CHECK(db != NULL && hs_alloc_scratch(db, &sc) == HS_SUCCESS);
    if (db == NULL || sc == NULL)
        return;
    static char text[4096];
    static ends x, y;
    unsigned seed = 2024, bad = 0;
    size_t total = 0;
    for (int round = 0; round < 600; round++) {
        size_t len = (size_t)(round * 37 % 4000);
        /* tokens: a year-like 19dd/20dd, one or two digits, a separator, a byte */
        for (size_t i = 0; i < len;) {
            seed = seed * 1103515245u + 12345u;
            unsigned r = seed >> 12, k = r % 8;
            char tok[16];
            size_t n = 1;
            if (k == 7) { /* a date-like group: fields of 1-4 digits, separators */
                n = 0;
                for (unsigned f = 0; f < 3; f++) {
                    seed = seed * 1103515245u + 12345u;
                    unsigned q = seed >> 10, w = 1 + q % 4;
                    for (unsigned d = 0; d < w; d++)
                        tok[n++] = w == 4 && d < 2 ? "1920"[2 * (q / 4 % 2) + d]
                                                   : (char)('0' + (q >> (3 + d)) % 10);
                    if (f < 2)
                        tok[n++] = "./-"[q / 64 % 3];
                }
            } else if (k == 0) {
                memcpy(tok, r & 8 ? "19" : "20", 2);
                tok[2] = (char)('0' + r / 16 % 10);
                tok[3] = (char)('0' + r / 160 % 10);
                n = 4;
            } else if (k <= 3) {
                tok[0] = (char)('0' + r / 8 % 10);
                tok[1] = (char)('0' + r / 80 % 10);
                n = 1 + (r / 800) % 2;
            } else if (k <= 5) {
                tok[0] = "./-"[r / 8 % 3];
            } else {
                tok[0] = abc[r / 8 % (sizeof(abc) - 1)];
            }
            for (size_t j = 0; j < n && i < len; j++)
                text[i++] = tok[j];
        }
        seed = seed * 1103515245u + 12345u;
        size_t a = len > 0 ? (seed >> 8) % (len / 4 + 1) : 0,
               b = len - (len > a ? (seed >> 4) % (len - a) / 4 : 0);
        x.n = y.n = 0;
        red_date_ends(text, a, b, date_add, &x);
        for (size_t i = 0; i < x.n; i++)
            x.at[i] -= a; /* Hyperscan's ends are relative to the block */
        CHECK(hs_scan(db, text + a, (unsigned)(b - a), 0, sc, on_end, &y) == HS_SUCCESS);
        total += x.n;
        if ((x.n != y.n || memcmp(x.at, y.at, x.n * sizeof(x.at[0])) != 0) && bad++ == 0)
            fprintf(stderr, "dates: round %d: C %zu ends, Hyperscan %zu: %.*s\n", round, x.n, y.n,
                    (int)(b - a), text + a);
    }
    CHECK(bad == 0);
    CHECK(total > 1000);
    hs_free_scratch(sc);
    hs_free_database(db);
}

/* red_starts_runs: only when the opening lookbehind refuses every
 * span_class byte; and the rules that rely on it are the expected ones. */
static bool starts_runs(const char *pattern, const char *span, bool caseless)
{
    red_rule r = {.pattern = (char *)(uintptr_t)pattern,
                  .has_span_class = span != NULL,
                  .flags = caseless ? RED_F_CASELESS : 0};
    for (const char *c = span; c != NULL && *c != '\0'; c++)
        r.span_class[(unsigned char)*c] = true;
    return red_starts_runs(&r);
}

void test_starts_runs(void)
{
    CHECK(starts_runs("(?<![\\d./-])\\d+", "0123456789./-", false));
    CHECK(!starts_runs("(?<![\\d./])\\d+", "0123456789./-", false)); /* '-' may precede */
    CHECK(!starts_runs("(?<![\\d./-])\\d+", NULL, false));           /* no span_class */
    CHECK(!starts_runs("\\b\\d+", "0123456789", false));             /* no lookbehind */
    CHECK(!starts_runs("(?<!\\d)\\d+", "0123456789", false));        /* not a class */
    CHECK(starts_runs("(?<![0-9a-f:])[0-9a-f:]+", "0123456789abcdefABCDEF:", true));
    CHECK(!starts_runs("(?<![0-9a-f:])[0-9a-f:]+", "0123456789abcdefABCDEF:", false));
    CHECK(starts_runs("(?<![\\]x])x+", "x]", false)); /* an escaped ] inside */
    const char *want[] = {"ipv6", "phone-compact", "phone-local", "dob-field"};
    size_t n = 0;
    for (size_t i = 0; i < t_eng->nrules; i++)
        if (t_eng->rules[i].is_run_start) {
            CHECK(n < 4 && strcmp(t_eng->rules[i].id, want[n]) == 0);
            n++;
        }
    CHECK(n == 4);
}

/* The engine without AVX2 code (runs byte by byte, every trigger but the
 * date in Hyperscan) finds exactly what the default engine finds: on the
 * labeled corpora and on random texts rich in digits, colons, dashes, @,
 * "://" and dates. Without AVX2 here both are the portable engine. */
static bool same_findings(red_worker *a, red_worker *b, const char *text, size_t len)
{
    const red_finding *fa, *fb;
    size_t na, nb;
    if (red_scan(a, text, len, &fa, &na) != 0)
        return false;
    /* fa lives in worker a: b's scan does not touch it */
    if (red_scan(b, text, len, &fb, &nb) != 0 || na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (fa[i].start != fb[i].start || fa[i].end != fb[i].end ||
            strcmp(fa[i].rule, fb[i].rule) != 0)
            return false;
    return true;
}

void test_portable(void)
{
    red_engine *eng = NULL;
    red_worker *w = NULL;
    cm_errlist errs = {0};
    red_simd_off = true;
    int rc = red_engine_load("rules", &eng, &errs);
    red_simd_off = false;
    cm_errlist_fini(&errs);
    CHECK(rc == 0 && red_worker_new(eng, &w) == 0);
    if (w == NULL)
        return;
    for (unsigned k = 0; k < RED_MARKS; k++)
        CHECK(eng->mark_rule[k] < 0);
    CHECK(!eng->triggers[0].has_lut);
    unsigned bad = 0, texts = 0;
    static const char *const files[] = {"tests/corpus/corpus.jsonl",
                                        "tests/corpus/holdout/holdout.jsonl"};
    for (size_t f = 0; f < 2; f++) {
        FILE *fp = fopen(files[f], "r");
        CHECK(fp != NULL);
        char *line = NULL;
        size_t cap = 0;
        while (fp != NULL && getline(&line, &cap, fp) > 0) {
            json_t *it = json_loads(line, 0, NULL);
            const char *t = json_string_value(json_object_get(it, "text"));
            if (t != NULL) {
                texts++;
                if (!same_findings(t_wrk, w, t, strlen(t)) && bad++ == 0)
                    fprintf(stderr, "portable: differs on %s: %.80s\n", files[f], t);
            }
            json_decref(it);
        }
        free(line);
        if (fp != NULL)
            fclose(fp);
    }
    static const char *const bits[] = {"4111 1111 1111 1111",
                                       "fe80::1",
                                       "2001:db8:0:0:1:0:0:1",
                                       "00-1A-2B-3C-4D-5E",
                                       "db:5432:app:user:pw9x!",
                                       "https://u:p4ss@h.io/x",
                                       "a.b@example.org",
                                       "1990-07-14",
                                       "14.07.1990",
                                       "10.0.0.1",
                                       " ",
                                       "\n",
                                       ":",
                                       "-",
                                       "@",
                                       "://",
                                       "x",
                                       "DE89 3704 0044 0532 0130 00",
                                       "+49 30 1234567",
                                       "password: hunter22x"};
    static char text[8192];
    unsigned seed = 31337;
    for (int round = 0; round < 300; round++) {
        size_t n = 0;
        while (n < (size_t)(200 + round * 23 % 7000)) {
            seed = seed * 1103515245u + 12345u;
            const char *b = bits[(seed >> 10) % (sizeof(bits) / sizeof(bits[0]))];
            size_t k = strlen(b);
            if (n + k >= sizeof(text))
                break;
            memcpy(text + n, b, k);
            n += k;
        }
        texts++;
        if (!same_findings(t_wrk, w, text, n) && bad++ == 0)
            fprintf(stderr, "portable: differs on a random text of %zu bytes\n", n);
    }
    CHECK(bad == 0);
    CHECK(texts > 1900);
    red_worker_free(w);
    red_engine_free(eng);
}
