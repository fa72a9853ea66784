/* Scanning: one Hyperscan block scan without start-of-match collects
 * (rule, end) hits; each rule's hits are then confirmed locally with its
 * PCRE2 pattern, searched from at most max_len bytes before the end and with
 * an offset limit at that end, so a confirmation costs a bounded window, not
 * the text. Validators and context words decide, and overlapping candidates
 * are merged: priority, then longest, then leftmost, then rule order. */
#include "redaction/red_internal.h"

#include <stdlib.h>
#include <string.h>

#define RED_PREFETCH 6 /* hits ahead whose text is prefetched */

/* A trigger end of rule id at `to`. Ends of one rule arrive in order; one
 * that continues the rule's latest window (its own window starts at or
 * before the latest end, and for a span_class rule the bytes between are
 * all in the class, so the run start is the same) extends that hit: the
 * confirmation then searches the union of the windows once instead of once
 * per end, which finds the same leftmost match. */
void red_hit_add(red_worker *w, unsigned id, size_t to)
{
    const red_rule *r = &w->eng->rules[id];
    uint32_t k = w->last_hit[id];
    if (k > 0) {
        red_hit *h = &w->hits[k - 1];
        size_t last = h->end;
        if (to >= h->first && to <= last)
            return; /* its window is inside the hit's (a sub-scan margin repeats ends) */
        if (to > last && to <= last + 1 + r->max_len) {
            bool is_run = true;
            if (r->has_span_class)
                for (size_t i = last; i < to && is_run; i++)
                    is_run = r->span_class[(unsigned char)w->text[i]];
            if (is_run) {
                h->end = (uint32_t)to;
                return;
            }
        }
    }
    if (w->nhits == w->caphits) {
        w->caphits = w->caphits ? w->caphits * 2 : 256;
        w->hits = cm_xrealloc(w->hits, w->caphits * sizeof(*w->hits));
    }
    w->hits[w->nhits].rule = id;
    w->hits[w->nhits].first = (uint32_t)to;
    w->hits[w->nhits].end = (uint32_t)to;
    w->nhits++;
    w->last_hit[id] = (uint32_t)w->nhits;
}

void red_hit_add_chain(red_worker *w, int rule, size_t to)
{
    for (int r = rule; r >= 0; r = w->eng->rules[r].same_next)
        red_hit_add(w, (unsigned)r, to);
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                    void *ctx)
{
    (void)from;
    (void)flags;
    red_hit_add_chain(ctx, (int)id, (size_t)to);
    return 0;
}

static inline unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static inline bool is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool red_words_near(const red_words *ws, const char *text, size_t len, size_t start, size_t end)
{
    if (ws->n == 0)
        return false;
    size_t from = start > ws->before ? start - ws->before : 0;
    size_t to = end + ws->after < len ? end + ws->after : len;
    const unsigned char *t = (const unsigned char *)text;
    for (size_t i = from; i < to; i++) {
        if (i == start && end > start)
            i = end; /* the value itself is no context for itself */
        if (i >= to)
            break;
        unsigned char c = lower(t[i]);
        if (ws->from[c] == ws->from[c + 1] || (i > 0 && is_alnum(t[i - 1]) && is_alnum(t[i])))
            continue; /* a context word starts a word */
        for (size_t k = ws->from[c]; k < ws->from[c + 1]; k++) {
            const char *wd = ws->w[k];
            size_t n = ws->wlen[k];
            if (n > len - i)
                continue;
            size_t j = 1;
            while (j < n && lower(t[i + j]) == (unsigned char)wd[j])
                j++;
            if (j == n)
                return true;
        }
    }
    return false;
}

static void cand_add(red_worker *w, size_t start, size_t end, uint32_t rule)
{
    if (w->ncands == w->capcands) {
        w->capcands = w->capcands ? w->capcands * 2 : 64;
        w->cands = cm_xrealloc(w->cands, w->capcands * sizeof(*w->cands));
    }
    red_cand *c = &w->cands[w->ncands++];
    c->start = start;
    c->end = end;
    c->rule = rule;
    c->priority = w->eng->rules[rule].priority;
}

