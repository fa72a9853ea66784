/* Trigger expressions of the default rules found in C instead of Hyperscan,
 * each recognized by its exact text (any other text stays in Hyperscan).
 *
 * On each region of the digits trigger, instead of its sub-database (where
 * it took a third of the sub-scans' time): the date trigger of dob-field
 * (RED_DATE_TRIGGER), see red_date_ends.
 *
 * Instead of the main database, where Hyperscan started an automaton at
 * every colon, dash or @ of code, YAML and logs (together ~5 ms of ~14 per
 * 10 MB): 64 bytes at a time become bit masks (colon, dash, hex digit,
 * digit, star, @, slash) and
 *  - dash (mac-dash): "-hh-hh-hh-" is ten shifted masks ANDed;
 *  - colon (ipv6, mac): "::" is two; ":h+:h+:h+:" ends at a colon that closes
 *    a nonempty hex field opened by a colon (an addition carries a seed at
 *    each field start to the byte after the field), the third in a row;
 *  - pgpass: a colon closing a field of 2-5 digits (the same addition) or a
 *    lone star, opened by a colon, is rare; from each, two more fields of
 *    1-100 bytes without blanks are walked byte by byte;
 *  - e-mail: each @ and its two neighbours;
 *  - URL credentials: from each "://", user, colon, password and @ walked.
 * Blocks without colon, dash or @ (half of them) are skipped. Every end
 * arrives in text order, exactly as Hyperscan reports them (`unit_red marks`
 * and `dates` compare them on random texts and at the bounds). Needs AVX2
 * (AVX-512BW when present): without it these stay in the main database
 * (red_marks_pick). */
#include "redaction/red_internal.h"

#include <immintrin.h>
#include <string.h>

typedef struct marks {
    uint64_t colon, dash, hex, digit, star, at, slash;
} marks;

#define RED_INLINE static inline __attribute__((always_inline))

__attribute__((target("avx2"))) RED_INLINE uint32_t eq32(__m256i v, char c)
{
    return (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(c)));
}

/* Bytes of v in [lo, lo + n]. */
__attribute__((target("avx2"))) RED_INLINE __m256i in32(__m256i v, char lo, char n)
{
    __m256i d = _mm256_sub_epi8(v, _mm256_set1_epi8(lo));
    return _mm256_cmpeq_epi8(_mm256_min_epu8(d, _mm256_set1_epi8(n)), d);
}

__attribute__((target("avx2"))) RED_INLINE marks class_avx2(const unsigned char *p)
{
    marks m = {0};
    for (unsigned k = 0; k < 2; k++) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32 * k));
        __m256i is_d = in32(v, '0', 9);
        __m256i is_l = in32(_mm256_or_si256(v, _mm256_set1_epi8(0x20)), 'a', 5);
        m.colon |= (uint64_t)eq32(v, ':') << (32 * k);
        m.dash |= (uint64_t)eq32(v, '-') << (32 * k);
        m.star |= (uint64_t)eq32(v, '*') << (32 * k);
        m.at |= (uint64_t)eq32(v, '@') << (32 * k);
        m.slash |= (uint64_t)eq32(v, '/') << (32 * k);
        m.digit |= (uint64_t)(uint32_t)_mm256_movemask_epi8(is_d) << (32 * k);
        m.hex |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_or_si256(is_d, is_l)) << (32 * k);
    }
    return m;
}

/* With AVX-512BW a compare gives the 64-bit mask itself. */
__attribute__((target("avx512bw"))) RED_INLINE marks class_avx512(const unsigned char *p)
{
    __m512i v = _mm512_loadu_si512((const void *)p);
    __m512i l = _mm512_sub_epi8(_mm512_or_si512(v, _mm512_set1_epi8(0x20)), _mm512_set1_epi8('a'));
    marks m = {
        .colon = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(':')),
        .dash = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('-')),
        .star = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('*')),
        .at = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('@')),
        .slash = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('/')),
        .digit =
            _mm512_cmple_epu8_mask(_mm512_sub_epi8(v, _mm512_set1_epi8('0')), _mm512_set1_epi8(9)),
    };
    m.hex = m.digit | _mm512_cmple_epu8_mask(l, _mm512_set1_epi8(5));
    return m;
}

