/* Shared triggers (rules/README.md, "Shared triggers") without the main
 * database: a match of a trigger consists of its `extend` bytes and holds a
 * digit, so only runs of extend bytes around a digit, at least the trigger's
 * minimum width long, can hold one. An SSE2 pass finds those runs; they are
 * copied side by side (with the byte on each side, for \b) and scanned with
 * the trigger's expression alone in one Hyperscan call per chunk. Its ends
 * become regions exactly as when the trigger ran in the main database; the
 * regions (with the margin) are copied the same way, separated by '\n', and
 * scanned with the trigger's rules in one call per chunk instead of one call
 * (~100 ns of set-up) per region. */
#include "redaction/red_internal.h"

#include <stdlib.h>
#include <string.h>

#define RED_CAT_CHUNK (256u * 1024u) /* scan the copies when they reach this size */
#define RED_PREFETCH  6              /* regions ahead whose text is prefetched */

int red_trigger_compile(red_trigger *tr, cm_errlist *errs)
{
    unsigned flags = (tr->flags & RED_F_CASELESS) ? HS_FLAG_CASELESS : 0;
    hs_expr_info_t *info = NULL;
    hs_compile_error_t *ce = NULL;
    if (hs_expression_info(tr->hs_pattern, flags, &info, &ce) != HS_SUCCESS ||
        hs_compile(tr->hs_pattern, flags, HS_MODE_BLOCK, NULL, &tr->probe, &ce) != HS_SUCCESS) {
        cm_errlist_add(errs, "%s:%u: trigger \"%s\": Hyperscan: %s", tr->file, tr->line, tr->name,
                       ce->message);
        hs_free_compile_error(ce);
        free(info);
        return CM_EINVAL;
    }
    tr->min_width = info->min_width > 0 ? info->min_width : 1;
    tr->has_lut = red_runs_lut(tr);
    tr->is_digits = strcmp(tr->hs_pattern, RED_DIGITS_TRIGGER) == 0 && flags == 0;
    for (const char *c = "0123456789 ./()-ABCDEFGHIJKLMNOPQRSTUVWXYZ"; *c && tr->is_digits; c++)
        tr->is_digits = tr->extend[(unsigned char)*c];
    free(info);
    if (hs_alloc_scratch(tr->probe, &tr->proto) != HS_SUCCESS) { /* one scratch for both */
        cm_errlist_add(errs, "Hyperscan: cannot allocate scratch");
        return CM_EINTERNAL;
    }
    return 0;
}

static void region_push(red_worker *w, unsigned t, size_t a, size_t b)
{
    size_t n = w->nregions[t];
    if (n == w->capregions[t]) {
        w->capregions[t] = n ? n * 2 : 64;
        w->regions[t] = cm_xrealloc(w->regions[t], w->capregions[t] * sizeof(*w->regions[t]));
    }
    w->regions[t][n].start = (uint32_t)a;
    w->regions[t][n].end = (uint32_t)b;
    w->nregions[t] = n + 1;
}

/* A shared trigger fired at `to`: widen to the region of extend bytes around
 * it (once per region; the ends arrive in order). */
static void region_add(red_worker *w, unsigned t, size_t to)
{
    const red_trigger *tr = &w->eng->triggers[t];
    size_t n = w->nregions[t];
    if (n > 0 && to <= w->regions[t][n - 1].end)
        return;
    const unsigned char *s = (const unsigned char *)w->text;
    size_t a = to, b = to;
    while (a > 0 && tr->extend[s[a - 1]] && to - a < RED_MAX_REGION)
        a--;
    while (b < w->len && tr->extend[s[b]] && b - a < RED_MAX_REGION)
        b++;
    if (n > 0 && a < w->regions[t][n - 1].end)
        a = w->regions[t][n - 1].end;
    region_push(w, t, a, b);
}

/* Append text[a, b) to the copies, then `sep` unless it is 0. */
static void cat_add(red_worker *w, size_t a, size_t b, char sep)
{
    size_t need = w->ncat + (b - a) + 1;
    if (need > w->capcat) {
        w->capcat = need > 2 * w->capcat ? need : 2 * w->capcat;
        w->cat = cm_xrealloc(w->cat, w->capcat);
    }
    if (w->nblocks == w->capblocks) {
        w->capblocks = w->capblocks ? 2 * w->capblocks : 256;
        w->blocks = cm_xrealloc(w->blocks, w->capblocks * sizeof(*w->blocks));
    }
    w->blocks[w->nblocks++] = (red_block){.at = (uint32_t)w->ncat, .text = (uint32_t)a};
    memcpy(w->cat + w->ncat, w->text + a, b - a);
    w->ncat += b - a;
    if (sep != 0)
        w->cat[w->ncat++] = sep;
}