/* Decide one PCRE2 match: value group, validator, entropy, deny and context words. */
static bool accept(const red_rule *r, const char *text, size_t len, const PCRE2_SIZE *ov,
                   size_t *vs, size_t *ve)
{
    size_t s = SIZE_MAX, e = 0;
    for (int i = 0; i < r->ngroups; i++) {
        int g = r->groups[i];
        if (ov[2 * g] != PCRE2_UNSET && ov[2 * g + 1] > ov[2 * g]) {
            s = ov[2 * g];
            e = ov[2 * g + 1];
            break;
        }
    }
    if (s == SIZE_MAX)
        return false;
    red_vctx v = {
        .text = text, .len = len, .start = s, .end = e, .mstart = ov[0], .mend = ov[1], .rule = r};
    red_verdict vd = r->validator ? r->validator->fn(&v) : RED_V_YES;
    if (vd == RED_V_NO || v.end <= v.start)
        return false;
    if (r->min_entropy > 0 && red_entropy(text + v.start, v.end - v.start) < r->min_entropy)
        return false;
    if (r->deny.n > 0 && red_words_near(&r->deny, text, len, v.start, v.end))
        return false;
    if ((vd == RED_V_WEAK || r->is_context_required) &&
        !red_words_near(&r->context, text, len, v.start, v.end))
        return false;
    /* never split a UTF-8 character: widen to boundaries */
    while (v.start > 0 && ((unsigned char)text[v.start] & 0xC0) == 0x80)
        v.start--;
    while (v.end < len && ((unsigned char)text[v.end] & 0xC0) == 0x80)
        v.end++;
    *vs = v.start;
    *ve = v.end;
    return true;
}

/* A span_class rule whose pattern opens with a negative lookbehind that
 * refuses every span_class byte ((?<![\d./-]) before [0-9./-]) starts a
 * match only at the start of a run of span_class bytes. A hit's window lies
 * in one such run, so its first match (or none) is its only one: no second
 * search after a rejected or accepted match. Checked with PCRE2 itself: the
 * lookbehind's class compiled alone, against each span_class byte. */
bool red_starts_runs(const red_rule *r)
{
    const char *p = r->pattern;
    if (!r->has_span_class || strncmp(p, "(?<![", 5) != 0)
        return false;
    const char *e = strstr(p + 5, "])");
    while (e != NULL && e[-1] == '\\') /* an escaped ] inside the class */
        e = strstr(e + 1, "])");
    if (e == NULL)
        return false;
    int ec;
    PCRE2_SIZE eo;
    uint32_t opts = PCRE2_ANCHORED | ((r->flags & RED_F_CASELESS) ? PCRE2_CASELESS : 0);
    pcre2_code *cls = pcre2_compile((PCRE2_SPTR)(p + 4), (PCRE2_SIZE)(e + 1 - (p + 4)), opts, &ec,
                                    &eo, NULL);
    if (cls == NULL)
        return false;
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    bool ok = md != NULL;
    for (unsigned c = 0; c < 256 && ok; c++) {
        unsigned char b = (unsigned char)c;
        ok = !r->span_class[c] || pcre2_match(cls, &b, 1, 0, 0, md, NULL) >= 0;
    }
    pcre2_match_data_free(md);
    pcre2_code_free(cls);
    return ok;
}

/* Confirm one hit of rule ri with PCRE2 on a bounded window: a match must
 * start in [max(lo - max_len, run start, rpos), end] where lo is the hit's
 * first end not yet passed. Every rule keeps its own position (rpos) and the
 * end of its latest candidate (rskip). */