static inline bool is_blank(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Bit i: bit i - k of the 128-bit (prev, cur), 1 <= k <= 63. */
static inline uint64_t back(uint64_t cur, uint64_t prev, unsigned k)
{
    return cur << k | prev >> (64 - k);
}

typedef struct colon_state {
    size_t last_colon;  /* the latest colon before the block, or SIZE_MAX */
    size_t g_pos;       /* the latest colon closing a hex field opened by a colon */
    unsigned g_count;   /* such fields in a row ending at g_pos */
    unsigned carry;     /* of the seeded hex addition into this block */
    unsigned carry_dig; /* of the seeded digit addition */
} colon_state;

/* Bit i: a colon at i closes a nonempty field of `run` bytes opened by a
 * colon. Adding each field's first byte (a seed) to the run mask carries to
 * the byte after the field; *carry takes it across blocks. */
static inline uint64_t closes(uint64_t run, uint64_t colon, uint64_t after_colon, unsigned *carry)
{
    unsigned __int128 sum = (unsigned __int128)run + (run & after_colon) + *carry;
    *carry = (unsigned)(sum >> 64);
    return (uint64_t)sum & ~run & colon;
}

/* The colon before byte i of the block at off (there is one: i closes a field). */
static inline size_t open_of(const colon_state *st, uint64_t colon, size_t off, unsigned i)
{
    uint64_t below = colon & ((1ull << i) - 1);
    return below != 0 ? off + 63 - (size_t)__builtin_clzll(below) : st->last_colon;
}

/* Ends (bit i: an end at i + 1) of the colon expression in the block at off. */
static uint64_t colon_ends(colon_state *st, const marks *m, const marks *pm, size_t off)
{
    uint64_t c = m->colon, after_colon = back(c, pm->colon, 1);
    uint64_t ends = c & after_colon; /* :: */
    for (uint64_t g = closes(m->hex, c, after_colon, &st->carry); g != 0; g &= g - 1) {
        unsigned i = (unsigned)__builtin_ctzll(g);
        size_t open = open_of(st, c, off, i);
        unsigned n = open == st->g_pos ? st->g_count + 1 : 1;
        st->g_pos = off + i;
        st->g_count = n;
        if (n >= 3)
            ends |= 1ull << i;
    }
    return ends;
}

/* The colon closing a field of 1-100 bytes without blanks that starts at i, or 0. */
static size_t field_end(const unsigned char *s, size_t len, size_t i)
{
    for (size_t k = i; k < len && k - i <= 100; k++)
        if (s[k] == ':')
            return k > i && k - i <= 100 ? k : 0;
        else if (is_blank(s[k]))
            return 0;
    return 0;
}

/* Ends of the pgpass expression from the colons that close a first field
 * (2-5 digits, or a star) in the block at off, in order, to fn. */
static void pgpass_ends(colon_state *st, const marks *m, const marks *pm, size_t off,
                        const unsigned char *s, size_t len, red_mark_fn fn, void *ctx)
{
    uint64_t c = m->colon, after_colon = back(c, pm->colon, 1);
    uint64_t first = c & back(m->star, pm->star, 1) & back(c, pm->colon, 2); /* :*: */
    for (uint64_t g = closes(m->digit, c, after_colon, &st->carry_dig); g != 0; g &= g - 1) {
        unsigned i = (unsigned)__builtin_ctzll(g);
        size_t n = off + i - open_of(st, c, off, i) - 1;
        if (n >= 2 && n <= 5)
            first |= 1ull << i;
    }
    for (; first != 0; first &= first - 1) {
        size_t c2 = field_end(s, len, off + (size_t)__builtin_ctzll(first) + 1);
        size_t c3 = c2 > 0 ? field_end(s, len, c2 + 1) : 0;
        if (c3 > 0)
            fn(ctx, RED_MARK_PGPASS, c3 + 1);
    }
}

static inline bool is_alnum_hi(unsigned char c) /* [A-Za-z0-9\x80-\xff] */
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c >= 0x80;
}

