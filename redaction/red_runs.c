/* Runs of a shared trigger's `extend` bytes that hold an ASCII digit: the
 * only places a trigger match (and an ipv4 trigger end) can lie. Most text
 * has digits every few dozen bytes (code, logs), most of them alone or in
 * short numbers, so finding runs byte by byte cost more than the Hyperscan
 * sub-scans. With AVX2, 64 bytes at a time become three bit masks (extend
 * bytes, digits, dots) and a run is a few bit operations; only runs that
 * cross a 64-byte block are walked byte by byte. Without AVX2 (or with an
 * extend class beyond ASCII) the byte walk runs; the unit test compares both. */
#include "redaction/red_internal.h"

#include <immintrin.h>
#include <string.h>

/* Offset of the first ASCII digit at or after i, or len (SSE2). */
static size_t next_digit(const unsigned char *s, size_t i, size_t len)
{
    const __m128i zero = _mm_set1_epi8('0'), nine = _mm_set1_epi8(9);
    for (; i + 16 <= len; i += 16) {
        __m128i v = _mm_sub_epi8(_mm_loadu_si128((const __m128i *)(const void *)(s + i)), zero);
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(v, nine), v));
        if (m != 0)
            return i + (size_t)__builtin_ctz(m);
    }
    while (i < len && !red_is_digit(s[i]))
        i++;
    return i;
}

/* The reference: run by run from each digit, byte by byte. */
static int runs_bytes(const red_trigger *tr, const unsigned char *s, size_t len,
                      const red_run_min *min, red_run_fn fn, void *ctx)
{
    size_t i = 0;
    while (i < len) {
        i = next_digit(s, i, len);
        if (i >= len)
            break;
        if (!tr->extend[s[i]]) {
            i++;
            continue;
        }
        size_t a = i, b = i + 1;
        while (a > 0 && tr->extend[s[a - 1]])
            a--;
        while (b < len && tr->extend[s[b]])
            b++;
        unsigned nd = 0, ndots = 0;
        for (size_t k = a; k < b; k++) {
            nd += red_is_digit(s[k]);
            ndots += s[k] == '.';
        }
        if (b - a >= min->len && nd >= min->digits) {
            int rc = fn(ctx, a, b, nd, ndots);
            if (rc != 0)
                return rc;
        }
        i = b + 1; /* s[b] is no extend byte */
    }
    return 0;
}

bool red_simd_off;

bool red_has_avx2(void)
{
    return !red_simd_off && __builtin_cpu_supports("avx2");
}

bool red_runs_lut(red_trigger *tr)
{
    if (!red_has_avx2())
        return false; /* has_lut is what selects the AVX2 path */
    memset(tr->lut_lo, 0, sizeof(tr->lut_lo));
    memset(tr->lut_hi, 0, sizeof(tr->lut_hi));
    for (unsigned c = 0; c < 256; c++) {
        if (!tr->extend[c])
            continue;
        if (c == 0 || c >= 0x80)
            return false; /* NUL pads the last block; 8 bits cover ASCII only */
        tr->lut_lo[c & 15] |= (uint8_t)(1u << (c >> 4));
    }
    for (unsigned h = 0; h < 8; h++)
        tr->lut_hi[h] = (uint8_t)(1u << h);
    return true;
}

typedef struct masks {
    uint64_t ext, dig, dot;
} masks;

__attribute__((target("avx2"))) static inline uint32_t
class32(const unsigned char *p, __m256i lo, __m256i hi, uint32_t *dig, uint32_t *dot)
{
    __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)p);
    __m256i nib = _mm256_set1_epi8(0x0f);
    __m256i l = _mm256_shuffle_epi8(lo, _mm256_and_si256(v, nib));
    /* high nibbles 8-15 (bytes >= 0x80) map to 0: never extend */
    __m256i h = _mm256_shuffle_epi8(hi, _mm256_and_si256(_mm256_srli_epi16(v, 4), nib));
    __m256i in = _mm256_and_si256(l, h);
    uint32_t ext = ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(in, _mm256_setzero_si256()));
    __m256i d = _mm256_sub_epi8(v, _mm256_set1_epi8('0'));
    *dig = (uint32_t)_mm256_movemask_epi8(
        _mm256_cmpeq_epi8(_mm256_min_epu8(d, _mm256_set1_epi8(9)), d));
    *dot = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('.')));
    return ext;
}

__attribute__((target("avx2"))) static masks class64(const red_trigger *tr, const unsigned char *p)
{
    __m256i lo =
        _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)tr->lut_lo));
    __m256i hi =
        _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)tr->lut_hi));
    uint32_t d0, d1, o0, o1;
    uint32_t e0 = class32(p, lo, hi, &d0, &o0), e1 = class32(p + 32, lo, hi, &d1, &o1);
    masks m = {.ext = e0 | (uint64_t)e1 << 32,
               .dig = d0 | (uint64_t)d1 << 32,
               .dot = o0 | (uint64_t)o1 << 32};
    m.dig &= m.ext; /* a digit outside the class starts no run */
    return m;
}

