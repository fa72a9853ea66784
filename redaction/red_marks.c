/* Two trigger expressions of the default rules found in C instead of the
 * main Hyperscan database: the colon trigger of ipv6 and mac
 * (RED_COLON_TRIGGER) and the dash trigger of mac-dash (RED_DASH_TRIGGER).
 * Colons and dashes are everywhere in code, YAML and logs, and Hyperscan
 * started an automaton at each (together ~2 ms of the main database's ~14
 * per 10 MB). Here 64 bytes at a time become three bit masks (colon, dash,
 * hex digit) and both expressions are a few bit operations per block:
 *  - dash: "-hh-hh-hh-" is ten shifted masks ANDed;
 *  - colon: "::" is two; ":h+:h+:h+:" ends at a colon that closes a
 *    nonempty hex field opened by a colon (an addition carries a seed at
 *    each field start to the byte after the field), the third in a row.
 * Every end arrives in text order, exactly as Hyperscan reports them (the
 * unit test compares both on random texts). Needs AVX2: without it the
 * expressions stay in the main database (red_marks_pick). */
#include "redaction/red_internal.h"

#include <immintrin.h>
#include <string.h>

typedef struct marks {
    uint64_t colon, dash, hex;
} marks;

__attribute__((target("avx2"))) static inline void class32(const unsigned char *p, uint32_t *colon,
                                                           uint32_t *dash, uint32_t *hex)
{
    __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)p);
    *colon = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(':')));
    *dash = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('-')));
    __m256i d = _mm256_sub_epi8(v, _mm256_set1_epi8('0'));
    __m256i is_d = _mm256_cmpeq_epi8(_mm256_min_epu8(d, _mm256_set1_epi8(9)), d);
    __m256i l = _mm256_sub_epi8(_mm256_or_si256(v, _mm256_set1_epi8(0x20)), _mm256_set1_epi8('a'));
    __m256i is_l = _mm256_cmpeq_epi8(_mm256_min_epu8(l, _mm256_set1_epi8(5)), l);
    *hex = (uint32_t)_mm256_movemask_epi8(_mm256_or_si256(is_d, is_l));
}

__attribute__((target("avx2"))) static marks class64(const unsigned char *p)
{
    uint32_t c0, c1, d0, d1, h0, h1;
    class32(p, &c0, &d0, &h0);
    class32(p + 32, &c1, &d1, &h1);
    return (marks){.colon = c0 | (uint64_t)c1 << 32,
                   .dash = d0 | (uint64_t)d1 << 32,
                   .hex = h0 | (uint64_t)h1 << 32};
}

/* Bit i: bit i - k of the 128-bit (prev, cur), 1 <= k <= 63. */
static inline uint64_t back(uint64_t cur, uint64_t prev, unsigned k)
{
    return cur << k | prev >> (64 - k);
}

typedef struct colon_state {
    size_t last_colon; /* the latest colon before the block, or SIZE_MAX */
    size_t g_pos;      /* the latest colon closing a hex field opened by a colon */
    unsigned g_count;  /* such fields in a row ending at g_pos */
    unsigned carry;    /* of the seeded addition into this block */
} colon_state;

/* Ends (bit i: an end at i + 1) of the colon expression in the block at off. */
static uint64_t colon_ends(colon_state *st, const marks *m, const marks *pm, size_t off)
{
    uint64_t c = m->colon, h = m->hex, after_colon = back(c, pm->colon, 1);
    uint64_t ends = c & after_colon; /* :: */
    uint64_t seed = h & after_colon; /* first hex byte of a field opened by a colon */
    unsigned __int128 sum = (unsigned __int128)h + seed + st->carry;
    st->carry = (unsigned)(sum >> 64);
    uint64_t closes = (uint64_t)sum & ~h & c; /* a colon right after a seeded field */
    for (uint64_t g = closes; g != 0; g &= g - 1) {
        unsigned i = (unsigned)__builtin_ctzll(g);
        uint64_t below = c & ((1ull << i) - 1);
        size_t open = below != 0 ? off + 63 - (size_t)__builtin_clzll(below) : st->last_colon;
        unsigned n = open == st->g_pos ? st->g_count + 1 : 1;
        st->g_pos = off + i;
        st->g_count = n;
        if (n >= 3)
            ends |= 1ull << i;
    }
    if (c != 0)
        st->last_colon = off + 63 - (size_t)__builtin_clzll(c);
    return ends;
}