/* Ends of the e-mail expression: an @ between [A-Za-z0-9._%+'\x80-\xff-]
 * and [A-Za-z0-9\x80-\xff]; @ is rare, its neighbours are read directly. */
static void email_ends(uint64_t at, size_t off, const unsigned char *s, size_t len, red_mark_fn fn,
                       void *ctx)
{
    for (; at != 0; at &= at - 1) {
        size_t i = off + (size_t)__builtin_ctzll(at);
        if (i == 0 || i + 1 >= len || !is_alnum_hi(s[i + 1]))
            continue;
        unsigned char b = s[i - 1];
        if (is_alnum_hi(b) || (b != '\0' && strchr("._%+'-", b) != NULL))
            fn(ctx, RED_MARK_EMAIL, i + 2);
    }
}

/* [^\s<stop>] for the URL's user (stop: :/@'"<>) and password (/@'"<>). */
static inline bool url_stop(unsigned char c, bool is_user)
{
    return is_blank(c) || c == '/' || c == '@' || c == '\'' || c == '"' || c == '<' || c == '>' ||
           (is_user && c == ':');
}

/* Ends of the URL credential expression: from each "://" (found from the
 * masks), a user of 0-64 bytes, a colon, a password of 1-128 bytes, an @. */
static void url_ends(uint64_t starts, size_t off, const unsigned char *s, size_t len,
                     red_mark_fn fn, void *ctx)
{
    for (; starts != 0; starts &= starts - 1) {
        size_t p = off + (size_t)__builtin_ctzll(starts) + 1, k = p;
        while (k < len && k - p <= 64 && !url_stop(s[k], true))
            k++;
        if (k >= len || k - p > 64 || s[k] != ':')
            continue;
        size_t j = ++k;
        while (j < len && j - k <= 128 && !url_stop(s[j], false))
            j++;
        if (j < len && j > k && j - k <= 128 && s[j] == '@')
            fn(ctx, RED_MARK_URL, j + 1);
    }
}

/* Ends of the dash expression: "-hh-hh-hh-" ending at bit i. */
static inline uint64_t dash_ends(const marks *m, const marks *pm)
{
    uint64_t d = m->dash, pd = pm->dash, h = m->hex, ph = pm->hex;
    return d & back(h, ph, 1) & back(h, ph, 2) & back(d, pd, 3) & back(h, ph, 4) & back(h, ph, 5) &
           back(d, pd, 6) & back(h, ph, 7) & back(h, ph, 8) & back(d, pd, 9);
}

RED_INLINE void marks_loop(const unsigned char *s, size_t len, unsigned want, red_mark_fn fn,
                           void *ctx, marks (*class64)(const unsigned char *p))
{
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
        if ((m.colon | m.dash | m.at) == 0 && st.carry == 0 && st.carry_dig == 0 &&
            pm.colon >> 62 == 0) {
            /* half the blocks: no end can lie here, no field goes on into
             * the next block, and zero masks give it the same lookback */
            pm = (marks){0};
            continue;
        }
        uint64_t e = want & 1u << RED_MARK_DASH ? dash_ends(&m, &pm) : 0;
        for (; e != 0; e &= e - 1)
            fn(ctx, RED_MARK_DASH, off + (size_t)__builtin_ctzll(e) + 1);
        e = want & 1u << RED_MARK_COLON ? colon_ends(&st, &m, &pm, off) : 0;
        for (; e != 0; e &= e - 1)
            fn(ctx, RED_MARK_COLON, off + (size_t)__builtin_ctzll(e) + 1);
        if (want & 1u << RED_MARK_PGPASS)
            pgpass_ends(&st, &m, &pm, off, s, len, fn, ctx);
        if (want & 1u << RED_MARK_EMAIL)
            email_ends(m.at, off, s, len, fn, ctx);
        if (want & 1u << RED_MARK_URL) /* "://" ending at bit i */
            url_ends(m.slash & back(m.slash, pm.slash, 1) & back(m.colon, pm.colon, 2), off, s, len,
                     fn, ctx);
        if (m.colon != 0)
            st.last_colon = off + 63 - (size_t)__builtin_clzll(m.colon);
        pm = m;
    }
}