/* The text offset of an end `to` in the copies: the block holding byte to - 1. */
static size_t cat_map(red_worker *w, unsigned long long to)
{
    size_t k = w->curblock;
    while (k + 1 < w->nblocks && w->blocks[k + 1].at < to)
        k++;
    while (k > 0 && w->blocks[k].at >= to)
        k--;
    w->curblock = k;
    return w->blocks[k].text + (size_t)(to - w->blocks[k].at);
}

static int on_probe(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                    void *ctx)
{
    (void)id;
    (void)from;
    (void)flags;
    red_worker *w = ctx;
    region_add(w, w->curtrigger, cat_map(w, to));
    return 0;
}

/* Scan the copies (if any) and start again. */
static int cat_flush(red_worker *w, const hs_database_t *db, match_event_handler fn)
{
    int rc = 0;
    if (w->ncat > 0) {
        w->curblock = 0;
        if (hs_scan(db, w->cat, (unsigned)w->ncat, 0, w->sub_scratch[w->curtrigger], fn, w) !=
            HS_SUCCESS)
            rc = CM_EINTERNAL;
    }
    w->ncat = 0;
    w->nblocks = 0;
    return rc;
}

static inline bool is_word(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static inline bool is_upper(unsigned char c)
{
    return c >= 'A' && c <= 'Z';
}

/* The first end of RED_DIGITS_TRIGGER inside s[a, b) (a run of extend bytes,
 * s[b] none), or 0: six digits with 0-3 of [ ./()-] between neighbours, or
 * \b, two capitals, two digits, an optional [ -] and four of [A-Z0-9]. */
static size_t digits_end(const unsigned char *s, size_t a, size_t b)
{
    unsigned chain = 0, gap = 0;
    for (size_t i = a; i < b; i++) {
        unsigned char c = s[i];
        if (red_is_digit(c)) {
            chain = chain > 0 && gap <= 3 ? chain + 1 : 1;
            gap = 0;
            if (chain >= 6)
                return i + 1;
        } else if (c == ' ' || c == '.' || c == '/' || c == '(' || c == ')' || c == '-') {
            gap++;
        } else {
            chain = 0;
        }
        if (i + 8 <= b && is_upper(c) && is_upper(s[i + 1]) && red_is_digit(s[i + 2]) &&
            red_is_digit(s[i + 3]) && (i == 0 || !is_word(s[i - 1]))) {
            size_t k = i + 4 + (s[i + 4] == ' ' || s[i + 4] == '-'), n = 0;
            while (n < 4 && k + n < b && (is_upper(s[k + n]) || red_is_digit(s[k + n])))
                n++;
            if (n == 4)
                return k + 4;
        }
    }
    return 0;
}

void red_dots_pick(red_engine *eng)
{
    eng->dots_rule = -1;
    eng->dots_trigger = -1;
    for (size_t t = 0; t < eng->ntriggers && eng->dots_trigger < 0; t++)
        if (eng->triggers[t].is_digits) /* its extend bytes hold [0-9.] */
            eng->dots_trigger = (int)t;
    int pick = -1, others = 0;
    for (size_t i = 0; i < eng->nrules && eng->dots_trigger >= 0; i++) {
        const red_rule *r = &eng->rules[i];
        const char *x = r->hs_derived ? r->hs_derived : r->hs_pattern ? r->hs_pattern : r->pattern;
        if (r->trigger >= 0 || r->is_shared)
            continue;
        /* caseless, dotall and multiline change nothing for this expression */
        if (pick < 0 && !r->is_hs_prefilter && strcmp(x, RED_DOTS_TRIGGER) == 0)
            pick = (int)i;
        else
            others++;
    }
    if (others > 0) /* the main database must keep a rule */
        eng->dots_rule = pick;
}

/* At a digit right after a dot, `dots` is the number of `\.\d+` groups that
 * end just before that dot: two or more make an end of \.\d+\.\d+\.\d. */
void red_dots_ends(const char *text, size_t a, size_t b, void (*fn)(void *ctx, size_t end),
                   void *ctx)
{
    const unsigned char *s = (const unsigned char *)text;
    unsigned groups = 0, dots = 0; /* groups: ending at the byte before */
    bool is_after_dot = false;
    for (size_t i = a; i < b; i++) {
        unsigned char c = s[i];
        if (red_is_digit(c)) {
            if (is_after_dot) {
                if (dots >= 2)
                    fn(ctx, i + 1);
                groups = dots + 1;
            }
            is_after_dot = false;
        } else {
            dots = groups; /* 0 unless a digit of a group is just before */
            groups = 0;
            is_after_dot = c == '.';
        }
    }
}

static void on_dots(void *ctx, size_t end)
{
    red_worker *w = ctx;
    red_hit_add_chain(w, w->eng->dots_rule, end);
}

/* One run of extend bytes around digits (red_runs): the ends of
 * RED_DOTS_TRIGGER in it for its rule, and the trigger's regions. */
static int on_run(void *ctx, size_t a, size_t b, unsigned ndigits, unsigned ndots)
{
    red_worker *w = ctx;
    const red_engine *eng = w->eng;
    const red_trigger *tr = &eng->triggers[w->curtrigger];
    const unsigned char *s = (const unsigned char *)w->text;
    /* the shortest match is .1.2.3: three dots, three digits */
    if (eng->dots_rule >= 0 && eng->dots_trigger == (int)w->curtrigger && ndots >= 3 &&
        ndigits >= 3 && b - a >= 6)
        red_dots_ends(w->text, a, b, on_dots, w);
    if (b - a < tr->min_width)
        return 0; /* too short to hold a match */
    if (tr->is_digits && b - a < RED_MAX_REGION) {
        /* every match holds two digits; the region of any end is the whole
         * run (what region_add would find walking from the end) */
        if (ndigits >= 2 && digits_end(s, a, b) > 0)
            region_push(w, w->curtrigger, a, b);
        return 0;
    }
    /* the byte before and after: \b sees the real neighbours */
    cat_add(w, a > 0 ? a - 1 : 0, b < w->len ? b + 1 : w->len, 0);
    /* with the C path, regions must still arrive in text order */
    if ((tr->is_digits || w->ncat >= RED_CAT_CHUNK) && cat_flush(w, tr->probe, on_probe) != 0)
        return CM_EINTERNAL;
    return 0;
}

/* Trigger t's ends, from the runs of extend bytes around digits (and the
 * ends of RED_DOTS_TRIGGER, which lie in such runs, for its rule). */
static int probe(red_worker *w, const red_trigger *tr)
{
    /* the runs that can hold a trigger match or an ipv4 trigger end */
    red_run_min min = {.len = tr->min_width, .digits = tr->is_digits ? 2 : 1};
    if (w->eng->dots_rule >= 0 && w->eng->dots_trigger == (int)w->curtrigger) {
        min.len = min.len < 6 ? min.len : 6;
        min.digits = min.digits < 3 ? min.digits : 3;
    }
    if (red_runs(tr, w->text, w->len, w->is_bytewise_runs, &min, on_run, w) != 0)
        return CM_EINTERNAL;
    return cat_flush(w, tr->probe, on_probe);
}

static int on_sub(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                  void *ctx)
{
    (void)from;
    (void)flags;
    red_worker *w = ctx;
    red_hit_add_chain(w, (int)id, w->sub_base + (size_t)to);
    return 0;
}

static void on_date(void *ctx, size_t end)
{
    red_worker *w = ctx;
    red_hit_add_chain(w, w->eng->date_rule, end);
}

/* Each region with the trigger's margin and one more byte on each side, so
 * that \b sees the real neighbours, scanned with the trigger's rules (the
 * date rule's trigger in C, on the very same bytes). One
 * call per region: Hyperscan's small-block engine makes that faster than one
 * call over the regions copied side by side (measured 2x). */
static int sub_scan(red_worker *w, const red_trigger *tr, size_t t)
{
    size_t m = tr->margin + 1;
    bool has_date = w->eng->date_rule >= 0 && w->eng->rules[w->eng->date_rule].trigger == (int)t;
    for (size_t i = 0; i < w->nregions[t]; i++) {
        if (i + RED_PREFETCH < w->nregions[t])
            __builtin_prefetch(w->text + w->regions[t][i + RED_PREFETCH].start);
        size_t a = w->regions[t][i].start, b = w->regions[t][i].end;
        a = a > m ? a - m : 0;
        b = b + m < w->len ? b + m : w->len;
        w->sub_base = (uint32_t)a;
        if (has_date)
            red_date_ends(w->text, a, b, on_date, w);
        if (hs_scan(tr->db, w->text + a, (unsigned)(b - a), 0, w->sub_scratch[t], on_sub, w) !=
            HS_SUCCESS)
            return CM_EINTERNAL;
    }
    return 0;
}

int red_region_scan(red_worker *w)
{
    const red_engine *eng = w->eng;
    for (size_t t = 0; t < eng->ntriggers; t++) {
        w->nregions[t] = 0;
        w->curtrigger = (unsigned)t;
        w->ncat = 0;
        w->nblocks = 0;
        if (probe(w, &eng->triggers[t]) != 0 || sub_scan(w, &eng->triggers[t], t) != 0)
            return CM_EINTERNAL;
    }
    return 0;
}