static int confirm(red_worker *w, uint32_t ri, const red_hit *h, const char *text, size_t len)
{
    const red_rule *r = &w->eng->rules[ri];
    size_t e = h->end;
    if (e <= w->rskip[ri])
        return 0;
    while (e >= w->rpos[ri]) {
        size_t pos = w->rpos[ri], lo = h->first > pos ? h->first : pos;
        size_t s = lo > r->max_len ? lo - r->max_len : 0;
        if (s < pos)
            s = pos;
        if (r->has_span_class) {
            /* the match lies inside the run of span_class bytes that ends at lo */
            size_t k = lo;
            while (k > s && r->span_class[(unsigned char)text[k - 1]])
                k--;
            s = k;
        }
        pcre2_set_offset_limit(w->mctx, e);
        int rc = pcre2_jit_match(r->re, (PCRE2_SPTR)text, len, s, 0, w->md, w->mctx);
        if (rc == PCRE2_ERROR_NOMATCH) {
            w->rpos[ri] = e + 1; /* no match starts in [s, e]: never search there again */
            return 0;
        }
        if (rc < 0)
            return CM_EINTERNAL; /* match/depth limit: fail closed */
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(w->md);
        size_t ms = ov[0], me = ov[1], vs, ve;
        if (accept(r, text, len, ov, &vs, &ve)) {
            cand_add(w, vs, ve, ri);
            w->rpos[ri] = me > ms ? me : ms + 1;
            w->rskip[ri] = me;
            if (e <= me)
                return 0;
        } else {
            w->rpos[ri] = ms + 1; /* a shorter valid match may start inside this one */
        }
        if (r->is_run_start) { /* none starts after ms in this window's run */
            w->rpos[ri] = e + 1 > w->rpos[ri] ? e + 1 : w->rpos[ri];
            return 0;
        }
    }
    return 0;
}