__attribute__((target("avx2"))) static void marks_avx2(const unsigned char *s, size_t len,
                                                       unsigned want, red_mark_fn fn, void *ctx)
{
    marks_loop(s, len, want, fn, ctx, class_avx2);
}

__attribute__((target("avx512bw"))) static void
marks_avx512(const unsigned char *s, size_t len, unsigned want, red_mark_fn fn, void *ctx)
{
    marks_loop(s, len, want, fn, ctx, class_avx512);
}

void red_marks_ends(const char *text, size_t len, unsigned want, red_mark_fn fn, void *ctx)
{
    const unsigned char *s = (const unsigned char *)text;
    if (__builtin_cpu_supports("avx512bw"))
        marks_avx512(s, len, want, fn, ctx);
    else
        marks_avx2(s, len, want, fn, ctx);
}

/* ---- dates: RED_DATE_TRIGGER on a region, instead of the sub-database ---- */

static inline bool is_sep(unsigned char c)
{
    return c == '.' || c == '/' || c == '-';
}

static inline bool is_year(const unsigned char *p) /* (?:19|20)\d\d */
{
    return ((p[0] == '1' && p[1] == '9') || (p[0] == '2' && p[1] == '0')) && red_is_digit(p[2]) &&
           red_is_digit(p[3]);
}

/* Ends waiting for their turn: an end of the second form (separator + 5)
 * may come after ends of the first form of later separators (+ 2). At most
 * two wait: second-form ends lie 5 or more apart (four year digits follow
 * the separator), and first-form ends leave at the next flush. */
typedef struct date_queue {
    size_t at[4];
    unsigned n;
} date_queue;

static void date_push(date_queue *q, size_t end)
{
    if (q->n == sizeof(q->at) / sizeof(q->at[0]))
        return; /* cannot happen (see above); never write past the queue */
    unsigned k = q->n;
    while (k > 0 && q->at[k - 1] > end)
        k--;
    if (k > 0 && q->at[k - 1] == end)
        return; /* both forms end here: one end */
    memmove(q->at + k + 1, q->at + k, (q->n - k) * sizeof(q->at[0]));
    q->at[k] = end;
    q->n++;
}

static inline void date_flush(date_queue *q, size_t upto, red_date_fn fn, void *ctx)
{
    if (q->n == 0 || q->at[0] > upto)
        return;
    unsigned k = 0;
    while (k < q->n && q->at[k] <= upto)
        fn(ctx, q->at[k++]);
    memmove(q->at, q->at + k, (q->n - k) * sizeof(q->at[0]));
    q->n -= k;
}

/* A date is two separators [./-] with one or two digits between them:
 * (19|20)dd S d d? S d ends 2 bytes after the second separator, and
 * d d? S d d? S (19|20)dd 5 bytes after it. */
void red_date_ends(const char *text, size_t a, size_t b, red_date_fn fn, void *ctx)
{
    const unsigned char *s = (const unsigned char *)text;
    date_queue q = {.n = 0};
    size_t prev = SIZE_MAX; /* the separator before i */
    for (size_t i = a; i < b; i++) {
        if (!is_sep(s[i]))
            continue;
        size_t gap = prev == SIZE_MAX ? 0 : i - prev;
        if ((gap == 2 || gap == 3) && red_is_digit(s[prev + 1]) && red_is_digit(s[i - 1])) {
            if (prev >= a + 4 && is_year(s + prev - 4) && i + 2 <= b && red_is_digit(s[i + 1]))
                date_push(&q, i + 2);
            if (prev >= a + 1 && red_is_digit(s[prev - 1]) && i + 5 <= b && is_year(s + i + 1))
                date_push(&q, i + 5);
        }
        prev = i;
        date_flush(&q, i + 2, fn, ctx); /* later separators end at i + 3 or after */
    }
    date_flush(&q, SIZE_MAX, fn, ctx);
}

