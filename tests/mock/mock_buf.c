/* mock_buf.c: growable byte buffer, JSON string escaping and UTF-8 checks for the mock.
 * Response bodies are assembled here rather than through jansson because this mock is the
 * benchmark baseline: appending pre-escaped pieces is several times cheaper than json_dumps.
 * Allocation failure aborts (a test tool has no useful way to recover from it).
 */
#include "mock.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void *mock_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (p == NULL) {
        fputs("mock_provider: out of memory\n", stderr);
        abort();
    }
    return p;
}

void *mock_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (q == NULL) {
        fputs("mock_provider: out of memory\n", stderr);
        abort();
    }
    return q;
}

char *mock_xstrndup(const char *s, size_t n)
{
    char *p = mock_xmalloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static void buf_reserve(mock_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;

    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    b->data = mock_xrealloc(b->data, cap);
    b->cap = cap;
}

void mock_buf_add(mock_buf *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void mock_buf_adds(mock_buf *b, const char *s)
{
    mock_buf_add(b, s, strlen(s));
}

void mock_buf_addf(mock_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    buf_reserve(b, 64);
    va_start(ap, fmt);
    n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= b->cap - b->len) {
        buf_reserve(b, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

void mock_buf_add_jstr(mock_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;

    buf_reserve(b, n + 2);
    mock_buf_add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7];
        size_t elen = 2;

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        mock_buf_add(b, s + run, i - run);
        run = i + 1;
        esc[0] = '\\';
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
            break;
        }
        mock_buf_add(b, esc, elen);
    }
    mock_buf_add(b, s + run, n - run);
    mock_buf_add(b, "\"", 1);
}

char *mock_buf_steal(mock_buf *b, size_t *len)
{
    char *p;

    buf_reserve(b, 0);
    p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void mock_buf_fini(mock_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

bool mock_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;

    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq(u + i, n - i);
        if (l == 0)
            return false;
        i += l;
    }
    return true;
}

char *mock_utf8_sanitize(const char *s, size_t n, size_t *out_len)
{
    const unsigned char *u = (const unsigned char *)s;
    mock_buf b = {0};

    buf_reserve(&b, n);
    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq(u + i, n - i);
        if (l == 0) {
            mock_buf_add(&b, "\xEF\xBF\xBD", 3);
            i++;
        } else {
            mock_buf_add(&b, s + i, l);
            i += l;
        }
    }
    return mock_buf_steal(&b, out_len);
}

uint64_t mock_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