/* Bits [a, b) of a 64-bit mask, 0 <= a <= b <= 64. */
static inline uint64_t span(unsigned a, unsigned b)
{
    uint64_t hi = b >= 64 ? ~0ull : (1ull << b) - 1;
    return hi & ~((1ull << a) - 1);
}

/* The bytes of ext's runs that are at least k (1-16) long or touch either
 * end of the block (they may go on in the next or previous block). A window
 * of k bytes is two overlapping windows of h >= k/2: doubling. */
static inline uint64_t long_runs(uint64_t ext, unsigned k)
{
    uint64_t start = ext, cover; /* start bit i: bytes i .. i+k-1 are extend bytes */
    unsigned h = 1;
    for (; 2 * h <= k; h *= 2)
        start &= start >> h;
    if (h < k)
        start &= start >> (k - h);
    cover = start;
    for (h = 1; 2 * h <= k; h *= 2)
        cover |= cover << h;
    if (h < k)
        cover |= cover << (k - h);
    uint64_t not_ext = ~ext;
    if (not_ext == 0)
        return ~0ull;
    cover |= (not_ext & -not_ext) - 1;                                  /* from byte 0 */
    cover |= (~0ull << (63 - (unsigned)__builtin_clzll(not_ext))) << 1; /* to byte 63 */
    return cover;
}

__attribute__((target("avx2"))) static int runs_avx2(const red_trigger *tr, const unsigned char *s,
                                                     size_t len, const red_run_min *min,
                                                     red_run_fn fn, void *ctx)
{
    size_t next = 0; /* digits before this offset belong to runs already reported */
    unsigned k = min->len < 16 ? (unsigned)min->len : 16;
    unsigned char pad[64];
    for (size_t off = 0; off < len;) {
        masks m;
        if (len - off >= 64) {
            m = class64(tr, s + off);
        } else {
            memset(pad, 0, sizeof(pad)); /* NUL is no extend byte (red_runs_lut) */
            memcpy(pad, s + off, len - off);
            m = class64(tr, pad);
        }
        uint64_t dd = m.dig & long_runs(m.ext, k);
        if (next > off)
            dd &= next - off >= 64 ? 0 : ~((1ull << (next - off)) - 1);
        while (dd != 0) {
            unsigned p = (unsigned)__builtin_ctzll(dd);
            /* start: after the highest non-extend byte below p, else before this block */
            uint64_t below = ~m.ext & span(0, p);
            size_t a;
            unsigned ndots = 0;
            if (below != 0) {
                a = off + 64 - (size_t)__builtin_clzll(below);
            } else {
                a = off;
                while (a > next && tr->extend[s[a - 1]]) {
                    a--;
                    ndots += s[a] == '.';
                }
            }
            uint64_t above = ~m.ext & ~span(0, p + 1);
            size_t b;
            unsigned nd;
            unsigned from = (unsigned)(a > off ? a - off : 0);
            if (above != 0) {
                unsigned e = (unsigned)__builtin_ctzll(above);
                b = off + e;
                nd = (unsigned)__builtin_popcountll(m.dig & span(p, e));
                ndots += (unsigned)__builtin_popcountll(m.dot & span(from, e));
            } else {
                nd = (unsigned)__builtin_popcountll(m.dig & span(p, 64));
                ndots += (unsigned)__builtin_popcountll(m.dot & span(from, 64));
                b = off + 64;
                while (b < len && tr->extend[s[b]]) {
                    nd += red_is_digit(s[b]);
                    ndots += s[b] == '.';
                    b++;
                }
            }
            if (b - a >= min->len && nd >= min->digits) {
                int rc = fn(ctx, a, b, nd, ndots);
                if (rc != 0)
                    return rc;
            }
            next = b + 1;
            if (b + 1 >= off + 64)
                break; /* the rest of this block is inside the run (or just after it) */
            dd &= ~span(0, (unsigned)(b + 1 - off));
        }
        /* a run may have gone past this block: go on at the block holding next */
        off = next > off + 64 ? next / 64 * 64 : off + 64;
    }
    return 0;
}

int red_runs(const red_trigger *tr, const char *text, size_t len, bool is_bytewise,
             const red_run_min *min, red_run_fn fn, void *ctx)
{
    const unsigned char *s = (const unsigned char *)text;
    if (!is_bytewise && tr->has_lut)
        return runs_avx2(tr, s, len, min, fn, ctx);
    return runs_bytes(tr, s, len, min, fn, ctx);
}