void red_date_pick(red_engine *eng)
{
    eng->date_rule = -1;
    for (size_t i = 0; i < eng->nrules && eng->date_rule < 0; i++) {
        const red_rule *r = &eng->rules[i];
        const char *e = r->hs_derived ? r->hs_derived : r->hs_pattern ? r->hs_pattern : r->pattern;
        if (r->trigger < 0 || r->is_shared || r->is_hs_prefilter ||
            strcmp(e, RED_DATE_TRIGGER) != 0)
            continue;
        size_t left = 0; /* the trigger's database must keep a rule */
        for (size_t k = 0; k < eng->nrules; k++)
            left += k != i && eng->rules[k].trigger == r->trigger && !eng->rules[k].is_shared;
        if (left > 0)
            eng->date_rule = (int)i;
    }
}

static void on_mark(void *ctx, unsigned kind, size_t end)
{
    red_worker *w = ctx;
    red_hit_add_chain(w, w->eng->mark_rule[kind], end);
}

void red_marks_scan(red_worker *w)
{
    unsigned want = 0;
    for (unsigned k = 0; k < RED_MARKS; k++)
        want |= (w->eng->mark_rule[k] >= 0) << k;
    if (want != 0)
        red_marks_ends(w->text, w->len, want, on_mark, w);
}

static const struct {
    const char *expr;
    bool is_caseless; /* the C code of the hex ones is caseless: the rule must be too */
} mark_expr[RED_MARKS] = {
    [RED_MARK_COLON] = {RED_COLON_TRIGGER, true},    [RED_MARK_DASH] = {RED_DASH_TRIGGER, true},
    [RED_MARK_PGPASS] = {RED_PGPASS_TRIGGER, false}, /* no letters, no anchors, no dot */
    [RED_MARK_EMAIL] = {RED_EMAIL_TRIGGER, false},   /* both cases written out */
    [RED_MARK_URL] = {RED_URL_TRIGGER, false},
};

bool red_marks_has(const red_engine *eng, size_t rule)
{
    for (unsigned k = 0; k < RED_MARKS; k++)
        if (eng->mark_rule[k] == (int)rule)
            return true;
    return false;
}

void red_marks_pick(red_engine *eng)
{
    for (unsigned k = 0; k < RED_MARKS; k++)
        eng->mark_rule[k] = -1;
    if (!red_has_avx2())
        return;
    int pick[RED_MARKS];
    size_t left = 0; /* the main database must keep a rule */
    for (unsigned k = 0; k < RED_MARKS; k++)
        pick[k] = -1;
    for (size_t i = 0; i < eng->nrules; i++) {
        const red_rule *r = &eng->rules[i];
        const char *e = r->hs_derived ? r->hs_derived : r->hs_pattern ? r->hs_pattern : r->pattern;
        if (r->trigger >= 0 || r->is_shared || (int)i == eng->dots_rule)
            continue;
        bool is_picked = false;
        for (unsigned k = 0; k < RED_MARKS && !is_picked; k++)
            if (pick[k] < 0 && !r->is_hs_prefilter && strcmp(e, mark_expr[k].expr) == 0 &&
                (!mark_expr[k].is_caseless || (r->flags & RED_F_CASELESS))) {
                pick[k] = (int)i;
                is_picked = true;
            }
        left += !is_picked;
    }
    for (unsigned k = 0; k < RED_MARKS && left > 0; k++)
        eng->mark_rule[k] = pick[k];
}