static int cmp_hit(const void *a, const void *b)
{
    const red_hit *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

static int cmp_hit_rule(const void *a, const void *b)
{
    const red_hit *x = a, *y = b;
    if (x->rule != y->rule)
        return x->rule < y->rule ? -1 : 1;
    return cmp_hit(a, b);
}

/* Hits grouped by rule (a counting sort keeps the scan's order inside each
 * rule; a rule lives in one database, so that is the order of first ends):
 * one rule's PCRE2 code and data stay hot while its hits are confirmed,
 * which measured faster than taking all hits in text order. */
static const red_hit *order_hits(red_worker *w)
{
    size_t nr = w->eng->nrules, n = w->nhits;
    size_t *cnt = w->bucket;
    memset(cnt, 0, (nr + 1) * sizeof(*cnt));
    for (size_t i = 0; i < n; i++)
        cnt[w->hits[i].rule + 1]++;
    for (size_t r = 0; r < nr; r++)
        cnt[r + 1] += cnt[r];
    if (w->capsorted < n) {
        w->capsorted = n;
        w->sorted = cm_xrealloc(w->sorted, n * sizeof(*w->sorted));
    }
    for (size_t i = 0; i < n; i++)
        w->sorted[cnt[w->hits[i].rule]++] = w->hits[i];
    for (size_t i = 1; i < n; i++)
        if (w->sorted[i].rule == w->sorted[i - 1].rule &&
            cmp_hit(&w->sorted[i - 1], &w->sorted[i]) > 0) {
            qsort(w->sorted, n, sizeof(*w->sorted), cmp_hit_rule);
            break;
        }
    return w->sorted;
}

/* Hyperscan pass, then confirmation rule by rule; only_rule < 0 means all rules. */
static int scan_cands(red_worker *w, long only_rule, const char *text, size_t len)
{
    const red_engine *eng = w->eng;
    w->nhits = 0;
    w->ncands = 0;
    if (len > UINT32_MAX)
        return CM_ETOOBIG;
    if (len == 0)
        return 0;
    w->text = text;
    w->len = len;
    memset(w->last_hit, 0, eng->nrules * sizeof(*w->last_hit));
    hs_error_t hr = hs_scan(eng->db, text, (unsigned)len, 0, w->scratch, on_match, w);
    if (hr != HS_SUCCESS || red_region_scan(w) != 0)
        return CM_EINTERNAL;
    red_marks_scan(w);
    if (w->nhits == 0)
        return 0;
    memset(w->rpos, 0, eng->nrules * sizeof(*w->rpos));
    memset(w->rskip, 0, eng->nrules * sizeof(*w->rskip));
    const red_hit *h = order_hits(w);
    for (size_t i = 0; i < w->nhits; i++) {
        if (i + RED_PREFETCH < w->nhits) {
            /* the text around a later hit is long out of cache after the scan:
             * ask for it now so that its miss overlaps this hit's work */
            size_t at = h[i + RED_PREFETCH].first;
            __builtin_prefetch(text + (at >= 64 ? at - 64 : 0));
            __builtin_prefetch(text + at);
        }
        if (only_rule >= 0 && (size_t)only_rule != h[i].rule)
            continue;
        int rc = confirm(w, h[i].rule, &h[i], text, len);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int cmp_cand_start(const void *a, const void *b)
{
    const red_cand *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->end != y->end)
        return x->end > y->end ? -1 : 1;
    return x->rule < y->rule ? -1 : x->rule > y->rule;
}

static int cmp_cand_rank(const void *a, const void *b)
{
    const red_cand *x = a, *y = b;
    if (x->priority != y->priority)
        return x->priority > y->priority ? -1 : 1;
    size_t lx = x->end - x->start, ly = y->end - y->start;
    if (lx != ly)
        return lx > ly ? -1 : 1;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->rule < y->rule ? -1 : x->rule > y->rule;
}

static void found_add(red_worker *w, const red_cand *c)
{
    if (w->nfound == w->capfound) {
        w->capfound = w->capfound ? w->capfound * 2 : 32;
        w->found = cm_xrealloc(w->found, w->capfound * sizeof(*w->found));
    }
    const red_rule *r = &w->eng->rules[c->rule];
    red_finding *f = &w->found[w->nfound++];
    f->start = c->start;
    f->end = c->end;
    f->type = r->type;
    f->rule = r->id;
}

static int cmp_found(const void *a, const void *b)
{
    const red_finding *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* Candidates by start; stable, so equal input gives equal order. Large
 * sets (a whole document) take two 16-bit counting passes instead of qsort. */
static void sort_by_start(red_worker *w)
{
    size_t n = w->ncands;
    if (n < 2048) {
        qsort(w->cands, n, sizeof(*w->cands), cmp_cand_start);
        return;
    }
    if (w->captmp < n) {
        w->captmp = n;
        w->cands_tmp = cm_xrealloc(w->cands_tmp, n * sizeof(*w->cands_tmp));
    }
    static _Thread_local uint32_t cnt[1u << 16];
    red_cand *src = w->cands, *dst = w->cands_tmp;
    for (unsigned shift = 0; shift < 32; shift += 16) {
        memset(cnt, 0, sizeof(cnt));
        for (size_t i = 0; i < n; i++)
            cnt[(src[i].start >> shift) & 0xFFFF]++;
        uint32_t sum = 0;
        for (size_t b = 0; b < (1u << 16); b++) {
            uint32_t c = cnt[b];
            cnt[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[cnt[(src[i].start >> shift) & 0xFFFF]++] = src[i];
        red_cand *t = src;
        src = dst;
        dst = t;
    }
    /* two passes: the sorted data is back in w->cands */
}

/* Overlapping candidates form groups; inside a group the best-ranked ones win
 * and the rest that overlap a winner go. Deterministic for equal input. */
static void merge(red_worker *w)
{
    w->nfound = 0;
    sort_by_start(w);
    size_t i = 0;
    while (i < w->ncands) {
        size_t j = i + 1, reach = w->cands[i].end;
        while (j < w->ncands && w->cands[j].start < reach) {
            if (w->cands[j].end > reach)
                reach = w->cands[j].end;
            j++;
        }
        if (j - i == 1) {
            found_add(w, &w->cands[i]);
        } else {
            red_cand *g = w->cands + i;
            size_t n = j - i, first = w->nfound;
            qsort(g, n, sizeof(*g), cmp_cand_rank);
            for (size_t k = 0; k < n; k++) {
                bool is_free = true;
                for (size_t m = first; m < w->nfound && is_free; m++)
                    is_free = g[k].end <= w->found[m].start || g[k].start >= w->found[m].end;
                if (is_free)
                    found_add(w, &g[k]);
            }
            qsort(w->found + first, w->nfound - first, sizeof(*w->found), cmp_found);
        }
        i = j;
    }
}

int red_scan(red_worker *w, const char *text, size_t len, const red_finding **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    w->nfound = 0;
    int rc = scan_cands(w, -1, text, len);
    if (rc != 0)
        return rc;
    merge(w);
    *out = w->found;
    *n = w->nfound;
    return 0;
}

int red_scan_rule(red_worker *w, uint32_t rule, const char *text, size_t len, const red_cand **out,
                  size_t *n)
{
    int rc = scan_cands(w, (long)rule, text, len);
    *out = w->cands;
    *n = rc == 0 ? w->ncands : 0;
    return rc;
}