/* Ends of the dash expression: "-hh-hh-hh-" ending at bit i. */
static inline uint64_t dash_ends(const marks *m, const marks *pm)
{
    uint64_t d = m->dash, pd = pm->dash, h = m->hex, ph = pm->hex;
    return d & back(h, ph, 1) & back(h, ph, 2) & back(d, pd, 3) & back(h, ph, 4) &
           back(h, ph, 5) & back(d, pd, 6) & back(h, ph, 7) & back(h, ph, 8) & back(d, pd, 9);
}

__attribute__((target("avx2"))) void red_marks_ends(const char *text, size_t len, bool want_colon,
                                                    bool want_dash, red_mark_fn fn, void *ctx)
{
    const unsigned char *s = (const unsigned char *)text;
    unsigned char pad[64];
    marks pm = {0};
    colon_state st = {.last_colon = SIZE_MAX, .g_pos = SIZE_MAX};
    for (size_t off = 0; off < len; off += 64) {
        marks m;
        if (len - off >= 64) {
            m = class64(s + off);
        } else {
            memset(pad, 0, sizeof(pad)); /* NUL is neither colon, dash nor hex */
            memcpy(pad, s + off, len - off);
            m = class64(pad);
        }
        uint64_t e = want_dash ? dash_ends(&m, &pm) : 0;
        for (; e != 0; e &= e - 1)
            fn(ctx, false, off + (size_t)__builtin_ctzll(e) + 1);
        e = want_colon ? colon_ends(&st, &m, &pm, off) : 0;
        for (; e != 0; e &= e - 1)
            fn(ctx, true, off + (size_t)__builtin_ctzll(e) + 1);
        pm = m;
    }
}

static void on_mark(void *ctx, bool is_colon, size_t end)
{
    red_worker *w = ctx;
    int r = is_colon ? w->eng->colon_rule : w->eng->dash_rule;
    for (; r >= 0; r = w->eng->rules[r].same_next)
        red_hit_add(w, (unsigned)r, end);
}

void red_marks_scan(red_worker *w)
{
    const red_engine *eng = w->eng;
    if (eng->colon_rule >= 0 || eng->dash_rule >= 0)
        red_marks_ends(w->text, w->len, eng->colon_rule >= 0, eng->dash_rule >= 0, on_mark, w);
}

/* A rule of the main database whose compiled expression is exactly x,
 * caseless (the C code is), or -1. */
static int pick(const red_engine *eng, const char *x)
{
    for (size_t i = 0; i < eng->nrules; i++) {
        const red_rule *r = &eng->rules[i];
        const char *e = r->hs_derived ? r->hs_derived : r->hs_pattern ? r->hs_pattern : r->pattern;
        if (r->trigger < 0 && !r->is_shared && !r->is_hs_prefilter && (int)i != eng->dots_rule &&
            (r->flags & RED_F_CASELESS) && strcmp(e, x) == 0)
            return (int)i;
    }
    return -1;
}

void red_marks_pick(red_engine *eng)
{
    eng->colon_rule = -1;
    eng->dash_rule = -1;
    if (!__builtin_cpu_supports("avx2"))
        return;
    int colon = pick(eng, RED_COLON_TRIGGER), dash = pick(eng, RED_DASH_TRIGGER);
    size_t left = 0; /* the main database must keep a rule */
    for (size_t i = 0; i < eng->nrules; i++) {
        const red_rule *r = &eng->rules[i];
        left += r->trigger < 0 && !r->is_shared && (int)i != eng->dots_rule && (int)i != colon &&
                (int)i != dash;
    }
    if (left > 0) {
        eng->colon_rule = colon;
        eng->dash_rule = dash;
    }
}
